/**
 * The steps of one model load, in the order that keeps a device safe: resolve the reference to a file, check
 * its GGUF header (llama.cpp aborts the process on some malformed files), estimate the model and its context,
 * refuse what can never fit (the budget, else the machine's memory), make room under the budget and reserve
 * it, and only then open the model. The model manager owns the bookkeeping around it (entries, pools,
 * events); this file owns the order.
 */
import type { LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
import { ErrorCodes, ModelError } from "../errors.js";
import type { LocalModelRef, LoraAdapter } from "../types.js";
import { formatBytes } from "./formatBytes.js";
import { inspectLoraFile, inspectModelFile, type LoraFileInfo, type ModelFileInfo } from "./ggufCheck.js";
import type { LlamaRuntime } from "./llamaRuntime.js";
import { threadsForModel } from "./llamaRuntime.js";
import type { MemoryBudget, Reservation, ResidentSnapshot } from "./MemoryBudget.js";
import { estimateModelMemory, loraBytes, machineMemoryBytes } from "./memoryEstimate.js";
import type { ModelRequirements } from "./modelManagerTypes.js";
import { createEmbeddingModelContext, createModelContext, loadModelFile } from "./openModel.js";
import { type ResolveModelOptions, resolveModelPath } from "./resolveModel.js";
import { SequencePool } from "./SequencePool.js";

/** What one load needs from the manager. */
export interface BudgetedLoadOptions {
  /** The model's key (its reference as written), for events and errors. */
  readonly key: string;
  readonly ref: LocalModelRef;
  /** LoRA adapters applied to the context (checked and counted in the estimate before anything loads). */
  readonly lora?: readonly LoraAdapter[];
  /**
   * What the context is for: `chat` (default; generation, `requirements.sequences` sequences) or `embedding`
   * (node-llama-cpp's embedding context: one sequence, no adapters), estimated alike from the header.
   */
  readonly kind?: ModelKind;
  readonly runtime: LlamaRuntime;
  readonly requirements: ModelRequirements;
  readonly resolve: Omit<ResolveModelOptions, "signal" | "onProgress">;
  /** The budget; `undefined` when there is none (the machine's memory is then the only limit). */
  readonly budget: MemoryBudget | undefined;
  /** The manager's models as the budget sees them. */
  readonly snapshot: () => ResidentSnapshot;
  /** Evicts idle models; resolves when their memory is freed. */
  readonly evict: (keys: readonly string[]) => Promise<void>;
  /**
   * The base models (weights) the manager holds, shared by every context on the same file: a model with another
   * LoRA adapter set gets its own context on the same weights, never a second copy of them.
   */
  readonly bases: SharedBases;
  /** Called once the estimate is known and the model can fit: the manager emits `model.loading`. */
  readonly onLoading: (estimatedBytes: number) => void;
  readonly disposeTimeoutMs: number;
  readonly signal: AbortSignal;
  /** `performance.now()` when the load started (for `loadMs`). */
  readonly startedAt: number;
}

/** The base models a manager shares between contexts, keyed by model file. */
export interface SharedBases {
  /** Whether the weights of the file at `path` are loaded, or being loaded, already (they then cost nothing more). */
  has(path: string): boolean;
  /**
   * Takes one use of the weights of the file at `path`, loading them with `load` when no one holds them yet.
   * `reserved` says whether the caller's reservation covers `estimatedBytes` of weights; when it does not and
   * the weights must be loaded after all (freed meanwhile), the manager reserves them itself. Give the use
   * back with `release` (the last one frees the weights).
   */
  acquire(request: {
    readonly path: string;
    readonly estimatedBytes: number;
    readonly reserved: boolean;
    readonly load: (signal: AbortSignal) => Promise<LlamaModel>;
    readonly signal: AbortSignal;
  }): Promise<SharedBase>;
  release(path: string): Promise<void>;
}

/** One use of shared weights. */
export interface SharedBase {
  readonly model: LlamaModel;
  /** What node-llama-cpp reports the weights hold (the file size when it reports nothing). */
  readonly bytes: number;
  /** Whether this use loaded them (the first user), rather than finding them loaded or loading. */
  readonly opened: boolean;
}

/** What a context on a model is for: generation, or embeddings (Tool RAG's ranker). */
export type ModelKind = "chat" | "embedding";

/** A loaded model with its context, its sequence pool, its header facts and its memory. */
interface LoadedParts {
  readonly path: string;
  readonly info: ModelFileInfo;
  /** The base model: shared with every other context on the same file (see SharedBases). */
  readonly model: LlamaModel;
  /** The estimate of this context and its adapters, counted against the budget (the weights are counted once, apart). */
  readonly estimatedBytes: number;
  /** The estimate of the base model's weights (counted once per file however many contexts share them). */
  readonly baseEstimatedBytes: number;
  /** What node-llama-cpp reports for this context (the adapters' buffers are in it). */
  readonly bytes: number;
  /** The shared weights' measured bytes, and whether this load opened them. */
  readonly base: Omit<SharedBase, "model">;
  /** Milliseconds from the start of the load (including resolving, checking and waiting for room). */
  readonly loadMs: number;
  /** Tokens the context holds (per sequence). */
  readonly contextSize: number;
}

/** A model loaded for generation: its context and the pool of that context's sequences. */
export interface LoadedChatModel extends LoadedParts {
  readonly kind: "chat";
  readonly context: LlamaContext;
  readonly pool: SequencePool<LlamaContextSequence>;
}

/** A model loaded for embeddings: its embedding context, lent whole to one caller at a time. */
export interface LoadedEmbeddingModel extends LoadedParts {
  readonly kind: "embedding";
  readonly context: LlamaEmbeddingContext;
  readonly pool: SequencePool<LlamaEmbeddingContext>;
}

/** A loaded model with its context, its pool, its header facts and its memory. */
export type LoadedModel = LoadedChatModel | LoadedEmbeddingModel;

/** A finished load and the reservation that holds its room until the manager counts it as resident. */
export interface BudgetedLoad {
  readonly loaded: LoadedModel;
  /** Release it at the moment the model is counted as resident (it is released here when the load fails). */
  readonly reservation: Reservation | undefined;
}

/**
 * Loads a model within the budget (see the file comment). Throws a ModelError (MODEL_NOT_FOUND, MODEL_INVALID,
 * MEMORY_BUDGET_EXCEEDED, MODEL_LOAD_FAILED), or an AbortError when the signal fires — also while waiting for
 * room; nothing stays reserved or allocated when it throws.
 */
export async function loadWithinBudget(options: BudgetedLoadOptions): Promise<BudgetedLoad> {
  const { key, signal, budget, requirements } = options;
  const { llama } = options.runtime;
  const path = await resolveModelPath(options.ref, { ...options.resolve, signal });
  const info = await inspectModelFile(path, { signal });
  const lora = options.lora ?? [];
  const adapters: LoraFileInfo[] = [];
  for (const adapter of lora) adapters.push(await inspectLoraFile(adapter.path, { signal, base: info }));
  const limitBytes = budget?.budgetBytes ?? (await machineMemoryBytes(llama));
  const estimate = await estimateModelMemory(path, {
    ...requirements,
    gpu: llama.gpu !== false,
    limitBytes,
    llama,
    signal,
  });
  // The context and its adapters are this load's own; the weights are shared by every context on the file.
  const ownBytes = estimate.contextBytes + loraBytes(adapters);
  const wholeBytes = estimate.modelBytes + ownBytes;
  const lowerBound = estimate.method === "lower-bound";
  if (budget === undefined) assertFitsMachine(key, wholeBytes, limitBytes, lowerBound);
  else budget.assertFits(key, wholeBytes, lowerBound);
  const shared = options.bases.has(path);
  const needBytes = shared ? ownBytes : wholeBytes;
  options.onLoading(needBytes);
  const reservation = await budget?.reserve({
    model: key,
    bytes: needBytes,
    snapshot: options.snapshot,
    evict: options.evict,
    signal,
  });
  try {
    const base = await options.bases.acquire({
      path,
      estimatedBytes: estimate.modelBytes,
      reserved: !shared,
      load: (loadSignal) => loadModelFile(llama, { model: key, path, signal: loadSignal }),
      signal,
    });
    const model = base.model;
    const open = {
      model: key,
      path,
      contextSize: estimate.contextSize,
      threads: threadsForModel(options.runtime, info.parameters),
      signal,
      disposeTimeoutMs: options.disposeTimeoutMs,
    };
    const parts = {
      path,
      info,
      model,
      estimatedBytes: ownBytes,
      baseEstimatedBytes: estimate.modelBytes,
      base: { bytes: base.bytes, opened: base.opened },
      contextSize: estimate.contextSize,
    };
    let loaded: LoadedModel;
    try {
      if (options.kind === "embedding") {
        const context = await createEmbeddingModelContext(model, open);
        let lent = false;
        // node-llama-cpp reports no memory of its own for an embedding context.
        const pool = new SequencePool<LlamaEmbeddingContext>({
          totalSequences: 1,
          get sequencesLeft() {
            return lent ? 0 : 1;
          },
          getSequence() {
            lent = true;
            return context;
          },
        });
        loaded = { ...parts, kind: "embedding", context, pool, bytes: 0, loadMs: loadMsSince(options) };
      } else {
        const context = await createModelContext(model, { ...open, sequences: requirements.sequences, lora });
        const bytes = context.memoryUsage.ram + context.memoryUsage.vram;
        loaded = {
          ...parts,
          kind: "chat",
          context,
          pool: new SequencePool(context),
          bytes,
          loadMs: loadMsSince(options),
        };
      }
    } catch (error) {
      await options.bases.release(path);
      throw error;
    }
    return { loaded, reservation };
  } catch (error) {
    reservation?.release();
    throw error;
  }
}

function loadMsSince(options: BudgetedLoadOptions): number {
  return Math.max(1, Math.round(performance.now() - options.startedAt));
}

/** Without a budget, an estimate beyond the machine's memory is still refused rather than attempted. */
function assertFitsMachine(model: string, bytes: number, machineBytes: number, lowerBound: boolean): void {
  if (bytes <= machineBytes) return;
  const amount = lowerBound ? `at least ${formatBytes(bytes)}` : `an estimated ${formatBytes(bytes)}`;
  throw new ModelError(
    ErrorCodes.MEMORY_BUDGET_EXCEEDED,
    `${model} needs ${amount} (model and context), more than this machine's memory (${formatBytes(machineBytes)}); use a smaller context or model`,
    { context: { model, estimatedBytes: bytes, machineBytes } },
  );
}

/**
 * The steps of one model load, in the order that keeps a device safe: resolve the reference to a file, check
 * its GGUF header (llama.cpp aborts the process on some malformed files), estimate the model and its context,
 * refuse what can never fit (the budget, else the machine's memory), make room under the budget and reserve
 * it, and only then open the model. The model manager owns the bookkeeping around it (entries, pools,
 * events); this file owns the order.
 */
import type { LlamaContext, LlamaModel } from "node-llama-cpp";
import { ErrorCodes, ModelError } from "../errors.js";
import type { LocalModelRef, LoraAdapter } from "../types.js";
import { formatBytes } from "./formatBytes.js";
import { inspectLoraFile, inspectModelFile, type LoraFileInfo, type ModelFileInfo } from "./ggufCheck.js";
import type { LlamaRuntime } from "./llamaRuntime.js";
import { threadsForModel } from "./llamaRuntime.js";
import type { MemoryBudget, Reservation, ResidentSnapshot } from "./MemoryBudget.js";
import { estimateModelMemory, loraBytes, machineMemoryBytes } from "./memoryEstimate.js";
import type { ModelRequirements } from "./modelManagerTypes.js";
import { openModel } from "./openModel.js";
import { type ResolveModelOptions, resolveModelPath } from "./resolveModel.js";
import { SequencePool } from "./SequencePool.js";

/** What one load needs from the manager. */
export interface BudgetedLoadOptions {
  /** The model's key (its reference as written), for events and errors. */
  readonly key: string;
  readonly ref: LocalModelRef;
  /** LoRA adapters applied to the context (checked and counted in the estimate before anything loads). */
  readonly lora?: readonly LoraAdapter[];
  readonly runtime: LlamaRuntime;
  readonly requirements: ModelRequirements;
  readonly resolve: Omit<ResolveModelOptions, "signal" | "onProgress">;
  /** The budget; `undefined` when there is none (the machine's memory is then the only limit). */
  readonly budget: MemoryBudget | undefined;
  /** The manager's models as the budget sees them. */
  readonly snapshot: () => ResidentSnapshot;
  /** Evicts idle models; resolves when their memory is freed. */
  readonly evict: (keys: readonly string[]) => Promise<void>;
  /** Called once the estimate is known and the model can fit: the manager emits `model.loading`. */
  readonly onLoading: (estimatedBytes: number) => void;
  readonly disposeTimeoutMs: number;
  readonly signal: AbortSignal;
  /** `performance.now()` when the load started (for `loadMs`). */
  readonly startedAt: number;
}

/** A loaded model with its context, its sequence pool, its header facts and its memory. */
export interface LoadedModel {
  readonly path: string;
  readonly info: ModelFileInfo;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly pool: SequencePool;
  /** The estimate counted against the budget. */
  readonly estimatedBytes: number;
  /** What node-llama-cpp reports for model and context (the file size when it reports nothing). */
  readonly bytes: number;
  /** Milliseconds from the start of the load (including resolving, checking and waiting for room). */
  readonly loadMs: number;
}

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
  const estimatedBytes = estimate.totalBytes + loraBytes(adapters);
  const lowerBound = estimate.method === "lower-bound";
  if (budget === undefined) assertFitsMachine(key, estimatedBytes, limitBytes, lowerBound);
  else budget.assertFits(key, estimatedBytes, lowerBound);
  options.onLoading(estimatedBytes);
  const reservation = await budget?.reserve({
    model: key,
    bytes: estimatedBytes,
    snapshot: options.snapshot,
    evict: options.evict,
    signal,
  });
  try {
    const opened = await openModel(llama, {
      model: key,
      path,
      contextSize: estimate.contextSize,
      sequences: requirements.sequences,
      lora,
      threads: threadsForModel(options.runtime, info.parameters),
      signal,
      disposeTimeoutMs: options.disposeTimeoutMs,
    });
    const loaded: LoadedModel = {
      path,
      info,
      model: opened.model,
      context: opened.context,
      pool: new SequencePool(opened.context),
      estimatedBytes,
      bytes: opened.bytes > 0 ? opened.bytes : info.bytes,
      loadMs: Math.max(1, Math.round(performance.now() - options.startedAt)),
    };
    return { loaded, reservation };
  } catch (error) {
    reservation?.release();
    throw error;
  }
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

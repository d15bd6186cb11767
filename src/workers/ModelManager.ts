/**
 * The model manager owns node-llama-cpp for a crew: one `Llama` backend, models loaded on first use, one
 * context per model with as many sequences as the largest `parallel` asked for it, and a pool that hands those
 * sequences out (waiting, abortably, when all are busy) and takes them back. Workers and the local planner
 * share it, so a model used by both is loaded once.
 *
 * Memory budget and eviction are the next step; the seams are here: {@link ModelManager.residentModels} gives
 * each model's bytes, busy sequences and last use (for LRU), and `#makeRoom` is called with an estimate before
 * every load.
 */
import type { Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel } from "node-llama-cpp";
import { DisposedError, throwIfAborted } from "../errors.js";
import type { DeviceConfig, JsonSchema, LocalModelRef, RunEventInput } from "../types.js";
import { raceAbort, safeEmit, settleWithin } from "./asyncGuards.js";
import { GrammarCache } from "./GrammarCache.js";
import { inspectModelFile, type ModelFileInfo } from "./ggufCheck.js";
import type { GrammarSchemaOptions } from "./grammarSchema.js";
import { type LlamaRuntime, type LlamaRuntimeOptions, startLlama } from "./llamaRuntime.js";
import { openModel } from "./openModel.js";
import { type ResolveModelOptions, resolveModelPath } from "./resolveModel.js";
import { SequencePool } from "./SequencePool.js";

/** How a model manager runs. */
export interface ModelManagerOptions {
  /** GPU, threads and (next issue) the memory budget. */
  readonly device: DeviceConfig;
  /** Where models come from (models directory, fixture cache, base directory for relative paths). */
  readonly resolve?: Omit<ResolveModelOptions, "signal" | "onProgress">;
  /**
   * Receives every `model.*` event (loads triggered by any caller, unloads). When set, it is the only channel:
   * acquires' `emit` callbacks get nothing, so a run that also listens here never sees an event twice.
   */
  readonly onEvent?: (event: RunEventInput) => void;
  /** Longest wait for one disposal step before giving up on it (default 5000 ms). */
  readonly disposeTimeoutMs?: number;
  /** llama.cpp's log level (default `"warn"`). */
  readonly logLevel?: LlamaRuntimeOptions["logLevel"];
  /** Most sequences one context gets (default {@link MAX_SEQUENCES}, llama.cpp's limit). */
  readonly maxSequences?: number;
}

/** Context shape wanted for a model: the context is created with the largest of each seen so far. */
export interface ModelRequirements {
  /** Tokens per sequence. */
  readonly contextSize: number;
  /** Sequences (parallel generations). */
  readonly sequences: number;
}

/** Options of {@link ModelManager.acquire}. */
export interface AcquireOptions extends Partial<ModelRequirements> {
  readonly signal?: AbortSignal;
  /**
   * Receives the `model.loading` / `model.loaded` events of a load this call triggers, when the manager has no
   * `onEvent` listener (which otherwise receives them instead).
   */
  readonly emit?: (event: RunEventInput) => void;
}

/**
 * A sequence borrowed from the pool. Give it back with `release()` (idempotent) or a `using` declaration;
 * never dispose the sequence itself.
 */
export interface SequenceLease extends Disposable {
  readonly ref: LocalModelRef;
  readonly llama: Llama;
  readonly model: LlamaModel;
  readonly sequence: LlamaContextSequence;
  /** Milliseconds this acquire spent loading the model; 0 when it was already resident. */
  readonly loadMs: number;
  /** Whether the model has random weights (an edgecrew fixture), so generation must ban invalid UTF-8 bytes. */
  readonly randomWeights: boolean;
  release(): void;
}

/** A resident model as the memory budget sees it. */
export interface ResidentModel {
  readonly model: string;
  readonly path: string;
  /** Model weights plus context, as node-llama-cpp accounts them (file size when it reports nothing). */
  readonly bytes: number;
  readonly sequences: number;
  readonly busySequences: number;
  /** `performance.now()` of the last acquire or release. */
  readonly lastUsedAt: number;
}

interface Loaded {
  readonly path: string;
  readonly info: ModelFileInfo;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly pool: SequencePool;
  readonly bytes: number;
  readonly loadMs: number;
}

interface Entry {
  readonly key: string;
  readonly ref: LocalModelRef;
  /** Aborts the load (on dispose). */
  readonly abort: AbortController;
  /** Settles when the load finishes; rejects (and the entry is dropped) when it fails. */
  readonly ready: Promise<Loaded>;
  lastUsedAt: number;
}

const DEFAULT_DISPOSE_TIMEOUT_MS = 5000;
/** llama.cpp's most sequences per context (LLAMA_MAX_SEQ); a context asked for more fails to create. */
export const MAX_SEQUENCES = 256;
const DEFAULT_CONTEXT_SIZE = 2048;

/** The key a model is pooled under: its reference as written. */
function keyOf(ref: LocalModelRef): string {
  return ref.raw;
}

/**
 * Loads local models lazily and pools their context sequences. One per crew; idempotent `dispose()`.
 *
 * @example
 * await using manager = new ModelManager({ device: { gpu: false, threads: 1 } });
 * const lease = await manager.acquire(ref, { contextSize: 2048, sequences: 2, signal });
 * try { ... lease.sequence ... } finally { lease.release(); }
 */
export class ModelManager implements AsyncDisposable {
  readonly #options: ModelManagerOptions;
  readonly #entries = new Map<string, Entry>();
  /** Loaded models by entry; an entry is in `#entries` from the start of its load until it is unloaded. */
  readonly #loaded = new Map<Entry, Loaded>();
  readonly #requirements = new Map<string, ModelRequirements>();
  readonly #grammars = new GrammarCache();
  #runtime: Promise<LlamaRuntime> | undefined;
  #disposing: Promise<void> | undefined;

  constructor(options: ModelManagerOptions) {
    this.#options = options;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /**
   * Records what a model will be asked for before anything loads it, so that its one context is created large
   * enough (the largest `contextSize` and `sequences` declared, sequences capped at `maxSequences`).
   * Workers declare their models up front; a declaration after the model is loaded takes effect on its next
   * load (until then, extra parallel callers wait for a sequence).
   */
  declare(ref: LocalModelRef, requirements: ModelRequirements): void {
    this.#assertUsable();
    const key = keyOf(ref);
    const known = this.#requirements.get(key);
    this.#requirements.set(key, {
      contextSize: Math.max(known?.contextSize ?? 0, requirements.contextSize),
      sequences: Math.min(
        this.#options.maxSequences ?? MAX_SEQUENCES,
        Math.max(known?.sequences ?? 0, requirements.sequences, 1),
      ),
    });
  }

  /** Whether a model is loaded and ready (the scheduler prefers subtasks whose model is). */
  isResident(ref: LocalModelRef): boolean {
    const entry = this.#entries.get(keyOf(ref));
    return entry !== undefined && this.#loaded.has(entry);
  }

  /** Resident models with their size, sequence use and last use: the input of a memory budget / LRU. */
  residentModels(): ResidentModel[] {
    const out: ResidentModel[] = [];
    for (const entry of this.#entries.values()) {
      const loaded = this.#loaded.get(entry);
      if (loaded === undefined) continue;
      out.push({
        model: entry.key,
        path: loaded.path,
        bytes: loaded.bytes,
        sequences: loaded.pool.size,
        busySequences: loaded.pool.busy,
        lastUsedAt: entry.lastUsedAt,
      });
    }
    return out;
  }

  /** The started llama.cpp backend (started on first call; ≈1 s). */
  async runtime(signal?: AbortSignal): Promise<LlamaRuntime> {
    this.#assertUsable();
    if (this.#runtime === undefined) {
      const starting = startLlama({
        gpu: this.#options.device.gpu,
        ...(this.#options.device.threads === undefined ? {} : { threads: this.#options.device.threads }),
        ...(this.#options.logLevel === undefined ? {} : { logLevel: this.#options.logLevel }),
      });
      this.#runtime = starting;
      // A failed start may be retried by a later call.
      starting.catch(() => {
        if (this.#runtime === starting) this.#runtime = undefined;
      });
    }
    return await raceAbort(this.#runtime, signal, "starting llama.cpp");
  }

  /**
   * A grammar that makes generation follow a JSON Schema (converted by `toGrammarSchema`), cached per schema.
   * Throws an EdgecrewError SCHEMA_INVALID when the schema cannot become a grammar.
   */
  async grammarFor(
    schema: JsonSchema,
    options: GrammarSchemaOptions = {},
    signal?: AbortSignal,
  ): Promise<LlamaGrammar> {
    const { llama } = await this.runtime(signal);
    return await this.#grammars.get(llama, schema, options);
  }

  /**
   * Borrows a sequence of a model's context, loading the model first if needed (emitting `model.loading` and
   * `model.loaded`). Waits, abortably, while every sequence is busy. Throws a ModelError when the model cannot
   * be found, checked or loaded; an AbortError when the signal fires; a DisposedError after `dispose()`.
   */
  async acquire(ref: LocalModelRef, options: AcquireOptions = {}): Promise<SequenceLease> {
    this.#assertUsable();
    throwIfAborted(options.signal);
    this.declare(ref, {
      contextSize: options.contextSize ?? DEFAULT_CONTEXT_SIZE,
      sequences: options.sequences ?? 1,
    });
    let entry = this.#entries.get(keyOf(ref));
    const loadsHere = entry === undefined;
    entry ??= this.#startLoad(ref, options.emit);
    const loaded = await raceAbort(entry.ready, options.signal, `loading ${ref.raw}`);
    this.#assertUsable();
    const sequence = await loaded.pool.take(options.signal);
    return this.#lease(entry, loaded, sequence, loadsHere ? loaded.loadMs : 0);
  }

  /**
   * Unloads a model (emitting `model.unloaded`), after its borrowed sequences are returned; a new acquire
   * meanwhile loads a fresh copy. Does nothing for a model that is not loaded.
   */
  async unload(ref: LocalModelRef, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#assertUsable();
    const entry = this.#entries.get(keyOf(ref));
    if (entry === undefined) return;
    const loaded = await raceAbort(entry.ready, options.signal).catch((error: unknown) => {
      if (options.signal?.aborted) throw error;
      return undefined; // A failed load left nothing to unload.
    });
    if (loaded === undefined || this.#entries.get(entry.key) !== entry) return; // Unloaded meanwhile.
    this.#entries.delete(entry.key);
    await raceAbort(loaded.pool.drain(), options.signal);
    await this.#close(entry, loaded);
  }

  /**
   * Frees every model, context and the backend; idempotent. Pending acquires reject with DisposedError, loads
   * in progress are aborted, and each disposal step is bounded by `disposeTimeoutMs`.
   */
  dispose(): Promise<void> {
    this.#disposing ??= this.#disposeAll();
    return this.#disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  // ─── internals ────────────────────────────────────────────────────────────────────────────────────────

  #assertUsable(): void {
    if (this.#disposing !== undefined) throw new DisposedError("ModelManager");
  }

  #startLoad(ref: LocalModelRef, emit: AcquireOptions["emit"]): Entry {
    const key = keyOf(ref);
    const abort = new AbortController();
    const ready = this.#load(key, ref, abort.signal, emit).then(
      (loaded) => {
        this.#loaded.set(entry, loaded);
        return loaded;
      },
      (error: unknown) => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        throw error;
      },
    );
    // Callers that gave up (aborted) must not leave an unhandled rejection behind.
    ready.catch(() => undefined);
    const entry: Entry = { key, ref, abort, ready, lastUsedAt: performance.now() };
    this.#entries.set(key, entry);
    return entry;
  }

  async #load(
    key: string,
    ref: LocalModelRef,
    signal: AbortSignal,
    emit: AcquireOptions["emit"],
  ): Promise<Loaded> {
    const started = performance.now();
    const { llama, threads } = await this.runtime(signal);
    const path = await resolveModelPath(ref, { ...this.#options.resolve, signal });
    const info = await inspectModelFile(path, { signal });
    const requirements = this.#requirements.get(key) ?? { contextSize: DEFAULT_CONTEXT_SIZE, sequences: 1 };
    const estimatedBytes = this.#estimateBytes(info, requirements);
    this.#emit(emit, { type: "model.loading", model: key, estimatedBytes });
    await this.#makeRoom(estimatedBytes, signal);
    const opened = await openModel(llama, {
      model: key,
      path,
      contextSize: Math.min(requirements.contextSize, info.contextLength),
      sequences: requirements.sequences,
      threads,
      signal,
      disposeTimeoutMs: this.#disposeTimeoutMs,
    });
    const loadMs = Math.max(1, Math.round(performance.now() - started));
    const bytes = opened.bytes > 0 ? opened.bytes : info.bytes;
    this.#emit(emit, { type: "model.loaded", model: key, bytes, ms: loadMs });
    return { path, info, ...opened, pool: new SequencePool(opened.context), bytes, loadMs };
  }

  /**
   * Resident bytes a model will take with its context. For now the file size (weights are mapped whole); the
   * memory budget will refine this with node-llama-cpp's GgufInsights estimates (KV cache per sequence).
   */
  #estimateBytes(info: ModelFileInfo, _requirements: ModelRequirements): number {
    return info.bytes;
  }

  /**
   * Makes `bytes` available under `device.memoryBytes` before a load. The budget/LRU step evicts idle models
   * here (least recently used first, never one with busy sequences); today there is no budget to enforce.
   */
  async #makeRoom(_bytes: number, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
  }

  #lease(entry: Entry, loaded: Loaded, sequence: LlamaContextSequence, loadMs: number): SequenceLease {
    entry.lastUsedAt = performance.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.lastUsedAt = performance.now();
      loaded.pool.give(sequence);
    };
    return {
      ref: entry.ref,
      llama: loaded.model.llama,
      model: loaded.model,
      sequence,
      loadMs,
      randomWeights: entry.ref.kind === "fixture" || loaded.info.isFixture,
      release,
      [Symbol.dispose]: release,
    };
  }

  async #close(entry: Entry, loaded: Loaded): Promise<void> {
    this.#loaded.delete(entry);
    loaded.pool.close(new DisposedError(`model ${entry.key}`));
    await settleWithin(loaded.context.dispose(), this.#disposeTimeoutMs);
    await settleWithin(loaded.model.dispose(), this.#disposeTimeoutMs);
    this.#emit(undefined, { type: "model.unloaded", model: entry.key, bytes: loaded.bytes });
  }

  async #disposeAll(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) {
      entry.abort.abort(new DisposedError("ModelManager"));
      this.#loaded.get(entry)?.pool.close(new DisposedError("ModelManager"));
    }
    for (const entry of entries) {
      let loaded: Loaded | undefined;
      await settleWithin(
        entry.ready.then((value) => {
          loaded = value;
        }),
        this.#disposeTimeoutMs,
      );
      if (loaded !== undefined) await this.#close(entry, loaded);
    }
    this.#grammars.clear();
    const runtime = this.#runtime;
    this.#runtime = undefined;
    if (runtime !== undefined) {
      await settleWithin(
        runtime.then(({ llama }) => llama.dispose()),
        this.#disposeTimeoutMs,
      );
    }
  }

  get #disposeTimeoutMs(): number {
    return this.#options.disposeTimeoutMs ?? DEFAULT_DISPOSE_TIMEOUT_MS;
  }

  #emit(emit: AcquireOptions["emit"], event: RunEventInput): void {
    safeEmit(this.#options.onEvent ?? emit, event);
  }
}

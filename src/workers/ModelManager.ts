/**
 * The model manager owns node-llama-cpp for a crew: one `Llama` backend, models loaded on first use, one
 * context per model with as many sequences as the largest `parallel` asked for it, and a pool that hands those
 * sequences out (waiting, abortably, when all are busy) and takes them back. Workers and the local planner
 * share it, so a model used by both is loaded once.
 *
 * LoRA adapters (a worker's `lora`): a model with a given adapter set is its own entry under its own key
 * ({@link modelKey}) with its own context, the adapters applied to that context only — so two workers may share
 * a base model with different adapters, and users of the plain model never see them. The weights are loaded
 * once per model file (one `LlamaModel`, shared by every entry on that file and counted once by the budget);
 * the last entry to go frees them.
 *
 * Memory: before each load the model and its context are estimated from the GGUF header (`estimateModelMemory`,
 * RAM + VRAM). With a budget (`device.memoryBytes`) the load first makes room by evicting least-recently-used
 * idle models; a model that is busy (a lease is out, or a caller waits for one) is never evicted, so when only
 * busy models hold the room the load waits, abortably, until one becomes idle. The estimate is reserved while
 * the model loads, so concurrent loads cannot both squeeze in. A model that exceeds the budget alone — or,
 * without a budget, the machine's memory — fails at once with MEMORY_BUDGET_EXCEEDED, before anything loads.
 * Callers must not hold a lease while acquiring another model under a tight budget: that wait could be on
 * themselves (their own signal or subtask timeout then ends it).
 */
import type { LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import {
  abortErrorFor,
  DisposedError,
  EdgecrewError,
  ErrorCodes,
  raceAbort,
  throwIfAborted,
} from "../errors.js";
import type { LocalModelRef, LoraAdapter, RunEventInput } from "../types.js";
import { safeEmit, settleWithin } from "./asyncGuards.js";
import {
  type BudgetedLoad,
  type LoadedModel as Loaded,
  type LoadedChatModel,
  loadWithinBudget,
  type ModelKind,
  type SharedBase,
  type SharedBases,
} from "./budgetedLoad.js";
import { type CompiledTurn, GrammarCache } from "./GrammarCache.js";
import { type LlamaRuntime, startLlama } from "./llamaRuntime.js";
import { MemoryBudget, type Reservation, type ResidentSnapshot } from "./MemoryBudget.js";
import type {
  AcquireOptions,
  EmbeddingAcquireOptions,
  EmbeddingLease,
  ModelManagerOptions,
  ModelRequirements,
  ResidentModel,
  SequenceLease,
} from "./modelManagerTypes.js";
import { leaseSequence } from "./sequenceLease.js";
import type { TurnSpec } from "./turnGrammar.js";

export type * from "./modelManagerTypes.js";

interface Entry {
  readonly key: string;
  readonly kind: ModelKind;
  readonly ref: LocalModelRef;
  readonly lora: readonly LoraAdapter[];
  /** Aborts the load (on dispose, or when every caller waiting for it gave up). */
  readonly abort: AbortController;
  /** Settles when the load finishes; rejects (and the entry is dropped) when it fails. */
  readonly ready: Promise<Loaded>;
  lastUsedAt: number;
  /** Callers inside `acquire` for this entry (waiting for the load or a sequence): they keep it busy. */
  pending: number;
}

/** The weights of one model file, shared by every entry (adapter set) on it. */
interface Base {
  readonly path: string;
  /** Aborts the load once no entry waits for it. */
  readonly abort: AbortController;
  readonly ready: Promise<LlamaModel>;
  /** Entries holding a use (loading or loaded); the last release frees the weights. */
  users: number;
  /** Set once loaded: counted against the budget until disposed. */
  loaded?: { readonly model: LlamaModel; readonly estimatedBytes: number; readonly bytes: number };
}

const DEFAULT_DISPOSE_TIMEOUT_MS = 5000;
/** llama.cpp's most sequences per context (LLAMA_MAX_SEQ); a context asked for more fails to create. */
export const MAX_SEQUENCES = 256;
const DEFAULT_CONTEXT_SIZE = 2048;

/**
 * The key a model is pooled under: its reference as written, plus its LoRA adapters when it has any
 * (`fixture:tiny+lora(/a.gguf@1)`): a model with another adapter set is another entry with its own context.
 */
export function modelKey(ref: LocalModelRef, lora: readonly LoraAdapter[] = []): string {
  if (lora.length === 0) return ref.raw;
  return `${ref.raw}+lora(${lora.map((adapter) => `${adapter.path}@${adapter.scale}`).join(",")})`;
}

const keyOf = modelKey;

/**
 * The key an embedding model is pooled under (`fixture:embed+embedding`): its embedding context is an entry of
 * its own, next to any chat context on the same file (whose weights it shares).
 */
export function embeddingModelKey(ref: LocalModelRef): string {
  return `${ref.raw}+embedding`;
}

/**
 * Loads local models lazily under a memory budget and pools their context sequences. One per crew; idempotent
 * `dispose()`.
 *
 * @example
 * await using manager = new ModelManager({ device: { gpu: false, threads: 1, memoryBytes: 2 * 1024 ** 3 } });
 * const lease = await manager.acquire(ref, { contextSize: 2048, sequences: 2, signal });
 * try { ... lease.sequence ... } finally { lease.release(); }
 */
export class ModelManager implements AsyncDisposable {
  readonly #options: ModelManagerOptions;
  readonly #entries = new Map<string, Entry>();
  /**
   * Loaded models by entry. An entry is in `#entries` from the start of its load until it is unloaded or
   * evicted, and here from the end of its load until its disposal finishes (its memory is held until then).
   */
  readonly #loaded = new Map<Entry, Loaded>();
  /** Weights by model file, from the start of their load until their last user releases them. */
  readonly #bases = new Map<string, Base>();
  /** Weights loaded and not yet freed (counted against the budget once, however many entries share them). */
  readonly #heldBases = new Set<Base>();
  readonly #requirements = new Map<string, ModelRequirements>();
  readonly #grammars = new GrammarCache();
  readonly #budget: MemoryBudget | undefined;
  #runtime: Promise<LlamaRuntime> | undefined;
  #disposing: Promise<void> | undefined;

  constructor(options: ModelManagerOptions) {
    this.#options = options;
    const budget = options.device.memoryBytes;
    this.#budget = budget === undefined ? undefined : new MemoryBudget(budget);
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /** The memory budget in bytes (`device.memoryBytes`); `undefined` when there is none. */
  get budgetBytes(): number | undefined {
    return this.#budget?.budgetBytes;
  }

  /**
   * Records what a model will be asked for before anything loads it, so that its one context is created large
   * enough (the largest `contextSize` and `sequences` declared, sequences capped at `maxSequences`).
   * Workers declare their models up front; a declaration after the model is loaded takes effect on its next
   * load (until then, extra parallel callers wait for a sequence).
   */
  declare(ref: LocalModelRef, requirements: ModelRequirements, lora: readonly LoraAdapter[] = []): void {
    this.#assertUsable();
    this.#declareKey(keyOf(ref, lora), requirements);
  }

  /**
   * Records the context an embedding model will be asked for (Tool RAG's ranker), as {@link declare} does for a
   * chat model: its embedding context is created with the largest `contextSize` declared, one sequence.
   */
  declareEmbedding(ref: LocalModelRef, contextSize: number): void {
    this.#assertUsable();
    this.#declareKey(embeddingModelKey(ref), { contextSize, sequences: 1 });
  }

  #declareKey(key: string, requirements: ModelRequirements): void {
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
  isResident(ref: LocalModelRef, lora: readonly LoraAdapter[] = []): boolean {
    const entry = this.#entries.get(keyOf(ref, lora));
    return entry !== undefined && this.#loaded.has(entry);
  }

  /**
   * Models holding memory now — loaded, including any whose unload has not finished — with their estimated
   * bytes (what the budget counts), node-llama-cpp's measured bytes, sequence use and last use. Weights shared
   * by several entries (one model file, different LoRA adapter sets) are counted in the first of them only, so
   * the `bytes` add up to {@link residentBytes} (less weights whose users are all gone but not yet freed).
   */
  residentModels(): ResidentModel[] {
    const out: ResidentModel[] = [];
    const counted = new Set<string>();
    for (const [entry, loaded] of this.#loaded) {
      const base = this.#bases.get(loaded.path)?.loaded;
      const withBase = base !== undefined && !counted.has(loaded.path);
      if (withBase) counted.add(loaded.path);
      out.push({
        model: entry.key,
        path: loaded.path,
        bytes: loaded.estimatedBytes + (withBase ? base.estimatedBytes : 0),
        contextBytes: loaded.estimatedBytes,
        baseBytes: loaded.baseEstimatedBytes,
        measuredBytes: loaded.bytes + (withBase ? base.bytes : 0),
        sequences: loaded.pool.size,
        busySequences: loaded.pool.busy,
        lastUsedAt: entry.lastUsedAt,
      });
    }
    return out;
  }

  /**
   * Loaded model files (weights) with the entries sharing each: one per file, however many adapter sets use it.
   */
  residentBases(): {
    readonly path: string;
    readonly bytes: number;
    readonly measuredBytes: number;
    readonly users: number;
  }[] {
    return [...this.#heldBases].map((base) => ({
      path: base.path,
      bytes: base.loaded?.estimatedBytes ?? 0,
      measuredBytes: base.loaded?.bytes ?? 0,
      users: base.users,
    }));
  }

  /**
   * Estimated bytes of every model holding memory now: each context with its adapters, plus each model file's
   * weights once (see {@link residentModels}); loads in progress are not included (they hold a reservation
   * until they are counted here). Never above {@link budgetBytes}.
   */
  residentBytes(): number {
    let total = 0;
    for (const loaded of this.#loaded.values()) total += loaded.estimatedBytes;
    for (const base of this.#heldBases) total += base.loaded?.estimatedBytes ?? 0;
    return total;
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
   * The grammar of a turn (an answer, a tool call, or either; see turnGrammar.ts), compiled by edgecrew's own
   * compiler and cached. Throws an EdgecrewError SCHEMA_INVALID when the schemas cannot become a grammar, and
   * TOKEN_BUDGET_EXCEEDED when the turn cannot fit its `maxTokens`.
   */
  async turnGrammar(spec: TurnSpec, signal?: AbortSignal): Promise<CompiledTurn> {
    const { llama } = await this.runtime(signal);
    return await this.#grammars.get(llama, spec);
  }

  /**
   * Borrows a sequence of a model's context, loading the model first if needed (emitting `model.loading` and
   * `model.loaded` to the manager's `onEvent`, or else to this call's `emit`; `model.unloaded` for each model
   * evicted to make room goes to `onEvent` only, since an eviction belongs to no one caller). Waits, abortably,
   * while every sequence is busy or while the budget has room only once busy models become idle; a load that
   * every waiting caller gave up on is stopped. Throws a ModelError when the model cannot be found, checked, fit or
   * loaded (MEMORY_BUDGET_EXCEEDED when it exceeds the budget alone); an AbortError when the signal fires; a
   * DisposedError after `dispose()`.
   */
  async acquire(ref: LocalModelRef, options: AcquireOptions = {}): Promise<SequenceLease> {
    this.#assertUsable();
    throwIfAborted(options.signal);
    const lora = options.lora ?? [];
    this.declare(
      ref,
      { contextSize: options.contextSize ?? DEFAULT_CONTEXT_SIZE, sequences: options.sequences ?? 1 },
      lora,
    );
    return await this.#borrow(keyOf(ref, lora), "chat", options, (emit) => this.#startLoad(ref, lora, emit), {
      label: `loading ${ref.raw}`,
      take: async (entry, loaded, loadsHere) => {
        const sequence = await loaded.pool.take(options.signal);
        return this.#lease(entry, loaded, sequence, loadsHere ? loaded.loadMs : 0);
      },
    });
  }

  /**
   * Borrows an embedding model's context (Tool RAG's ranker), loading the model first if needed, exactly as
   * {@link acquire} does for a chat model: the same memory budget, events, eviction of idle models, shared
   * weights (a model file also used for chat is loaded once) and errors (a ModelError MODEL_NOT_FOUND,
   * MODEL_INVALID, MEMORY_BUDGET_EXCEEDED or MODEL_LOAD_FAILED; an AbortError; a DisposedError). The model is
   * pooled under {@link embeddingModelKey}, so workers naming the same embedding model share it. One caller
   * holds the context at a time; others wait, abortably.
   */
  async acquireEmbedding(ref: LocalModelRef, options: EmbeddingAcquireOptions = {}): Promise<EmbeddingLease> {
    this.#assertUsable();
    throwIfAborted(options.signal);
    this.declareEmbedding(ref, options.contextSize ?? DEFAULT_CONTEXT_SIZE);
    const key = embeddingModelKey(ref);
    return await this.#borrow(
      key,
      "embedding",
      options,
      (emit) => this.#startLoad(ref, [], emit, "embedding"),
      {
        label: `loading ${key}`,
        take: async (entry, loaded, loadsHere) => {
          const context = await loaded.pool.take(options.signal);
          entry.lastUsedAt = performance.now();
          let released = false;
          const release = () => {
            if (released) return;
            released = true;
            loaded.pool.give(context);
            entry.lastUsedAt = performance.now();
            this.#budget?.notify();
          };
          return {
            ref,
            key,
            model: loaded.model,
            context,
            contextSize: loaded.contextSize,
            loadMs: loadsHere ? loaded.loadMs : 0,
            release,
            [Symbol.dispose]: release,
          };
        },
      },
    );
  }

  /**
   * Unloads a model (emitting `model.unloaded`), after its borrowed sequences are returned; a new acquire
   * meanwhile loads a fresh copy. Does nothing for a model that is not loaded.
   */
  async unload(
    ref: LocalModelRef,
    options: { signal?: AbortSignal; lora?: readonly LoraAdapter[] } = {},
  ): Promise<void> {
    this.#assertUsable();
    const entry = this.#entries.get(keyOf(ref, options.lora));
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
   * in progress (and loads waiting for room) are aborted, and each disposal step is bounded by
   * `disposeTimeoutMs`.
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

  #startLoad(
    ref: LocalModelRef,
    lora: readonly LoraAdapter[],
    emit: AcquireOptions["emit"],
    kind: ModelKind = "chat",
  ): Entry {
    const key = kind === "embedding" ? embeddingModelKey(ref) : keyOf(ref, lora);
    const abort = new AbortController();
    const ready = this.#load(key, kind, ref, lora, abort.signal, emit).then(
      async ({ loaded, reservation }) => {
        // Counted as resident and no longer reserved in one step, so the total never double counts or drops.
        this.#loaded.set(entry, loaded);
        reservation?.release();
        if (abort.signal.aborted) {
          // Cancelled or disposed just as the model opened: free it rather than keep a model nobody can reach.
          await this.#close(entry, loaded, false);
          throw abortErrorFor(abort.signal, `loading ${key}`);
        }
        // The weights' bytes belong to the load that opened them; a context on shared weights adds only its own.
        const bytes = loaded.bytes + (loaded.base.opened ? loaded.base.bytes : 0);
        this.#emit(emit, { type: "model.loaded", model: key, bytes, ms: loaded.loadMs });
        return loaded;
      },
      (error: unknown) => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        throw error;
      },
    );
    // Callers that gave up (aborted) must not leave an unhandled rejection behind.
    ready.catch(() => undefined);
    const entry: Entry = { key, kind, ref, lora, abort, ready, lastUsedAt: performance.now(), pending: 0 };
    this.#entries.set(key, entry);
    return entry;
  }

  /** Stops a load nobody waits for any more; a later acquire starts a fresh one. */
  #cancelLoad(entry: Entry): void {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    entry.abort.abort(new Error(`every caller waiting for ${entry.key} gave up`));
  }

  async #load(
    key: string,
    kind: ModelKind,
    ref: LocalModelRef,
    lora: readonly LoraAdapter[],
    signal: AbortSignal,
    emit: AcquireOptions["emit"],
  ): Promise<BudgetedLoad> {
    const startedAt = performance.now();
    return await loadWithinBudget({
      key,
      kind,
      ref,
      lora,
      runtime: await this.runtime(signal),
      requirements: this.#requirements.get(key) ?? { contextSize: DEFAULT_CONTEXT_SIZE, sequences: 1 },
      resolve: this.#options.resolve ?? {},
      budget: this.#budget,
      bases: this.#sharedBases,
      snapshot: () => this.#snapshot(),
      evict: (keys) => this.#evict(keys),
      onLoading: (estimatedBytes) => this.#emit(emit, { type: "model.loading", model: key, estimatedBytes }),
      disposeTimeoutMs: this.#disposeTimeoutMs,
      signal,
      startedAt,
    });
  }

  /**
   * The manager's models as the budget sees them: evictable residents, and bytes that cannot be freed now.
   * Shared weights are freed only with their last entry: while every entry on them is resident and idle, their
   * bytes ride on the most recently used one (the last the LRU policy would evict, by which time the others are
   * gone); while one of them is busy or still loading, they count as held, since no eviction can free them.
   */
  #snapshot(): ResidentSnapshot {
    const resident: { key: string; bytes: number; busy: boolean; lastUsedAt: number }[] = [];
    const byPath = new Map<string, (typeof resident)[number][]>();
    let unloadingBytes = 0;
    for (const [entry, loaded] of this.#loaded) {
      if (this.#entries.get(entry.key) !== entry) {
        unloadingBytes += loaded.estimatedBytes;
        continue;
      }
      const candidate = {
        key: entry.key,
        bytes: loaded.estimatedBytes,
        busy: entry.pending > 0 || loaded.pool.busy > 0,
        lastUsedAt: entry.lastUsedAt,
      };
      resident.push(candidate);
      const group = byPath.get(loaded.path) ?? [];
      group.push(candidate);
      byPath.set(loaded.path, group);
    }
    for (const base of this.#heldBases) {
      const bytes = base.loaded?.estimatedBytes ?? 0;
      const group = this.#bases.get(base.path) === base ? (byPath.get(base.path) ?? []) : [];
      const newest = group.reduce<(typeof group)[number] | undefined>(
        (latest, c) => (latest === undefined || c.lastUsedAt > latest.lastUsedAt ? c : latest),
        undefined,
      );
      if (newest === undefined || group.length < base.users || group.some((c) => c.busy))
        unloadingBytes += bytes;
      else newest.bytes += bytes;
    }
    return { resident, unloadingBytes };
  }

  /** The shared weights, as the loads see them (see SharedBases). */
  readonly #sharedBases: SharedBases = {
    has: (path) => this.#bases.has(path),
    acquire: (request) => this.#acquireBase(request),
    release: async (path) => {
      const base = this.#bases.get(path);
      if (base !== undefined) await this.#releaseBase(base);
    },
  };

  async #acquireBase(request: Parameters<SharedBases["acquire"]>[0]): Promise<SharedBase> {
    const { path, signal } = request;
    let base = this.#bases.get(path);
    let opened = false;
    if (base === undefined) {
      // Freed since the caller reserved for a context only: the weights need room of their own.
      let reservation: Reservation | undefined;
      if (!request.reserved && this.#budget !== undefined) {
        reservation = await this.#budget.reserve({
          model: path,
          bytes: request.estimatedBytes,
          snapshot: () => this.#snapshot(),
          evict: (keys) => this.#evict(keys),
          signal,
        });
      }
      base = this.#bases.get(path);
      if (base !== undefined) reservation?.release();
      else {
        base = this.#startBase(path, request, reservation);
        opened = true;
      }
    }
    base.users++;
    try {
      const model = await raceAbort(base.ready, signal, `loading ${path}`);
      return { model, bytes: base.loaded?.bytes ?? 0, opened };
    } catch (error) {
      await this.#releaseBase(base);
      throw error;
    }
  }

  #startBase(
    path: string,
    request: Parameters<SharedBases["acquire"]>[0],
    reservation: Reservation | undefined,
  ): Base {
    const abort = new AbortController();
    const base: Base = {
      path,
      abort,
      users: 0,
      ready: request.load(abort.signal).then(
        (model) => {
          const measured = model.memoryUsage.ram + model.memoryUsage.vram;
          base.loaded = { model, estimatedBytes: request.estimatedBytes, bytes: Math.max(0, measured) };
          // Counted as held and no longer reserved in one step.
          this.#heldBases.add(base);
          reservation?.release();
          return model;
        },
        (error: unknown) => {
          reservation?.release();
          if (this.#bases.get(path) === base) this.#bases.delete(path);
          throw error;
        },
      ),
    };
    base.ready.catch(() => undefined);
    this.#bases.set(path, base);
    return base;
  }

  /** Gives back one use of shared weights; the last frees them (or stops their load). */
  async #releaseBase(base: Base): Promise<void> {
    if (base.users <= 0) return; // Already freed (by dispose()).
    base.users--;
    if (base.users > 0) return;
    if (this.#bases.get(base.path) === base) this.#bases.delete(base.path);
    if (base.loaded === undefined) base.abort.abort(new Error(`no one uses ${base.path} any more`));
    let model: LlamaModel | undefined;
    await settleWithin(
      base.ready.then(
        (m) => {
          model = m;
        },
        () => undefined,
      ),
      this.#disposeTimeoutMs,
    );
    if (model !== undefined) await settleWithin(model.dispose(), this.#disposeTimeoutMs);
    // Counted until here: the memory is held until the disposal finishes.
    this.#heldBases.delete(base);
    this.#budget?.notify();
  }

  /**
   * Evicts idle models: removes them from the manager synchronously (so no acquire can pick them up), then
   * resolves when their memory is freed.
   */
  #evict(keys: readonly string[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const key of keys) {
      const entry = this.#entries.get(key);
      const loaded = entry === undefined ? undefined : this.#loaded.get(entry);
      if (entry === undefined || loaded === undefined) continue;
      this.#entries.delete(key);
      closing.push(this.#close(entry, loaded));
    }
    return Promise.all(closing).then(() => undefined);
  }

  /**
   * The bookkeeping both kinds of acquire share: joins (or starts) the load of the entry under `key`, counts the
   * caller as pending while it waits, and hands the loaded model to `take`. A load stopped by dispose() reads
   * as a DisposedError; a load that every waiting caller gave up on is cancelled.
   */
  async #borrow<K extends ModelKind, T>(
    key: string,
    kind: K,
    options: { readonly signal?: AbortSignal; readonly emit?: AcquireOptions["emit"] },
    start: (emit: AcquireOptions["emit"]) => Entry,
    how: {
      readonly label: string;
      readonly take: (entry: Entry, loaded: Extract<Loaded, { kind: K }>, loadsHere: boolean) => Promise<T>;
    },
  ): Promise<T> {
    let entry = this.#entries.get(key);
    const loadsHere = entry === undefined;
    entry ??= start(options.emit);
    entry.pending++;
    try {
      const loaded = await raceAbort(entry.ready, options.signal, how.label);
      this.#assertUsable();
      if (loaded.kind !== kind) throw new EdgecrewError(ErrorCodes.INTERNAL, `${key} is not a ${kind} model`);
      return await how.take(entry, loaded as Extract<Loaded, { kind: K }>, loadsHere);
    } catch (error) {
      // A load (or a wait for room) stopped by dispose() reads as what it is, not as the abort used to stop it.
      if (this.#disposing !== undefined) throw new DisposedError("ModelManager");
      if (options.signal?.aborted && entry.pending === 1 && !this.#loaded.has(entry)) this.#cancelLoad(entry);
      throw error;
    } finally {
      entry.pending--;
      // This caller no longer keeps the model busy: a load waiting for room may now evict it.
      this.#budget?.notify();
    }
  }

  #lease(
    entry: Entry,
    loaded: LoadedChatModel,
    sequence: LlamaContextSequence,
    loadMs: number,
  ): SequenceLease {
    entry.lastUsedAt = performance.now();
    const onRelease = () => {
      entry.lastUsedAt = performance.now();
      this.#budget?.notify(); // The model may be idle now, and so evictable by a load waiting for room.
    };
    return leaseSequence({ ref: entry.ref, loaded, sequence, loadMs, onRelease });
  }

  /** Frees a loaded model; `announce: false` for one that was never announced as loaded. */
  async #close(entry: Entry, loaded: Loaded, announce = true): Promise<void> {
    loaded.pool.close(new DisposedError(`model ${entry.key}`));
    await settleWithin(loaded.context.dispose(), this.#disposeTimeoutMs);
    await this.#sharedBases.release(loaded.path);
    // Counted until here: the memory is held until the disposal finishes.
    this.#loaded.delete(entry);
    if (announce) this.#emit(undefined, { type: "model.unloaded", model: entry.key, bytes: loaded.bytes });
    this.#budget?.notify();
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
    // Weights whose load every entry gave up on, or that outlived them (a bounded wait timed out).
    for (const base of [...this.#bases.values(), ...this.#heldBases]) {
      base.abort.abort(new DisposedError("ModelManager"));
      base.users = 1;
      await this.#releaseBase(base);
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

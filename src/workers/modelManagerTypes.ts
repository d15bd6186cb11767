/**
 * The shapes the model manager takes and hands out: its options, what a caller asks for, the lease on a
 * sequence, and a resident model as the memory budget sees it. Kept apart from the manager's logic so that
 * file stays about loading, budgeting and lending; `ModelManager.ts` re-exports everything here.
 */
import type { Llama, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
import type { DeviceConfig, LocalModelRef, LoraAdapter, RunEventInput } from "../types.js";
import type { LlamaRuntimeOptions } from "./llamaRuntime.js";
import type { ResolveModelOptions } from "./resolveModel.js";

/** How a model manager runs. */
export interface ModelManagerOptions {
  /**
   * GPU, threads and the memory budget: `memoryBytes` bounds the estimated bytes of resident models and their
   * contexts (RAM + VRAM together); least-recently-used idle models are evicted to stay under it.
   */
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
  /** Most sequences one context gets (default `MAX_SEQUENCES`, llama.cpp's limit). */
  readonly maxSequences?: number;
}

/** Context shape wanted for a model: the context is created with the largest of each seen so far. */
export interface ModelRequirements {
  /** Tokens per sequence. */
  readonly contextSize: number;
  /** Sequences (parallel generations). */
  readonly sequences: number;
}

/** Options of `ModelManager.acquire`. */
export interface AcquireOptions extends Partial<ModelRequirements> {
  /** Aborts the wait (for the load, for room in the budget, for a sequence); a load nobody waits for stops. */
  readonly signal?: AbortSignal;
  /**
   * Receives the `model.loading` / `model.loaded` events of a load this call triggers, when the manager has no
   * `onEvent` listener (which otherwise receives them instead).
   */
  readonly emit?: (event: RunEventInput) => void;
  /**
   * LoRA adapters to apply: a model with a given adapter set is its own entry, with its own context on the
   * model file's weights (loaded once, shared with the file's other entries).
   */
  readonly lora?: readonly LoraAdapter[];
}

/**
 * A sequence borrowed from the pool. Give it back with `release()` (idempotent) or a `using` declaration;
 * never dispose the sequence itself. While any lease of a model is out, the budget never evicts that model.
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

/** Options of `ModelManager.acquireEmbedding`. */
export interface EmbeddingAcquireOptions {
  /** Tokens the embedding context holds (capped at the model's trained context); longer inputs are cut. */
  readonly contextSize?: number;
  /** Aborts the wait (for the load, for room in the budget, for the context while another caller embeds). */
  readonly signal?: AbortSignal;
  /** As `AcquireOptions.emit`: the load's `model.loading` / `model.loaded` events when the manager has no `onEvent`. */
  readonly emit?: (event: RunEventInput) => void;
}

/**
 * An embedding model's context, borrowed whole (one caller embeds at a time). Give it back with `release()`
 * (idempotent) or a `using` declaration; never dispose the context itself. While it is out, the budget never
 * evicts the model.
 */
export interface EmbeddingLease extends Disposable {
  readonly ref: LocalModelRef;
  /** The key the model is pooled and reported under (`model.*` events, `residentModels`). */
  readonly key: string;
  readonly model: LlamaModel;
  readonly context: LlamaEmbeddingContext;
  /** Tokens the embedding context holds: an input must be shorter (see `embedText`). */
  readonly contextSize: number;
  /** Milliseconds this acquire spent loading the model; 0 when it was already resident. */
  readonly loadMs: number;
  release(): void;
}

/** A resident model as the memory budget sees it. */
export interface ResidentModel {
  readonly model: string;
  readonly path: string;
  /**
   * Estimated bytes it holds against `device.memory` (RAM + VRAM): its context and adapters, plus the weights
   * of its model file when it is the first resident entry on that file (weights shared by several adapter sets
   * are counted once).
   */
  readonly bytes: number;
  /** Estimated bytes of its context and LoRA adapters alone. */
  readonly contextBytes: number;
  /** Estimated bytes of its model file's weights, shared with every other entry on that file. */
  readonly baseBytes: number;
  /** What node-llama-cpp reports its context (and the weights, where `bytes` counts them) hold (0 when it reports nothing). */
  readonly measuredBytes: number;
  readonly sequences: number;
  readonly busySequences: number;
  /** `performance.now()` of the last acquire or release. */
  readonly lastUsedAt: number;
}

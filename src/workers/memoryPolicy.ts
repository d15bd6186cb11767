/**
 * The memory budget's decisions as pure functions, so they can be tested without a model: which resident models
 * to evict before a load (least recently used idle ones first, never a busy one), when a load must wait instead,
 * and the peak memory an agent can need at once. The model manager and `edgecrew models estimate` both use them;
 * neither the clock nor llama.cpp is involved here.
 */

/** A resident model as the eviction policy sees it. */
export interface EvictionCandidate {
  /** The model's key (its reference as written). */
  readonly key: string;
  /** Bytes it holds against the budget. */
  readonly bytes: number;
  /** Whether anyone uses it now (a borrowed sequence, or a caller waiting for one): such a model is never evicted. */
  readonly busy: boolean;
  /** When it was last acquired or released (any monotonic clock). */
  readonly lastUsedAt: number;
}

/** What {@link planRoom} is asked. */
export interface RoomRequest {
  /** The budget, in bytes. */
  readonly budgetBytes: number;
  /** Bytes the model about to load needs (model and context). */
  readonly needBytes: number;
  /** Models loaded and evictable when idle. */
  readonly resident: readonly EvictionCandidate[];
  /**
   * Bytes held by what cannot be evicted now and is not a resident candidate: reservations of loads in progress
   * and models being unloaded (still allocated until their disposal finishes).
   */
  readonly pendingBytes?: number;
}

/**
 * The decision for one load:
 * - `load`: evict `evict` (in that order; possibly none), then load;
 * - `wait`: even evicting every idle model leaves too little room, but busy models or loads in progress hold
 *   the rest, so room will come when they finish: wait for a change, then ask again;
 * - `never`: the model needs more than the whole budget; no eviction or wait can help.
 */
export type RoomPlan =
  | { readonly kind: "load"; readonly evict: readonly string[] }
  | { readonly kind: "wait" }
  | { readonly kind: "never" };

/**
 * Decides how to make room for a load under a budget. Evicts the least recently used idle models, only as
 * many as needed (a strict LRU prefix, not the smallest set), and never a busy one.
 *
 * @example
 * planRoom({ budgetBytes: 100, needBytes: 40, resident: [
 *   { key: "a", bytes: 50, busy: false, lastUsedAt: 1 },
 *   { key: "b", bytes: 30, busy: false, lastUsedAt: 2 },
 * ] }); // { kind: "load", evict: ["a"] }
 */
export function planRoom(request: RoomRequest): RoomPlan {
  const { budgetBytes, needBytes, resident } = request;
  if (needBytes > budgetBytes) return { kind: "never" };
  const used = resident.reduce((sum, model) => sum + model.bytes, request.pendingBytes ?? 0);
  let free = budgetBytes - used;
  if (needBytes <= free) return { kind: "load", evict: [] };
  const idle = resident.filter((model) => !model.busy).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
  const evict: string[] = [];
  for (const model of idle) {
    evict.push(model.key);
    free += model.bytes;
    if (needBytes <= free) return { kind: "load", evict };
  }
  return { kind: "wait" };
}

/** One model of an agent, as the peak computation sees it. */
export interface PeakModel {
  readonly key: string;
  /** Estimated bytes of the model with its context (all of its sequences). */
  readonly bytes: number;
}

/** The models that make up the peak, and their total. */
export interface Peak {
  readonly bytes: number;
  /** Keys of the models counted, largest first. */
  readonly models: readonly string[];
}

/**
 * The largest estimated memory an agent can need resident at once under LRU eviction. A model is busy only
 * while a subtask (or the planner) runs on it, and at most `maxParallel` subtasks run at once (the planner
 * plans before and joins after the subtasks, and an escalated subtask runs on the planner inside its own slot),
 * so at most `min(maxParallel, models)` distinct models are busy together; every other resident model is idle
 * and gets evicted to make room. The peak is therefore the sum of the `min(maxParallel, models)` largest
 * estimates — the largest single model when `maxParallel` is 1. A budget at least this large never makes a
 * load wait; a smaller one that still holds the largest model runs, with loads waiting for busy models.
 */
export function peakMemory(models: readonly PeakModel[], maxParallel: number): Peak {
  const count = Math.max(1, Math.min(Math.floor(maxParallel), models.length));
  const largest = [...models].sort((a, b) => b.bytes - a.bytes).slice(0, count);
  return {
    bytes: largest.reduce((sum, model) => sum + model.bytes, 0),
    models: largest.map((model) => model.key),
  };
}

/**
 * The DAG scheduler's pure decisions: which subtasks are ready (every dependency completed), and which of
 * them to start now within the run's and each worker's parallelism, preferring subtasks whose model is already
 * resident so that a tight memory budget causes fewer model swaps.
 */
import type { Plan, Subtask } from "../types.js";

/** Subtasks whose dependencies have all completed and that are neither completed nor running, in plan order. */
export function readySubtasks(
  plan: Plan,
  completed: ReadonlySet<string>,
  running: ReadonlySet<string>,
): Subtask[] {
  return plan.subtasks.filter(
    (s) => !completed.has(s.id) && !running.has(s.id) && s.dependsOn.every((dep) => completed.has(dep)),
  );
}

export interface DispatchLimits {
  /** Most subtasks running at once in the run. */
  readonly maxParallel: number;
  /** Most subtasks running at once on one worker (its `parallel`: sequences on its model). */
  readonly workerParallel: (worker: string) => number;
  /** Whether a worker's model is resident now. */
  readonly isResident: (worker: string) => boolean;
}

/**
 * Picks the ready subtasks to start now. Resident-model subtasks go first (stable, so plan order breaks ties);
 * the picks never push the run over `maxParallel` or a worker over its `parallel`.
 */
export function pickDispatch(
  ready: readonly Subtask[],
  running: readonly Subtask[],
  limits: DispatchLimits,
): Subtask[] {
  const perWorker = new Map<string, number>();
  for (const s of running) perWorker.set(s.worker, (perWorker.get(s.worker) ?? 0) + 1);
  const resident = new Map<string, boolean>();
  const isResident = (worker: string): boolean => {
    let known = resident.get(worker);
    if (known === undefined) {
      known = limits.isResident(worker);
      resident.set(worker, known);
    }
    return known;
  };
  const ordered = [...ready].sort((a, b) => Number(isResident(b.worker)) - Number(isResident(a.worker)));
  const picks: Subtask[] = [];
  let slots = limits.maxParallel - running.length;
  for (const s of ordered) {
    if (slots <= 0) break;
    const busy = perWorker.get(s.worker) ?? 0;
    if (busy >= limits.workerParallel(s.worker)) continue;
    picks.push(s);
    perWorker.set(s.worker, busy + 1);
    slots--;
  }
  return picks;
}

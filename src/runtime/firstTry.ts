/**
 * The first-try measure of a worker, in one place: `edgecrew stats` (cli/stats.ts, over run timelines) and
 * auto-escalation (runtime/routing.ts, over stored runs at run start) both count with these functions, so the
 * rate a routing decision quotes is the rate `stats` shows. Pure, and in runtime/ because the runtime may not
 * import cli/ while cli/ may import the runtime.
 */

/** What the measure needs to know about one subtask of a worker (a timeline row satisfies it). */
export interface SubtaskTally {
  /** Where the subtask got to: answered, failed, still running (an interrupted run), or never started. */
  readonly state: "completed" | "failed" | "running" | "pending";
  /** Who produced the answer, when there is one (or who was working on it after an escalation). */
  readonly by?: "worker" | "planner";
  /** Why the worker handed the subtask to the planner, when it did. */
  readonly escalated?: "invalid-output" | "model-failed";
  /** Repair turns the worker was given. */
  readonly repairs: number;
  /** Generation attempts of the answer (0 when there is none). */
  readonly attempts: number;
  /** Its result was carried over from a previous plan revision: not run again, so not counted again. */
  readonly reused: boolean;
}

/**
 * Whether a subtask counts among its worker's subtasks: it was dispatched in its own plan revision (not reused,
 * not pending) and its worker was tried. A subtask the planner answered without an escalation was routed past
 * the worker by auto-escalation (`subtask.routed`): it says nothing about the worker, and counting it would keep
 * a routed worker's rate down for ever.
 */
export function countsForWorker(s: SubtaskTally): boolean {
  if (s.reused || s.state === "pending") return false;
  return !(s.by === "planner" && s.escalated === undefined);
}

/** Whether the worker answered validly on its first try: by itself, with no repair turn and one attempt. */
export function isFirstTry(s: SubtaskTally): boolean {
  return s.state === "completed" && s.by === "worker" && s.repairs === 0 && s.attempts <= 1;
}

/** A worker's first-try figures over some of its subtasks. */
export interface FirstTryFigures {
  /** Subtasks counted (see {@link countsForWorker}). */
  readonly subtasks: number;
  readonly firstTry: number;
  /** `firstTry / subtasks`, 0 without subtasks. */
  readonly rate: number;
}

/**
 * The first-try figures of `tallies` (those that do not count for the worker are skipped).
 *
 * @example
 * firstTryFigures([{ state: "completed", by: "worker", repairs: 0, attempts: 1, reused: false }]).rate; // 1
 */
export function firstTryFigures(tallies: Iterable<SubtaskTally>): FirstTryFigures {
  let subtasks = 0;
  let firstTry = 0;
  for (const s of tallies) {
    if (!countsForWorker(s)) continue;
    subtasks++;
    if (isFirstTry(s)) firstTry++;
  }
  return { subtasks, firstTry, rate: firstTryRate(firstTry, subtasks) };
}

/** `firstTry / subtasks`, 0 without subtasks. */
export function firstTryRate(firstTry: number, subtasks: number): number {
  return subtasks === 0 ? 0 : firstTry / subtasks;
}

/**
 * The RunStore contract's rules, shared by every store so that they refuse and accept exactly the same writes.
 * A store checks a write before it records anything: what it accepts, `load` can always read back; what `load`
 * would have to call corrupt (a result outside its plan, a plan revision going backwards, an event of another
 * run), it refuses with RUN_STORE_FAILED instead.
 */
import type { EdgecrewError } from "../../errors.js";
import type { Plan, RunEvent, RunMeta, RunResult, SubtaskResult, ToolJournalEntry } from "../../types.js";
import { isSafeRunId, storeFailed } from "./storeErrors.js";
import { checkRecord, type StoredRecords } from "./storeSchemas.js";

/** The plan a run currently follows, and its revision. */
export interface CurrentPlan {
  readonly revision: number;
  readonly plan: Plan;
}

function invalid(runId: string, what: string, problems: string): EdgecrewError {
  return storeFailed(runId, "invalid-record", `refused to store ${what} of run ${runId}: ${problems}`);
}

/** Validates a record about to be written; throws RUN_STORE_FAILED (`invalid-record`) naming what is wrong. */
export function requireRecord<K extends keyof StoredRecords>(
  runId: string,
  kind: K,
  value: unknown,
  what: string,
): StoredRecords[K] {
  const checked = checkRecord(kind, value);
  if (!checked.ok) throw invalid(runId, what, checked.problems);
  return checked.value;
}

/**
 * Serialises a record for storage. JSON cannot carry everything JavaScript can (a cycle, a BigInt); such a
 * value is refused here rather than written half-way.
 */
export function toJsonText(runId: string, value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (cause) {
    throw storeFailed(runId, "invalid-record", `refused to store ${what} of run ${runId}: not JSON`, {
      cause,
    });
  }
}

/** Checks a new run's meta: a safe run id and a well-formed record. */
export function checkMeta(meta: RunMeta): void {
  if (typeof meta.runId !== "string" || !isSafeRunId(meta.runId)) {
    throw storeFailed(
      String(meta.runId),
      "invalid-run-id",
      `refused to create run ${JSON.stringify(meta.runId)}: a run id is letters, digits, '.', '_' and '-', ` +
        "starting with a letter or digit",
    );
  }
  requireRecord(meta.runId, "meta", meta, "the meta");
}

/** Checks an event before it is appended: well-formed and stamped with this run's id. */
export function checkEvent(runId: string, event: RunEvent): void {
  requireRecord(runId, "event", event, "an event");
  if (event.runId !== runId) {
    throw storeFailed(runId, "wrong-run", `refused to append an event of run ${event.runId} to run ${runId}`);
  }
}

/** Checks a final result before it is stored: well-formed and about this run. */
export function checkOutcome(runId: string, outcome: RunResult): void {
  requireRecord(runId, "outcome", outcome, "the outcome");
  if (outcome.runId !== runId) {
    throw storeFailed(
      runId,
      "wrong-run",
      `refused to store the outcome of run ${outcome.runId} in run ${runId}`,
    );
  }
}

/**
 * Checks `savePlan(revision, plan, carried)` against the stored plan: the revision is the next one (0 when no
 * plan is stored, else the stored revision + 1), and every carried result belongs to a subtask of the new plan,
 * once. Saving a revision again, or going backwards, is refused: it would mix results that different plans
 * vouch for under one revision.
 */
export function checkPlanWrite(
  runId: string,
  current: CurrentPlan | undefined,
  revision: number,
  plan: Plan,
  carried: readonly SubtaskResult[],
): void {
  const next = current === undefined ? 0 : current.revision + 1;
  if (revision !== next) {
    const stored =
      current === undefined ? "no plan is stored yet" : `the stored plan is revision ${current.revision}`;
    throw storeFailed(
      runId,
      "revision",
      `refused plan revision ${revision} of run ${runId}: ${stored}, so the next revision is ${next}`,
    );
  }
  requireRecord(runId, "plan", plan, `plan revision ${revision}`);
  const ids = new Set(plan.subtasks.map((subtask) => subtask.id));
  const seen = new Set<string>();
  for (const result of carried) {
    requireRecord(runId, "result", result, "a carried result");
    if (!ids.has(result.subtaskId)) {
      throw storeFailed(
        runId,
        "not-in-plan",
        `refused plan revision ${revision} of run ${runId}: carried result ${result.subtaskId} is not a subtask of it`,
      );
    }
    if (seen.has(result.subtaskId)) {
      throw invalid(runId, `plan revision ${revision}`, `result ${result.subtaskId} is carried twice`);
    }
    seen.add(result.subtaskId);
  }
}

/**
 * Checks `saveResult(revision, result)` against the stored plan and says whether the result is part of the
 * current plan. A result of an older revision (a subtask that finished just as a replan was saved) is accepted
 * but not current: it is kept apart and `load` does not return it. A result for a revision that was never
 * planned, or for a subtask the current plan does not have, is refused.
 */
export function checkResultWrite(
  runId: string,
  current: CurrentPlan | undefined,
  revision: number,
  result: SubtaskResult,
): boolean {
  requireRecord(runId, "result", result, `result ${String(result.subtaskId)}`);
  if (current === undefined) {
    throw storeFailed(
      runId,
      "no-plan",
      `refused result ${result.subtaskId} of run ${runId}: no plan is stored`,
    );
  }
  if (!Number.isSafeInteger(revision) || revision < 0 || revision > current.revision) {
    throw storeFailed(
      runId,
      "revision",
      `refused result ${result.subtaskId} of run ${runId}: plan revision ${revision} does not exist ` +
        `(the stored plan is revision ${current.revision})`,
    );
  }
  if (revision < current.revision) return false;
  if (!current.plan.subtasks.some((subtask) => subtask.id === result.subtaskId)) {
    throw storeFailed(
      runId,
      "not-in-plan",
      `refused result ${result.subtaskId} of run ${runId}: not a subtask of plan revision ${revision}`,
    );
  }
  return true;
}

/**
 * Folds a tool journal (intents and results, in the order they were recorded) into one entry per call
 * (`subtaskId` + `callId`), in the order the calls first appeared. A later entry replaces an earlier one, except
 * that an intent recorded again after a result never erases that result: the call's effect is known, and
 * forgetting it could make a resumed run repeat a side effect.
 *
 * @example
 * foldToolJournal([intent, { ...intent, result }]); // [{ ...intent, result }]
 */
export function foldToolJournal(entries: readonly ToolJournalEntry[]): ToolJournalEntry[] {
  const calls = new Map<string, ToolJournalEntry>();
  for (const entry of entries) {
    // JSON of the pair is unambiguous whatever characters the ids contain.
    const key = JSON.stringify([entry.subtaskId, entry.callId]);
    const previous = calls.get(key);
    if (previous?.result !== undefined && entry.result === undefined) continue;
    calls.set(key, entry);
  }
  return [...calls.values()];
}

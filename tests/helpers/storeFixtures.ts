/**
 * Small, valid records for exercising a run store: a meta, events, plans, results, journal entries and an
 * outcome, each built from a few arguments. The conformance suite uses them, and so can a store's own tests.
 */
import type {
  Plan,
  RunEvent,
  RunMeta,
  RunResult,
  SubtaskResult,
  ToolCallResult,
  ToolJournalEntry,
} from "../../src/types.js";

/**
 * A run's meta with a fixed agent and task.
 *
 * @example
 * fixtureMeta("r1", 1_700_000_000_000); // { runId: "r1", agent: "fixture-agent", task: "…", createdAt: … }
 */
export function fixtureMeta(runId: string, createdAt = 1_700_000_000_000): RunMeta {
  return { runId, agent: "fixture-agent", task: `task of ${runId}`, createdAt };
}

/** Event number `seq` of run `runId`: a `subtask.started` event, so the payload is not empty. */
export function fixtureEvent(runId: string, seq: number): RunEvent {
  return {
    type: "subtask.started",
    runId,
    seq,
    at: 1_700_000_000_000 + seq,
    subtaskId: `s${seq}`,
    worker: "writer",
    instruction: "do it",
    model: "fixture:tiny",
  };
}

/** A plan of independent subtasks with the given ids, all run by worker `writer`. */
export function fixturePlan(...ids: string[]): Plan {
  return {
    subtasks: ids.map((id) => ({ id, worker: "writer", instruction: `do ${id}`, dependsOn: [] })),
  };
}

/** A first-try result of subtask `subtaskId` whose answer says which `tag` produced it. */
export function fixtureResult(subtaskId: string, tag = "a"): SubtaskResult {
  return {
    subtaskId,
    worker: "writer",
    answer: { text: `${subtaskId}:${tag}`, items: [1, 2, 3] },
    by: "worker",
    attempts: 1,
    startedAt: 1_700_000_000_100,
    endedAt: 1_700_000_000_200,
    usage: [
      {
        model: "fixture:tiny",
        locality: "local",
        promptTokens: 10,
        completionTokens: 5,
        durationMs: 100,
        loadMs: 0,
      },
    ],
  };
}

/** Call `n` of subtask `subtaskId`: its intent, or, with `result`, its outcome. */
export function fixtureJournalEntry(subtaskId: string, n: number, result?: ToolCallResult): ToolJournalEntry {
  const intent: ToolJournalEntry = {
    subtaskId,
    callId: `${n}:fs.write`,
    tool: "fs.write",
    args: { path: `out/${subtaskId}-${n}.txt`, text: "hello" },
    idempotent: false,
  };
  return result === undefined ? intent : { ...intent, result };
}

/** A completed run's result with the given results and answer. */
export function fixtureOutcome(runId: string, plan: Plan, results: readonly SubtaskResult[]): RunResult {
  return {
    runId,
    agent: "fixture-agent",
    task: `task of ${runId}`,
    status: "completed",
    plan,
    results,
    answer: { summary: "done" },
    ledger: {
      models: [
        {
          model: "fixture:tiny",
          locality: "local",
          calls: results.length,
          promptTokens: 10,
          completionTokens: 5,
          durationMs: 100,
          loadMs: 0,
        },
      ],
      local: { promptTokens: 10, completionTokens: 5 },
      remote: { promptTokens: 0, completionTokens: 0 },
    },
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_001_000,
  };
}

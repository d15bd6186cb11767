/**
 * The live view over a replan as the runtime now announces it: `plan.revised`, then the new plan's
 * `plan.created` with its revision (issue 14, finding 5), and a rejected final answer (`answer.rejected`).
 */
import { describe, expect, it } from "vitest";
import { initialProgress, isStateChange, reduceProgress, renderFrame } from "../../../src/cli/progress.js";
import { renderEvent } from "../../../src/cli/render.js";
import type { RunEvent, RunEventInput, SubtaskResult } from "../../../src/types.js";

const T0 = 1_700_000_000_000;

function stamp(entries: readonly [number, RunEventInput][]): RunEvent[] {
  return entries.map(([ms, input], seq) => ({ ...input, runId: "run-1", seq, at: T0 + ms }) as RunEvent);
}

function result(id: string, worker: string, start: number, end: number): SubtaskResult {
  return {
    subtaskId: id,
    worker,
    answer: { ok: true },
    by: "worker",
    attempts: 1,
    startedAt: T0 + start,
    endedAt: T0 + end,
    usage: [
      {
        model: `fixture:${worker}`,
        locality: "local",
        promptTokens: 10,
        completionTokens: 5,
        durationMs: end - start,
        loadMs: 0,
      },
    ],
  };
}

const first = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "find", dependsOn: [] },
    { id: "s2", worker: "scheduler", instruction: "plan", dependsOn: ["s1"] },
  ],
};
const second = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "find", dependsOn: [] },
    { id: "s3", worker: "scheduler", instruction: "plan again", dependsOn: ["s1"] },
  ],
};

describe("live view of a replan announced revision first", () => {
  it("shows the new plan with the reused subtask done, and the rejected final answers", () => {
    const events = stamp([
      [0, { type: "run.started", task: "t", agent: "demo" }],
      [10, { type: "plan.created", plan: first, attempt: 1, revision: 0 }],
      [
        20,
        {
          type: "subtask.started",
          subtaskId: "s1",
          worker: "researcher",
          model: "fixture:researcher",
          instruction: "find",
        },
      ],
      [300, { type: "subtask.completed", subtaskId: "s1", result: result("s1", "researcher", 20, 300) }],
      [
        310,
        {
          type: "subtask.started",
          subtaskId: "s2",
          worker: "scheduler",
          model: "fixture:scheduler",
          instruction: "plan",
        },
      ],
      [600, { type: "subtask.completed", subtaskId: "s2", result: result("s2", "scheduler", 310, 600) }],
      [700, { type: "plan.revised", reason: "s2 missed the budget", revision: 1, reused: ["s1"] }],
      [700, { type: "plan.created", plan: second, attempt: 1, revision: 1 }],
      [
        710,
        {
          type: "subtask.started",
          subtaskId: "s3",
          worker: "scheduler",
          model: "fixture:scheduler",
          instruction: "plan again",
        },
      ],
      [900, { type: "subtask.completed", subtaskId: "s3", result: result("s3", "scheduler", 710, 900) }],
      [950, { type: "answer.rejected", errors: ["(root): must be string"], attempt: 1 }],
      [990, { type: "run.completed", answer: "ok" }],
    ]);
    const state = events.reduce(reduceProgress, initialProgress);
    expect(state.subtasks.map((s) => [s.id, s.phase, s.reused === true])).toEqual([
      ["s1", "done", true],
      ["s3", "done", false],
    ]);
    expect(state.subtasks[0]?.result?.subtaskId).toBe("s1");
    const frame = renderFrame(state, { width: 120, now: T0 + 990 });
    expect(frame).toContain("plan (2 subtasks · revision 1):");
    expect(frame).toContain("planner: 1 answer rejected and asked again");
    expect(frame.at(-1)).toBe("completed in 1.0 s · 2/2 done · 10+5 tokens");
  });

  it("prints a rejected final answer, and a rejected escalated answer with its subtask", () => {
    const [final, escalated] = stamp([
      [0, { type: "answer.rejected", errors: ["decision: is required"], attempt: 1 }],
      [1, { type: "answer.rejected", errors: ["text: is required"], attempt: 2, subtaskId: "s2" }],
    ]) as [RunEvent, RunEvent];
    expect(renderEvent(final)).toBe("final answer rejected (attempt 1):\n  - decision: is required");
    expect(renderEvent(escalated)).toBe("s2 planner answer rejected (attempt 2):\n  - text: is required");
    expect(isStateChange(final)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import {
  buildTimeline,
  GANTT_CELLS,
  renderGantt,
  renderSubtaskTable,
  renderTimeline,
} from "../../../src/cli/timeline.js";
import { ErrorCodes } from "../../../src/errors.js";
import { buildLedger } from "../../../src/runtime/ledger.js";
import type {
  Plan,
  RunEvent,
  RunEventInput,
  RunResult,
  StoredRun,
  SubtaskResult,
  UsageRecord,
} from "../../../src/types.js";

const RUN = "20261128-120000-abcdef";
const T0 = 1_000_000;

/** Stamps events as the runtime would: seq in order, `at` as given (ms after T0). */
function stamp(entries: readonly [number, RunEventInput][]): RunEvent[] {
  return entries.map(([ms, input], seq) => ({ ...input, runId: RUN, seq, at: T0 + ms }) as RunEvent);
}

function usage(model: string, prompt: number, completion: number): UsageRecord {
  return {
    model,
    locality: "local",
    promptTokens: prompt,
    completionTokens: completion,
    durationMs: 10,
    loadMs: 0,
  };
}

function result(
  subtaskId: string,
  worker: string,
  from: number,
  to: number,
  extra: Partial<SubtaskResult> = {},
): SubtaskResult {
  return {
    subtaskId,
    worker,
    answer: { ok: true },
    by: "worker",
    attempts: 1,
    startedAt: T0 + from,
    endedAt: T0 + to,
    usage: [usage(`fixture:${worker}`, 100, 20)],
    ...extra,
  };
}

const firstPlan: Plan = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "find", dependsOn: [] },
    { id: "s2", worker: "scheduler", instruction: "plan", dependsOn: [] },
    { id: "s3", worker: "budgeter", instruction: "cost", dependsOn: ["s1", "s2"] },
  ],
};
const secondPlan: Plan = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "find", dependsOn: [] },
    { id: "s2", worker: "scheduler", instruction: "plan again", dependsOn: ["s1"] },
  ],
};

const s1 = result("s1", "researcher", 1000, 3000);
const s2escalated = result("s2", "scheduler", 1000, 5000, {
  by: "planner",
  attempts: 2,
  usage: [usage("fixture:scheduler", 200, 40), usage("fixture:planner", 50, 10)],
});
const s3 = result("s3", "budgeter", 5000, 7000);
const s2again = result("s2", "scheduler", 8000, 9000);

/** A finished run: s1 and s2 overlap, s2 is escalated, then the joiner replans and s1 is reused. */
function finishedRun(): StoredRun {
  const events = stamp([
    [0, { type: "run.started", task: "A weekend trip", agent: "demo" }],
    [1000, { type: "plan.created", plan: firstPlan, attempt: 1, revision: 0 }],
    [
      1000,
      {
        type: "subtask.started",
        subtaskId: "s1",
        worker: "researcher",
        model: "fixture:researcher",
        instruction: "find",
      },
    ],
    [
      1000,
      {
        type: "subtask.started",
        subtaskId: "s2",
        worker: "scheduler",
        model: "fixture:scheduler",
        instruction: "plan",
      },
    ],
    [1200, { type: "tool.called", subtaskId: "s1", tool: "calculator", args: { expression: "1+1" } }],
    [1300, { type: "tool.called", subtaskId: "s1", tool: "calculator", args: { expression: "2+2" } }],
    [1500, { type: "subtask.repairing", subtaskId: "s2", attempt: 1, errors: ["days: required"] }],
    [
      2000,
      {
        type: "subtask.escalated",
        subtaskId: "s2",
        worker: "scheduler",
        reason: "invalid-output",
        errors: ["days: required"],
      },
    ],
    [3000, { type: "subtask.completed", subtaskId: "s1", result: s1 }],
    [5000, { type: "subtask.completed", subtaskId: "s2", result: s2escalated }],
    [
      5000,
      {
        type: "subtask.started",
        subtaskId: "s3",
        worker: "budgeter",
        model: "fixture:budgeter",
        instruction: "cost",
      },
    ],
    [7000, { type: "subtask.completed", subtaskId: "s3", result: s3 }],
    [7500, { type: "plan.revised", reason: "the schedule ignores the budget", revision: 1, reused: ["s1"] }],
    [7500, { type: "plan.created", plan: secondPlan, attempt: 1, revision: 1 }],
    [
      8000,
      {
        type: "subtask.started",
        subtaskId: "s2",
        worker: "scheduler",
        model: "fixture:scheduler",
        instruction: "plan again",
      },
    ],
    [9000, { type: "subtask.completed", subtaskId: "s2", result: s2again }],
    [10000, { type: "run.completed", answer: "done" }],
  ]);
  const outcome: RunResult = {
    runId: RUN,
    agent: "demo",
    task: "A weekend trip",
    status: "completed",
    plan: secondPlan,
    results: [s1, s2again],
    answer: "done",
    ledger: buildLedger([
      ...[s1, s2escalated, s3, s2again].flatMap((r) => r.usage),
      usage("fixture:planner", 900, 300),
    ]),
    startedAt: T0,
    endedAt: T0 + 10000,
  };
  return {
    meta: { runId: RUN, agent: "demo", task: "A weekend trip", createdAt: T0 },
    events,
    plan: secondPlan,
    revision: 1,
    results: { s1, s2: s2again },
    toolJournal: [],
    outcome,
  };
}

/** A run killed mid-way: s1 done, s2 still running, no outcome. */
function interruptedRun(): StoredRun {
  const events = stamp([
    [0, { type: "run.started", task: "A lake", agent: "demo" }],
    [1000, { type: "plan.created", plan: firstPlan, attempt: 1 }],
    [
      1000,
      {
        type: "subtask.started",
        subtaskId: "s1",
        worker: "researcher",
        model: "fixture:researcher",
        instruction: "find",
      },
    ],
    [
      1000,
      {
        type: "subtask.started",
        subtaskId: "s2",
        worker: "scheduler",
        model: "fixture:scheduler",
        instruction: "plan",
      },
    ],
    [3000, { type: "subtask.completed", subtaskId: "s1", result: s1 }],
    [4000, { type: "subtask.repairing", subtaskId: "s2", attempt: 1, errors: ["bad"] }],
  ]);
  return {
    meta: { runId: RUN, agent: "demo", task: "A lake", createdAt: T0 },
    events,
    plan: firstPlan,
    revision: 0,
    results: { s1 },
    toolJournal: [],
  };
}

/** The bar cells of the Gantt row labelled `label`. */
function bar(gantt: string, label: string): string {
  const line = gantt.split("\n").find((l) => l.trimStart().startsWith(`${label} `));
  expect(line, `no Gantt row ${label} in\n${gantt}`).toBeDefined();
  return (line ?? "").trim().slice(label.length).trim().split(" ")[0] ?? "";
}

describe("buildTimeline", () => {
  it("derives every subtask of every revision with its timing, tokens, attempts, repairs and tools", () => {
    const t = buildTimeline(finishedRun());
    expect(t.status).toBe("completed");
    expect(t.durationMs).toBe(10000);
    expect(t.maxParallel).toBe(2);
    expect(t.subtasks.map((s) => `${s.revision}:${s.id}`)).toEqual(["0:s1", "0:s2", "0:s3", "1:s1", "1:s2"]);
    const [a, b, c, reused, again] = t.subtasks;
    expect(a).toMatchObject({ startMs: 1000, durationMs: 2000, toolCalls: 2, by: "worker", attempts: 1 });
    expect(b).toMatchObject({
      by: "planner",
      escalated: "invalid-output",
      escalatedAtMs: 2000,
      attempts: 2,
      repairs: 1,
      promptTokens: 250,
      completionTokens: 50,
    });
    expect(c).toMatchObject({ startMs: 5000, durationMs: 2000, state: "completed" });
    expect(reused).toMatchObject({ reused: true, state: "completed", promptTokens: 0 });
    expect(reused?.startMs).toBeUndefined();
    expect(again).toMatchObject({ startMs: 8000, durationMs: 1000, model: "fixture:scheduler" });
    expect(t.revisions).toEqual([
      { revision: 1, atMs: 7500, reason: "the schedule ignores the budget", reused: ["s1"] },
    ]);
    expect(t.escalations).toHaveLength(1);
    expect(t.ledgerComplete).toBe(true);
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
  });

  it("reads a run recorded before plan.created said its revision (the new plan came before plan.revised)", () => {
    const run = finishedRun();
    const events = run.events.map((e) => {
      if (e.type !== "plan.created") return e;
      const { revision: _, ...unstamped } = e;
      return unstamped as RunEvent;
    });
    const revised = events.findIndex((e) => e.type === "plan.revised");
    const [revisedEvent, createdEvent] = events.slice(revised, revised + 2) as [RunEvent, RunEvent];
    events.splice(revised, 2, createdEvent, revisedEvent);
    const t = buildTimeline({ ...run, events });
    expect(t.subtasks.map((s) => `${s.revision}:${s.id}`)).toEqual(["0:s1", "0:s2", "0:s3", "1:s1", "1:s2"]);
    expect(t).toEqual(buildTimeline(finishedRun()));
  });

  it("gives each plan its own revision when a replan reuses everything and the next replan follows at once", () => {
    const thirdPlan: Plan = {
      subtasks: [{ id: "s4", worker: "budgeter", instruction: "cost again", dependsOn: [] }],
    };
    const base = finishedRun();
    // Revision 1 reuses s1 and s2 (nothing runs), the joiner asks again at once: revision 2 runs s4.
    const cut = base.events.findIndex((e) => e.type === "plan.revised");
    const head = base.events.slice(0, cut);
    const tail = stamp([
      [7500, { type: "plan.revised", reason: "once", revision: 1, reused: ["s1", "s2"] }],
      [7500, { type: "plan.created", plan: secondPlan, attempt: 1, revision: 1 }],
      [7600, { type: "plan.revised", reason: "twice", revision: 2, reused: [] }],
      [7600, { type: "plan.created", plan: thirdPlan, attempt: 1, revision: 2 }],
      [
        7700,
        {
          type: "subtask.started",
          subtaskId: "s4",
          worker: "budgeter",
          model: "fixture:budgeter",
          instruction: "cost again",
        },
      ],
    ]).map((e, i) => ({ ...e, seq: head.length + i }));
    const t = buildTimeline({
      ...base,
      events: [...head, ...tail],
      plan: thirdPlan,
      revision: 2,
      results: {},
      outcome: undefined,
    });
    expect(t.subtasks.map((s) => `${s.revision}:${s.id}`)).toEqual([
      "0:s1",
      "0:s2",
      "0:s3",
      "1:s1",
      "1:s2",
      "2:s4",
    ]);
    expect(t.subtasks.find((s) => s.id === "s4")).toMatchObject({ revision: 2, state: "running" });
  });

  it("calls a run without outcome interrupted and sums the ledger from its results", () => {
    const t = buildTimeline(interruptedRun());
    expect(t.status).toBe("interrupted");
    expect(t.durationMs).toBe(4000);
    expect(t.subtasks.map((s) => s.state)).toEqual(["completed", "running", "pending"]);
    expect(t.ledgerComplete).toBe(false);
    expect(t.ledger.local).toEqual({ promptTokens: 100, completionTokens: 20 });
  });

  it("marks a failed subtask and the run's error", () => {
    const base = interruptedRun();
    const error = { code: ErrorCodes.SUBTASK_FAILED, message: "s2 gave no valid answer" };
    const events = [
      ...base.events,
      ...stamp([
        [5000, { type: "subtask.failed", subtaskId: "s2", error }],
        [5000, { type: "run.failed", error }],
      ]),
    ];
    const t = buildTimeline({ ...base, events });
    expect(t.status).toBe("failed");
    expect(t.subtasks[1]).toMatchObject({ state: "failed", durationMs: 4000, error });
    expect(bar(renderGantt(t, 10), "s2")).toBe(
      `${GANTT_CELLS.empty.repeat(2)}${GANTT_CELLS.worker.repeat(7)}${GANTT_CELLS.failed}`,
    );
  });
});

describe("where a subtask's time went", () => {
  /**
   * The case from issue 14: two workers share one model with one sequence. s2 is dispatched with s1 and waits
   * for the sequence while s1 generates; it then generates for 0.3 s and calls a tool for 0.2 s. Its wall time
   * (5.1 s) is mostly waiting, which the ledger's call and load times (0.5 s for s2) do not show.
   */
  function sharedModelRun(): StoredRun {
    const plan: Plan = {
      subtasks: [
        { id: "s1", worker: "researcher", instruction: "find", dependsOn: [] },
        { id: "s2", worker: "scheduler", instruction: "plan", dependsOn: [] },
      ],
    };
    const timed = (model: string, durationMs: number, loadMs: number): UsageRecord => ({
      ...usage(model, 100, 20),
      durationMs,
      loadMs,
    });
    const r1 = result("s1", "researcher", 0, 4600, { usage: [timed("fixture:shared", 4000, 600)] });
    const r2 = result("s2", "scheduler", 0, 5100, {
      usage: [timed("fixture:shared", 200, 0), timed("fixture:shared", 100, 0)],
    });
    const started = (subtaskId: string, worker: string): RunEventInput => ({
      type: "subtask.started",
      subtaskId,
      worker,
      model: "fixture:shared",
      instruction: "x",
    });
    const events = stamp([
      [0, { type: "run.started", task: "share", agent: "demo" }],
      [0, { type: "plan.created", plan, attempt: 1, revision: 0 }],
      [0, started("s1", "researcher")],
      [0, started("s2", "scheduler")],
      [4600, { type: "subtask.completed", subtaskId: "s1", result: r1 }],
      [4800, { type: "tool.called", subtaskId: "s2", tool: "calculator", args: { expression: "1+1" } }],
      [
        5000,
        {
          type: "tool.result",
          subtaskId: "s2",
          tool: "calculator",
          result: { ok: true, output: 2 },
          ms: 200,
        },
      ],
      [5100, { type: "subtask.completed", subtaskId: "s2", result: r2 }],
      [5200, { type: "run.completed", answer: "ok" }],
    ]);
    return {
      meta: { runId: RUN, agent: "demo", task: "share", createdAt: T0 },
      events,
      plan,
      revision: 0,
      results: { s1: r1, s2: r2 },
      toolJournal: [],
    };
  }

  it("splits each subtask's wall time into generating, loading, tools and waiting", () => {
    const t = buildTimeline(sharedModelRun());
    const [s1, s2] = t.subtasks;
    expect(s1).toMatchObject({
      durationMs: 4600,
      parts: { generatingMs: 4000, loadingMs: 600, toolsMs: 0, waitingMs: 0 },
    });
    expect(s2).toMatchObject({
      durationMs: 5100,
      parts: { generatingMs: 300, loadingMs: 0, toolsMs: 200, waitingMs: 4600 },
    });
  });

  it("shows the waiting in the subtask table next to the wall time", () => {
    const table = renderSubtaskTable(buildTimeline(sharedModelRun())).split("\n");
    const head = table[0]?.trim().split(/\s{2,}/) ?? [];
    const row = table[2]?.trim().split(/\s{2,}/) ?? [];
    expect(row[0]).toBe("s2");
    expect(row[head.indexOf("took")]).toBe("5.1 s");
    expect(row[head.indexOf("waited")]).toBe("4.6 s");
    expect(renderSubtaskTable(buildTimeline(sharedModelRun()))).toMatch(/^ {2}s1 .* 4\.6 s +0 ms /m);
    expect(renderTimeline(buildTimeline(sharedModelRun()))).toContain("waited: the part not generating");
  });
});

describe("renderTimeline", () => {
  it("draws overlapping bars at their positions on a fixed-width axis, escalated time as planner time", () => {
    const gantt = renderGantt(buildTimeline(finishedRun()), 20);
    // 10 s over 20 cells: 500 ms a cell.
    const { empty: e, worker: w, planner: p } = GANTT_CELLS;
    expect(bar(gantt, "r0:s1")).toBe(`${e.repeat(2)}${w.repeat(4)}${e.repeat(14)}`);
    expect(bar(gantt, "r0:s2")).toBe(`${e.repeat(2)}${w.repeat(2)}${p.repeat(6)}${e.repeat(10)}`);
    expect(bar(gantt, "r0:s3")).toBe(`${e.repeat(10)}${w.repeat(4)}${e.repeat(6)}`);
    expect(bar(gantt, "r1:s2")).toBe(`${e.repeat(16)}${w.repeat(2)}${e.repeat(2)}`);
    expect(gantt).toMatch(/r0:s2 +\S+ ↑$/m);
    // The reused subtask never ran in revision 1, so it has no bar.
    expect(gantt).not.toMatch(/^ {2}r1:s1 /m);
    const replan = gantt.split("\n").find((l) => l.trimStart().startsWith("replan")) ?? "";
    expect(replan.indexOf("↻") - replan.indexOf("replan") - "replan ".length).toBe(15);
    expect(gantt.split("\n").at(-1)).toMatch(/^ +0 +10\.0 s$/);
  });

  it("renders the table columns, revisions, escalations and the ledger", () => {
    const text = renderTimeline(buildTimeline(finishedRun()), { width: 20 });
    expect(text).toContain(`run ${RUN} · agent demo`);
    expect(text).toContain("status: completed");
    const table = renderSubtaskTable(buildTimeline(finishedRun())).split("\n");
    expect(table[0]?.trim().split(/\s{2,}/)).toEqual([
      "id",
      "worker",
      "model",
      "by",
      "state",
      "start",
      "took",
      "waited",
      "tokens",
      "tries/repairs",
      "tools",
    ]);
    expect(table[1]?.trim().split(/\s{2,}/)).toEqual([
      "r0:s1",
      "researcher",
      "fixture:researcher",
      "worker",
      "completed",
      "+1.0 s",
      "2.0 s",
      "2.0 s",
      "100+20",
      "1/0",
      "2",
    ]);
    expect(table[2]).toContain("planner ↑ (invalid-output)");
    expect(table[2]).toContain("250+50");
    expect(table[2]).toContain("2/1");
    expect(table[4]).toMatch(/r1:s1\s+researcher\s+reused\s+completed/);
    expect(text).toContain("plan revisions:\n  ↻ 1 at +7.5 s: the schedule ignores the budget; reused s1");
    expect(text).toContain("escalations:\n  ↑ r0:s2 [scheduler] at +2.0 s (invalid-output): days: required");
    expect(text).toMatch(/^ {2}local {2}fixture:planner: 950\+310 in 2 calls/m);
    expect(text).toMatch(/^ {2}total local 1450\+410, remote 0\+0$/m);
  });

  it("shows an interrupted run with the resume hint and its unfinished subtask", () => {
    const t = buildTimeline(interruptedRun());
    const text = renderTimeline(t, { width: 8 });
    expect(text).toContain(`status: interrupted (resume with edgecrew resume ${RUN})`);
    // 4 s over 8 cells; s2 ran from +1 s until the last event.
    expect(bar(renderGantt(t, 8), "s2")).toBe(
      `${GANTT_CELLS.empty.repeat(2)}${GANTT_CELLS.unfinished.repeat(6)}`,
    );
    expect(text).toMatch(/^ {2}s2 +\S+ …$/m);
    expect(text).toMatch(/^ {2}s3 +budgeter +pending/m);
    expect(text).toContain("planning tokens are not counted");
  });
});

import { describe, expect, it } from "vitest";
import {
  Ansi,
  clipLine,
  createProgressPainter,
  initialProgress,
  type ProgressState,
  reduceProgress,
  renderFrame,
} from "../../../src/cli/progress.js";
import type { RunEvent, RunEventInput, SubtaskResult } from "../../../src/types.js";

const T0 = 1_700_000_000_000;
let seq = 0;
function ev(at: number, input: RunEventInput): RunEvent {
  seq++;
  return { ...input, runId: "run-1", seq, at: T0 + at } as RunEvent;
}

function result(
  id: string,
  worker: string,
  start: number,
  end: number,
  by: "worker" | "planner" = "worker",
): SubtaskResult {
  return {
    subtaskId: id,
    worker,
    answer: { ok: true },
    by,
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

const plan = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "find places", dependsOn: [] },
    { id: "s2", worker: "scheduler", instruction: "plan days", dependsOn: ["s1"] },
    { id: "s3", worker: "budgeter", instruction: "budget", dependsOn: ["s1"] },
    { id: "s4", worker: "scheduler", instruction: "merge", dependsOn: ["s2", "s3"] },
  ],
};

const events: RunEvent[] = [
  ev(0, { type: "run.started", task: "Plan a weekend\n in the mountains", agent: "demo" }),
  ev(5, { type: "model.loading", model: "fixture:planner", estimatedBytes: 2 * 1024 * 1024 }),
  ev(50, { type: "model.loaded", model: "fixture:planner", bytes: 2 * 1024 * 1024, ms: 45 }),
  ev(100, { type: "plan.rejected", errors: ["cycle"], attempt: 1 }),
  ev(200, { type: "plan.created", plan, attempt: 2 }),
  ev(210, {
    type: "subtask.started",
    subtaskId: "s1",
    worker: "researcher",
    model: "fixture:researcher",
    instruction: "x",
  }),
  ev(220, { type: "model.loading", model: "fixture:researcher" }),
  ev(260, { type: "model.loaded", model: "fixture:researcher", bytes: 3 * 1024 * 1024, ms: 40 }),
  ev(500, { type: "subtask.completed", subtaskId: "s1", result: result("s1", "researcher", 210, 500) }),
  ev(510, {
    type: "subtask.started",
    subtaskId: "s2",
    worker: "scheduler",
    model: "fixture:scheduler",
    instruction: "x",
  }),
  ev(515, {
    type: "subtask.started",
    subtaskId: "s3",
    worker: "budgeter",
    model: "fixture:budgeter",
    instruction: "x",
  }),
  ev(600, { type: "subtask.repairing", subtaskId: "s2", attempt: 1, errors: ["bad"] }),
  ev(700, {
    type: "subtask.escalated",
    subtaskId: "s3",
    worker: "budgeter",
    reason: "invalid-output",
    errors: ["bad"],
  }),
  ev(800, { type: "model.unloaded", model: "fixture:researcher" }),
];

function fold(list: readonly RunEvent[], from: ProgressState = initialProgress): ProgressState {
  return list.reduce(reduceProgress, from);
}

describe("reduceProgress", () => {
  it("follows the plan, each subtask's state and the models", () => {
    const state = fold(events);
    expect(state.runId).toBe("run-1");
    expect(state.agent).toBe("demo");
    expect(state.startedAt).toBe(T0);
    expect(state.planAttempts).toBe(2);
    expect(state.planRejections).toBe(1);
    expect(state.subtasks.map((s) => [s.id, s.phase])).toEqual([
      ["s1", "done"],
      ["s2", "running"],
      ["s3", "escalated"],
      ["s4", "pending"],
    ]);
    expect(state.subtasks[1]?.repairs).toBe(1);
    expect(state.models).toEqual([
      { model: "fixture:planner", phase: "loaded", bytes: 2 * 1024 * 1024, ms: 45 },
      { model: "fixture:researcher", phase: "unloaded", bytes: 3 * 1024 * 1024 },
    ]);
  });

  it("never changes the state it is given", () => {
    const before = fold(events.slice(0, 6));
    const frozen = JSON.stringify(before);
    reduceProgress(before, events[8] as RunEvent);
    expect(JSON.stringify(before)).toBe(frozen);
  });

  it("draws a resumed run's stored plan at once, with the stored subtasks done", () => {
    const plan = {
      subtasks: [
        { id: "s1", worker: "researcher", instruction: "find", dependsOn: [] },
        { id: "s2", worker: "scheduler", instruction: "plan", dependsOn: ["s1"] },
      ],
    };
    const state = fold([
      ev(0, { type: "run.resumed", agent: "demo", task: "a trip", completed: ["s1"], revision: 0, plan }),
    ]);
    expect([state.agent, state.task]).toEqual(["demo", "a trip"]);
    expect(state.subtasks.map((s) => [s.id, s.phase, s.reused])).toEqual([
      ["s1", "done", true],
      ["s2", "pending", false],
    ]);
    const frame = renderFrame(state, { width: 100, now: T0 + 500 });
    expect(frame.some((line) => line.includes("s2 scheduler") && line.includes("waiting"))).toBe(true);
  });

  it("adds a subtask the plan never announced (a resumed run)", () => {
    const state = fold([
      ev(0, { type: "run.resumed", agent: "demo", task: "a trip", completed: ["s1"], revision: 0 }),
      ev(10, { type: "subtask.started", subtaskId: "s2", worker: "w", model: "m", instruction: "x" }),
    ]);
    expect(state.resumedDone).toEqual(["s1"]);
    expect(state.subtasks.map((s) => [s.id, s.worker, s.phase])).toEqual([["s2", "w", "running"]]);
  });
});

describe("renderFrame", () => {
  it("renders a running run: header, tree, glyphs, models", () => {
    expect(renderFrame(fold(events), { width: 120, now: T0 + 1_000 })).toMatchInlineSnapshot(`
      [
        "run run-1 · agent demo · 1.0 s",
        "task: Plan a weekend in the mountains",
        "plan (4 subtasks · attempt 2):",
        "  ✓ s1 researcher · fixture:researcher  10+5 tok · 290 ms",
        "  ├─ ▶ s2 scheduler · fixture:scheduler  running 0.5 s · repair 1",
        "  └─ ↑ s3 budgeter · fixture:budgeter  escalated to the planner (invalid-output)",
        "     └─ · s4 scheduler ← s2  waiting",
        "models:",
        "  loaded   fixture:planner 2.0 MiB in 45 ms",
        "  unloaded fixture:researcher 3.0 MiB",
        "running · 1/4 done, 2 running · 10+5 tokens",
      ]
    `);
  });

  it("renders the end of a run with a failure, an escalation answered by the planner, and a replan", () => {
    const later = [
      ...events,
      ev(900, {
        type: "subtask.completed",
        subtaskId: "s3",
        result: result("s3", "budgeter", 515, 900, "planner"),
      }),
      ev(950, {
        type: "subtask.failed",
        subtaskId: "s2",
        error: { code: "MODEL_LOAD_FAILED", message: "the model\ncrashed" },
      }),
      ev(1000, {
        type: "plan.created",
        plan: {
          subtasks: [
            plan.subtasks[0] as (typeof plan.subtasks)[number],
            { id: "s5", worker: "scheduler", instruction: "again", dependsOn: ["s1"] },
          ],
        },
        attempt: 1,
      }),
      ev(1001, { type: "plan.revised", reason: "s2 failed", revision: 1, reused: ["s1"] }),
      ev(1100, {
        type: "subtask.started",
        subtaskId: "s5",
        worker: "scheduler",
        model: "fixture:scheduler",
        instruction: "x",
      }),
      ev(1400, { type: "subtask.completed", subtaskId: "s5", result: result("s5", "scheduler", 1100, 1400) }),
      ev(1500, { type: "run.completed", answer: "ok" }),
    ];
    const beforeReplan = fold(later.slice(0, events.length + 2));
    expect(renderFrame(beforeReplan, { width: 120, now: T0 + 960 })).toMatchInlineSnapshot(`
      [
        "run run-1 · agent demo · 1.0 s",
        "task: Plan a weekend in the mountains",
        "plan (4 subtasks · attempt 2):",
        "  ✓ s1 researcher · fixture:researcher  10+5 tok · 290 ms",
        "  ├─ ✗ s2 scheduler · fixture:scheduler  MODEL_LOAD_FAILED: the model crashed",
        "  └─ ✓ s3 budgeter · fixture:budgeter  10+5 tok · 385 ms · by planner ↑",
        "     └─ · s4 scheduler ← s2  waiting",
        "models:",
        "  loaded   fixture:planner 2.0 MiB in 45 ms",
        "  unloaded fixture:researcher 3.0 MiB",
        "running · 2/4 done, 1 failed · 20+10 tokens",
      ]
    `);
    const end = fold(later);
    expect(end.subtasks.find((s) => s.id === "s1")).toMatchObject({ phase: "done", reused: true });
    expect(renderFrame(end, { width: 120, now: T0 + 99_999 })).toMatchInlineSnapshot(`
      [
        "run run-1 · agent demo · 1.5 s",
        "task: Plan a weekend in the mountains",
        "plan (2 subtasks · revision 1):",
        "  ✓ s1 researcher · fixture:researcher  10+5 tok · 290 ms · reused",
        "  └─ ✓ s5 scheduler · fixture:scheduler  10+5 tok · 300 ms",
        "plan revised (1): s2 failed; reusing s1",
        "models:",
        "  loaded   fixture:planner 2.0 MiB in 45 ms",
        "  unloaded fixture:researcher 3.0 MiB",
        "completed in 1.5 s · 2/2 done · 10+5 tokens",
      ]
    `);
  });

  it("clips every line to the width", () => {
    const lines = renderFrame(fold(events), { width: 30, now: T0 + 1_000 });
    for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(30);
    expect(lines.some((l) => l.endsWith("…"))).toBe(true);
    expect(clipLine("abcdef", 4)).toBe("abc…");
    expect(clipLine("abc", 4)).toBe("abc");
  });

  it("shows failed and cancelled runs in the last line", () => {
    const failed = fold([
      ...events,
      ev(2000, { type: "run.failed", error: { code: "PLAN_INVALID", message: "no plan" } }),
    ]);
    expect(renderFrame(failed, { width: 200, now: 0 }).at(-1)).toBe(
      "failed in 2.0 s: PLAN_INVALID: no plan · 1/4 done, 2 running · 10+5 tokens",
    );
    const cancelled = fold([...events, ev(900, { type: "run.cancelled", reason: "SIGINT" })]);
    expect(renderFrame(cancelled, { width: 200, now: 0 }).at(-1)).toMatch(/^cancelled in 0\.9 s: SIGINT/);
  });
});

describe("createProgressPainter", () => {
  function painter() {
    const out: string[] = [];
    let now = T0;
    let tick: (() => void) | undefined;
    let cleared = false;
    const p = createProgressPainter({
      write: (text) => out.push(text),
      width: () => 80,
      rows: () => 40,
      now: () => now,
      setInterval: (fn) => {
        tick = fn;
        return {};
      },
      clearInterval: () => {
        cleared = true;
      },
    });
    return {
      p,
      out,
      advance: (ms: number) => {
        now += ms;
        tick?.();
      },
      cleared: () => cleared,
    };
  }

  it("steps aside while a prompt holds the terminal, then draws afresh below it", async () => {
    const { p, out } = painter();
    p.update(events[0] as RunEvent);
    const before = out.length;
    const answer = await p.hold(async () => {
      p.update(events[1] as RunEvent); // a state change while held: no redraw
      out.push("approve x? [y/N] y\n");
      return "y";
    });
    expect(answer).toBe("y");
    expect(out.slice(before)).toEqual([
      Ansi.showCursor,
      "approve x? [y/N] y\n",
      Ansi.hideCursor,
      expect.not.stringContaining("\x1b["),
    ]);
  });

  it("hides the cursor, redraws in place on state changes, and shows the cursor at the end", () => {
    const { p, out, cleared } = painter();
    expect(out).toEqual([Ansi.hideCursor]);
    p.update(events[0] as RunEvent);
    expect(out[1]).not.toContain("\x1b[");
    const firstHeight = (out[1] ?? "").split("\n").length - 1;
    p.update(events[1] as RunEvent);
    expect(out[2]?.startsWith(Ansi.rewind(firstHeight))).toBe(true);
    p.finish();
    expect(out.at(-1)).toBe(Ansi.showCursor);
    expect(cleared()).toBe(true);
    const count = out.length;
    p.finish();
    p.restore();
    expect(out.length).toBe(count);
  });

  it("throttles redraws that are not state changes and ticks while subtasks run", () => {
    const { p, out, advance } = painter();
    for (const e of events.slice(0, 6)) p.update(e);
    const drawn = out.length;
    p.update(ev(300, { type: "tool.called", subtaskId: "s1", tool: "calc", args: {} }));
    expect(out.length).toBe(drawn);
    advance(50);
    expect(out.length).toBe(drawn);
    advance(60);
    expect(out.length).toBe(drawn + 1);
    advance(100);
    expect(out.length).toBe(drawn + 2);
  });

  it("draws a streamed line as soon as it appears, then throttles its growth", () => {
    const { p, out, advance } = painter();
    p.update(events[0] as RunEvent);
    const drawn = out.length;
    p.update(ev(20, { type: "planner.delta", text: "\n" }));
    expect(out.length).toBe(drawn); // nothing to show yet: a blank line
    p.update(ev(30, { type: "planner.delta", text: '{"subtasks"' }));
    expect(out.length).toBe(drawn + 1);
    expect(out.at(-1)).toContain('planner ┆ {"subtasks"');
    p.update(ev(40, { type: "planner.delta", text: ": [" }));
    expect(out.length).toBe(drawn + 1); // the same line growing waits for the tick
    for (const e of events.slice(1, 6)) p.update(e);
    const running = out.length;
    // s1 streams and finishes within one tick: its line was on screen once all the same.
    p.update(ev(300, { type: "subtask.delta", subtaskId: "s1", text: "Oslo", turn: 0 }));
    expect(out.length).toBe(running + 1);
    expect(out.at(-1)).toMatch(/▶ s1 .*\n.*┆ Oslo\n/);
    p.update(ev(301, { type: "subtask.delta", subtaskId: "s1", text: ", Bergen", turn: 0 }));
    expect(out.length).toBe(running + 1);
    advance(100);
    expect(out.at(-1)).toContain("┆ Oslo, Bergen");
  });

  it("starts a fresh frame after detach", () => {
    const { p, out } = painter();
    p.update(events[0] as RunEvent);
    p.detach();
    p.update(events[1] as RunEvent);
    expect(out.at(-1)).not.toContain("\x1b[");
  });
});

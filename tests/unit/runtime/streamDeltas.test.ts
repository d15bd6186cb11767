/**
 * Issue 14, Streaming (unit tier): the coalescing of streamed text into deltas, the hub's numbering of transient
 * events, the stored events of a streamed run (fake ports), and how the CLI shows deltas (plain lines, the live
 * view's line under a running subtask).
 */
import { describe, expect, it } from "vitest";
import { initialProgress, isStateChange, reduceProgress, renderFrame } from "../../../src/cli/progress.js";
import { renderEvent } from "../../../src/cli/render.js";
import { coalesceText } from "../../../src/deltas.js";
import { EventHub, isTransientEvent } from "../../../src/runtime/EventHub.js";
import { startRun } from "../../../src/runtime/startRun.js";
import { MemoryRunStore } from "../../../src/runtime/store/MemoryRunStore.js";
import type {
  AgentDefinition,
  CallContext,
  PlannerPort,
  RunEvent,
  WorkerOutcome,
  WorkerPort,
} from "../../../src/types.js";

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("coalesceText", () => {
  it("sends the first piece at once, then at most one delta per interval, the rest on flush", () => {
    const time = clock();
    const sent: string[] = [];
    const text = coalesceText((t) => sent.push(t), { intervalMs: 50, maxChars: 1000, now: time.now });
    text.push("{");
    expect(sent).toEqual(["{"]);
    for (const piece of ['"pl', 'ace"', ": ", '"Al']) {
      time.advance(10);
      text.push(piece);
    }
    // 40 ms after the first delta: still gathering.
    expect(sent).toEqual(["{"]);
    time.advance(10);
    text.push('ps"');
    expect(sent).toEqual(["{", '"place": "Alps"']);
    text.push("}");
    expect(sent).toHaveLength(2);
    text.flush();
    expect(sent).toEqual(["{", '"place": "Alps"', "}"]);
    // Nothing gathered: a flush sends nothing, an empty piece is ignored.
    text.flush();
    text.push("");
    expect(sent).toHaveLength(3);
    expect(sent.join("")).toBe('{"place": "Alps"}');
  });

  it("sends as soon as maxChars have gathered, whatever the time", () => {
    const time = clock();
    const sent: string[] = [];
    const text = coalesceText((t) => sent.push(t), { intervalMs: 1_000_000, maxChars: 4, now: time.now });
    text.push("a");
    for (const c of "bcdefghij") text.push(c);
    expect(sent).toEqual(["a", "bcde", "fghi"]);
    text.flush();
    expect(sent.join("")).toBe("abcdefghij");
  });

  it("turns 1000 one-character pieces at 1 ms each into about one delta per 50 ms", () => {
    const time = clock();
    const sent: string[] = [];
    const text = coalesceText((t) => sent.push(t), { now: time.now });
    for (let i = 0; i < 1000; i++) {
      text.push("x");
      time.advance(1);
    }
    text.flush();
    expect(sent.join("")).toHaveLength(1000);
    expect(sent.length).toBeGreaterThanOrEqual(19);
    expect(sent.length).toBeLessThanOrEqual(22);
  });
});

describe("EventHub and transient events", () => {
  it("a delta repeats the seq of the event before it, so the others stay numbered without gaps", () => {
    const hub = new EventHub("r1", { clock: () => 1, firstSeq: 4 });
    hub.emit({ type: "run.started", task: "t", agent: "a" });
    hub.emit({ type: "subtask.delta", subtaskId: "s1", text: "{", turn: 1 });
    hub.emit({ type: "planner.delta", text: "x" });
    hub.emit({ type: "run.completed", answer: null });
    expect(hub.events.map((e) => [e.type, e.seq])).toEqual([
      ["run.started", 4],
      ["subtask.delta", 4],
      ["planner.delta", 4],
      ["run.completed", 5],
    ]);
    expect(isTransientEvent({ type: "subtask.delta" })).toBe(true);
    expect(isTransientEvent({ type: "subtask.completed" })).toBe(false);
  });
});

const AGENT: AgentDefinition = {
  name: "a",
  description: "d",
  planner: { model: { kind: "remote", raw: "fake:planner", provider: "fake", model: "planner" } },
  workers: [
    {
      name: "w",
      description: "w",
      model: { kind: "fixture", raw: "fixture:w", name: "w", seed: 1, size: "tiny" },
      tools: [],
      output: { type: "object" },
      contextSize: 512,
      maxTokens: 64,
      temperature: 0,
      parallel: 1,
    },
  ],
  tools: [],
  limits: { maxSubtasks: 2, maxParallel: 1, maxReplans: 0, timeoutSeconds: 30, subtaskTimeoutSeconds: 30 },
  device: { gpu: false, threads: 1 },
  escalation: { retries: 0, to: "fail" },
} as unknown as AgentDefinition;

/** Ports that stream (when asked) the way the real ones do: the worker its answer's text, the planner its reply. */
function streamingFakes(): { planner: PlannerPort; workers: WorkerPort; contexts: CallContext[] } {
  const contexts: CallContext[] = [];
  const planner: PlannerPort = {
    model: "fake:planner",
    async plan(_request, context) {
      contexts.push(context);
      if (context.stream === true) context.emit({ type: "planner.delta", text: '{"subtasks": […]}' });
      const plan = { subtasks: [{ id: "s1", worker: "w", instruction: "do it", dependsOn: [] }] };
      context.emit({ type: "plan.created", plan, attempt: 1 });
      return { value: plan, usage: [] };
    },
    async join(_request, context) {
      contexts.push(context);
      return { value: { kind: "answer", answer: "ok" }, usage: [] };
    },
    async solve() {
      throw new Error("not used");
    },
  };
  const workers: WorkerPort = {
    async execute(request, context): Promise<WorkerOutcome> {
      contexts.push(context);
      if (context.stream === true) {
        for (const text of ['{"a"', ": 1}"])
          context.emit({ type: "subtask.delta", subtaskId: request.subtask.id, text, turn: 1 });
      }
      return { ok: true, answer: { a: 1 }, attempts: 1, usage: [] };
    },
    isResident: () => true,
    dispose: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
  return { planner, workers, contexts };
}

describe("startRun with stream", () => {
  it("tells the ports to stream; the live events have the deltas, the stored ones none", async () => {
    const { planner, workers, contexts } = streamingFakes();
    const store = new MemoryRunStore();
    const run = startRun(AGENT, "task", { planner, workers, store, stream: true });
    const live: RunEvent[] = [];
    for await (const event of run.events) live.push(event);
    expect((await run.result).status).toBe("completed");
    expect(contexts.length).toBeGreaterThanOrEqual(3);
    expect(contexts.every((c) => c.stream === true)).toBe(true);
    expect(live.filter((e) => e.type === "subtask.delta")).toHaveLength(2);
    expect(live.filter((e) => e.type === "planner.delta")).toHaveLength(1);
    const stored = (await store.load(run.id)).events;
    expect(stored.map((e) => e.type)).not.toContain("subtask.delta");
    expect(stored.map((e) => e.type)).not.toContain("planner.delta");
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
  });

  it("without stream, the ports are not asked to stream", async () => {
    const { planner, workers, contexts } = streamingFakes();
    const run = startRun(AGENT, "task", { planner, workers });
    const live: RunEvent[] = [];
    for await (const event of run.events) live.push(event);
    expect(contexts.some((c) => c.stream === true)).toBe(false);
    expect(live.filter((e) => e.type.endsWith(".delta"))).toEqual([]);
  });
});

const stamp = { runId: "r1", seq: 3, at: 1_000 } as const;

describe("the CLI's view of deltas", () => {
  it("plain output: one line per delta, prefixed by the subtask id (or planner), line breaks shown", () => {
    expect(
      renderEvent({ ...stamp, type: "subtask.delta", subtaskId: "s2", text: '{"a":\n 1}', turn: 1 }),
    ).toBe('  s2 ┆ {"a":↵ 1}');
    expect(renderEvent({ ...stamp, type: "planner.delta", text: "\u001b[2Jplan" })).toBe(
      "  planner ┆ [2Jplan",
    );
  });

  it("live view: the running subtask's last line shows under its row, clipped to the width, until it ends", () => {
    const plan = {
      subtasks: [
        { id: "s1", worker: "w", instruction: "i", dependsOn: [] },
        { id: "s2", worker: "w", instruction: "i", dependsOn: ["s1"] },
      ],
    };
    const events: RunEvent[] = [
      { ...stamp, type: "run.started", task: "t", agent: "a" },
      { ...stamp, type: "plan.created", plan, attempt: 1 },
      { ...stamp, type: "subtask.started", subtaskId: "s1", worker: "w", model: "m", instruction: "i" },
      { ...stamp, type: "subtask.delta", subtaskId: "s1", text: 'first line\n{"place": ', turn: 1 },
      { ...stamp, type: "subtask.delta", subtaskId: "s1", text: '"Alps", "days": 3', turn: 1 },
    ];
    let state = initialProgress;
    for (const e of events) state = reduceProgress(state, e);
    expect(isStateChange(events[4] as RunEvent)).toBe(false);
    const frame = renderFrame(state, { width: 80, now: 2_000 });
    const row = frame.findIndex((l) => l.includes("▶ s1"));
    expect(frame[row + 1]).toBe('  │ ┆ {"place": "Alps", "days": 3');
    const narrow = renderFrame(state, { width: 20, now: 2_000 });
    const under = narrow[narrow.findIndex((l) => l.includes("s1")) + 1] ?? "";
    expect(under).toBe('  │ ┆ …s", "days": 3');
    expect(Array.from(under)).toHaveLength(20);

    // A new turn starts a new line; a finished subtask shows no text.
    state = reduceProgress(state, {
      ...stamp,
      type: "subtask.delta",
      subtaskId: "s1",
      text: "repair",
      turn: 2,
    });
    expect(renderFrame(state, { width: 80, now: 2_000 })).toContain("  │ ┆ repair");
    state = reduceProgress(state, {
      ...stamp,
      type: "subtask.completed",
      subtaskId: "s1",
      result: {
        subtaskId: "s1",
        worker: "w",
        answer: {},
        by: "worker",
        attempts: 1,
        usage: [],
        startedAt: 1_000,
        endedAt: 1_500,
      },
    });
    expect(renderFrame(state, { width: 80, now: 2_000 }).some((l) => l.includes("┆"))).toBe(false);
  });

  it("live view: the planner's streamed line shows while it plans, and goes when the plan arrives", () => {
    let state = reduceProgress(initialProgress, { ...stamp, type: "run.started", task: "t", agent: "a" });
    state = reduceProgress(state, { ...stamp, type: "planner.delta", text: '{"subtasks": [' });
    expect(renderFrame(state, { width: 80, now: 2_000 })).toContain('planner ┆ {"subtasks": [');
    state = reduceProgress(state, {
      ...stamp,
      type: "plan.created",
      plan: { subtasks: [{ id: "s1", worker: "w", instruction: "i", dependsOn: [] }] },
      attempt: 1,
    });
    expect(renderFrame(state, { width: 80, now: 2_000 }).some((l) => l.includes("planner ┆"))).toBe(false);
  });
});

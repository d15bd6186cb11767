// Auto-escalation (escalation.auto) over a scripted history: real runs of startRun with fake ports written to a
// MemoryRunStore, then a run whose worker is routed straight to the planner (or not) from what they recorded.
import { describe, expect, test } from "vitest";
import { buildStats } from "../../../src/cli/stats.js";
import { buildTimeline } from "../../../src/cli/timeline.js";
import { dispatchedSubtasks, readRouting, workerIdentity } from "../../../src/runtime/routing.js";
import { startRun } from "../../../src/runtime/startRun.js";
import { MemoryRunStore } from "../../../src/runtime/store/MemoryRunStore.js";
import type {
  AgentDefinition,
  AutoEscalationConfig,
  RunEvent,
  SubtaskRequest,
  WorkerOutcome,
} from "../../../src/types.js";
import { agent, fakePlanner, fakeWorkers, worker } from "../../helpers/fakes.js";

/** A memory store that counts `list()` calls. */
class CountingStore extends MemoryRunStore {
  lists = 0;
  override list() {
    this.lists++;
    return super.list();
  }
}

const PLAN = { subtasks: [{ id: "s1", worker: "alpha", instruction: "do it", dependsOn: [] }] };

/** The agent of every run here: one worker, alpha; auto-escalation when `auto` is given. */
function routedAgent(auto?: Partial<AutoEscalationConfig>, lora = false): AgentDefinition {
  return agent({
    name: "router",
    workers: [worker("alpha", lora ? { lora: [{ path: "/adapters/alpha-v2.gguf", scale: 1 }] } : {})],
    escalation: {
      retries: 1,
      to: "planner",
      ...(auto === undefined ? {} : { auto: { below: 0.5, window: 50, min: 1, ...auto } }),
    },
  });
}

type Answer = "first-try" | "repaired" | "invalid" | "model-failed";

function outcome(kind: Answer, request: SubtaskRequest): WorkerOutcome {
  const usage = [
    {
      model: request.worker.model.raw,
      locality: "local" as const,
      promptTokens: 10,
      completionTokens: 5,
      durationMs: 1,
      loadMs: 0,
    },
  ];
  if (kind === "first-try") return { ok: true, answer: { answer: "w" }, attempts: 1, usage };
  if (kind === "repaired") return { ok: true, answer: { answer: "w" }, attempts: 2, usage };
  return {
    ok: false,
    reason: kind === "invalid" ? "invalid-output" : "model-failed",
    errors: ["x"],
    attempts: 2,
    usage,
  };
}

let clock = 1_800_000_000_000;

/** One run of `def` into `store`, its worker answering `kind`; what the worker and planner saw, and the events. */
async function runOnce(store: MemoryRunStore, def: AgentDefinition, kind: Answer) {
  const planner = fakePlanner(PLAN);
  const workers = fakeWorkers((request) => outcome(kind, request), { delayMs: 0 });
  const events: RunEvent[] = [];
  clock += 60_000;
  const start = clock;
  let tick = 0;
  const run = startRun(def, "a task", {
    planner: planner.port,
    workers: workers.port,
    store,
    clock: () => start + tick++,
    runId: `run-${String(clock)}`,
    listeners: [(e) => void events.push(e)],
  });
  const result = await run.result;
  return { result, events, workerCalls: workers.requests.length, escalations: planner.escalations };
}

async function history(store: MemoryRunStore, kinds: readonly Answer[], def = routedAgent()) {
  for (const kind of kinds) {
    const { result } = await runOnce(store, def, kind);
    expect(result.status).toBe("completed");
  }
}

describe("auto-escalation over a scripted history", () => {
  test("a worker below the threshold is not run: subtask.routed, then the planner answers", async () => {
    const store = new MemoryRunStore();
    await history(store, ["repaired", "invalid", "first-try", "model-failed"]); // 1 of 4 first try
    const routed = await runOnce(store, routedAgent({ below: 0.3, window: 50 }), "first-try");
    expect(routed.workerCalls).toBe(0);
    expect(routed.result.status).toBe("completed");
    expect(routed.result.results[0]).toMatchObject({ subtaskId: "s1", by: "planner", worker: "alpha" });
    const event = routed.events.find((e) => e.type === "subtask.routed");
    expect(event).toMatchObject({
      subtaskId: "s1",
      worker: "alpha",
      identity: "fixture:alpha",
      rate: 0.25,
      subtasks: 4,
      window: 50,
      below: 0.3,
    });
    expect(routed.escalations).toHaveLength(1);
    expect(routed.escalations[0]?.errors[0]).toMatch(/first-try rate is 25% \(1 of its last 4 subtasks/);
    // In order: dispatched, routed, answered by the planner; never escalated (the worker was not tried).
    const types = routed.events.map((e) => e.type).filter((t) => t.startsWith("subtask."));
    expect(types).toEqual(["subtask.started", "subtask.routed", "subtask.completed"]);
    // The same history at a threshold the rate reaches: the worker runs.
    const runs = await runOnce(store, routedAgent({ below: 0.25 }), "first-try");
    expect(runs.workerCalls).toBe(1);
    expect(runs.events.some((e) => e.type === "subtask.routed")).toBe(false);
  });

  test("the rate is the one `edgecrew stats` computes over the same runs, routed subtasks left out of both", async () => {
    const store = new MemoryRunStore();
    await history(store, ["first-try", "repaired", "first-try", "invalid", "model-failed", "repaired"]);
    await runOnce(store, routedAgent({ below: 0.9 }), "first-try"); // routed: counted by neither
    const table = await readRouting(store, routedAgent({ below: 0.9 }));
    const timelines = await Promise.all(
      (await store.list()).map(async (m) => buildTimeline(await store.load(m.runId))),
    );
    const stats = buildStats(timelines).workers.find((w) => w.worker === "alpha");
    const alpha = table.workers.get("alpha");
    expect(stats?.subtasks).toBe(6);
    expect(alpha).toMatchObject({ subtasks: stats?.subtasks, firstTry: stats?.firstTry, routed: true });
    expect(alpha?.rate).toBeCloseTo(stats?.firstTryRate ?? -1, 12);
    expect(alpha?.rate).toBeCloseTo(2 / 6, 12);
  });

  test("only the last `window` subtasks count, and at most `window` runs are read", async () => {
    const store = new MemoryRunStore();
    await history(store, ["invalid", "invalid", "invalid", "first-try", "first-try"]);
    const table = await readRouting(store, routedAgent({ below: 0.5, window: 2 }));
    expect(table.workers.get("alpha")).toMatchObject({ subtasks: 2, firstTry: 2, rate: 1, routed: false });
    expect(table.runsRead).toBe(2);
    const wider = await readRouting(store, routedAgent({ below: 0.5, window: 5 }));
    expect(wider.workers.get("alpha")).toMatchObject({ subtasks: 5, firstTry: 2, routed: true });
    expect(wider.runsRead).toBe(5);
  });

  test("fewer than `min` subtasks counted: the worker runs", async () => {
    const store = new MemoryRunStore();
    await history(store, ["invalid", "invalid"]);
    const table = await readRouting(store, routedAgent({ below: 0.5, min: 3 }));
    expect(table.workers.get("alpha")).toMatchObject({ subtasks: 2, rate: 0, routed: false });
    const run = await runOnce(store, routedAgent({ below: 0.5, min: 3 }), "first-try");
    expect(run.workerCalls).toBe(1);
  });

  test("a new LoRA adapter set (or model) is a new identity with an empty history: the worker runs again", async () => {
    const store = new MemoryRunStore();
    await history(store, ["invalid", "invalid", "invalid"]);
    expect((await runOnce(store, routedAgent({}), "first-try")).workerCalls).toBe(0);
    const adapted = routedAgent({}, true);
    const identity = workerIdentity(adapted.workers[0] ?? worker("x"));
    expect(identity).toBe("fixture:alpha+lora(/adapters/alpha-v2.gguf@1)");
    const first = await runOnce(store, adapted, "invalid");
    expect(first.workerCalls).toBe(1);
    expect(first.events.find((e) => e.type === "subtask.started")).toMatchObject({ identity });
    // Its own failure now routes the adapted worker, while the plain model's history is untouched.
    const second = await runOnce(store, adapted, "first-try");
    expect(second.workerCalls).toBe(0);
    expect(second.events.find((e) => e.type === "subtask.routed")).toMatchObject({ identity, subtasks: 1 });
    const plain = await readRouting(store, routedAgent({}));
    expect(plain.workers.get("alpha")).toMatchObject({ identity: "fixture:alpha", subtasks: 3, rate: 0 });
  });

  test("back when the rate recovers: routed runs age out of the window and the worker is tried again", async () => {
    const store = new MemoryRunStore();
    const def = routedAgent({ below: 0.5, window: 2 });
    await history(store, ["invalid"]);
    expect((await runOnce(store, def, "first-try")).workerCalls).toBe(0); // routed (history: 1 bad)
    expect((await runOnce(store, def, "first-try")).workerCalls).toBe(0); // routed (1 bad within 2 runs)
    // The last 2 runs hold no subtask of alpha's own: no history, so alpha runs (and answers first try)...
    expect((await runOnce(store, def, "first-try")).workerCalls).toBe(1);
    // ...and that success keeps it running.
    expect((await runOnce(store, def, "first-try")).workerCalls).toBe(1);
  });

  test("the history is read once per run, not per subtask; other agents' runs and damaged runs are skipped", async () => {
    const store = new CountingStore();
    await history(store, ["invalid", "invalid"]);
    await history(store, ["first-try", "first-try", "first-try"], { ...routedAgent(), name: "other" });
    let lists = 0;
    let loads = 0;
    const counting = {
      list: () => {
        lists++;
        return store.list();
      },
      load: (id: string) => {
        loads++;
        if (loads === 1) return Promise.reject(new Error("damaged"));
        return store.load(id);
      },
    };
    const table = await readRouting(counting, routedAgent({ below: 0.5 }));
    expect(lists).toBe(1);
    expect(table.skipped).toHaveLength(1);
    expect(table.workers.get("alpha")).toMatchObject({ subtasks: 1, rate: 0, routed: true });

    const planner = fakePlanner({
      subtasks: ["a", "b", "c"].map((id) => ({ id, worker: "alpha", instruction: id, dependsOn: [] })),
    });
    const workers = fakeWorkers(undefined, { delayMs: 0 });
    store.lists = 0;
    const result = await startRun(routedAgent({ below: 0.5 }), "t", {
      planner: planner.port,
      workers: workers.port,
      store,
    }).result;
    expect(result.status).toBe("completed");
    expect(store.lists).toBe(1);
    expect(workers.requests).toHaveLength(0);
    expect(planner.escalations.map((e) => e.subtask.id).sort()).toEqual(["a", "b", "c"]);
  });

  test("a stored run read back as its dispatched subtasks, with the fields the measure needs", async () => {
    const store = new MemoryRunStore();
    await history(store, ["repaired"]);
    const [meta] = await store.list();
    const run = await store.load(meta?.runId ?? "");
    expect(dispatchedSubtasks(run)).toEqual([
      {
        worker: "alpha",
        identity: "fixture:alpha",
        tally: { state: "completed", by: "worker", repairs: 0, attempts: 2, reused: false },
      },
    ]);
  });

  test("without auto, or without a store, nothing is read and nothing is routed", async () => {
    const store = new MemoryRunStore();
    await history(store, ["invalid", "invalid"]);
    expect((await readRouting(store, routedAgent())).workers.size).toBe(0);
    expect((await runOnce(store, routedAgent(), "first-try")).workerCalls).toBe(1);
    const workers = fakeWorkers(undefined, { delayMs: 0 });
    const result = await startRun(routedAgent({ below: 0.9 }), "t", {
      planner: fakePlanner(PLAN).port,
      workers: workers.port,
    }).result;
    expect(result.status).toBe("completed");
    expect(workers.requests).toHaveLength(1);
  });
});

import { describe, expect, it, vi } from "vitest";
import { EdgecrewError, ErrorCodes, PlanError } from "../../../src/errors.js";
import { startRun } from "../../../src/runtime/startRun.js";
import type { JsonValue, Plan, RunEvent, WorkerOutcome } from "../../../src/types.js";
import { agent, fakePlanner, fakeWorkers, maxConcurrency, overlaps } from "../../helpers/fakes.js";

const diamond: Plan = {
  subtasks: [
    { id: "s1", worker: "alpha", instruction: "list places", dependsOn: [] },
    { id: "s2", worker: "beta", instruction: "weather in {{s1.answer.answer}}", dependsOn: ["s1"] },
    { id: "s3", worker: "alpha", instruction: "hotels in {{s1.answer}}", dependsOn: ["s1"] },
    { id: "s4", worker: "beta", instruction: "trains to {{s1.answer.answer}}", dependsOn: ["s1"] },
    { id: "s5", worker: "alpha", instruction: "combine", dependsOn: ["s2", "s3", "s4"] },
    { id: "s6", worker: "beta", instruction: "summarise {{s5.answer.answer}}", dependsOn: ["s5"] },
  ],
};

async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe("a run", () => {
  it("executes a 6-subtask diamond DAG with 3-way parallelism, substituting references", async () => {
    const planner = fakePlanner(diamond);
    const workers = fakeWorkers((r) => ({ answer: `${r.subtask.id}-answer` }), { delayMs: 40 });
    const run = startRun(agent(), "plan a trip", { planner: planner.port, workers: workers.port });
    const [events, result] = await Promise.all([collect(run.events), run.result]);

    expect(result.status).toBe("completed");
    expect(result.answer).toBe("joined 6");
    expect(result.results.map((r) => r.subtaskId).sort()).toEqual(["s1", "s2", "s3", "s4", "s5", "s6"]);

    const byId = new Map(workers.requests.map((r) => [r.subtask.id, r]));
    expect(byId.get("s2")?.subtask.instruction).toBe("weather in s1-answer");
    expect(byId.get("s3")?.subtask.instruction).toBe('hotels in {"answer":"s1-answer"}');
    expect(byId.get("s5")?.dependencies).toEqual({
      s2: { answer: "s2-answer" },
      s3: { answer: "s3-answer" },
      s4: { answer: "s4-answer" },
    });

    const span = (id: string) => workers.spans.find((s) => s.id === id);
    const middle = ["s2", "s3", "s4"].map((id) => span(id));
    expect(middle.every((s) => s !== undefined)).toBe(true);
    const [a, b, c] = middle as [
      NonNullable<(typeof middle)[0]>,
      NonNullable<(typeof middle)[0]>,
      NonNullable<(typeof middle)[0]>,
    ];
    expect(overlaps(a, b) && overlaps(b, c) && overlaps(a, c)).toBe(true);
    // Dependencies are respected: s5 starts after all of s2..s4 end.
    expect(span("s5")?.start ?? 0).toBeGreaterThanOrEqual(Math.max(a.end, b.end, c.end));

    const types = events.map((e) => e.type);
    expect(types[0]).toBe("run.started");
    expect(types[1]).toBe("plan.created");
    expect(types.at(-1)).toBe("run.completed");
    expect(types.filter((t) => t === "subtask.completed")).toHaveLength(6);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.runId === run.id)).toBe(true);

    expect(result.ledger.remote).toEqual({ promptTokens: 150, completionTokens: 30 });
    expect(result.ledger.local).toEqual({ promptTokens: 60, completionTokens: 30 });
  });

  it("never runs more than maxParallel subtasks at once", async () => {
    const plan: Plan = {
      subtasks: Array.from({ length: 6 }, (_, i) => ({
        id: `s${i + 1}`,
        worker: "alpha",
        instruction: "x",
        dependsOn: [],
      })),
    };
    const workers = fakeWorkers(undefined, { delayMs: 20 });
    const run = startRun(agent({ limits: { ...agent().limits, maxParallel: 2 } }), "t", {
      planner: fakePlanner(plan).port,
      workers: workers.port,
    });
    expect((await run.result).status).toBe("completed");
    expect(maxConcurrency(workers.spans)).toBe(2);
  });

  it("prefers subtasks whose model is resident", async () => {
    const plan: Plan = {
      subtasks: [
        { id: "s1", worker: "alpha", instruction: "x", dependsOn: [] },
        { id: "s2", worker: "beta", instruction: "x", dependsOn: [] },
      ],
    };
    const workers = fakeWorkers(undefined, { resident: (w) => w === "beta" });
    const run = startRun(agent({ limits: { ...agent().limits, maxParallel: 1 } }), "t", {
      planner: fakePlanner(plan).port,
      workers: workers.port,
    });
    const result = await run.result;
    expect(workers.requests.map((r) => r.subtask.id)).toEqual(["s2", "s1"]);
    // s2 finished first, yet the run's results (and the joiner's input) follow the plan.
    expect(result.results.map((r) => r.subtaskId)).toEqual(["s1", "s2"]);
  });

  it("fails with SUBTASK_FAILED when a worker gives no valid answer", async () => {
    const workers = fakeWorkers((r): WorkerOutcome | JsonValue =>
      r.subtask.id === "s1"
        ? { ok: false, reason: "invalid-output", errors: ["answer: Required"], attempts: 2, usage: [] }
        : { answer: "x" },
    );
    const run = startRun(agent(), "t", { planner: fakePlanner(diamond).port, workers: workers.port });
    const [events, result] = await Promise.all([collect(run.events), run.result]);
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("SUBTASK_FAILED");
    expect(result.error?.message).toContain("answer: Required");
    expect(events.find((e) => e.type === "subtask.failed")).toMatchObject({ subtaskId: "s1" });
    expect(events.at(-1)?.type).toBe("run.failed");
  });

  it("escalates a subtask the worker could not answer to the planner, which answers with the same schema", async () => {
    const planner = fakePlanner(diamond, { solve: (r) => ({ answer: `rescued ${r.subtask.id}` }) });
    const workers = fakeWorkers((r): WorkerOutcome | JsonValue =>
      r.subtask.id === "s3"
        ? {
            ok: false,
            reason: "invalid-output",
            errors: ["answer: Too long"],
            attempts: 2,
            usage: [
              {
                model: "fixture:alpha",
                locality: "local",
                promptTokens: 40,
                completionTokens: 20,
                durationMs: 5,
                loadMs: 0,
              },
            ],
          }
        : { answer: `${r.subtask.id}-answer` },
    );
    const run = startRun(agent({ escalation: { retries: 1, to: "planner" } }), "t", {
      planner: planner.port,
      workers: workers.port,
    });
    const [events, result] = await Promise.all([collect(run.events), run.result]);
    expect(result.status).toBe("completed");
    const s3 = result.results.find((r) => r.subtaskId === "s3");
    expect(s3).toMatchObject({ by: "planner", answer: { answer: "rescued s3" } });
    expect(planner.escalations[0]?.errors).toEqual(["answer: Too long"]);
    expect(planner.escalations[0]?.dependencies).toEqual({ s1: { answer: "s1-answer" } });
    expect(events.find((e) => e.type === "subtask.escalated")).toMatchObject({
      subtaskId: "s3",
      reason: "invalid-output",
    });
    // s5 depends on s3: it ran after the escalation, with the planner's answer.
    expect(workers.requests.find((r) => r.subtask.id === "s5")?.dependencies.s3).toEqual({
      answer: "rescued s3",
    });
    // The worker's spent tokens and the planner's stand-in both count.
    expect(result.ledger.local.promptTokens).toBe(5 * 10 + 40);
    expect(result.ledger.remote.promptTokens).toBe(100 + 30 + 50);
  });

  it("fails with SUBTASK_FAILED when the escalated subtask also fails on the planner", async () => {
    const planner = fakePlanner(diamond, {
      solve: () => {
        throw new EdgecrewError(ErrorCodes.SUBTASK_FAILED, "planner also failed");
      },
    });
    const workers = fakeWorkers(
      (): WorkerOutcome => ({ ok: false, reason: "model-failed", errors: ["boom"], attempts: 0, usage: [] }),
    );
    const result = await startRun(agent({ escalation: { retries: 0, to: "planner" } }), "t", {
      planner: planner.port,
      workers: workers.port,
    }).result;
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ code: "SUBTASK_FAILED", message: "planner also failed" });
  });

  it("replans when the joiner asks, reusing results of unchanged subtasks, within maxReplans", async () => {
    const first: Plan = {
      subtasks: [
        { id: "s1", worker: "alpha", instruction: "list places", dependsOn: [] },
        { id: "s2", worker: "beta", instruction: "weather in {{s1.answer.answer}}", dependsOn: ["s1"] },
      ],
    };
    // Renumbered, s1's work kept (as a1), s2 replaced by two new subtasks.
    const second: Plan = {
      subtasks: [
        { id: "a1", worker: "alpha", instruction: "list places", dependsOn: [] },
        { id: "a2", worker: "beta", instruction: "trains to {{a1.answer.answer}}", dependsOn: ["a1"] },
        { id: "a3", worker: "alpha", instruction: "summarise", dependsOn: ["a2"] },
      ],
    };
    const planner = fakePlanner([first, second], {
      decide: (r) =>
        r.allowReplan ? { kind: "replan", reason: "no trains considered" } : { kind: "answer", answer: "ok" },
    });
    const workers = fakeWorkers((r) => ({ answer: `${r.subtask.id}-answer` }));
    const run = startRun(agent({ limits: { ...agent().limits, maxReplans: 1 } }), "t", {
      planner: planner.port,
      workers: workers.port,
    });
    const [events, result] = await Promise.all([collect(run.events), run.result]);
    expect(result.status).toBe("completed");
    expect(result.answer).toBe("ok");
    expect(planner.joins.map((j) => j.allowReplan)).toEqual([true, false]);
    expect(planner.planRequests[1]?.revision).toMatchObject({
      reason: "no trains considered",
      previous: first,
    });
    expect(planner.planRequests[1]?.revision?.results.map((r) => r.subtaskId)).toEqual(["s1", "s2"]);
    // s1's work was not run again: a1 reuses it.
    expect(workers.requests.map((r) => r.subtask.id)).toEqual(["s1", "s2", "a2", "a3"]);
    expect(events.find((e) => e.type === "plan.revised")).toMatchObject({ revision: 1, reused: ["a1"] });
    expect(result.plan).toEqual(second);
    expect(result.results.map((r) => r.subtaskId).sort()).toEqual(["a1", "a2", "a3"]);
    expect(workers.requests.find((r) => r.subtask.id === "a2")?.subtask.instruction).toBe(
      "trains to s1-answer",
    );
    // The dropped s2 still counts in the ledger: 4 worker calls × 10 prompt tokens.
    expect(result.ledger.local.promptTokens).toBe(40);
  });

  it("never escalates a subtask whose worker rejected with SUBTASK_FAILED (e.g. an uncertain side effect)", async () => {
    const planner = fakePlanner(diamond);
    const workers = fakeWorkers((r) => {
      if (r.subtask.id === "s1")
        throw new EdgecrewError(ErrorCodes.SUBTASK_FAILED, "side effect uncertain: shell.run");
      return { answer: "x" };
    });
    const run = startRun(agent({ escalation: { retries: 1, to: "planner" } }), "t", {
      planner: planner.port,
      workers: workers.port,
    });
    const [events, result] = await Promise.all([collect(run.events), run.result]);
    expect(result.status).toBe("failed");
    expect(result.error?.message).toContain("side effect uncertain");
    expect(planner.escalations).toEqual([]);
    expect(events.some((e) => e.type === "subtask.escalated")).toBe(false);
  });

  it("fails with the planner's typed error when planning fails", async () => {
    const planner = fakePlanner(diamond);
    planner.port.plan = async () => {
      throw new PlanError("no valid plan", ["dependency cycle: s1 → s2 → s1"]);
    };
    const result = await startRun(agent(), "t", { planner: planner.port, workers: fakeWorkers().port })
      .result;
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("PLAN_INVALID");
    expect(result.error?.message).toContain("cycle");
  });

  it("is cancelled by its AbortSignal mid-subtask, aborting generation and keeping finished work", async () => {
    const controller = new AbortController();
    const workers = fakeWorkers(undefined, { delayMs: (r) => (r.subtask.id === "s1" ? 5 : 10_000) });
    const run = startRun(agent(), "t", {
      planner: fakePlanner(diamond).port,
      workers: workers.port,
      signal: controller.signal,
    });
    const started = performance.now();
    run.events[Symbol.asyncIterator]; // iteration is optional
    setTimeout(() => controller.abort(new Error("user pressed ctrl-c")), 100);
    const result = await run.result;
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(result.status).toBe("cancelled");
    expect(result.error?.code).toBe("ABORTED");
    expect(result.error?.message).toContain("ctrl-c");
    expect(result.results.map((r) => r.subtaskId)).toEqual(["s1"]);
    expect(workers.aborted.sort()).toEqual(["s2", "s3", "s4"]);
  });

  it("fails with LIMIT_EXCEEDED when a subtask exceeds its timeout", async () => {
    const limits = { ...agent().limits, subtaskTimeoutSeconds: 0.05 };
    const workers = fakeWorkers(undefined, { delayMs: 5_000 });
    const result = await startRun(agent({ limits }), "t", {
      planner: fakePlanner(diamond).port,
      workers: workers.port,
    }).result;
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("LIMIT_EXCEEDED");
    expect(result.error?.message).toContain("subtaskTimeoutSeconds");
  });

  it("fails with LIMIT_EXCEEDED when the whole run exceeds its timeout", async () => {
    const limits = { ...agent().limits, timeoutSeconds: 0.1 };
    const workers = fakeWorkers(undefined, { delayMs: 5_000 });
    const result = await startRun(agent({ limits }), "t", {
      planner: fakePlanner(diamond).port,
      workers: workers.port,
    }).result;
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("LIMIT_EXCEEDED");
    expect(result.error?.message).toContain("timeoutSeconds");
    expect(workers.aborted).toEqual(["s1"]);
  });

  it("fails with LIMIT_EXCEEDED when planner calls cross limits.maxRemoteTokens", async () => {
    // The fake planner's plan call costs 120 remote tokens; the join would cost 60 more.
    const limits = { ...agent().limits, maxRemoteTokens: 150 };
    const workers = fakeWorkers();
    const planner = fakePlanner(diamond);
    const result = await startRun(agent({ limits }), "t", { planner: planner.port, workers: workers.port })
      .result;
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("LIMIT_EXCEEDED");
    expect(result.error?.message).toContain("maxRemoteTokens");
    expect(result.ledger.remote).toEqual({ promptTokens: 150, completionTokens: 30 });
    const ok = await startRun(agent({ limits: { ...limits, maxRemoteTokens: 180 } }), "t", {
      planner: fakePlanner(diamond).port,
      workers: fakeWorkers().port,
    }).result;
    expect(ok.status).toBe("completed");
  });

  it("keeps going when an event listener throws", async () => {
    const onListenerError = vi.fn();
    const run = startRun(agent(), "t", {
      planner: fakePlanner(diamond).port,
      workers: fakeWorkers().port,
      listeners: [
        () => {
          throw new Error("listener bug");
        },
      ],
      onListenerError,
    });
    expect((await run.result).status).toBe("completed");
    expect(onListenerError).toHaveBeenCalled();
  });
});

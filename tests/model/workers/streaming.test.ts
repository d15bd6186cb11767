/**
 * Issue 14, Streaming (model tier, real inference on fixture GGUFs): with the opt-in, a local worker's subtask
 * emits `subtask.delta` events whose concatenation is the text its model generated (for a worker without tools,
 * the final answer's JSON text), and a local planner's reply emits `planner.delta`; without it, none. Deltas are
 * transient: a run's stored events hold none (and are numbered without gaps) while its live stream had them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { createLangChainPlanner } from "../../../src/planner/LangChainPlanner.js";
import { MemoryRunStore } from "../../../src/runtime/store/MemoryRunStore.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { JsonSchema, RunEvent, RunEventInput } from "../../../src/types.js";
import { ChatNodeLlamaCpp } from "../../../src/workers/ChatNodeLlamaCpp.js";
import { createLocalWorkers } from "../../../src/workers/LocalWorker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { fixtureRef, recorder, request, TEST_DEVICE, tempDir, workerDef } from "./helpers.js";

const OUTPUT: JsonSchema = {
  type: "object",
  properties: {
    place: { type: "string", minLength: 1, maxLength: 40 },
    days: { type: "integer", minimum: 1, maximum: 9 },
  },
  required: ["place", "days"],
  additionalProperties: false,
};

let cache: Awaited<ReturnType<typeof tempDir>>;
let manager: ModelManager;

beforeAll(async () => {
  cache = await tempDir("edgecrew-streaming-");
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: cache.dir } });
});

afterAll(async () => {
  await manager.dispose();
  await cache.cleanup();
});

type Delta = Extract<RunEventInput, { type: "subtask.delta" }>;
const deltasOf = (events: readonly { type: string }[]) =>
  events.filter((e): e is Delta => e.type === "subtask.delta");

describe("subtask.delta from a local worker", () => {
  it("with stream: true, the deltas of a subtask concatenate to its answer's JSON text, in one turn", async () => {
    const worker = workerDef(OUTPUT);
    const workers = createLocalWorkers({ workers: [worker], manager, retries: 0, seed: 3 });
    const { events, context } = recorder();
    const outcome = await workers.execute(request(worker), { ...context, stream: true });
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    if (!outcome.ok) return;
    const deltas = deltasOf(events);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.every((d) => d.subtaskId === "s1" && d.turn === 1 && d.text !== "")).toBe(true);
    const text = deltas.map((d) => d.text).join("");
    // The streamed text is the generation itself: it parses to exactly the validated answer.
    expect(JSON.parse(text)).toEqual(outcome.answer);
    expect(text.trim().startsWith("{")).toBe(true);
    // Coalesced: never more deltas than generated tokens.
    expect(deltas.length).toBeLessThanOrEqual(outcome.usage[0]?.completionTokens ?? 0);
    await workers.dispose();
  });

  it("without the opt-in, no delta is emitted", async () => {
    const worker = workerDef(OUTPUT);
    const workers = createLocalWorkers({ workers: [worker], manager, retries: 0, seed: 3 });
    const { events, context } = recorder();
    const outcome = await workers.execute(request(worker), context);
    expect(outcome.ok).toBe(true);
    expect(deltasOf(events)).toEqual([]);
    await workers.dispose();
  });
});

describe("planner.delta from a local (streaming) planner model", () => {
  it("streams the plan's text with stream: true, keeps its usage, and emits nothing without it", async () => {
    const model = new ChatNodeLlamaCpp({ manager, model: fixtureRef(7), contextSize: 2048, maxTokens: 512 });
    const planner = createLangChainPlanner({ model, label: "fixture:planner", locality: "local" });
    const worker = workerDef(OUTPUT);
    const planRequest = {
      task: "Plan a weekend trip to the mountains",
      workers: [{ name: worker.name, description: worker.description, output: OUTPUT, tools: [] }],
      maxSubtasks: 2,
    };
    const streamed = recorder();
    const produced = await planner.plan(planRequest, { ...streamed.context, stream: true });
    const deltas = streamed.events.filter(
      (e): e is Extract<RunEventInput, { type: "planner.delta" }> => e.type === "planner.delta",
    );
    expect(deltas.length).toBeGreaterThan(0);
    // Every attempt's reply was streamed; the accepted plan is the last reply's JSON.
    const text = deltas.map((d) => d.text).join("");
    expect(text).toContain("{");
    expect(produced.usage.every((u) => u.promptTokens > 0 && u.completionTokens > 0)).toBe(true);

    const quiet = recorder();
    await planner.plan(planRequest, quiet.context);
    expect(quiet.events.filter((e) => e.type === "planner.delta")).toEqual([]);
  });
});

describe("deltas are transient", () => {
  const agent = defineAgent({
    name: "stream-test",
    description: "Two fixture workers for the streaming tests.",
    planner: { model: "fixture:planner?seed=7&size=tiny", maxTokens: 256 },
    workers: [
      { name: "a", description: "Worker a.", model: "fixture:a?seed=11", maxTokens: 96, output: OUTPUT },
      { name: "b", description: "Worker b.", model: "fixture:b?seed=23", maxTokens: 96, output: OUTPUT },
    ],
    limits: { maxSubtasks: 2, maxParallel: 2, maxReplans: 0 },
    device: { gpu: false, threads: 1 },
    escalation: { retries: 1, to: "planner" },
  });
  const plan = {
    subtasks: [
      { id: "s1", worker: "a", instruction: "Pick a place.", dependsOn: [] },
      { id: "s2", worker: "b", instruction: "Plan days in {{s1.answer.place}}.", dependsOn: ["s1"] },
    ],
  };

  it("a streamed run's live events have each subtask's deltas; its stored events have none, numbered 1..n", async () => {
    const store = new MemoryRunStore();
    const planner = new ScriptedChatModel([JSON.stringify(plan), JSON.stringify({ answer: "done" })]);
    await using crew = await createCrew(agent, {
      planner,
      store,
      fixtureCacheDir: cache.dir,
      seed: 5,
    });
    const run = crew.run("Plan a weekend trip", { stream: true });
    const live: RunEvent[] = [];
    for await (const event of run.events) live.push(event);
    const result = await run.result;
    expect(result.status, JSON.stringify(result)).toBe("completed");

    const liveDeltas = deltasOf(live);
    expect(new Set(liveDeltas.map((d) => d.subtaskId))).toEqual(new Set(["s1", "s2"]));
    // Each subtask's last turn streamed its answer.
    for (const r of result.results) {
      const mine = liveDeltas.filter((d) => d.subtaskId === r.subtaskId);
      const last = Math.max(...mine.map((d) => d.turn));
      const text = mine
        .filter((d) => d.turn === last)
        .map((d) => d.text)
        .join("");
      expect(JSON.parse(text)).toEqual(r.answer);
    }

    const stored = await store.load(run.id);
    expect(stored.events.filter((e) => e.type.endsWith(".delta"))).toEqual([]);
    expect(stored.events.map((e) => e.seq)).toEqual(stored.events.map((_, i) => i + 1));
    // The stored events are the live ones without the deltas.
    expect(stored.events).toEqual(live.filter((e) => !e.type.endsWith(".delta")));
  });

  it("a run without the opt-in streams nothing", async () => {
    const planner = new ScriptedChatModel([JSON.stringify(plan), JSON.stringify({ answer: "done" })]);
    await using crew = await createCrew(agent, {
      planner,
      store: false,
      fixtureCacheDir: cache.dir,
      seed: 5,
    });
    const events: RunEvent[] = [];
    const result = await crew.run("Plan a weekend trip", { onEvent: (e) => events.push(e) }).result;
    expect(result.status).toBe("completed");
    expect(events.filter((e) => e.type.endsWith(".delta"))).toEqual([]);
  });
});

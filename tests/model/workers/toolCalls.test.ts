// Tool calls inside a subtask, on a real fixture model: forced calls validate against non-trivial zod schemas,
// only granted tools can be called, failures come back to the model as data, and an abort during a call ends
// the subtask. The fixture has random weights, so it never *chooses* to call: `toolChoice: required` is what
// makes calls happen here, exactly as it does for small real models that answer instead of calling.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { isAbortError } from "../../../src/errors.js";
import { compileSchema } from "../../../src/schema/compile.js";
import { defineTool, type Tool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { JsonSchema, RunEventInput, WorkerDefinition } from "../../../src/types.js";
import { createLocalWorkers, type LocalWorkersOptions } from "../../../src/workers/LocalWorker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { workerTools } from "../../../src/workers/workerTools.js";
import { fixtureRef, recorder, request, TEST_DEVICE, tempDir, workerDef } from "./helpers.js";

type Called = Extract<RunEventInput, { type: "tool.called" }>;
type Resulted = Extract<RunEventInput, { type: "tool.result" }>;

const OUTPUT: JsonSchema = {
  type: "object",
  properties: {
    summary: { type: "string", maxLength: 24 },
    verdict: { type: "string", enum: ["go", "wait"] },
  },
  required: ["summary", "verdict"],
  additionalProperties: false,
};
const validAnswer = compileSchema(OUTPUT);

const trip = defineTool({
  name: "trip.plan",
  description: "Plans a trip and books it; returns whether it is booked and the total price.",
  input: z.object({
    destination: z.object({
      city: z.string().min(1).max(16),
      country: z.enum(["NO", "SE", "FI", "CH"]),
    }),
    nights: z.int().min(1).max(7),
    activities: z.array(z.enum(["ski", "hike", "spa", "museum"])).max(3),
    budget: z.enum(["low", "mid", "high"]).optional(),
    note: z.string().max(24).optional(),
  }),
  output: z.object({ booked: z.boolean(), total: z.int() }),
  run: async ({ nights }) => ({ booked: true, total: nights * 120 }),
});

const weather = defineTool({
  name: "weather.get",
  description: "The forecast for a city on a day (0 = today … 6), in the given unit.",
  input: z.object({
    city: z.string().min(1).max(16),
    day: z.int().min(0).max(6),
    unit: z.enum(["C", "F"]),
    hourly: z.array(z.int().min(0).max(23)).max(4).optional(),
  }),
  run: async ({ day }) => ({ high: 10 + day, sky: "clear" }),
});

let secretRuns = 0;
const secret = defineTool({
  name: "secret.wipe",
  description: "Wipes the disk. Never granted to the test worker.",
  input: z.object({ confirm: z.boolean() }),
  run: async () => {
    secretRuns++;
    return { wiped: true };
  },
});

const broken = defineTool({
  name: "broken.fetch",
  description: "Fetches a record by id.",
  input: z.object({ id: z.int().min(1).max(9) }),
  run: async () => {
    throw new Error("backend down (HTTP 503)");
  },
});

const lookup = defineTool({
  name: "city.lookup",
  description: "Looks a city up; answers with an error object when the city is unknown.",
  input: z.object({ city: z.string().min(1).max(12) }),
  run: async () => ({ error: "no such city: try another spelling", code: 404 }),
});

let slowStarted: () => void = () => undefined;
const slow = defineTool({
  name: "slow.wait",
  description: "Waits for a long time.",
  input: z.object({ seconds: z.int().min(1).max(5) }),
  timeoutMs: 60_000,
  run: (_args, { signal }) =>
    new Promise<{ done: boolean }>((_resolve, reject) => {
      slowStarted();
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    }),
});

/** A file far bigger than a 4096-token context: its result cannot be shown to the model whole. */
const BIG_TEXT = Array.from({ length: 1500 }, (_, i) => `line ${i}: the quick brown fox`).join("\n");
const bigRead = defineTool({
  name: "file.read",
  description: "Reads a text file.",
  input: z.object({ path: z.enum(["notes.txt"]) }),
  run: async () => ({ text: BIG_TEXT }),
});

const TOOLS: readonly Tool[] = [trip, weather, secret, broken, lookup, slow, bigRead] as readonly Tool[];

let dir: string;
let cleanup: () => Promise<void>;
let manager: ModelManager;
let registry: ToolRegistry;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-tools-"));
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: dir } });
  registry = new ToolRegistry();
  for (const tool of TOOLS) registry.register(tool);
});

afterAll(async () => {
  await manager.dispose();
  await cleanup();
});

function toolWorker(name: string, tools: readonly string[], overrides: Partial<WorkerDefinition> = {}) {
  return workerDef(OUTPUT, {
    name,
    tools,
    toolChoice: "required",
    contextSize: 4096,
    maxTokens: 256,
    ...overrides,
  });
}

function port(workers: readonly WorkerDefinition[], options: Partial<LocalWorkersOptions> = {}) {
  return createLocalWorkers({ manager, workers, tools: registry, retries: 1, ...options });
}

function eventsOf<T extends RunEventInput["type"]>(events: readonly RunEventInput[], type: T) {
  return events.filter((e): e is Extract<RunEventInput, { type: T }> => e.type === type);
}

/** What the model's sequence holds now, as text: the prompt, the calls with their results, and the answer. */
async function sequenceText(): Promise<string> {
  // Every worker here runs on one model with one sequence, so this is the sequence the last subtask used;
  // its tokens stay evaluated until the next subtask trims them back to that worker's prefix.
  const lease = await manager.acquire(fixtureRef(), { contextSize: 4096, sequences: 1 });
  try {
    return lease.model.detokenize(lease.sequence.contextTokens, true);
  } finally {
    lease.release();
  }
}

describe("tool calls on a fixture model", () => {
  it("50 forced calls against nested/enum/range/array/optional zod schemas all validate", async () => {
    const worker = toolWorker("planner", ["trip.plan", "weather.get"]);
    const workers = port([worker], { maxToolCalls: 1 });
    const { events, context } = recorder();
    let callMs = 0;
    const started = performance.now();
    for (let i = 0; i < 50; i++) {
      const outcome = await workers.execute(request(worker, `s${i}`), context);
      expect(outcome).toMatchObject({ ok: true });
      if (outcome.ok) expect(validAnswer.validate(outcome.answer).ok).toBe(true);
      // One tool turn (the forced call), then the answer: usage counts both.
      expect(outcome.usage.length).toBeGreaterThanOrEqual(2);
      callMs += outcome.usage[0]?.durationMs ?? 0;
    }
    const called = eventsOf(events, "tool.called");
    const results = eventsOf(events, "tool.result");
    const valid = results.filter((e) => e.result.ok);
    console.info(
      `[measure] forced calls: ${valid.length}/${called.length} valid (${called.filter((e) => e.tool === "trip.plan").length} trip.plan, ${called.filter((e) => e.tool === "weather.get").length} weather.get); ${Math.round(callMs / called.length)} ms per call turn, ${Math.round((performance.now() - started) / 50)} ms per subtask`,
    );
    expect(called).toHaveLength(50);
    expect(results).toHaveLength(50);
    // The grammar expresses every rule of these schemas, so zod (in the registry) accepts every call.
    expect(valid).toHaveLength(50);
    for (const event of called) {
      const tool = event.tool === "trip.plan" ? trip : weather;
      expect(tool.parseArgs(event.args).ok).toBe(true);
    }
  });

  it("a call to an ungranted tool is impossible: only granted tools are offered, and only they are called", async () => {
    // What node-llama-cpp builds the call grammar from: the name grammar has one alternative per key.
    const offered = workerTools(registry, ["trip.plan"]);
    expect(Object.keys(offered?.functions ?? {})).toEqual(["trip.plan"]);
    expect(offered?.specs.map((spec) => spec.name)).toEqual(["trip.plan"]);

    const worker = toolWorker("granted", ["trip.plan"]);
    const workers = port([worker], { maxToolCalls: 1 });
    const { events, context } = recorder();
    for (let i = 0; i < 20; i++) {
      expect((await workers.execute(request(worker, `g${i}`), context)).ok).toBe(true);
    }
    const called = eventsOf(events, "tool.called");
    expect(called).toHaveLength(20);
    expect(new Set(called.map((e) => e.tool))).toEqual(new Set(["trip.plan"]));
    expect(secretRuns).toBe(0);
    // The model was never even told the other tools exist.
    const seen = await sequenceText();
    expect(seen).toContain("trip.plan");
    expect(seen).not.toContain("secret.wipe");
    expect(seen).not.toContain("weather.get");
  });

  it("a tool that throws comes back to the model as data, and the subtask still answers", async () => {
    const worker = toolWorker("fetcher", ["broken.fetch"]);
    const { events, context } = recorder();
    const outcome = await port([worker]).execute(request(worker), context);
    expect(outcome).toMatchObject({ ok: true });
    if (outcome.ok) expect(validAnswer.validate(outcome.answer).ok).toBe(true);
    const [result] = eventsOf(events, "tool.result") as Resulted[];
    expect(result?.result).toMatchObject({ ok: false, reason: "failed" });
    expect(result?.result.ok === false && result.result.error).toMatch(/backend down \(HTTP 503\)/);
    // The model's context holds the failure as the call's result, before its answer.
    const seen = await sequenceText();
    expect(seen).toMatch(
      /\|\|result: \{"ok": false, "reason": "failed", "error": "`broken\.fetch` failed: backend down/,
    );
    expect(seen.indexOf("backend down")).toBeLessThan(seen.lastIndexOf('"verdict"'));
  });

  it("a tool that returns an error result comes back to the model as data, and the subtask still answers", async () => {
    const worker = toolWorker("looker", ["city.lookup"]);
    const { events, context } = recorder();
    const outcome = await port([worker]).execute(request(worker), context);
    expect(outcome).toMatchObject({ ok: true });
    if (outcome.ok) expect(validAnswer.validate(outcome.answer).ok).toBe(true);
    const [result] = eventsOf(events, "tool.result") as Resulted[];
    expect(result?.result).toEqual({
      ok: true,
      output: { error: "no such city: try another spelling", code: 404 },
    });
    const seen = await sequenceText();
    expect(seen).toContain('"error": "no such city: try another spelling"');
  });

  it("with toolChoice auto each turn may call or answer: every subtask ends with one valid answer", async () => {
    const worker = toolWorker("chooser", ["trip.plan"], { toolChoice: "auto" });
    const workers = port([worker]);
    let answeredWithoutCall = 0;
    for (let i = 0; i < 6; i++) {
      const { events, context } = recorder();
      const outcome = await workers.execute(request(worker, `a${i}`), context);
      expect(outcome).toMatchObject({ ok: true, attempts: 1 });
      if (outcome.ok) expect(validAnswer.validate(outcome.answer).ok).toBe(true);
      // One generation per call, and one for the answer: the answer turn is the turn that did not call.
      const calls = eventsOf(events, "tool.called");
      expect(outcome.usage).toHaveLength(calls.length + 1);
      if (calls.length === 0) answeredWithoutCall++;
    }
    console.info(`[measure] auto: ${answeredWithoutCall}/6 subtasks answered without a call`);
  });

  it("rejects with AbortError when aborted during a tool call, and the sequence is reusable", async () => {
    const worker = toolWorker("waiter", ["slow.wait"]);
    const controller = new AbortController();
    const { events, context } = recorder(controller.signal);
    const inTool = new Promise<void>((resolve) => {
      slowStarted = resolve;
    });
    const running = port([worker]).execute(request(worker), context);
    await inTool;
    const abortedAt = performance.now();
    controller.abort(new Error("user cancelled"));
    const error = await running.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const latency = performance.now() - abortedAt;
    console.info(`[measure] abort during a tool call: rejected after ${Math.round(latency)} ms`);
    expect(isAbortError(error)).toBe(true);
    expect(latency).toBeLessThan(1000);
    expect((eventsOf(events, "tool.called") as Called[]).map((e) => e.tool)).toEqual(["slow.wait"]);
    const next = toolWorker("after", ["trip.plan"]);
    expect((await port([next]).execute(request(next), recorder().context)).ok).toBe(true);
  });

  it("a result bigger than the context holds is cut for the model, said so, and the subtask still answers", async () => {
    const worker = toolWorker("reader", ["file.read"], { maxToolCalls: 3 });
    const { events, context } = recorder();
    const outcome = await port([worker]).execute(request(worker), context);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    if (outcome.ok) expect(validAnswer.validate(outcome.answer).ok).toBe(true);
    // The run's record keeps the whole result; the model saw its beginning and a line saying what was cut.
    const [result] = eventsOf(events, "tool.result");
    expect(result?.result).toEqual({ ok: true, output: { text: BIG_TEXT } });
    const [cut] = eventsOf(events, "tool.shortened");
    expect(cut).toMatchObject({ subtaskId: "s1", tool: "file.read", contextSize: 4096 });
    expect(cut?.shownCharacters).toBeGreaterThan(100);
    expect(cut?.shownCharacters).toBeLessThan(cut?.totalCharacters ?? 0);
    const seen = await sequenceText();
    expect(seen).toContain("line 0: the quick brown fox");
    expect(seen).not.toContain("line 1499:");
    expect(seen).toMatch(
      /"cut": "the result has \d+ characters; this worker's context \(4096 tokens\) holds the first \d+\./,
    );
    // A result at the edge of the context leaves room for the answer, not for another call.
    expect(eventsOf(events, "tool.called")).toHaveLength(1);
  });

  it("refuses at construction a worker whose grants name no tool, or that requires calls without tools", () => {
    expect(() => port([toolWorker("typo", ["trip.plna"])])).toThrow(/no tool `trip\.plna`/);
    expect(() => port([toolWorker("none", [])])).toThrow(/toolChoice: required but is granted no tools/);
    expect(() => createLocalWorkers({ manager, workers: [toolWorker("bare", ["trip.plan"])] })).toThrow(
      /no tool registry was given/,
    );
  });
});

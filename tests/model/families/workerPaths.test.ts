// Every worker path on every family fixture (size tiny), with the product's own code on real llama.cpp: an
// answer under a grammar, a forced tool call, a repair, a local planner and joiner through createCrew, prefix
// reuse, and forced calls whose arguments hold non-ASCII and astral characters. The families' real
// vocabularies (128k–262k tokens) and chat templates are what the toy fixture cannot show: the issue measured
// forced calls failing on them ("Expected at most 1000 characters but got 1002": node-llama-cpp counted UTF-16
// units), which edgecrew's own call syntax, parser and code-point lengths are meant to have ended.
//
// One model manager for the file loads each family once for the worker paths; the crew of path (4) has its
// manager of its own (createCrew makes one), so that family is loaded a second time there. Random weights never
// *choose* to call, so calls are forced (`toolChoice: required`), as small real models need too.
import type { TokenMeter } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { compileSchema } from "../../../src/schema/compile.js";
import { FIXTURE_FAMILIES, type FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type {
  JsonSchema,
  RunEvent,
  RunEventInput,
  SubtaskRequest,
  WorkerDefinition,
  WorkerOutcome,
} from "../../../src/types.js";
import { createLocalWorkers, type LocalWorker } from "../../../src/workers/LocalWorker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { DISTINCT_CODES, recorder, request, TEST_DEVICE, tempDir, workerDef } from "../workers/helpers.js";
import { familyRef } from "./familyHelpers.js";

const CONTEXT_SIZE = 2048;

// (1) A nested object: an object inside an object, a bounded string, an integer range, an enum array.
const NESTED: JsonSchema = {
  type: "object",
  properties: {
    trip: {
      type: "object",
      properties: {
        city: { type: "string", minLength: 1, maxLength: 12 },
        nights: { type: "integer", minimum: 1, maximum: 5 },
        tags: { type: "array", items: { enum: ["ski", "hike", "spa"] }, maxItems: 2 },
      },
      required: ["city", "nights", "tags"],
      additionalProperties: false,
    },
    confirmed: { type: "boolean" },
  },
  required: ["trip", "confirmed"],
  additionalProperties: false,
};

const BOOKED: JsonSchema = {
  type: "object",
  properties: { booked: { type: "boolean" } },
  required: ["booked"],
  additionalProperties: false,
};

// (2) A bounded string, an integer range and an optional field.
let bookRuns = 0;
const book = defineTool({
  name: "trip.book",
  description: "Books a stay in a city; returns whether it is booked.",
  input: z.object({
    city: z.string().min(1).max(16),
    nights: z.int().min(1).max(7),
    note: z.string().max(20).optional(),
  }),
  run: async () => {
    bookRuns++;
    return { booked: true };
  },
});

// (6) A bounded string long enough that a random-weight model writes non-ASCII and astral characters in it. Random
// weights fill a string to its maxLength, so a call with an astral character is longer than maxLength in UTF-16
// units: what node-llama-cpp's check refused. maxTokens leaves the grammar room for all 160 characters (a
// multi-character token writes several at once: about 65 tokens). The worker samples at temperature 1.5, which
// spreads random weights over more of the vocabulary, so that rare tokens — the astral ones among them — come
// up. Llama 3's vocabulary spells astral characters in byte pieces only, which the fixtures' byte ban forbids, so
// its calls hold none; Qwen's and Gemma's vocabularies have whole astral tokens.
const NOTE_LENGTH = 160;
const NOTE_CALLS = ["n1", "n2", "n3", "n4", "n5"];
let noteRuns = 0;
const note = defineTool({
  name: "note.write",
  description: "Writes a note for the traveller.",
  input: z.object({ text: z.string().min(1).max(NOTE_LENGTH) }),
  run: async ({ text }) => {
    noteRuns++;
    return { saved: [...text].length };
  },
});

// (3) `uniqueItems` is the validator's alone (DISTINCT_CODES): answers that need a repair.

function workersFor(family: FixtureFamily): Record<string, WorkerDefinition> {
  const model = familyRef(family);
  const base = { model, contextSize: CONTEXT_SIZE, temperature: 0.8 };
  return {
    answer: workerDef(NESTED, { ...base, name: "answerer", maxTokens: 160 }),
    booker: workerDef(BOOKED, {
      ...base,
      name: "booker",
      system: "You book stays.",
      tools: ["trip.book"],
      toolChoice: "required",
      maxToolCalls: 1,
      maxTokens: 96,
    }),
    repair: workerDef(DISTINCT_CODES, { ...base, name: "repairer", maxTokens: 48 }),
    reuse: workerDef(BOOKED, {
      ...base,
      name: "reuser",
      system: "You check bookings for mountain trips and say whether each one is complete and safe to take.",
      maxTokens: 32,
    }),
    noter: workerDef(BOOKED, {
      ...base,
      name: "noter",
      system: "You write notes.",
      tools: ["note.write"],
      toolChoice: "required",
      maxToolCalls: 1,
      maxTokens: 400,
      temperature: 1.5,
    }),
  };
}

function eventsOf<T extends RunEventInput["type"]>(events: readonly RunEventInput[], type: T) {
  return events.filter((e): e is Extract<RunEventInput, { type: T }> => e.type === type);
}

function step(worker: WorkerDefinition, id: string, instruction: string): SubtaskRequest {
  const base = request(worker, id);
  return { ...base, subtask: { ...base.subtask, instruction } };
}

const astral = (text: string) => [...text].some((char) => (char.codePointAt(0) as number) > 0xffff);
const nonAscii = (text: string) => [...text].some((char) => (char.codePointAt(0) as number) > 0x7f);

/** Forced calls across all families: how many there were, and how many held astral / non-ASCII text. */
const notes = { calls: 0, astral: 0, nonAscii: 0, overUtf16: 0 };

let dir: string;
let cleanup: () => Promise<void>;
let manager: ModelManager;
let registry: ToolRegistry;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-family-paths-"));
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: dir } });
  registry = new ToolRegistry().register(book).register(note);
});

afterAll(async () => {
  await manager?.dispose();
  await cleanup?.();
});

describe.each(FIXTURE_FAMILIES)("family fixture %s (tiny): every worker path", (family) => {
  const workers = workersFor(family);
  let port: LocalWorker;
  let meter: TokenMeter;

  beforeAll(async () => {
    port = createLocalWorkers({ manager, workers: Object.values(workers), tools: registry, retries: 1 });
    // parallel 1 everywhere: every subtask of this family runs on this one sequence.
    const started = performance.now();
    const lease = await manager.acquire(familyRef(family), { contextSize: CONTEXT_SIZE, sequences: 1 });
    meter = lease.sequence.tokenMeter;
    lease.release();
    console.info(
      `[measure] ${family}: fixture written and loaded in ${Math.round(performance.now() - started)} ms`,
    );
  });

  afterAll(async () => {
    await port?.dispose();
  });

  it("(1) answers under the grammar of a nested object schema, valid", async () => {
    const worker = workers.answer as WorkerDefinition;
    const valid = compileSchema(worker.output);
    for (const id of ["a1", "a2"]) {
      const outcome = await port.execute(request(worker, id), recorder().context);
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
      if (outcome.ok) expect(valid.validate(outcome.answer).ok, JSON.stringify(outcome.answer)).toBe(true);
    }
  });

  it("(2) makes the forced tool call in every subtask, with arguments the tool's schema accepts", async () => {
    const worker = workers.booker as WorkerDefinition;
    const { events, context } = recorder();
    const runsBefore = bookRuns;
    const ids = ["b1", "b2", "b3"];
    for (const id of ids) {
      const outcome = await port.execute(request(worker, id), context);
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    }
    const called = eventsOf(events, "tool.called");
    const results = eventsOf(events, "tool.result");
    expect(called.map((e) => e.subtaskId)).toEqual(ids);
    for (const event of called) {
      expect(event.tool).toBe("trip.book");
      expect(book.parseArgs(event.args).ok, JSON.stringify(event.args)).toBe(true);
    }
    expect(results.map((e) => e.result.ok)).toEqual([true, true, true]);
    expect(bookRuns - runsBefore).toBe(ids.length);
  });

  it("(3) repairs answers the validator rejects, and reports every failure as invalid-output", async () => {
    const worker = workers.repair as WorkerDefinition;
    const valid = compileSchema(worker.output);
    const { events, context } = recorder();
    const outcomes: WorkerOutcome[] = [];
    for (const id of ["r1", "r2", "r3"]) outcomes.push(await port.execute(request(worker, id), context));
    const repairs = eventsOf(events, "subtask.repairing");
    console.info(
      `[measure] ${family}: repair: ${repairs.length} repair turns in 3 subtasks, ${outcomes.filter((o) => o.ok).length} answered validly, ${outcomes.filter((o) => !o.ok).length} invalid-output; rejected: ${repairs.map((r) => r.errors.join(" ")).join(" | ")}`,
    );
    expect(repairs.length).toBeGreaterThan(0);
    for (const repair of repairs) expect(repair.errors.join("\n")).toMatch(/^codes: /m);
    for (const outcome of outcomes) {
      if (outcome.ok) {
        expect(valid.validate(outcome.answer).ok).toBe(true);
      } else {
        expect(outcome.reason, outcome.errors.join("; ")).toBe("invalid-output");
        expect(outcome.attempts).toBe(2);
        expect(outcome.errors.join("\n")).toMatch(/^codes: /m);
      }
    }
  });

  it("(4) completes a run with a local planner and joiner on the family and one worker on it", async () => {
    const model = familyRef(family).raw;
    const agent = defineAgent({
      name: "family-crew",
      description: "A local planner and one worker on one family fixture.",
      planner: { model, maxTokens: 256, temperature: 0.8 },
      workers: [
        {
          name: "checker",
          description: "Checks one part of a trip and notes what is missing.",
          model,
          maxTokens: 48,
          output: {
            type: "object",
            properties: { missing: { type: "string", maxLength: 16 } },
            required: ["missing"],
            additionalProperties: false,
          },
        },
      ],
      limits: {
        maxSubtasks: 1,
        maxParallel: 1,
        maxReplans: 0,
        timeoutSeconds: 240,
        subtaskTimeoutSeconds: 60,
      },
      device: { gpu: false, threads: 1 },
      escalation: { retries: 1, to: "planner" },
    });
    const crew = await createCrew(agent, { fixtureCacheDir: dir, store: false });
    try {
      const events: RunEvent[] = [];
      const started = performance.now();
      const result = await crew.run("Plan a weekend in the mountains", { onEvent: (e) => events.push(e) })
        .result;
      console.info(
        `[measure] ${family}: local planner run ${result.status} in ${Math.round(performance.now() - started)} ms: ${result.plan?.subtasks.length ?? 0} subtasks, ${events.filter((e) => e.type === "plan.rejected").length} plans rejected, ${events.filter((e) => e.type === "subtask.escalated").length} escalated`,
      );
      expect(result.error, result.error?.message).toBeUndefined();
      expect(result.status).toBe("completed");
      expect(typeof result.answer).toBe("string");
      expect(result.results.length).toBeGreaterThan(0);
      // Planned, answered and joined locally, by the family fixture.
      expect(result.ledger.remote).toEqual({ promptTokens: 0, completionTokens: 0 });
      expect(result.ledger.models.map((m) => m.model)).toEqual([model]);
    } finally {
      await crew.dispose();
    }
  });

  it("(5) evaluates fewer prompt tokens for a worker's second subtask on the sequence than for its first", async () => {
    const worker = workers.reuse as WorkerDefinition;
    const measure = async (subtask: SubtaskRequest) => {
      const before = meter.usedInputTokens;
      const outcome = await port.execute(subtask, recorder().context);
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
      return { evaluated: meter.usedInputTokens - before, prompt: outcome.usage[0]?.promptTokens ?? 0 };
    };
    const first = await measure(step(worker, "p1", "Check the booking for Chamonix."));
    const second = await measure(step(worker, "p2", "Check the booking for Zermatt and its train."));
    console.info(
      `[measure] ${family}: prefix reuse: evaluated/prompt tokens first ${first.evaluated}/${first.prompt}, second ${second.evaluated}/${second.prompt}`,
    );
    expect(second.evaluated).toBeLessThan(first.evaluated);
    expect(second.evaluated).toBeLessThan(second.prompt);
  });

  it("(6) forced calls with long strings: non-ASCII and astral characters pass the tool's schema and run", async () => {
    const worker = workers.noter as WorkerDefinition;
    const { events, context } = recorder();
    const runsBefore = noteRuns;
    const ids = NOTE_CALLS;
    for (const id of ids) {
      const outcome = await port.execute(request(worker, id), context);
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    }
    const called = eventsOf(events, "tool.called");
    const results = eventsOf(events, "tool.result");
    expect(called.map((e) => e.subtaskId)).toEqual(ids);
    const texts = called.map((e) => String((e.args as { text?: unknown }).text));
    for (const event of called) expect(note.parseArgs(event.args).ok, JSON.stringify(event.args)).toBe(true);
    expect(results.map((e) => (e.result.ok ? "ok" : JSON.stringify(e.result)))).toEqual(ids.map(() => "ok"));
    expect(noteRuns - runsBefore).toBe(ids.length);
    const withAstral = texts.filter(astral).length;
    const withNonAscii = texts.filter(nonAscii).length;
    // What node-llama-cpp's check refused: more UTF-16 units than maxLength, in a string within it.
    const overUtf16 = texts.filter((text) => text.length > NOTE_LENGTH).length;
    notes.calls += texts.length;
    notes.astral += withAstral;
    notes.nonAscii += withNonAscii;
    notes.overUtf16 += overUtf16;
    console.info(
      `[measure] ${family}: ${texts.length} note calls, ${withNonAscii} with non-ASCII, ${withAstral} with astral characters, ${overUtf16} over ${NOTE_LENGTH} UTF-16 units; lengths ${texts.map((t) => `${[...t].length} code points / ${t.length} UTF-16 units`).join(", ")}`,
    );
  });
});

describe("across the families", () => {
  it("(6) the forced calls held astral characters", () => {
    console.info(
      `[measure] note calls across families: ${notes.calls}, ${notes.nonAscii} with non-ASCII, ${notes.astral} with astral characters, ${notes.overUtf16} longer than ${NOTE_LENGTH} in UTF-16 units (all passed)`,
    );
    expect(notes.calls).toBe(FIXTURE_FAMILIES.length * NOTE_CALLS.length);
    expect(notes.nonAscii).toBeGreaterThan(0);
    expect(notes.astral).toBeGreaterThan(0);
  });
});

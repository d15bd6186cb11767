import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { isAbortError, isDisposedError } from "../../../src/errors.js";
import { compileSchema } from "../../../src/schema/compile.js";
import { fixtureGgufDocument } from "../../../src/testing/fixtureModel.js";
import { writeGgufFile } from "../../../src/testing/gguf/ggufWriter.js";
import type { JsonSchema, RunEventInput, WorkerOutcome } from "../../../src/types.js";
import { createLocalWorkers, type LocalWorker } from "../../../src/workers/LocalWorker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import {
  DISTINCT_CODES,
  fileRef,
  fixtureRef,
  recorder,
  request,
  TEST_DEVICE,
  tempDir,
  workerDef,
} from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
let manager: ModelManager;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: dir } });
});

afterAll(async () => {
  await manager.dispose();
  await cleanup();
});

function workers(
  options: Partial<Parameters<typeof createLocalWorkers>[0]> & {
    workers: Parameters<typeof createLocalWorkers>[0]["workers"];
  },
): LocalWorker {
  return createLocalWorkers({ manager, retries: 1, ...options });
}

const SCHEMAS: Record<string, JsonSchema> = {
  "nested object": {
    type: "object",
    properties: {
      trip: {
        type: "object",
        properties: {
          city: { type: "string", maxLength: 20 },
          nights: { type: "integer", minimum: 1, maximum: 5 },
        },
        required: ["city", "nights"],
      },
      confirmed: { type: "boolean" },
    },
    required: ["trip", "confirmed"],
  },
  enum: {
    type: "object",
    properties: { mode: { type: "string", enum: ["car", "train", "bus"] } },
    required: ["mode"],
    additionalProperties: false,
  },
  "array with min/maxItems": {
    type: "object",
    properties: {
      items: { type: "array", items: { type: "string", maxLength: 10 }, minItems: 2, maxItems: 4 },
    },
    required: ["items"],
  },
  "nullable via anyOf (zod .nullable())": z.toJSONSchema(
    z.object({ note: z.string().max(12).nullable(), count: z.int().min(0).max(3).nullable() }),
  ) as JsonSchema,
  "integer range": {
    type: "object",
    properties: { day: { type: "integer", minimum: 1, maximum: 7 } },
    required: ["day"],
  },
};

// minLength forces about 1700 tokens: a second or more of generation on one thread. The worst case (every
// character written as a two-character escape) still fits maxTokens 3600.
const LONG: JsonSchema = {
  type: "object",
  properties: {
    a: { type: "string", minLength: 1000, maxLength: 1000 },
    b: { type: "string", minLength: 700, maxLength: 700 },
  },
  required: ["a", "b"],
};

describe("LocalWorker on a fixture model", () => {
  for (const [name, output] of Object.entries(SCHEMAS)) {
    it(`returns schema-valid answers: ${name} (10/10)`, async () => {
      const worker = workerDef(output, { maxTokens: 160 });
      const port = workers({ workers: [worker] });
      const validator = compileSchema(output);
      const outcomes: WorkerOutcome[] = [];
      for (let i = 0; i < 10; i++)
        outcomes.push(await port.execute(request(worker, `s${i}`), recorder().context));
      const valid = outcomes.filter((o) => o.ok && validator.validate(o.answer).ok);
      const tokens = outcomes.flatMap((o) => o.usage).reduce((sum, u) => sum + u.completionTokens, 0);
      const ms = outcomes.flatMap((o) => o.usage).reduce((sum, u) => sum + u.durationMs, 0);
      console.info(
        `[measure] ${name}: ${valid.length}/10 valid, ${Math.round((tokens / ms) * 1000)} completion tok/s (incl. prompt)`,
      );
      expect(valid.length).toBe(10);
      for (const outcome of outcomes) {
        expect(outcome.usage[0]).toMatchObject({ model: "fixture:tiny?seed=1", locality: "local" });
        expect(outcome.usage[0]?.promptTokens).toBeGreaterThan(20);
        expect(outcome.usage[0]?.completionTokens).toBeGreaterThan(0);
      }
    });
  }

  it("passes the dependencies' answers into the prompt (more prompt tokens)", async () => {
    const worker = workerDef(SCHEMAS.enum as JsonSchema, { name: "deps", maxTokens: 40 });
    const port = workers({ workers: [worker] });
    const without = await port.execute(request(worker), recorder().context);
    const withDeps = await port.execute(
      request(worker, "s2", { s1: { city: "Chamonix", nights: 2, notes: ["bring boots", "book early"] } }),
      recorder().context,
    );
    expect(withDeps.usage[0]?.promptTokens).toBeGreaterThan((without.usage[0]?.promptTokens ?? 0) + 20);
  });

  it("repairs when the validator rejects what the grammar allowed, then reports invalid-output with the errors", async () => {
    const output = DISTINCT_CODES;
    const worker = workerDef(output, { name: "repair", maxTokens: 60 });
    const port = workers({ workers: [worker], retries: 2 });
    // A random first answer is distinct about one time in eleven, and then there is nothing to repair: up to
    // three subtasks, until one needs a repair (all three valid at once: about 1 in 1,200).
    let { events, context } = recorder();
    let outcome = await port.execute(request(worker), context);
    for (let tries = 1; tries < 3 && outcome.ok && outcome.attempts === 1; tries++) {
      ({ events, context } = recorder());
      outcome = await port.execute(request(worker, `s${tries + 1}`), context);
    }
    const repairs = events.filter(
      (e): e is Extract<RunEventInput, { type: "subtask.repairing" }> => e.type === "subtask.repairing",
    );
    if (outcome.ok) {
      expect(outcome.attempts).toBeGreaterThan(1);
      expect(repairs.length).toBe(outcome.attempts - 1);
    } else {
      expect(outcome.reason).toBe("invalid-output");
      expect(outcome.attempts).toBe(3);
      expect(outcome.errors.join("\n")).toMatch(/^codes: /m);
      expect(repairs).toHaveLength(2);
      expect(outcome.usage).toHaveLength(3);
    }
    expect(outcome.ok && outcome.attempts === 1, "three first answers valid in a row").toBe(false);
    expect(repairs[0]).toMatchObject({ type: "subtask.repairing", attempt: 2 });
    expect(repairs[0]?.errors[0]).toMatch(/^codes: /);
    // The repair turn continues the conversation: the prompt tokens it evaluates are the new turn only.
    const [first, second] = outcome.usage;
    expect(second?.promptTokens).toBeLessThan(first?.promptTokens ?? 0);
  });

  it("rejects with AbortError within 1 s of an abort mid-generation, and the sequence is reusable", async () => {
    // A model of its own: the context of a loaded model keeps the size it was created with (1024 in other tests).
    const model = fixtureRef(21);
    const worker = workerDef(LONG, { name: "abort", model, contextSize: 4096, maxTokens: 3600 });
    const port = workers({ workers: [worker] });
    await port.execute(
      request(workerDef(SCHEMAS.enum as JsonSchema, { name: "abort", model })),
      recorder().context,
    );
    // Built ahead, so the abort lands in generation, not in grammar compilation.
    await manager.turnGrammar({ answer: LONG, maxTokens: worker.maxTokens });
    const controller = new AbortController();
    const running = port.execute(request(worker), recorder(controller.signal).context);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The subtask holds its sequence: it is generating.
    expect(manager.residentModels().find((m) => m.model === "fixture:tiny?seed=21")?.busySequences).toBe(1);
    const abortedAt = performance.now();
    controller.abort(new Error("user cancelled"));
    const error = await running.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const latency = performance.now() - abortedAt;
    console.info(`[measure] abort latency ${Math.round(latency)} ms`);
    expect(isAbortError(error)).toBe(true);
    expect(latency).toBeLessThan(1000);
    // parallel: 1, so the next subtask gets the very sequence that was aborted.
    const next = await port.execute(
      request(workerDef(SCHEMAS["integer range"] as JsonSchema, { name: "abort", model })),
      recorder().context,
    );
    expect(next.ok).toBe(true);
  });

  it("rejects at once with AbortError when the signal is already aborted", async () => {
    const worker = workerDef(SCHEMAS.enum as JsonSchema);
    const port = workers({ workers: [worker] });
    await expect(port.execute(request(worker), recorder(AbortSignal.abort()).context)).rejects.toMatchObject({
      code: "ABORTED",
    });
  });

  it("a prompt that cannot fit the context with maxTokens is a model-failed outcome with the numbers", async () => {
    const worker = workerDef(SCHEMAS.enum as JsonSchema, {
      name: "long-prompt",
      system: "Follow these rules. ".repeat(60),
      contextSize: 1024,
      maxTokens: 512,
    });
    const outcome = await workers({ workers: [worker] }).execute(request(worker), recorder().context);
    expect(outcome).toMatchObject({ ok: false, reason: "model-failed", attempts: 0 });
    expect(outcome.ok ? "" : outcome.errors.join("\n")).toMatch(
      /^CONTEXT_TOO_SMALL: worker `long-prompt`: its prompt \(\d+ tokens: .*\) and maxTokens 512 do not fit its context of 1024 tokens/,
    );
  });

  it("turns a subtask timeout into a model-failed outcome", async () => {
    const worker = workerDef(LONG, {
      name: "slow",
      model: fixtureRef(22),
      contextSize: 4096,
      maxTokens: 3600,
    });
    const port = workers({ workers: [worker], subtaskTimeoutMs: 300 });
    const outcome = await port.execute(request(worker), recorder().context);
    expect(outcome).toMatchObject({ ok: false, reason: "model-failed" });
    expect(outcome.ok ? [] : outcome.errors).toEqual([expect.stringMatching(/timed out after 300 ms/)]);
  });

  it("runs `parallel` subtasks of one model at once on separate sequences", async () => {
    const worker = workerDef(SCHEMAS["integer range"] as JsonSchema, {
      name: "par",
      model: { kind: "fixture", raw: "fixture:tiny?seed=2", name: "fixture", seed: 2, size: "tiny" },
      parallel: 2,
    });
    const port = workers({ workers: [worker] });
    const outcomes = await Promise.all([
      port.execute(request(worker, "a"), recorder().context),
      port.execute(request(worker, "b"), recorder().context),
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const resident = manager.residentModels().find((m) => m.model === "fixture:tiny?seed=2");
    expect(resident).toMatchObject({ sequences: 2, busySequences: 0 });
  });
});

describe("LocalWorker model lifecycle", () => {
  it("emits model.loading and model.loaded on the call that loads the model, with loadMs", async () => {
    const own = createLocalWorkers({
      workers: [workerDef(SCHEMAS.enum as JsonSchema, { name: "fresh" })],
      device: TEST_DEVICE,
      managerOptions: { resolve: { fixtureCacheDir: dir } },
    });
    const worker = workerDef(SCHEMAS.enum as JsonSchema, { name: "fresh" });
    expect(own.isResident("fresh")).toBe(false);
    const first = recorder();
    const started = performance.now();
    const outcome = await own.execute(request(worker), first.context);
    const firstMs = performance.now() - started;
    const loading = first.events.find((e) => e.type === "model.loading");
    const loaded = first.events.find((e) => e.type === "model.loaded") as Extract<
      RunEventInput,
      { type: "model.loaded" }
    >;
    expect(loading).toMatchObject({ model: "fixture:tiny?seed=1" });
    expect(loaded).toMatchObject({ model: "fixture:tiny?seed=1" });
    expect(loaded.ms).toBeGreaterThan(0);
    expect(loaded.bytes).toBeGreaterThan(500_000);
    expect(outcome.usage[0]?.loadMs).toBe(loaded.ms);
    expect(own.isResident("fresh")).toBe(true);
    expect(own.isResident("unknown")).toBe(false);
    console.info(
      `[measure] first subtask incl. llama.cpp start ${Math.round(firstMs)} ms; model load ${loaded.ms} ms, ${loaded.bytes} bytes`,
    );

    const second = recorder();
    const again = await own.execute(request(worker), second.context);
    expect(second.events.filter((e) => e.type.startsWith("model."))).toEqual([]);
    expect(again.usage[0]?.loadMs).toBe(0);
    await own.dispose();
  });

  it("returns model-failed (not a crash) for corrupt, truncated or incomplete models", async () => {
    const text = join(dir, "text.gguf");
    await writeFile(text, "not a model at all, just text\n".repeat(10));
    const half = join(dir, "half.gguf");
    const valid = join(dir, "valid.gguf");
    await writeGgufFile(valid, fixtureGgufDocument({ name: "v", seed: 3, size: "tiny" }));
    await writeFile(half, await readFile(valid));
    await truncate(half, 200_000);
    const noFfn = join(dir, "no-ffn.gguf");
    const document = fixtureGgufDocument({ name: "n", seed: 3, size: "tiny" });
    await writeGgufFile(noFfn, {
      ...document,
      metadata: document.metadata.filter(([key]) => key !== "llama.feed_forward_length"),
    });
    const cases: Array<[string, RegExp]> = [
      [text, /^MODEL_INVALID: .*not a GGUF/],
      [half, /^MODEL_INVALID: .*truncated/],
      [noFfn, /^MODEL_INVALID: .*llama\.feed_forward_length/],
      [join(dir, "missing.gguf"), /^MODEL_NOT_FOUND: /],
    ];
    for (const [path, message] of cases) {
      const worker = workerDef(SCHEMAS.enum as JsonSchema, { name: "bad", model: fileRef(path) });
      const port = workers({ workers: [worker] });
      const outcome = await port.execute(request(worker), recorder().context);
      expect(outcome).toMatchObject({ ok: false, reason: "model-failed", attempts: 0 });
      expect(outcome.ok ? [] : outcome.errors).toEqual([expect.stringMatching(message)]);
      expect(port.isResident("bad")).toBe(false);
    }
  });

  it("dispose() is idempotent and use after dispose throws DisposedError", async () => {
    const worker = workerDef(SCHEMAS.enum as JsonSchema, { name: "d" });
    const own = createLocalWorkers({
      workers: [worker],
      device: TEST_DEVICE,
      managerOptions: { resolve: { fixtureCacheDir: dir } },
    });
    expect((await own.execute(request(worker), recorder().context)).ok).toBe(true);
    const unloaded: RunEventInput[] = [];
    await Promise.all([own.dispose(), own.dispose()]);
    await own[Symbol.asyncDispose]();
    expect(own.manager.disposed).toBe(true);
    expect(own.isResident("d")).toBe(false);
    const error = await own.execute(request(worker), recorder().context).catch((e: unknown) => e);
    expect(isDisposedError(error)).toBe(true);
    expect(unloaded).toEqual([]);
    // A shared manager is not disposed by the workers that use it.
    const shared = workers({ workers: [worker] });
    await shared.dispose();
    expect(manager.disposed).toBe(false);
  });
});

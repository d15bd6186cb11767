import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAbortError, isDisposedError, isModelError } from "../../../src/errors.js";
import { createFixtureModel } from "../../../src/testing/fixtureModel.js";
import type { RunEventInput } from "../../../src/types.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { resolveModelPath } from "../../../src/workers/resolveModel.js";
import { fileRef, fixtureRef, TEST_DEVICE, tempDir } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-manager-"));
});

afterAll(async () => {
  await cleanup();
});

function newManager(events: RunEventInput[] = []): ModelManager {
  return new ModelManager({
    device: TEST_DEVICE,
    resolve: { fixtureCacheDir: dir },
    onEvent: (event) => events.push(event),
  });
}

describe("ModelManager", () => {
  it("loads once, hands out sequences, waits abortably when all are busy, and reuses released ones", async () => {
    const events: RunEventInput[] = [];
    await using manager = newManager(events);
    const ref = fixtureRef(5);
    manager.declare(ref, { contextSize: 512, sequences: 2 });
    const [a, b] = await Promise.all([manager.acquire(ref), manager.acquire(ref)]);
    expect(events.filter((e) => e.type === "model.loading")).toHaveLength(1);
    expect(a?.sequence).not.toBe(b?.sequence);
    expect(a.loadMs + b.loadMs).toBeGreaterThan(0);
    expect(manager.residentModels()).toEqual([
      expect.objectContaining({ model: ref.raw, sequences: 2, busySequences: 2 }),
    ]);

    // Both busy: a third acquire waits; aborting the wait rejects at once.
    const controller = new AbortController();
    const waiting = manager.acquire(ref, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    const error = await waiting.catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);

    // A waiter is served by the next release, with the released sequence.
    const next = manager.acquire(ref);
    a.release();
    a.release(); // idempotent
    const c = await next;
    expect(c.sequence).toBe(a.sequence);
    expect(c.loadMs).toBe(0);
    c.release();
    b.release();
    expect(manager.residentModels()[0]?.busySequences).toBe(0);
  });

  it("unloads a model on request (model.unloaded) and loads it again on the next acquire", async () => {
    const events: RunEventInput[] = [];
    await using manager = newManager(events);
    const ref = fixtureRef(6);
    const lease = await manager.acquire(ref, { contextSize: 256 });
    expect(manager.isResident(ref)).toBe(true);
    const unloading = manager.unload(ref);
    // The unload waits for the borrowed sequence.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events.some((e) => e.type === "model.unloaded")).toBe(false);
    lease.release();
    await unloading;
    expect(manager.isResident(ref)).toBe(false);
    expect(events.filter((e) => e.type === "model.unloaded")).toEqual([
      expect.objectContaining({ model: ref.raw, bytes: expect.any(Number) }),
    ]);
    const again = await manager.acquire(ref, { contextSize: 256 });
    expect(again.loadMs).toBeGreaterThan(0);
    again.release();
    await manager.unload(fixtureRef(99)); // not loaded: nothing to do
  });

  it("sends model events to onEvent only, when given, and otherwise to the acquiring caller's emit", async () => {
    const managerEvents: RunEventInput[] = [];
    const callerEvents: RunEventInput[] = [];
    await using withListener = newManager(managerEvents);
    (
      await withListener.acquire(fixtureRef(13), { contextSize: 64, emit: (e) => callerEvents.push(e) })
    ).release();
    expect(managerEvents.map((e) => e.type)).toEqual(["model.loading", "model.loaded"]);
    expect(callerEvents).toEqual([]);
    await using withoutListener = new ModelManager({
      device: TEST_DEVICE,
      resolve: { fixtureCacheDir: dir },
    });
    (
      await withoutListener.acquire(fixtureRef(13), { contextSize: 64, emit: (e) => callerEvents.push(e) })
    ).release();
    expect(callerEvents.map((e) => e.type)).toEqual(["model.loading", "model.loaded"]);
  });

  it("reports load failures as ModelError and keeps working for other models", async () => {
    await using manager = newManager();
    const text = join(dir, "bogus.gguf");
    await writeFile(text, "definitely not GGUF".repeat(10));
    const error = await manager.acquire(fileRef(text)).catch((e: unknown) => e);
    expect(isModelError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("MODEL_INVALID");
    expect(manager.isResident(fileRef(text))).toBe(false);
    const lease = await manager.acquire(fixtureRef(5), { contextSize: 256 });
    lease.release();
  });

  it("reports a context that cannot be created as MODEL_LOAD_FAILED, with the model disposed in bounded time", async () => {
    // llama.cpp refuses more than 256 sequences per context: lifting edgecrew's cap makes createContext fail.
    await using manager = new ModelManager({
      device: TEST_DEVICE,
      resolve: { fixtureCacheDir: dir },
      maxSequences: 100_000,
    });
    const started = performance.now();
    const error = await manager
      .acquire(fixtureRef(12), { contextSize: 64, sequences: 1000 })
      .catch((e: unknown) => e);
    expect(isModelError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("MODEL_LOAD_FAILED");
    expect((error as Error).message).toMatch(/could not create a context/);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(manager.isResident(fixtureRef(12))).toBe(false);
  });

  it("caps sequences at llama.cpp's limit instead of failing", async () => {
    await using manager = newManager();
    const lease = await manager.acquire(fixtureRef(5), { contextSize: 64, sequences: 100_000 });
    expect(manager.residentModels()[0]?.sequences).toBe(256);
    lease.release();
  });

  it("builds turn grammars (cached), even past llama.cpp's repetition limits", async () => {
    await using manager = newManager();
    const huge = {
      type: "object",
      properties: {
        text: { type: "string", maxLength: 100_000 },
        list: { type: "array", items: { type: "integer" }, maxItems: 100_000 },
      },
    };
    const spec = { answer: huge, maxTokens: 30_000, caps: { stringMax: 5000, arrayMax: 1500 } };
    const grammar = await manager.turnGrammar(spec);
    expect(await manager.turnGrammar({ ...spec })).toBe(grammar);
    expect(grammar.turn.maxTokens).toBeLessThanOrEqual(30_000);
    await expect(
      manager.turnGrammar({ answer: { type: "string", minLength: 50 }, maxTokens: 64 }),
    ).rejects.toMatchObject({
      code: "TOKEN_BUDGET_EXCEEDED",
    });
    await expect(
      manager.turnGrammar({
        answer: { type: "object", properties: { a: false }, required: ["a"] },
        maxTokens: 64,
      }),
    ).rejects.toMatchObject({ code: "SCHEMA_INVALID" });
  });

  it("dispose() is idempotent, bounded, unloads models and rejects waiters; use after dispose throws", async () => {
    const events: RunEventInput[] = [];
    const manager = newManager(events);
    const ref = fixtureRef(7);
    const lease = await manager.acquire(ref, { contextSize: 256, sequences: 1 });
    const waiting = manager.acquire(ref).catch((e: unknown) => e);
    const started = performance.now();
    await Promise.all([manager.dispose(), manager.dispose()]);
    await manager[Symbol.asyncDispose]();
    expect(performance.now() - started).toBeLessThan(5000);
    expect(isDisposedError(await waiting)).toBe(true);
    expect(events.filter((e) => e.type === "model.unloaded")).toHaveLength(1);
    lease.release(); // releasing after dispose is harmless
    expect(manager.isResident(ref)).toBe(false);
    await expect(manager.acquire(ref)).rejects.toMatchObject({ code: "DISPOSED" });
    expect(() => manager.declare(ref, { contextSize: 1, sequences: 1 })).toThrow(/dispose/);
  });
});

describe("resolveModelPath", () => {
  it("resolves file refs against a base directory", async () => {
    expect(await resolveModelPath(fileRef("m.gguf"), { baseDir: "/models" })).toBe("/models/m.gguf");
    expect(await resolveModelPath(fileRef("/abs/m.gguf"))).toBe("/abs/m.gguf");
  });

  it("generates fixture refs into the cache", async () => {
    const path = await resolveModelPath(fixtureRef(8), { fixtureCacheDir: dir });
    expect(path).toBe(join(dir, "fixture-tiny-s8.gguf"));
  });

  it("resolves an hf: model already in the models directory without the network", async () => {
    await createFixtureModel({ seed: 9, path: join(dir, "hf_someone_tiny-model_model.gguf") });
    const path = await resolveModelPath(
      { kind: "hf", raw: "hf:someone/tiny-model/model.gguf", uri: "hf:someone/tiny-model/model.gguf" },
      { modelsDir: dir, download: false },
    );
    expect(path).toBe(join(dir, "hf_someone_tiny-model_model.gguf"));
  });

  it("fails fast with MODEL_NOT_FOUND for a missing hf: model when downloads are off or impossible", async () => {
    const ref = {
      kind: "hf",
      raw: "hf:nobody/missing-GGUF:Q4_K_M",
      uri: "hf:nobody/missing-GGUF:Q4_K_M",
    } as const;
    await expect(resolveModelPath(ref, { modelsDir: dir, download: false })).rejects.toMatchObject({
      code: "MODEL_NOT_FOUND",
    });
    // With downloads on and no network (or no such repo), a typed error still comes within the stall timeout.
    const started = performance.now();
    const error = await resolveModelPath(
      { kind: "hf", raw: "hf:nobody/missing/file.gguf", uri: "hf:nobody/missing/file.gguf" },
      { modelsDir: dir, stallTimeoutMs: 1500 },
    ).catch((e: unknown) => e);
    expect(isModelError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("MODEL_NOT_FOUND");
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("honours an abort while downloading", async () => {
    const controller = new AbortController();
    const pending = resolveModelPath(
      { kind: "hf", raw: "hf:nobody/other/file.gguf", uri: "hf:nobody/other/file.gguf" },
      { modelsDir: dir, stallTimeoutMs: 10_000, signal: controller.signal },
    ).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const error = await pending;
    // Either the abort or (without a network) a fast MODEL_NOT_FOUND, never a hang.
    expect(isAbortError(error) || isModelError(error)).toBe(true);
  });
});

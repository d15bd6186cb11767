/**
 * Issue 16, "two workers may share one base model with different adapters" (model tier): two entries of the
 * model manager on one fixture model file with two fixture LoRA adapters load the weights once (one LlamaModel,
 * one resident base with two users), sample different tokens with the same seed, are estimated as the weights
 * once plus two contexts plus the adapters, fit a budget only that sharing fits, and free the weights with the
 * last of them.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFixtureLora } from "../../../src/testing/fixtureLora.js";
import type { LoraAdapter, RunEventInput } from "../../../src/types.js";
import { inspectLoraFile } from "../../../src/workers/ggufCheck.js";
import { ModelManager, modelKey, type SequenceLease } from "../../../src/workers/ModelManager.js";
import { estimateModelMemory } from "../../../src/workers/memoryEstimate.js";
import { resolveModelPath } from "../../../src/workers/resolveModel.js";
import { fixtureRef, TEST_DEVICE, tempDir } from "./helpers.js";

const BASE = { name: "fixture", seed: 1, size: "tiny" } as const;
const base = fixtureRef(1); // fixture:tiny?seed=1, the same model as BASE
const CONTEXT = 256;

let dir: string;
let cleanup: () => Promise<void>;
let loraA: LoraAdapter[];
let loraB: LoraAdapter[];
/** What the weights, one context and each adapter are estimated at, computed here from the files. */
let expected: { weights: number; context: number; adapterA: number; adapterB: number };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-shared-base-"));
  loraA = [{ path: (await createFixtureLora(BASE, { seed: 7, path: join(dir, "a.gguf") })).path, scale: 1 }];
  loraB = [{ path: (await createFixtureLora(BASE, { seed: 8, path: join(dir, "b.gguf") })).path, scale: 1 }];
  const path = await resolveModelPath(base, { fixtureCacheDir: join(dir, "fixtures") });
  const estimate = await estimateModelMemory(path, { contextSize: CONTEXT, sequences: 1, gpu: false });
  expected = {
    weights: estimate.modelBytes,
    context: estimate.contextBytes,
    adapterA: (await inspectLoraFile(loraA[0]?.path ?? "")).tensorBytes,
    adapterB: (await inspectLoraFile(loraB[0]?.path ?? "")).tensorBytes,
  };
});

afterAll(async () => {
  await cleanup?.();
});

function newManager(events: RunEventInput[], memoryBytes?: number): ModelManager {
  return new ModelManager({
    device: { ...TEST_DEVICE, ...(memoryBytes === undefined ? {} : { memoryBytes }) },
    resolve: { fixtureCacheDir: join(dir, "fixtures") },
    onEvent: (event) => events.push(event),
  });
}

/** 16 tokens sampled at temperature 0.8 with seed 3 after "hello world" on a leased sequence. */
async function sample(lease: SequenceLease): Promise<number[]> {
  await lease.sequence.clearHistory();
  const tokens: number[] = [];
  for await (const token of lease.sequence.evaluate(lease.model.tokenize("hello world"), {
    temperature: 0.8,
    seed: 3,
  })) {
    tokens.push(token);
    if (tokens.length === 16) break;
  }
  return tokens;
}

describe("two adapter sets on one base model", () => {
  it("load the weights once, sample differently with the same seed, and are estimated as base + 2 contexts + adapters", async () => {
    const events: RunEventInput[] = [];
    await using manager = newManager(events);
    // Concurrently: the second finds the weights loading and waits for them instead of loading its own.
    const [a, b] = await Promise.all([
      manager.acquire(base, { contextSize: CONTEXT, lora: loraA }),
      manager.acquire(base, { contextSize: CONTEXT, lora: loraB }),
    ]);
    try {
      expect(a.model).toBe(b.model);
      expect(a.sequence.context).not.toBe(b.sequence.context);
      expect(manager.residentBases()).toEqual([expect.objectContaining({ users: 2 })]);
      const tokensA = await sample(a);
      const tokensB = await sample(b);
      expect(tokensA).toHaveLength(16);
      expect(tokensB).not.toEqual(tokensA);
      expect(await sample(a)).toEqual(tokensA);
    } finally {
      a.release();
      b.release();
    }
    const { weights, context, adapterA, adapterB } = expected;
    expect(manager.residentBases()[0]?.bytes).toBe(weights);
    expect(manager.residentBytes()).toBe(weights + 2 * context + adapterA + adapterB);
    const byKey = new Map(manager.residentModels().map((m) => [m.model, m]));
    expect(byKey.get(modelKey(base, loraA))).toMatchObject({
      contextBytes: context + adapterA,
      baseBytes: weights,
    });
    expect(byKey.get(modelKey(base, loraB))).toMatchObject({
      contextBytes: context + adapterB,
      baseBytes: weights,
    });
    // The per-model bytes add up to the total: the weights are in one of them only.
    expect(manager.residentModels().reduce((sum, m) => sum + m.bytes, 0)).toBe(manager.residentBytes());
    // Two entries loaded: a model.loaded event each.
    const loaded = events.filter((e) => e.type === "model.loaded");
    expect(loaded.map((e) => e.model).sort()).toEqual([modelKey(base, loraA), modelKey(base, loraB)].sort());
  });

  it("the plain model shares the weights too, and the last entry to go frees them", async () => {
    const events: RunEventInput[] = [];
    await using manager = newManager(events);
    const plain = await manager.acquire(base, { contextSize: CONTEXT });
    const adapted = await manager.acquire(base, { contextSize: CONTEXT, lora: loraA });
    expect(adapted.model).toBe(plain.model);
    const plainTokens = await sample(plain);
    const adaptedTokens = await sample(adapted);
    expect(adaptedTokens).not.toEqual(plainTokens);
    plain.release();
    adapted.release();
    await manager.unload(base);
    // The adapted entry still runs on the weights the plain one shared.
    expect(manager.residentBases()).toEqual([expect.objectContaining({ users: 1 })]);
    const again = await manager.acquire(base, { contextSize: CONTEXT, lora: loraA });
    expect(await sample(again)).toEqual(adaptedTokens);
    again.release();
    expect(manager.residentBytes()).toBe(expected.weights + expected.context + expected.adapterA);
    await manager.unload(base, { lora: loraA });
    expect(manager.residentBases()).toEqual([]);
    expect(manager.residentBytes()).toBe(0);
    expect(events.filter((e) => e.type === "model.unloaded")).toHaveLength(2);
  });

  it("fit a budget that holds the weights once (two copies would not), and are evicted together for another model", async () => {
    const { weights, context, adapterA, adapterB } = expected;
    const shared = weights + 2 * context + adapterA + adapterB;
    // Room for both adapter sets on one copy of the weights, not for two copies of them.
    expect(2 * weights + 2 * context + adapterA + adapterB).toBeGreaterThan(shared + 1024);
    const events: RunEventInput[] = [];
    await using manager = newManager(events, shared + 1024);
    const a = await manager.acquire(base, { contextSize: CONTEXT, lora: loraA });
    const b = await manager.acquire(base, { contextSize: CONTEXT, lora: loraB });
    a.release();
    b.release();
    expect(events.filter((e) => e.type === "model.unloaded")).toHaveLength(0);
    expect(manager.residentModels()).toHaveLength(2);
    // Another model file as large as the base needs the shared weights gone: both entries are evicted.
    const other = await manager.acquire(fixtureRef(2), { contextSize: CONTEXT });
    other.release();
    expect(manager.residentModels().map((m) => m.model)).toEqual([fixtureRef(2).raw]);
    expect(manager.residentBases()).toHaveLength(1);
    expect(manager.residentBytes()).toBeLessThanOrEqual(shared + 1024);
  });
});

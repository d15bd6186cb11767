/**
 * Issue 16, "LoRA adapters per worker" (model tier): a LoRA GGUF that edgecrew's fixture writer generates for
 * the toy fixture model loads through the model manager, changes the tokens a fixed seed samples (and gives
 * the same tokens every time), gives the base model's tokens at scale 0; two workers on one base model with
 * different adapters run in one crew; the estimate counts the adapter's tensor bytes; corrupt adapters are
 * typed errors, never a crash.
 */
import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ErrorCodes, isEdgecrewError } from "../../../src/errors.js";
import { createFixtureLora, fixtureLoraTensorBytes } from "../../../src/testing/fixtureLora.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { LoraAdapter, Plan, RunEvent } from "../../../src/types.js";
import { estimateAgentMemory } from "../../../src/workers/agentMemory.js";
import { inspectLoraFile } from "../../../src/workers/ggufCheck.js";
import { ModelManager, modelKey } from "../../../src/workers/ModelManager.js";
import { fixtureRef, TEST_DEVICE, tempDir } from "./helpers.js";

const BASE = { name: "fixture", seed: 1, size: "tiny" } as const;
const base = fixtureRef(1); // fixture:tiny?seed=1, the same model as BASE

let dir: string;
let cleanup: () => Promise<void>;
let adapterA: string;
let adapterB: string;
let manager: ModelManager;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-lora-"));
  adapterA = (await createFixtureLora(BASE, { seed: 7, path: join(dir, "a.gguf") })).path;
  adapterB = (await createFixtureLora(BASE, { seed: 8, path: join(dir, "b.gguf") })).path;
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: join(dir, "fixtures") } });
});

afterAll(async () => {
  await manager?.dispose();
  await cleanup?.();
});

/** 16 tokens sampled at temperature 0.8 with seed 3 after "hello world", on the model with `lora`. */
async function sample(lora: readonly LoraAdapter[]): Promise<number[]> {
  const lease = await manager.acquire(base, { contextSize: 256, lora });
  try {
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
  } finally {
    lease.release();
  }
}

describe("fixture LoRA adapters", () => {
  it("are deterministic GGUF adapter files llama.cpp's layout check accepts", async () => {
    const again = await createFixtureLora(BASE, { seed: 7, path: join(dir, "a-again.gguf") });
    expect(await readFile(again.path)).toEqual(await readFile(adapterA));
    expect(await readFile(adapterB)).not.toEqual(await readFile(adapterA));
    const info = await inspectLoraFile(adapterA);
    // 2 layers × 7 weights (q, k, v, output, gate, up, down), rank 4, alpha 4.
    expect(info).toMatchObject({ architecture: "llama", pairs: 14, alpha: 4 });
    expect(info.tensorBytes).toBe(fixtureLoraTensorBytes(BASE, { seed: 7 }));
  });
});

describe("a model with LoRA adapters in the model manager", () => {
  it("loads the adapter, changes the sampled tokens, repeats them, and scale 0 gives the base model's", async () => {
    const plain = await sample([]);
    const adapted = await sample([{ path: adapterA, scale: 1 }]);
    const adaptedAgain = await sample([{ path: adapterA, scale: 1 }]);
    const scaledToZero = await sample([{ path: adapterA, scale: 0 }]);
    expect(plain).toHaveLength(16);
    expect(adapted).not.toEqual(plain);
    expect(adaptedAgain).toEqual(adapted);
    expect(scaledToZero).toEqual(plain);
    // Each adapter set is its own entry (own context), the plain model untouched by the adapted one.
    expect(manager.isResident(base)).toBe(true);
    expect(manager.isResident(base, [{ path: adapterA, scale: 1 }])).toBe(true);
    expect(manager.residentModels().map((m) => m.model)).toContain(
      modelKey(base, [{ path: adapterA, scale: 1 }]),
    );
    expect(await sample([])).toEqual(plain);
  });

  it("counts the adapter's tensor bytes in the budgeted estimate", async () => {
    const withAdapter = manager
      .residentModels()
      .find((m) => m.model === modelKey(base, [{ path: adapterA, scale: 1 }]));
    const plain = manager.residentModels().find((m) => m.model === base.raw);
    expect(withAdapter).toBeDefined();
    expect(plain).toBeDefined();
    // Same model, same context shape: the only difference in the estimate is the adapter (the weights are
    // shared, counted once: see sharedBase.test.ts).
    expect((withAdapter?.contextBytes ?? 0) - (plain?.contextBytes ?? 0)).toBe(
      (await inspectLoraFile(adapterA)).tensorBytes,
    );
  });

  it("refuses corrupt adapters with MODEL_INVALID / MODEL_LOAD_FAILED, and the process lives on", async () => {
    const expectCode = async (lora: LoraAdapter[], code: string, message: RegExp) => {
      const error = await manager.acquire(base, { contextSize: 256, lora }).then(
        (lease) => {
          lease.release();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(isEdgecrewError(error) ? error.code : error).toBe(code);
      expect((error as Error).message).toMatch(message);
    };
    // Truncated: the header declares more tensor data than the file has.
    const truncated = join(dir, "truncated.gguf");
    await writeFile(truncated, await readFile(adapterA));
    await truncate(truncated, 20_000);
    await expectCode([{ path: truncated, scale: 1 }], ErrorCodes.MODEL_INVALID, /truncated/);
    // Garbage after the magic.
    const garbage = join(dir, "garbage.gguf");
    await writeFile(garbage, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(200, 0xff)]));
    await expectCode([{ path: garbage, scale: 1 }], ErrorCodes.MODEL_INVALID, /GGUF|header/);
    // A model file is not an adapter.
    const modelFile = (await manager.acquire(base, { contextSize: 256 }).then((lease) => {
      lease.release();
      return manager.residentModels().find((m) => m.model === base.raw)?.path;
    })) as string;
    await expectCode([{ path: modelFile, scale: 1 }], ErrorCodes.MODEL_INVALID, /general\.type/);
    // Missing.
    await expectCode(
      [{ path: join(dir, "missing.gguf"), scale: 1 }],
      ErrorCodes.MODEL_NOT_FOUND,
      /not found/,
    );
    // Well-formed, but for another base (the small fixture's shapes): llama.cpp refuses it, edgecrew reports it.
    const wrongBase = (
      await createFixtureLora({ ...BASE, size: "small" }, { seed: 7, path: join(dir, "small.gguf") })
    ).path;
    await expectCode([{ path: wrongBase, scale: 1 }], ErrorCodes.MODEL_LOAD_FAILED, /context/);
    // Still alive, still serving.
    expect(await sample([{ path: adapterA, scale: 1 }])).toHaveLength(16);
  });
});

describe("LoRA adapters on workers", () => {
  const output = {
    type: "object",
    properties: { answer: { type: "string", maxLength: 12 } },
    required: ["answer"],
    additionalProperties: false,
  } as const;

  function agent() {
    return defineAgent({
      name: "lora-crew",
      description: "Two workers on one base model with different LoRA adapters.",
      planner: { model: "fixture:planner?seed=7" },
      workers: [
        {
          name: "alpha",
          description: "First.",
          model: "fixture:tiny?seed=1",
          maxTokens: 64,
          output,
          lora: [{ path: adapterA }],
        },
        {
          name: "beta",
          description: "Second.",
          model: "fixture:tiny?seed=1",
          maxTokens: 64,
          output,
          lora: [{ path: adapterB, scale: 0.5 }],
        },
      ],
      device: { gpu: false, threads: 1 },
      limits: { maxParallel: 2 },
    });
  }

  it("two workers on one base model with different adapters both run in one crew", async () => {
    const definition = agent();
    expect(definition.workers[0]?.lora).toEqual([{ path: adapterA, scale: 1 }]);
    const plan: Plan = {
      subtasks: [
        { id: "s1", worker: "alpha", instruction: "Say something.", dependsOn: [] },
        { id: "s2", worker: "beta", instruction: "Say something else.", dependsOn: [] },
      ],
    };
    const planner = new ScriptedChatModel([
      JSON.stringify(plan),
      JSON.stringify({ decision: { answer: "done" } }),
    ]);
    await using crew = await createCrew(definition, {
      planner,
      plannerLabel: "scripted:planner",
      fixtureCacheDir: join(dir, "fixtures"),
      runDir: join(dir, "runs"),
    });
    const events: RunEvent[] = [];
    const result = await crew.run("Say two things", { onEvent: (e) => events.push(e) }).result;
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    expect(result.results.map((r) => [r.subtaskId, r.by])).toEqual([
      ["s1", "worker"],
      ["s2", "worker"],
    ]);
    const loaded = events.flatMap((e) => (e.type === "model.loaded" ? [e.model] : []));
    expect(new Set(loaded)).toEqual(
      new Set([
        modelKey(base, [{ path: adapterA, scale: 1 }]),
        modelKey(base, [{ path: adapterB, scale: 0.5 }]),
      ]),
    );
  });

  it("`models estimate` (estimateAgentMemory) shows each model + adapter set with the adapter's bytes", async () => {
    const report = await estimateAgentMemory(agent(), { fixtureCacheDir: join(dir, "fixtures") });
    const rows = report.models.filter((row) => row.usedBy.includes("alpha") || row.usedBy.includes("beta"));
    expect(rows.map((row) => row.model)).toEqual([
      modelKey(base, [{ path: adapterA, scale: 1 }]),
      modelKey(base, [{ path: adapterB, scale: 0.5 }]),
    ]);
    const tensorBytes = fixtureLoraTensorBytes(BASE, { seed: 7 });
    for (const row of rows) {
      expect(row.loraBytes).toBe(tensorBytes);
      const parts = Object.values(row.breakdown ?? {}).reduce((sum, part) => sum + (part as number), 0);
      expect(row.estimatedBytes).toBe(parts + tensorBytes);
    }
  });
});

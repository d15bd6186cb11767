// Prefix reuse on a real fixture model: a worker's system prompt and tool descriptions are evaluated once per
// sequence and reused by its next subtasks; another worker on the same model (another prefix) is evaluated in
// full, and so is the first worker again afterwards. Asserted on the sequence's own token meter (tokens
// llama.cpp actually evaluated), not on timings; the timings are printed for the report.
import type { TokenMeter } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { compileSchema } from "../../../src/schema/compile.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type {
  JsonSchema,
  LocalModelRef,
  SubtaskRequest,
  WorkerDefinition,
  WorkerOutcome,
} from "../../../src/types.js";
import { chatWrapperFor } from "../../../src/workers/generate.js";
import { createLocalWorkers, type LocalWorker } from "../../../src/workers/LocalWorker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { workerPrefixTokens } from "../../../src/workers/prefixReuse.js";
import { ToolChatWrapper } from "../../../src/workers/ToolChatWrapper.js";
import { workerSystemPrompt } from "../../../src/workers/workerPrompts.js";
import { workerTools } from "../../../src/workers/workerTools.js";
import { recorder, request, TEST_DEVICE, tempDir, workerDef } from "./helpers.js";

const MODEL: LocalModelRef = {
  kind: "fixture",
  raw: "fixture:tiny?seed=5",
  name: "fixture",
  seed: 5,
  size: "tiny",
};
const OUTPUT: JsonSchema = {
  type: "object",
  properties: { note: { type: "string", maxLength: 16 }, day: { type: "integer", minimum: 1, maximum: 7 } },
  required: ["note", "day"],
};
const valid = compileSchema(OUTPUT);

const lookup = defineTool({
  name: "city.lookup",
  description: "Facts about a city: population, altitude and the nearest airport.",
  input: z.object({
    city: z.string().min(1).max(16),
    fields: z.array(z.enum(["population", "altitude"])).max(2),
  }),
  run: async () => ({ population: 9000, altitude: 1035 }),
});

const planner = workerDef(OUTPUT, {
  name: "planner",
  model: MODEL,
  system: "You plan mountain trips: pick the day with the best weather.",
  tools: ["city.lookup"],
  contextSize: 4096,
  maxTokens: 96,
});
const checker = workerDef(OUTPUT, {
  name: "checker",
  model: MODEL,
  system: "You check that a plan is complete and safe.",
  contextSize: 4096,
  maxTokens: 96,
});

let dir: string;
let cleanup: () => Promise<void>;
let manager: ModelManager;
let registry: ToolRegistry;
let meter: TokenMeter;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-prefix-"));
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: dir } });
  registry = new ToolRegistry().register(lookup);
});

afterAll(async () => {
  await manager.dispose();
  await cleanup();
});

function step(worker: WorkerDefinition, id: string, instruction: string): SubtaskRequest {
  const base = request(worker, id);
  return { ...base, subtask: { ...base.subtask, instruction } };
}

interface Measured {
  readonly outcome: WorkerOutcome;
  /** Input tokens llama.cpp evaluated for the subtask's first turn, from the sequence's meter (later turns left out). */
  readonly evaluated: number;
  /** The subtask's prompt in tokens: its first turn's prompt tokens (reused prefix included). */
  readonly prompt: number;
  /** Time of the first turn: prompt evaluation plus its generation. */
  readonly firstTurnMs: number;
}

async function run(port: LocalWorker, subtask: SubtaskRequest): Promise<Measured> {
  const before = meter.usedInputTokens;
  const outcome = await port.execute(subtask, recorder().context);
  expect(outcome).toMatchObject({ ok: true });
  if (outcome.ok) expect(valid.validate(outcome.answer).ok).toBe(true);
  // Later turns (tool results, repairs) evaluate what they add; only the first turn's evaluation is compared
  // with its prompt.
  const later = (outcome.usage ?? []).slice(1).reduce((sum, turn) => sum + turn.promptTokens, 0);
  return {
    outcome,
    evaluated: meter.usedInputTokens - before - later,
    prompt: outcome.usage[0]?.promptTokens ?? 0,
    firstTurnMs: outcome.usage[0]?.durationMs ?? 0,
  };
}

describe("prefix reuse across a worker's subtasks", () => {
  it("evaluates a worker's system prompt and tool descriptions once per sequence", async () => {
    const port = createLocalWorkers({ manager, workers: [planner, checker], tools: registry, retries: 1 });
    // parallel: 1, so every subtask below runs on this one sequence; its meter counts what llama.cpp evaluated.
    const lease = await manager.acquire(MODEL, { contextSize: 4096, sequences: 1 });
    meter = lease.sequence.tokenMeter;
    const tools = workerTools(registry, planner.tools);
    const plannerPrefix = workerPrefixTokens(
      lease.model,
      new ToolChatWrapper(chatWrapperFor(lease.model), { functions: tools?.functions ?? {} }),
      workerSystemPrompt(request(planner), { hasTools: true }),
    ).length;
    const checkerPrefix = workerPrefixTokens(
      lease.model,
      chatWrapperFor(lease.model),
      workerSystemPrompt(request(checker)),
    ).length;
    lease.release();

    const fresh = await run(port, step(planner, "p1", "Pick a day for Chamonix."));
    const reused = await run(port, step(planner, "p2", "Pick a day for Zermatt, avoiding weekends."));
    const other = await run(port, step(checker, "c1", "Check the Zermatt plan."));
    const otherReused = await run(port, step(checker, "c2", "Check the Chamonix plan."));
    const back = await run(port, step(planner, "p3", "Pick a day for Davos."));
    const again = await run(port, step(planner, "p4", "Pick a day for Cortina."));
    console.info(
      `[measure] planner prefix ${plannerPrefix} tokens (system + tool docs), checker prefix ${checkerPrefix}; evaluated/prompt tokens: fresh ${fresh.evaluated}/${fresh.prompt}, reused ${reused.evaluated}/${reused.prompt}, other worker ${other.evaluated}/${other.prompt}, other reused ${otherReused.evaluated}/${otherReused.prompt}, back ${back.evaluated}/${back.prompt}, again ${again.evaluated}/${again.prompt}; first turn ${fresh.firstTurnMs} ms fresh vs ${reused.firstTurnMs} ms reused`,
    );

    expect(plannerPrefix).toBeGreaterThan(500);
    // A fresh sequence evaluates the whole prompt.
    expect(fresh.evaluated).toBeGreaterThanOrEqual(fresh.prompt);
    // The next subtask of the same worker re-evaluates only its own turn: the prefix is not evaluated again.
    expect(reused.evaluated).toBeLessThan(reused.prompt);
    expect(reused.prompt - reused.evaluated).toBeGreaterThanOrEqual(plannerPrefix - 1);
    expect(reused.evaluated).toBeLessThan(fresh.evaluated - plannerPrefix + 50);
    // Another worker on the same model has another prefix: all but the template's few shared tokens are
    // evaluated — correct answers either way — and its own next subtask reuses its prefix in turn.
    expect(other.evaluated).toBeGreaterThanOrEqual(other.prompt - 16);
    expect(otherReused.prompt - otherReused.evaluated).toBeGreaterThanOrEqual(checkerPrefix - 1);
    // Back on the first worker: the sequence now holds the other prefix, so this one is evaluated again, once.
    expect(back.evaluated).toBeGreaterThanOrEqual(back.prompt - 16);
    expect(again.prompt - again.evaluated).toBeGreaterThanOrEqual(plannerPrefix - 1);
  });

  it("with reusePrefix: false every subtask evaluates its whole prompt", async () => {
    const port = createLocalWorkers({
      manager,
      workers: [planner],
      tools: registry,
      retries: 1,
      reusePrefix: false,
    });
    await run(port, step(planner, "n1", "Pick a day for Chamonix."));
    const second = await run(port, step(planner, "n2", "Pick a day for Zermatt."));
    expect(second.evaluated).toBeGreaterThanOrEqual(second.prompt);
  });
});

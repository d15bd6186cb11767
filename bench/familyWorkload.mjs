// One model family of the `families` section of `npm run bench` (bench/run.mjs), in a process of its own (run
// with MALLOC_MMAP_THRESHOLD_=131072, so that freed buffers go back to the system and VmHWM is this model's):
//   1. memory: edgecrew's ModelManager loads the model and its context (resolve, header check, estimate, load,
//      context: what a worker's first acquire does), then a 128-token grammar-constrained generation runs on
//      the leased sequence — what a worker does. Peak growth = VmHWM after it − VmRSS before the acquire.
//   2. speed: the same worker prompt decoded for 128 tokens, one thread, three ways: through edgecrew's own
//      generation (generateTurn: the turn grammar with its grammar bias, and the same path free, without a
//      grammar), and node-llama-cpp's plain grammar sampling (LlamaCompletion with the same GBNF, no bias).
//   3. forced tool calls: `subtasks` subtasks of a worker with `toolChoice: required` and one small tool,
//      through createLocalWorkers and a ToolRegistry; a subtask counts when it emitted a `tool.called` event.
// Usage: node bench/familyWorkload.mjs '<json>' with { path, family, contextSize, tokens, subtasks, seed,
// warmUpPath? }.
// Prints one JSON line of results on stdout; exits non-zero, saying why on stderr, when a step fails.
import { readFileSync } from "node:fs";
import { LlamaCompletion } from "node-llama-cpp";
import { z } from "zod";
import { defineTool } from "../dist/tools/defineTool.js";
import { ToolRegistry } from "../dist/tools/ToolRegistry.js";
import { generateTurn } from "../dist/workers/generate.js";
import { createLocalWorkers, ModelManager } from "../dist/workers/index.js";
import { workerSystemPrompt, workerUserPrompt } from "../dist/workers/workerPrompts.js";
import { workerDef } from "./scripted.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
const { path, family, contextSize, tokens: TOKENS, subtasks: SUBTASKS, seed } = config;
if (typeof path !== "string" || !(TOKENS > 0) || !(SUBTASKS >= 0)) {
  console.error(`familyWorkload: bad configuration ${process.argv[2]}`);
  process.exit(2);
}

/** Resident set now and its high-water mark, in bytes, from /proc/self/status (Linux). */
function rss() {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field) => Number(new RegExp(`^${field}:\\s*(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const { heapTotal } = process.memoryUsage();
  return { rssBytes: kib("VmRSS") * 1024, hwmBytes: kib("VmHWM") * 1024, heapTotalBytes: heapTotal };
}

// A nested answer, as workers are asked for: an object with a nested object, arrays and bounded strings (the
// family tests ask for the same one).
const answer = JSON.parse(
  readFileSync(new URL("../tests/fixtures/familyAnswer.json", import.meta.url), "utf8"),
);

const ref = { kind: "file", raw: path, path };
const worker = workerDef(ref, {
  name: "noter",
  description: "Writes notes about the trip.",
  system: "You write short, structured notes for a mountain guiding company.",
  output: answer,
  contextSize,
  maxTokens: 256,
});
const request = (id, instruction) => ({
  runId: "bench",
  task: "Plan a weekend trip to the mountains",
  subtask: { id, worker: worker.name, instruction, dependsOn: [] },
  worker,
  dependencies: {},
});
const req = request("m1", "Write a note about the weather window for Saturday's hike.");
const prompt = `${workerSystemPrompt(req)}\n\n${workerUserPrompt(req)}\n`;

let estimatedBytes;
const manager = new ModelManager({
  device: { gpu: false, threads: 1 },
  onEvent: (event) => {
    if (event.type === "model.loading") estimatedBytes = event.estimatedBytes;
  },
});
const { llama } = await manager.runtime();
const compiledTurn = await manager.turnGrammar({ answer, maxTokens: 256 });
const grammar = await llama.createGrammar({ grammar: compiledTurn.turn.gbnf });
const history = [
  { type: "system", text: workerSystemPrompt(req) },
  { type: "user", text: workerUserPrompt(req) },
];

/**
 * Generates `TOKENS` tokens through edgecrew's generateTurn (what a worker runs), with the turn grammar or free;
 * answers under the grammar close early, so turns repeat with new seeds until the count is reached. The prompt
 * is evaluated once (reusePrefix); speed counts from each turn's first text chunk to its last.
 */
async function generateEdgecrew(lease, withGrammar, seedOffset) {
  let generated = 0;
  let decodeMs = 0;
  let decoded = 0;
  let turns = 0;
  while (generated < TOKENS) {
    let first;
    let last;
    const result = await generateTurn(lease, history, {
      ...(withGrammar ? { grammar: compiledTurn } : {}),
      maxTokens: TOKENS - generated,
      temperature: 0.8,
      seed: seed + seedOffset + turns,
      reusePrefix: true,
      onTextChunk: () => {
        const now = performance.now();
        first ??= now;
        last = now;
      },
    });
    turns++;
    if (result.completionTokens === 0) throw new Error("a turn generated no token");
    generated += result.completionTokens;
    if (result.completionTokens > 1 && last > first) {
      decodeMs += last - first;
      decoded += result.completionTokens - 1;
    }
  }
  return { tokens: generated, completions: turns, tokensPerSecond: decoded / (decodeMs / 1000) };
}

/**
 * Generates `TOKENS` tokens on the sequence from `prompt` (answers under the grammar close early: a new
 * completion of the same prompt continues until the count is reached). Decoding speed counts from each
 * completion's first token to its last, so prompt evaluation is left out.
 */
async function generate(sequence, withGrammar, seedOffset) {
  let generated = 0;
  let decodeMs = 0;
  let decoded = 0;
  let completions = 0;
  while (generated < TOKENS) {
    const completion = new LlamaCompletion({ contextSequence: sequence });
    let first;
    let last;
    let count = 0;
    await completion.generateCompletion(prompt, {
      ...(withGrammar ? { grammar } : {}),
      maxTokens: TOKENS - generated,
      temperature: 0.8,
      seed: seed + seedOffset + completions,
      onToken: (chunk) => {
        const now = performance.now();
        first ??= now;
        last = now;
        count += chunk.length;
      },
    });
    completion.dispose({ disposeSequence: false });
    completions++;
    if (count === 0) throw new Error("a completion generated no token");
    generated += count;
    if (count > 1) {
      decodeMs += last - first;
      decoded += count - 1;
    }
  }
  return { tokens: generated, completions, tokensPerSecond: decoded / (decodeMs / 1000) };
}

// ─── 1. Memory ──────────────────────────────────────────────────────────────────────────────────────────
// A crew's first load also pays one-time process costs (lazily imported modules, compiled code, the sampler's
// first use); a toy model loaded, used and unloaded first takes them out of the measurement, which is of what
// one more model costs — what device.memory counts.
if (config.warmUpPath !== undefined) {
  const warmRef = { kind: "file", raw: config.warmUpPath, path: config.warmUpPath };
  const warm = await manager.acquire(warmRef, { contextSize: 256, sequences: 1 });
  const completion = new LlamaCompletion({ contextSequence: warm.sequence });
  await completion.generateCompletion(prompt.slice(0, 200), { grammar, maxTokens: 8, seed });
  completion.dispose({ disposeSequence: false });
  warm.release();
  await manager.unload(warmRef);
}
const before = rss();
const started = performance.now();
const lease = await manager.acquire(ref, { contextSize, sequences: 1 });
const loadMs = performance.now() - started;
const loaded = rss();
const constrained = await generate(lease.sequence, true, 0);
const peak = rss();

// ─── 2. Speed: the same prompt, constrained (edgecrew, then plain llama.cpp grammar) and free ─────────────
await lease.sequence.clearHistory();
// The first turns under the grammar also fill the grammar bias's caches (per grammar state, kept per model).
const constrainedCold = await generateEdgecrew(lease, true, 1000);
const constrainedWarm = await generateEdgecrew(lease, true, 2000);
const free = await generateEdgecrew(lease, false, 3000);
await lease.sequence.clearHistory();
const plainGrammar = await generate(lease.sequence, true, 4000);
lease.release();

// ─── 3. Forced tool calls ───────────────────────────────────────────────────────────────────────────────
const registry = new ToolRegistry().register(
  defineTool({
    name: "weather.get",
    description: "The forecast for a day of the trip (0 = Saturday, 1 = Sunday).",
    input: z.object({ day: z.int().min(0).max(1) }),
    run: async ({ day }) => ({ high: 10 + day, sky: "clear" }),
  }),
);
const toolWorker = {
  ...worker,
  name: "forecaster",
  tools: ["weather.get"],
  toolChoice: "required",
  maxToolCalls: 1,
  output: {
    type: "object",
    properties: { go: { type: "boolean" }, when: { enum: ["sat", "sun"] } },
    required: ["go", "when"],
    additionalProperties: false,
  },
  maxTokens: 96,
};
const workers = createLocalWorkers({ manager, workers: [toolWorker], tools: registry, seed, retries: 0 });
const calledBy = new Set();
let answered = 0;
const toolStarted = performance.now();
for (let i = 0; i < SUBTASKS; i++) {
  const id = `t${i}`;
  const outcome = await workers.execute(
    { ...request(id, `Decide whether day ${i % 2} suits the hike.`), worker: toolWorker },
    {
      signal: new AbortController().signal,
      emit: (event) => {
        if (event.type === "tool.called") calledBy.add(event.subtaskId);
      },
    },
  );
  if (outcome.ok) answered++;
}
const toolMs = performance.now() - toolStarted;
await workers.dispose();
await manager.dispose();

console.log(
  JSON.stringify({
    family,
    path,
    contextSize,
    estimatedBytes,
    baselineRssBytes: before.rssBytes,
    loadedRssBytes: loaded.rssBytes,
    peakHwmBytes: peak.hwmBytes,
    peakGrowthBytes: peak.hwmBytes - before.rssBytes,
    // V8's heap (committed) at the three points: JavaScript's share of the growth.
    heapTotalBytes: [before.heapTotalBytes, loaded.heapTotalBytes, peak.heapTotalBytes],
    loadMs,
    constrained,
    speed: { constrained: constrainedWarm, constrainedCold, free, plainGrammar },
    toolCalls: {
      required: SUBTASKS,
      made: calledBy.size,
      answered,
      msPerSubtask: toolMs / Math.max(1, SUBTASKS),
    },
  }),
);
// llama.cpp may keep handles open after disposal; the result is printed, so end here.
process.exit(0);

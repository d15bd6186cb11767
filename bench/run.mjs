// `npm run bench`: edgecrew's performance claims, each measured as a ratio of two things run back to back in
// this one process (the swaps section: in child processes, one per run), repeated, reported as median
// [min–max]. Plain ESM on the built library (dist/), so it needs no TypeScript runner: `npm run build` first
// (the npm script does it). Sections: orchestrator cost, overhead vs node-llama-cpp, prefix reuse, parallelism
// (K = 1, 2, 4, 8 sequences of one context), model swaps with peak RSS.
//
// Environment knobs (defaults keep the whole run under ten minutes on a 2-core machine):
//   BENCH_MODEL=bench|small   fixture size for the model sections (default bench, ~364 MB, generated here)
//   BENCH_REPS=5              repetitions of every measurement (at least 5 are recommended); the overhead
//                             section runs at least 9, since its ratio is near 1 and its spread is ±5 % here
//   BENCH_SWAP_REPS=REPS      repetitions of the swaps section (each is four child processes, ~50 s)
//   BENCH_ONLY=overhead,parallel,prefix,orchestrator,swaps,families,toolrag,fleet   run only these sections
//   FLEET_SUBTASKS=12, FLEET_REPS=3, FLEET_THROUGHPUT_RUNS=6   the fleet section's plan size, repetitions, runs at once
//   BENCH_FAMILIES=qwen3,qwen2,llama3,llama3.1,gemma3,toy   the families section's model families (toy: the toy fixture)
//   BENCH_FAMILY_REPS=2       child processes per family in the families section (each one measures memory)
//   BENCH_FAMILY_SUBTASKS=5   forced-tool-call subtasks per family (in the first child of each family)
//   BENCH_OUT=FILE            where the results go (default bench/results/<date>.json)
//   BENCH_FIXTURE_DIR=DIR     where the families' bench-size fixtures are written (default edgecrew's fixture
//                             cache, ~/.cache/edgecrew/fixtures: 0.35–1.5 GB each, written once, reused by later runs)
//
// The swaps section runs a 9-subtask plan alternating among three models (workers alpha, beta, gamma, one model
// each, maxParallel 1) under a memory budget that fits one model (1.2× edgecrew's own estimate of one model and
// its context) and one that fits two (2.2×). It compares edgecrew's scheduler (ready subtasks whose model is
// resident go first) with plan order (the same runtime and workers behind a port whose isResident() is always
// false): model loads (model.loaded events) and wall time. Every variant runs in its own child process
// (bench/swapWorkload.mjs, with MALLOC_MMAP_THRESHOLD_=131072 so that freed buffers go back to the system), so
// each reports its own peak RSS (VmHWM) against device.memory and against its RSS before the first load.
//
// The families section checks edgecrew's memory estimate (src/workers/memoryEstimate.ts) against what a worker
// really holds, per model family at size=bench (real tokenizer, template and architecture, random weights): in
// a child process per run (bench/familyWorkload.mjs, MALLOC_MMAP_THRESHOLD_=131072), edgecrew's ModelManager
// loads the model with a 2048-token context and a 128-token grammar-constrained generation follows; the peak
// growth (VmHWM − RSS before the load) is compared with the estimate. The same child measures free vs
// grammar-constrained decoding (tokens/s, one thread, same worker prompt, through edgecrew's generateTurn with its
// grammar bias; node-llama-cpp's plain grammar sampling alongside) and forced tool calls made / required.
//
// The toolrag section (bench/toolRag.mjs) lists the tools of three real MCP servers (server-filesystem, -memory,
// -everything) through the MCP SDK client and compares a worker's first prompt with all of them and with the
// top-k Tool RAG offers (qwen3's real tokenizer and template), and how often a scripted instruction's expected
// tool is among the offered ones.
//
// The fleet section (bench/fleet.mjs; a real nats-server and `edgecrew device` processes, chaos/fleet.mjs) measures
// the per-subtask dispatch overhead of a hub with one device on this machine against in-process workers (the same
// plan of tiny subtasks, alternating), and the throughput of concurrent small runs on 1 vs 2 devices.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaChat, resolveChatWrapper, TokenBias } from "node-llama-cpp";
import { startRun } from "../dist/runtime/startRun.js";
import { DEFAULT_WORKER_OUTPUT } from "../dist/schema/describe.js";
import {
  createFixtureModel,
  defaultFixtureCacheDir,
  fixtureVocabulary,
  resolveFixtureModel,
} from "../dist/testing/fixtureModel.js";
import {
  compileTurnGrammar,
  createLocalWorkers,
  estimateModelMemory,
  ModelManager,
  physicalCoreCount,
} from "../dist/workers/index.js";
import { workerSystemPrompt, workerUserPrompt } from "../dist/workers/workerPrompts.js";
import { fleetBench, fleetRows } from "./fleet.mjs";
import { scriptedAgent, scriptedPlanner, workerDef } from "./scripted.mjs";
import { toolRag, toolRagRows } from "./toolRag.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SIZE = process.env.BENCH_MODEL ?? "bench";
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 5));
const OVERHEAD_REPS = Math.max(REPS, 9);
const SWAP_REPS = Math.max(1, Number(process.env.BENCH_SWAP_REPS ?? REPS));
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? "overhead,parallel,prefix,orchestrator,swaps,families,toolrag,fleet").split(","),
);
const FAMILIES = (process.env.BENCH_FAMILIES ?? "qwen3,qwen2,llama3,llama3.1,gemma3,toy").split(",");
const FAMILY_REPS = Math.max(1, Number(process.env.BENCH_FAMILY_REPS ?? 2));
const FAMILY_SUBTASKS = Math.max(0, Number(process.env.BENCH_FAMILY_SUBTASKS ?? 5));
const DEVICE = { gpu: false, threads: 1 };
const SEED = 42;

// ─── Statistics ─────────────────────────────────────────────────────────────────────────────────────────

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), n: sorted.length, values };
}

const fmt = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
const spread = (s, digits = 3) => `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
const log = (...args) => console.error("[bench]", ...args);

// ─── Fixtures shared by the model sections ──────────────────────────────────────────────────────────────

function request(worker, id, instruction) {
  return {
    runId: "bench",
    task: "Plan a weekend trip to the mountains",
    subtask: { id, worker: worker.name, instruction, dependsOn: [] },
    worker,
    dependencies: {},
  };
}

const context = () => ({ signal: new AbortController().signal, emit: () => {} });

// A fixed-length string answer: the grammar forces the same number of characters whatever the weights say.
const fixedLength = (chars) => ({
  type: "object",
  properties: { note: { type: "string", minLength: chars, maxLength: chars } },
  required: ["note"],
  additionalProperties: false,
});

const completionTokens = (outcome) => outcome.usage.reduce((sum, u) => sum + u.completionTokens, 0);

// Only a model failure stops the benchmark: an answer zod rejects (a JSON escape can make the forced string
// shorter than its grammar length) still cost the same tokens, which is what is measured.
function assertOk(outcome, what) {
  if (!outcome.ok && outcome.reason === "model-failed")
    throw new Error(`${what}: ${outcome.errors.join("; ")}`);
}

// ─── 1. Overhead: LocalWorker vs node-llama-cpp directly ────────────────────────────────────────────────

async function overhead(modelPath) {
  const ref = { kind: "file", raw: modelPath, path: modelPath };
  const chars = SIZE === "bench" ? 48 : 160;
  const worker = workerDef(ref, { output: fixedLength(chars), maxTokens: chars + 32 });
  const instructions = ["Pick the best day for the hike.", "Name one hut to sleep in."];

  const manager = new ModelManager({ device: DEVICE });
  const edgecrew = createLocalWorkers({
    manager,
    workers: [worker],
    seed: SEED,
    reusePrefix: false,
    retries: 0,
  });

  // The same thing by hand: same prompts, chat wrapper, grammar (edgecrew's compiler), byte ban, seed.
  const llama = await getLlama({ gpu: false, maxThreads: 1, build: "never", logLevel: "warn" });
  const model = await llama.loadModel({ modelPath });
  const ctx = await model.createContext({ contextSize: worker.contextSize, sequences: 1, threads: 1 });
  const sequence = ctx.getSequence();
  const grammar = await llama.createGrammar({
    grammar: compileTurnGrammar({ answer: worker.output, maxTokens: worker.maxTokens }).gbnf,
  });
  const chatWrapper = resolveChatWrapper(model);
  const tokenBias = new TokenBias(model.tokenizer);
  const { firstByteId } = fixtureVocabulary();
  for (let byte = 0x80; byte <= 0xff; byte++) tokenBias.set(firstByteId + byte, "never");

  async function direct(req) {
    await sequence.clearHistory();
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
    try {
      const history = [
        { type: "system", text: workerSystemPrompt(req) },
        { type: "user", text: workerUserPrompt(req) },
        { type: "model", response: [] },
      ];
      const meter = sequence.tokenMeter.getState();
      const response = await chat.generateResponse(history, {
        grammar,
        maxTokens: worker.maxTokens,
        temperature: worker.temperature,
        seed: SEED,
        tokenBias,
      });
      JSON.parse(response.response);
      return sequence.tokenMeter.usedOutputTokens - meter.usedOutputTokens;
    } finally {
      chat.dispose({ disposeSequence: false });
    }
  }

  async function viaEdgecrew(req) {
    const outcome = await edgecrew.execute(req, context());
    assertOk(outcome, "overhead");
    return completionTokens(outcome);
  }

  async function timed(fn) {
    let tokens = 0;
    const started = performance.now();
    for (const [i, text] of instructions.entries()) tokens += await fn(request(worker, `s${i}`, text));
    const ms = performance.now() - started;
    return { tokens, ms, tps: (tokens / ms) * 1000 };
  }

  // Warm-up: loads, grammar compilation, first evaluation.
  await timed(viaEdgecrew);
  await timed(direct);
  const ratios = [];
  const rows = [];
  for (let rep = 0; rep < OVERHEAD_REPS; rep++) {
    // Alternate the order so that drift (thermal, page cache) does not favour one side.
    const first = rep % 2 === 0 ? viaEdgecrew : direct;
    const a = await timed(first);
    const b = await timed(first === viaEdgecrew ? direct : viaEdgecrew);
    const [e, d] = first === viaEdgecrew ? [a, b] : [b, a];
    ratios.push(e.tps / d.tps);
    rows.push({ edgecrew: e, direct: d });
    log(`overhead rep ${rep + 1}: edgecrew ${fmt(e.tps, 1)} tok/s, direct ${fmt(d.tps, 1)} tok/s`);
  }
  await edgecrew.dispose();
  await manager.dispose();
  await ctx.dispose();
  await model.dispose();
  return {
    description: `${instructions.length} subtasks per repetition, grammar-forced ${chars}-char answer, seed ${SEED}, 1 thread; completion tokens / wall time of the subtasks`,
    ratio: summary(ratios),
    edgecrewTokensPerSecond: summary(rows.map((r) => r.edgecrew.tps)),
    directTokensPerSecond: summary(rows.map((r) => r.direct.tps)),
    sameTokens: rows.every((r) => r.edgecrew.tokens === r.direct.tokens),
    target: 0.97,
  };
}

// ─── 2. Parallelism: K sequences at once vs one at a time ───────────────────────────────────────────────

async function parallelism(modelPath) {
  const ref = { kind: "file", raw: modelPath, path: modelPath };
  const chars = SIZE === "bench" ? 24 : 96;
  const ks = [1, 2, 4, 8];
  const worker = workerDef(ref, {
    output: fixedLength(chars),
    maxTokens: chars + 32,
    parallel: Math.max(...ks),
    contextSize: 1024,
  });
  const manager = new ModelManager({ device: DEVICE });
  const port = createLocalWorkers({ manager, workers: [worker], seed: SEED, reusePrefix: false, retries: 0 });
  const one = async (i) => {
    const outcome = await port.execute(request(worker, `p${i}`, `Plan part ${i} of the trip.`), context());
    assertOk(outcome, "parallelism");
    return completionTokens(outcome);
  };
  const sequential = async (k) => {
    const started = performance.now();
    let tokens = 0;
    for (let i = 0; i < k; i++) tokens += await one(i);
    return (tokens / (performance.now() - started)) * 1000;
  };
  const parallel = async (k) => {
    const started = performance.now();
    const tokens = (await Promise.all(Array.from({ length: k }, (_, i) => one(i)))).reduce(
      (a, b) => a + b,
      0,
    );
    return (tokens / (performance.now() - started)) * 1000;
  };
  await parallel(2); // warm-up (load, grammar)
  const result = {};
  for (const k of ks) {
    const ratios = [];
    const par = [];
    const seq = [];
    for (let rep = 0; rep < REPS; rep++) {
      const p = await parallel(k);
      const s = await sequential(k);
      par.push(p);
      seq.push(s);
      ratios.push(p / s);
    }
    result[`K=${k}`] = {
      ratio: summary(ratios),
      parallelTokensPerSecond: summary(par),
      sequentialTokensPerSecond: summary(seq),
    };
    log(`parallelism K=${k}: ratio ${spread(summary(ratios), 2)}`);
  }
  await port.dispose();
  await manager.dispose();
  return {
    description: `K subtasks (grammar-forced ${chars}-char answers) with K sequences of one context at once vs the same K one after another; completion tokens/s ratio`,
    ...result,
  };
}

// ─── 3. Prefix reuse: a long system prompt kept evaluated vs re-evaluated ───────────────────────────────

async function prefixReuse(modelPath) {
  const ref = { kind: "file", raw: modelPath, path: modelPath };
  const paragraph =
    "You are the logistics expert of a mountain guiding company. Check transport, huts, weather windows, " +
    "gear lists and the fitness of every group member before you answer. ";
  const system = paragraph.repeat(SIZE === "bench" ? 8 : 24).trim();
  const worker = workerDef(ref, {
    system,
    output: {
      type: "object",
      properties: { mode: { type: "string", enum: ["car", "train", "bus"] } },
      required: ["mode"],
      additionalProperties: false,
    },
    maxTokens: 16,
    contextSize: 4096,
  });
  const manager = new ModelManager({ device: DEVICE });
  const reused = createLocalWorkers({
    manager,
    workers: [worker],
    seed: SEED,
    reusePrefix: true,
    retries: 0,
  });
  const fresh = createLocalWorkers({
    manager,
    workers: [worker],
    seed: SEED,
    reusePrefix: false,
    retries: 0,
  });
  const timedOne = async (port, i) => {
    const started = performance.now();
    const outcome = await port.execute(request(worker, `r${i}`, `How do we reach valley ${i}?`), context());
    assertOk(outcome, "prefix");
    return { ms: performance.now() - started, promptTokens: outcome.usage[0]?.promptTokens ?? 0 };
  };
  await timedOne(fresh, -1); // warm-up (load, grammar)
  const freshMs = [];
  const reusedMs = [];
  let promptTokens = 0;
  for (let rep = 0; rep < REPS; rep++) {
    // Fresh first: it clears the sequence; the reused phase then evaluates the prefix once (untimed) and keeps it.
    const f = await timedOne(fresh, rep);
    freshMs.push(f.ms);
    promptTokens = f.promptTokens;
    await timedOne(reused, 100 + rep);
    reusedMs.push((await timedOne(reused, 200 + rep)).ms);
  }
  await reused.dispose();
  await fresh.dispose();
  await manager.dispose();
  const ratios = freshMs.map((f, i) => reusedMs[i] / f);
  log(`prefix: reused/fresh ${spread(summary(ratios))}`);
  return {
    description: `one worker, ~${promptTokens}-token prompt (long system prompt), enum answer of a few tokens, so subtask latency ≈ time to first token; reused prefix vs cleared sequence`,
    promptTokens,
    freshMs: summary(freshMs),
    reusedMs: summary(reusedMs),
    ratio: summary(ratios),
    speedup: summary(freshMs.map((f, i) => f / reusedMs[i])),
  };
}

// ─── 4. Orchestrator cost: scripted planner, instant workers ────────────────────────────────────────────

async function orchestrator() {
  const N = 50;
  const makeWorker = (name) =>
    workerDef(
      { kind: "fixture", raw: `fixture:${name}`, name, seed: 1, size: "tiny" },
      {
        name,
        description: `${name} worker`,
        output: DEFAULT_WORKER_OUTPUT,
        contextSize: 512,
        maxTokens: 32,
        temperature: 0,
        parallel: 4,
      },
    );
  const agent = scriptedAgent({
    name: "bench-agent",
    description: "orchestrator benchmark",
    workers: [makeWorker("alpha"), makeWorker("beta")],
    limits: { maxSubtasks: N, maxParallel: 4, maxReplans: 0, timeoutSeconds: 60, subtaskTimeoutSeconds: 10 },
    escalation: { retries: 0, to: "fail" },
  });
  // A DAG: 10 independent roots, each with a chain of 4 dependents (50 subtasks, up to 10 ready at once).
  const subtasks = [];
  for (let i = 0; i < N; i++) {
    const dependsOn = i % 5 === 0 ? [] : [`s${i - 1}`];
    subtasks.push({ id: `s${i}`, worker: i % 2 ? "beta" : "alpha", instruction: `step ${i}`, dependsOn });
  }
  const plan = { subtasks };
  const usage = (model) => ({
    model,
    locality: "remote",
    promptTokens: 1,
    completionTokens: 1,
    durationMs: 0,
    loadMs: 0,
  });

  async function once() {
    let planned = 0;
    let firstDispatch = 0;
    let executed = 0;
    const planner = scriptedPlanner(plan, {
      onPlanned: () => {
        planned = performance.now();
      },
      usage: [usage("scripted:planner")],
    });
    const workers = {
      async execute(req) {
        if (executed++ === 0) firstDispatch = performance.now();
        return { ok: true, answer: { answer: `done ${req.subtask.id}` }, attempts: 1, usage: [] };
      },
      isResident: () => true,
      async dispose() {},
      async [Symbol.asyncDispose]() {},
    };
    const started = performance.now();
    const run = startRun(agent, "benchmark the orchestrator", { planner, workers });
    let events = 0;
    const drain = (async () => {
      for await (const _ of run.events) events++;
    })();
    const result = await run.result;
    await drain;
    const total = performance.now() - started;
    if (result.status !== "completed" || executed !== N) {
      throw new Error(`orchestrator run ended ${result.status} after ${executed}/${N} subtasks`);
    }
    return { total, planToDispatch: firstDispatch - planned, events };
  }

  for (let i = 0; i < 3; i++) await once(); // warm-up (JIT)
  const runs = [];
  for (let rep = 0; rep < Math.max(REPS, 10); rep++) runs.push(await once());
  const perSubtask = summary(runs.map((r) => (r.total * 1000) / N));
  log(`orchestrator: ${spread(perSubtask, 0)} µs per subtask`);
  return {
    description: `${N}-subtask DAG (10 chains of 5), scripted planner, workers answering at once, no run store; whole run wall time / ${N}`,
    microsecondsPerSubtask: perSubtask,
    planToFirstDispatchMicroseconds: summary(runs.map((r) => r.planToDispatch * 1000)),
    eventsPerRun: runs[0].events,
  };
}

// ─── 5. Model swaps and peak RSS: three models under a budget that fits one, then two ────────────────────

const MiB = 2 ** 20;

/**
 * Runs a workload script of bench/ in its own process and returns the last JSON line it prints; `label` names it
 * in the error when it fails.
 */
function childWorkload(script, config, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, script), JSON.stringify(config)], {
      // glibc serves allocations above 128 KiB with mmap, so the memory of an unloaded model goes back to the
      // system instead of staying in the heap, and RSS follows what edgecrew holds.
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "131072" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const line = stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .at(-1);
      if (code !== 0 || line === undefined) {
        reject(new Error(`${label} exited with ${code ?? signal}`));
        return;
      }
      resolve(JSON.parse(line));
    });
  });
}

/** Runs one variant of the swaps section in its own process (bench/swapWorkload.mjs). */
const swapWorkload = (config) =>
  childWorkload("swapWorkload.mjs", config, `swaps: ${config.strategy} workload`);

async function swaps(dir, sharedModelPath) {
  const N = 9;
  const chars = 16;
  const contextSize = 1024;
  // Three distinct models of the same size class (seeds 1–3; seed 1 is the other sections' fixture).
  const models = [];
  for (const seed of [1, 2, 3]) {
    const path = join(dir, `fixture-${SIZE}${seed === 1 ? "" : `-${seed}`}.gguf`);
    if (seed === 1 && sharedModelPath === path) models.push(path);
    else models.push((await createFixtureModel({ size: SIZE, seed, path })).path);
  }
  // The budgets come from the estimate edgecrew itself counts against device.memory (model + its context of
  // `contextSize` tokens × 1 sequence, CPU): one model fits under 1.2× of it, two under 2.2×, never three.
  const estimates = await Promise.all(
    models.map((path) => estimateModelMemory(path, { contextSize, sequences: 1, gpu: false })),
  );
  const estimateBytes = Math.max(...estimates.map((e) => e.totalBytes));
  const { modelBytes, contextBytes, method } = estimates[0];
  const budgets = {
    fitsOne: { factor: 1.2, bytes: Math.floor(1.2 * estimateBytes) },
    fitsTwo: { factor: 2.2, bytes: Math.floor(2.2 * estimateBytes) },
  };
  const runs = { fitsOne: { edgecrew: [], naive: [] }, fitsTwo: { edgecrew: [], naive: [] } };
  const wallRatios = { fitsOne: [], fitsTwo: [] };
  for (let rep = 0; rep < SWAP_REPS; rep++) {
    for (const [key, budget] of Object.entries(budgets)) {
      // Alternate which strategy goes first (edgecrew, naive, naive, edgecrew, ...), so drift favours neither.
      const strategies = rep % 2 === 0 ? ["edgecrew", "naive"] : ["naive", "edgecrew"];
      const got = {};
      for (const strategy of strategies) {
        got[strategy] = await swapWorkload({
          models,
          budgetBytes: budget.bytes,
          strategy,
          chars,
          subtasks: N,
          contextSize,
          seed: SEED,
        });
        runs[key][strategy].push(got[strategy]);
      }
      wallRatios[key].push(got.edgecrew.wallMs / got.naive.wallMs);
      log(
        `swaps ${key} rep ${rep + 1}: loads ${got.edgecrew.loads} vs ${got.naive.loads}, ` +
          `${fmt(got.edgecrew.wallMs / 1000, 1)} vs ${fmt(got.naive.wallMs / 1000, 1)} s, ` +
          `peak RSS ${fmt(got.edgecrew.peakRssBytes / MiB, 0)} / ${fmt(got.naive.peakRssBytes / MiB, 0)} MiB ` +
          `(budget ${fmt(budget.bytes / MiB, 0)} MiB)`,
      );
    }
  }
  const strategySummary = (list, budgetBytes) => ({
    loads: summary(list.map((r) => r.loads)),
    unloads: summary(list.map((r) => r.unloads)),
    wallMs: summary(list.map((r) => r.wallMs)),
    peakRssBytes: summary(list.map((r) => r.peakRssBytes)),
    baselineRssBytes: summary(list.map((r) => r.baselineRssBytes)),
    peakOverBaselineBytes: summary(list.map((r) => r.peakRssBytes - r.baselineRssBytes)),
    peakOverBaselineVsBudget: summary(list.map((r) => (r.peakRssBytes - r.baselineRssBytes) / budgetBytes)),
    escalated: list.reduce((sum, r) => sum + r.escalated, 0),
    order: list[0]?.order,
    sameOrderEveryRun: list.every((r) => r.order.join() === list[0]?.order.join()),
  });
  const result = {
    description: `${N} independent subtasks in plan order alpha, beta, gamma, … (three ${SIZE} fixture models, seeds 1–3, one per worker, parallel 1, maxParallel 1, grammar-forced ${chars}-char answers, context ${contextSize}); edgecrew's scheduler vs plan order (isResident() always false), each run in its own process (MALLOC_MMAP_THRESHOLD_=131072); loads = model.loaded events; peak RSS = VmHWM, baseline = VmRSS after imports and the backend start, before the first load`,
    repetitions: SWAP_REPS,
    estimateBytesPerModel: estimateBytes,
    estimate: { modelBytes, contextBytes, contextSize, sequences: 1, method },
    // What the children's ModelManager counted per model (model.loading events): should equal the estimate.
    managerEstimateBytes: [
      ...new Set(
        Object.values(runs).flatMap((r) =>
          [...r.edgecrew, ...r.naive].flatMap((x) => x.estimatedBytesPerModel),
        ),
      ),
    ],
  };
  if (result.managerEstimateBytes.some((b) => b !== estimateBytes)) {
    log(`swaps: the manager estimated ${result.managerEstimateBytes.join(", ")} bytes, not ${estimateBytes}`);
  }
  for (const [key, budget] of Object.entries(budgets)) {
    const all = [...runs[key].edgecrew, ...runs[key].naive];
    result[key] = {
      budgetBytes: budget.bytes,
      budgetOverEstimate: budget.factor,
      edgecrew: strategySummary(runs[key].edgecrew, budget.bytes),
      naive: strategySummary(runs[key].naive, budget.bytes),
      wallRatio: summary(wallRatios[key]),
      peakOverBaselineVsBudget: summary(all.map((r) => (r.peakRssBytes - r.baselineRssBytes) / budget.bytes)),
      peakRssVsBudget: summary(all.map((r) => r.peakRssBytes / budget.bytes)),
    };
    log(`swaps ${key}: wall edgecrew / plan order ${spread(result[key].wallRatio)}`);
  }
  return result;
}

// ─── 6. Model families: memory estimate vs peak growth, decoding speed, forced tool calls ─────────────────

/**
 * The bench-size fixture of a family (`toy`: the toy fixture), from the fixture cache: written on first use
 * (9–90 s each), reused by every later child and run.
 */
async function familyFixture(family, cacheDir) {
  const started = performance.now();
  const ref = { name: "bench", seed: 1, size: "bench", ...(family === "toy" ? {} : { family }) };
  const path = await resolveFixtureModel(ref, { cacheDir });
  return { path, seconds: (performance.now() - started) / 1000 };
}

async function families() {
  const cacheDir = process.env.BENCH_FIXTURE_DIR || defaultFixtureCacheDir();
  const contextSize = 2048;
  const tokens = 128;
  const result = {
    description: `per family, size=bench, ${contextSize}-token context × 1 sequence, CPU, 1 thread: edgecrew's estimate (src/workers/memoryEstimate.ts) vs the peak RSS growth of a child process (MALLOC_MMAP_THRESHOLD_=131072; VmHWM after a ${tokens}-token grammar-constrained generation − VmRSS before ModelManager.acquire), ${FAMILY_REPS} child process(es) per family; decoding tokens/s of the same worker prompt, ${tokens} tokens, constrained (edgecrew's turn grammar, nested answer schema) vs free; forced tool calls (toolChoice: required, one small tool) made / required over ${FAMILY_SUBTASKS} subtasks`,
    fixtureCacheDir: cacheDir,
    contextSize,
    tokens,
    repetitions: FAMILY_REPS,
  };
  for (const family of FAMILIES) {
    const fixture = await familyFixture(family, cacheDir);
    log(`families ${family}: fixture ${fixture.path} (${fmt(fixture.seconds, 1)} s)`);
    const estimate = await estimateModelMemory(fixture.path, { contextSize, sequences: 1, gpu: false });
    const runs = [];
    for (let rep = 0; rep < FAMILY_REPS; rep++) {
      const run = await childWorkload(
        "familyWorkload.mjs",
        {
          path: fixture.path,
          family,
          contextSize,
          tokens,
          subtasks: rep === 0 ? FAMILY_SUBTASKS : 0,
          seed: SEED + rep,
        },
        `families: ${family} workload`,
      );
      runs.push(run);
      log(
        `families ${family} rep ${rep + 1}: estimate ${fmt(estimate.totalBytes / MiB, 0)} MiB, peak growth ${fmt(run.peakGrowthBytes / MiB, 0)} MiB (${fmt(estimate.totalBytes / run.peakGrowthBytes, 2)}), load ${fmt(run.loadMs / 1000, 1)} s, constrained ${fmt(run.speed.constrained.tokensPerSecond, 1)} (cold ${fmt(run.speed.constrainedCold.tokensPerSecond, 1)}, plain llama.cpp grammar ${fmt(run.speed.plainGrammar.tokensPerSecond, 1)}) vs free ${fmt(run.speed.free.tokensPerSecond, 1)} tok/s${rep === 0 ? `, tool calls ${run.toolCalls.made}/${run.toolCalls.required}` : ""}`,
      );
      if (run.estimatedBytes !== estimate.totalBytes) {
        log(
          `families ${family}: the manager estimated ${run.estimatedBytes} bytes, not ${estimate.totalBytes}`,
        );
      }
    }
    const first = runs[0];
    result[family] = {
      path: fixture.path,
      fileBytes: (await stat(fixture.path)).size,
      fixtureSeconds: fixture.seconds,
      estimate: {
        totalBytes: estimate.totalBytes,
        modelBytes: estimate.modelBytes,
        contextBytes: estimate.contextBytes,
        method: estimate.method,
        breakdown: estimate.breakdown,
      },
      peakGrowthBytes: summary(runs.map((r) => r.peakGrowthBytes)),
      estimateOverPeak: summary(runs.map((r) => estimate.totalBytes / r.peakGrowthBytes)),
      loadedGrowthBytes: summary(runs.map((r) => r.loadedRssBytes - r.baselineRssBytes)),
      loadMs: summary(runs.map((r) => r.loadMs)),
      constrainedTokensPerSecond: summary(runs.map((r) => r.speed.constrained.tokensPerSecond)),
      constrainedColdTokensPerSecond: summary(runs.map((r) => r.speed.constrainedCold.tokensPerSecond)),
      plainGrammarTokensPerSecond: summary(runs.map((r) => r.speed.plainGrammar.tokensPerSecond)),
      freeTokensPerSecond: summary(runs.map((r) => r.speed.free.tokensPerSecond)),
      constrainedOverFree: summary(
        runs.map((r) => r.speed.constrained.tokensPerSecond / r.speed.free.tokensPerSecond),
      ),
      toolCalls: first.toolCalls,
    };
  }
  return result;
}

// ─── Main ───────────────────────────────────────────────────────────────────────────────────────────────

async function machine() {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const pkg = JSON.parse(await readFile(join(here, "..", "package.json"), "utf8"));
  return {
    cpu: cpuModel,
    logicalCores: cpus().length,
    physicalCores: physicalCoreCount(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    nodeLlamaCpp: pkg.dependencies["node-llama-cpp"],
  };
}

function table(results) {
  const lines = ["| measurement | ratio: median [min–max] | detail |", "|---|---|---|"];
  const o = results.overhead;
  if (o) {
    lines.push(
      `| overhead: edgecrew / node-llama-cpp tok/s (target ≥ ${o.target}) | ${spread(o.ratio)} | ${fmt(o.edgecrewTokensPerSecond.median, 1)} vs ${fmt(o.directTokensPerSecond.median, 1)} tok/s${o.sameTokens ? "" : " (token counts differed)"} |`,
    );
  }
  const p = results.parallelism;
  if (p) {
    for (const key of Object.keys(p).filter((k) => k.startsWith("K="))) {
      const r = p[key];
      lines.push(
        `| parallelism ${key}: K sequences / one at a time, tok/s | ${spread(r.ratio, 2)} | ${fmt(r.parallelTokensPerSecond.median, 1)} vs ${fmt(r.sequentialTokensPerSecond.median, 1)} tok/s |`,
      );
    }
  }
  const r = results.prefix;
  if (r) {
    lines.push(
      `| prefix reuse: reused / fresh latency (≈ TTFT) | ${spread(r.ratio)} | ${fmt(r.reusedMs.median, 0)} vs ${fmt(r.freshMs.median, 0)} ms, ${r.promptTokens}-token prompt, ${fmt(r.speedup.median, 1)}× faster |`,
    );
  }
  const c = results.orchestrator;
  if (c) {
    lines.push(
      `| orchestrator: µs per subtask (50-subtask plan, instant workers) | ${spread(c.microsecondsPerSubtask, 0)} µs | plan → first dispatch ${spread(c.planToFirstDispatchMicroseconds, 0)} µs, ${c.eventsPerRun} events/run |`,
    );
  }
  const w = results.swaps;
  if (w) {
    const mib = (bytes) => `${fmt(bytes / MiB, 0)} MiB`;
    const memory = [];
    for (const [key, label] of [
      ["fitsOne", "one"],
      ["fitsTwo", "two"],
    ]) {
      const b = w[key];
      if (!b) continue;
      const [e, n] = [b.edgecrew, b.naive];
      lines.push(
        `| swaps, 3 models, budget fits ${label} (${b.budgetOverEstimate}× estimate): wall time edgecrew / plan order | ${spread(b.wallRatio)} | model loads ${spread(e.loads, 0)} vs ${spread(n.loads, 0)}, ${fmt(e.wallMs.median / 1000, 1)} vs ${fmt(n.wallMs.median / 1000, 1)} s${e.escalated + n.escalated > 0 ? `, ${e.escalated} / ${n.escalated} subtasks answered by the planner (zod rejected the forced string)` : ""} |`,
      );
      memory.push(
        `| memory, budget fits ${label}: (peak RSS − baseline) / device.memory, all runs | ${spread(b.peakOverBaselineVsBudget, 2)} | device.memory ${mib(b.budgetBytes)} (estimate ${mib(w.estimateBytesPerModel)}/model); peak RSS ${mib(e.peakRssBytes.median)} edgecrew, ${mib(n.peakRssBytes.median)} plan order; peak − baseline ${mib(e.peakOverBaselineBytes.median)} / ${mib(n.peakOverBaselineBytes.median)}; baseline ${mib(e.baselineRssBytes.median)} |`,
      );
    }
    lines.push(...memory);
  }
  if (results.toolrag) lines.push(...toolRagRows(results.toolrag));
  if (results.fleet) lines.push(...fleetRows(results.fleet));
  const f = results.families;
  if (f) {
    for (const family of FAMILIES.filter((name) => f[name])) {
      const r = f[family];
      const mib = (bytes) => `${fmt(bytes / MiB, 0)} MiB`;
      const peak = r.peakGrowthBytes;
      lines.push(
        `| family ${family} (bench): estimate / peak RSS growth (target 0.85–1.15) | ${spread(r.estimateOverPeak, 2)} | estimate ${mib(r.estimate.totalBytes)}, peak growth ${mib(peak.median)} [${mib(peak.min)}–${mib(peak.max)}]; constrained ${fmt(r.constrainedTokensPerSecond.median, 1)} vs free ${fmt(r.freeTokensPerSecond.median, 1)} tok/s (${spread(r.constrainedOverFree, 2)}; target ≥ 0.9; cold ${fmt(r.constrainedColdTokensPerSecond.median, 1)}, plain llama.cpp grammar ${fmt(r.plainGrammarTokensPerSecond.median, 1)}); forced tool calls ${r.toolCalls.made}/${r.toolCalls.required} |`,
      );
    }
  }
  return lines.join("\n");
}

/** The families section as its own table (the README's memory advice quotes it). */
function familiesTable(f) {
  const mib = (bytes) => fmt(bytes / MiB, 0);
  const lines = [
    "| family | file MiB | estimate MiB (weights + vocabulary + context) | peak growth MiB [min–max] | estimate / peak | constrained / free tok/s | tool calls |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const family of FAMILIES.filter((name) => f[name])) {
    const r = f[family];
    const b = r.estimate.breakdown;
    const context = b.kvCache + b.compute + b.sampling;
    lines.push(
      `| ${family} | ${mib(r.fileBytes)} | ${mib(r.estimate.totalBytes)} (${mib(b.weights)} + ${mib(b.vocabulary + b.overhead)} + ${mib(context)}) | ${mib(r.peakGrowthBytes.median)} [${mib(r.peakGrowthBytes.min)}–${mib(r.peakGrowthBytes.max)}] | ${spread(r.estimateOverPeak, 2)} | ${fmt(r.constrainedTokensPerSecond.median, 1)} / ${fmt(r.freeTokensPerSecond.median, 1)} | ${r.toolCalls.made}/${r.toolCalls.required} |`,
    );
  }
  return lines.join("\n");
}

async function main() {
  const started = performance.now();
  const results = {};
  const needsModel = ["overhead", "parallel", "prefix"].some((s) => ONLY.has(s));
  const seconds = {};
  const timed = async (name, fn) => {
    const t = performance.now();
    const value = await fn();
    seconds[name] = Math.round((performance.now() - t) / 100) / 10;
    log(`${name}: ${seconds[name]} s`);
    return value;
  };
  const dir = await mkdtemp(join(tmpdir(), "edgecrew-bench-"));
  try {
    let modelPath;
    if (needsModel) {
      const t = performance.now();
      const file = await createFixtureModel({ size: SIZE, seed: 1, path: join(dir, `fixture-${SIZE}.gguf`) });
      modelPath = file.path;
      log(
        `fixture ${SIZE}: ${(file.bytes / 2 ** 20).toFixed(0)} MiB in ${fmt((performance.now() - t) / 1000, 1)} s`,
      );
    }
    // One section at a time: never two measurements at once on this machine.
    if (ONLY.has("orchestrator")) results.orchestrator = await timed("orchestrator", orchestrator);
    if (ONLY.has("overhead")) results.overhead = await timed("overhead", () => overhead(modelPath));
    if (ONLY.has("prefix")) results.prefix = await timed("prefix", () => prefixReuse(modelPath));
    if (ONLY.has("parallel")) results.parallelism = await timed("parallel", () => parallelism(modelPath));
    if (ONLY.has("swaps")) results.swaps = await timed("swaps", () => swaps(dir, modelPath));
    if (ONLY.has("families")) results.families = await timed("families", families);
    if (ONLY.has("toolrag")) {
      const cacheDir = process.env.BENCH_FIXTURE_DIR || defaultFixtureCacheDir();
      results.toolrag = await timed("toolrag", () => toolRag({ root: join(here, ".."), dir, cacheDir }));
    }
    if (ONLY.has("fleet")) results.fleet = await timed("fleet", () => fleetBench({ dir, log }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const date = new Date().toISOString().slice(0, 10);
  const report = {
    date: new Date().toISOString(),
    command: "npm run bench",
    machine: await machine(),
    settings: {
      fixture: SIZE,
      repetitions: REPS,
      overheadRepetitions: OVERHEAD_REPS,
      swapRepetitions: SWAP_REPS,
      families: FAMILIES,
      familyRepetitions: FAMILY_REPS,
      familySubtasks: FAMILY_SUBTASKS,
      device: DEVICE,
      seed: SEED,
    },
    notSeparatelyMeasured: [
      "cold model loads from disk (the swaps fixtures were just written, so their files are in the page cache)",
    ],
    results,
    sectionSeconds: seconds,
    totalSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
  const out = process.env.BENCH_OUT ? resolve(process.env.BENCH_OUT) : join(here, "results", `${date}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  const m = report.machine;
  console.log(
    `\n## edgecrew benchmark — ${date}\n\nMachine: ${m.cpu}, ${m.logicalCores} cores (${m.physicalCores} physical), ${m.memoryGiB} GiB, Node ${m.node}, node-llama-cpp ${m.nodeLlamaCpp}. Fixture model: \`${SIZE}\`, 1 thread, ${REPS} repetitions (overhead ${OVERHEAD_REPS}).\n`,
  );
  console.log(table(results));
  if (results.families)
    console.log(`\n### Model families (size=bench)\n\n${familiesTable(results.families)}`);
  console.log(`\nResults: ${out} (${report.totalSeconds} s)`);
}

await main();
// llama.cpp may keep handles open after disposal; the results are written, so end here.
process.exit(0);

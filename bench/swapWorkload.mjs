// One variant of the `swaps` section of `npm run bench` (bench/run.mjs), in a process of its own so that its
// peak RSS (VmHWM) is its own: a plan of independent subtasks alternating among three workers, each on its own
// model, run by the real runtime and local workers under a memory budget, with maxParallel 1 so that the
// order of dispatch decides how many times models are loaded.
//   strategy "edgecrew": the runtime's scheduler as is (it prefers ready subtasks whose model is resident);
//   strategy "naive":    the same runtime and workers behind a port whose isResident() is always false, so the
//                        scheduler dispatches in plan order.
// Usage: node bench/swapWorkload.mjs '<json>' with { models: [3 paths], budgetBytes, strategy, chars, subtasks,
// contextSize, seed }. Prints one JSON line of results on stdout; exits non-zero, saying why on stderr, when the
// run does not complete every subtask.
import { readFileSync } from "node:fs";
import { startRun } from "../dist/runtime/startRun.js";
import { createLocalWorkers, ModelManager } from "../dist/workers/index.js";
import { scriptedAgent, scriptedPlanner, workerDef } from "./scripted.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
const { models, budgetBytes, strategy, chars, subtasks: N, contextSize, seed } = config;
if (!Array.isArray(models) || models.length !== 3 || !["edgecrew", "naive"].includes(strategy)) {
  console.error(`swapWorkload: bad configuration ${process.argv[2]}`);
  process.exit(2);
}

/** Resident set now and its high-water mark, in bytes, from /proc/self/status (Linux). */
function rss() {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field) => Number(new RegExp(`^${field}:\\s*(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kib("VmRSS") * 1024, hwmBytes: kib("VmHWM") * 1024 };
}

const names = ["alpha", "beta", "gamma"];
const output = {
  type: "object",
  properties: { note: { type: "string", minLength: chars, maxLength: chars } },
  required: ["note"],
  additionalProperties: false,
};
const workerDefs = names.map((name, i) =>
  workerDef(
    { kind: "file", raw: models[i], path: models[i] },
    { name, description: `${name} bench worker`, output, contextSize, maxTokens: chars + 32 },
  ),
);
const agent = scriptedAgent({
  name: "bench-swaps",
  description: "model swaps under a memory budget",
  workers: workerDefs,
  limits: { maxSubtasks: N, maxParallel: 1, maxReplans: 0, timeoutSeconds: 900, subtaskTimeoutSeconds: 300 },
  device: { gpu: false, threads: 1, memoryBytes: budgetBytes },
  // A forced-length string that zod still rejects (rare) goes to the scripted planner rather than failing the
  // run; such subtasks are counted (`escalated`), and they loaded their model like any other.
  escalation: { retries: 0, to: "planner" },
});
// Independent subtasks in plan order alpha, beta, gamma, alpha, beta, gamma, ...
const plan = {
  subtasks: Array.from({ length: N }, (_, i) => ({
    id: `s${i}`,
    worker: names[i % names.length],
    instruction: `Write note ${i} about the mountain trip.`,
    dependsOn: [],
  })),
};
const planner = scriptedPlanner(plan, { solve: () => ({ note: "x".repeat(chars) }) });

// Model events reach the run the way createCrew wires them: the manager's one channel, into the run's sink.
let sink;
const manager = new ModelManager({
  device: { gpu: false, threads: 1, memoryBytes: budgetBytes },
  onEvent: (event) => sink?.(event),
});
const local = createLocalWorkers({ manager, workers: workerDefs, seed, reusePrefix: false, retries: 0 });
const workers =
  strategy === "edgecrew"
    ? local
    : {
        execute: (request, context) => local.execute(request, context),
        isResident: () => false,
        dispose: () => local.dispose(),
        [Symbol.asyncDispose]: () => local.dispose(),
      };

// The backend is started before the baseline and outside the timed run: both strategies pay it alike.
await manager.runtime();
const baseline = rss();

const counts = { loaded: 0, unloaded: 0, escalated: 0, completed: 0, failed: 0 };
const order = [];
const loads = [];
const estimates = new Set();
const started = performance.now();
const run = startRun(agent, "Plan a weekend trip to the mountains", {
  planner,
  workers,
  connect: (emit) => {
    sink = emit;
  },
});
const drain = (async () => {
  for await (const event of run.events) {
    if (event.type === "model.loading" && event.estimatedBytes !== undefined)
      estimates.add(event.estimatedBytes);
    else if (event.type === "model.loaded") {
      counts.loaded++;
      loads.push({ model: names[models.indexOf(event.model)] ?? event.model, ms: event.ms });
    } else if (event.type === "model.unloaded") counts.unloaded++;
    else if (event.type === "subtask.started") order.push(event.worker);
    else if (event.type === "subtask.escalated") counts.escalated++;
    else if (event.type === "subtask.completed") counts.completed++;
    else if (event.type === "subtask.failed") counts.failed++;
  }
})();
const result = await run.result;
await drain;
const wallMs = performance.now() - started;
const peak = rss();
const residentAtEnd = manager.residentModels().map((m) => names[models.indexOf(m.model)] ?? m.model);

if (result.status !== "completed" || counts.completed !== N || result.results.length !== N) {
  console.error(
    `swapWorkload (${strategy}, budget ${budgetBytes}): run ${result.status} with ${counts.completed}/${N} subtasks completed${result.error ? `: ${result.error.code}: ${result.error.message}` : ""}`,
  );
  process.exit(1);
}

await local.dispose();
await manager.dispose();
console.log(
  JSON.stringify({
    strategy,
    budgetBytes,
    subtasks: N,
    completed: counts.completed,
    status: result.status,
    loads: counts.loaded,
    unloads: counts.unloaded,
    escalated: counts.escalated,
    wallMs,
    peakRssBytes: peak.hwmBytes,
    rssAtEndBytes: peak.rssBytes,
    baselineRssBytes: baseline.rssBytes,
    baselineHwmBytes: baseline.hwmBytes,
    estimatedBytesPerModel: [...estimates],
    order,
    loadSequence: loads,
    residentAtEnd,
  }),
);
// llama.cpp may keep handles open after disposal; the result is printed, so end here.
process.exit(0);

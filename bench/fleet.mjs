// The fleet section of `npm run bench` (BENCH_ONLY=fleet): what sending subtasks through a NATS JetStream hub
// costs, on this one machine, with a real nats-server and `edgecrew device` processes of the built CLI (the
// shared pieces are chaos/fleet.mjs).
//
// (a) dispatch overhead: the same plan of FLEET_SUBTASKS independent subtasks (maxParallel 1, so they run one
//     after another) on one fixture worker with a tiny answer (one boolean, maxTokens 16), once with the workers
//     in this process and once through a hub with one device on this machine, alternating, FLEET_REPS runs each.
//     Per subtask: subtask.started → subtask.completed as the orchestrator's event listener sees them; the first subtask of each run
//     (model load) is left out; medians over the rest, and the difference hub − local in ms and µs.
// (b) throughput: THROUGHPUT_RUNS runs of 2 subtasks (s2 depends on s1) started at once from this process (one
//     crew per run, scripted planners), on 1 device and then on 2 devices; runs/minute, FLEET_REPS times each.
//     Each device runs llama.cpp with 1 thread; this machine has few cores (stated in the output), so 2 devices
//     here compete with each other and with the orchestrator: the figure cannot show scaling across machines.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { killAll, planOf, startFleetDevice, startNats, storedEvents } from "../chaos/fleet.mjs";
import { createCrew } from "../dist/index.js";
import { ScriptedChatModel } from "../dist/testing/index.js";

const SUBTASKS = Math.max(3, Number(process.env.FLEET_SUBTASKS ?? 12));
const REPS = Math.max(1, Number(process.env.FLEET_REPS ?? 3));
const THROUGHPUT_RUNS = Math.max(1, Number(process.env.FLEET_THROUGHPUT_RUNS ?? 6));
const ANSWER = '{"answer":"done"}';

/** One fixture worker with a one-boolean answer: generation is a few tokens, so dispatch shows. */
const agentYaml = (maxParallel) => `name: fleet-bench
description: One tiny fixture worker, for the fleet benchmark.
planner:
  model: fixture:planner?seed=7&size=tiny
workers:
  - name: tiny
    description: Says yes.
    model: fixture:alpha?seed=3
    maxTokens: 16
    output:
      type: object
      properties: { ok: { type: boolean } }
      required: [ok]
      additionalProperties: false
limits:
  maxSubtasks: ${Math.max(SUBTASKS, 4)}
  maxParallel: ${maxParallel}
  maxReplans: 0
  timeoutSeconds: 300
  subtaskTimeoutSeconds: 120
device:
  memory: 1GiB
  threads: 1
  gpu: false
escalation:
  retries: 0
  to: planner
`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });

/**
 * Runs `plan` `times` times, one after another, on one crew; returns the per-subtask wall times of each run:
 * subtask.started → subtask.completed as this process's event listener sees them (performance.now(), µs).
 */
async function timedRuns(agentFile, runDir, plan, times, hub) {
  const replies = Array.from({ length: times }, () => [JSON.stringify(plan), ANSWER]).flat();
  const seen = new Map();
  const crew = await createCrew(agentFile, {
    planner: new ScriptedChatModel(replies),
    runDir,
    ...(hub === undefined ? {} : { hub }),
    onEvent: (event) => {
      if (event.type !== "subtask.started" && event.type !== "subtask.completed") return;
      const key = `${event.runId}/${event.subtaskId}`;
      const entry = seen.get(key) ?? {};
      entry[event.type === "subtask.started" ? "start" : "end"] = performance.now();
      if (event.type === "subtask.completed") entry.device = event.result?.device;
      seen.set(key, entry);
    },
  });
  const perRun = [];
  try {
    for (let i = 0; i < times; i++) {
      const run = crew.run("Fleet bench task");
      const result = await run.result;
      if (result.status !== "completed")
        throw new Error(`a bench run ${result.status}: ${result.error?.code} ${result.error?.message}`);
      // Plan order, from the stored events (the first subtask of a run is the one that loads the model).
      const order = storedEvents(runDir, run.id).filter((e) => e.type === "subtask.started");
      perRun.push(
        order.map((e) => {
          const t = seen.get(`${run.id}/${e.subtaskId}`);
          return { id: e.subtaskId, ms: t.end - t.start, device: t.device };
        }),
      );
    }
  } finally {
    await crew.dispose();
  }
  return perRun;
}

/** Section (a): per-subtask wall time in this process vs through the hub, alternating. */
async function dispatchOverhead(agentFile, dir, hubUrl) {
  const plan = planOf(Array.from({ length: SUBTASKS }, (_, i) => ({ id: `s${i + 1}`, worker: "tiny" })));
  const local = [];
  const hub = [];
  const devices = new Set();
  for (let rep = 0; rep < REPS; rep++) {
    for (const [which, into] of [
      ["local", local],
      ["hub", hub],
    ]) {
      const runs = await timedRuns(
        agentFile,
        join(dir, `overhead-${which}-${rep}`),
        plan,
        1,
        which === "hub" ? hubUrl : undefined,
      );
      for (const subtasks of runs) {
        // The first subtask of each run loads the model (a fresh crew; on the device only the first run does).
        for (const s of subtasks.slice(1)) into.push(s.ms);
        for (const s of subtasks) if (s.device) devices.add(s.device);
      }
    }
  }
  const l = stats(local);
  const h = stats(hub);
  const diffMs = h.median - l.median;
  return {
    subtasksPerRun: SUBTASKS,
    runsEach: REPS,
    localMsPerSubtask: l,
    hubMsPerSubtask: h,
    overheadMsMedian: Math.round(diffMs * 1000) / 1000,
    overheadMicrosecondsMedian: Math.round(diffMs * 1000),
    hubDevices: [...devices],
    measuredAs:
      "subtask.started → subtask.completed as seen by the orchestrator's event listener (performance.now()), first subtask of each run left out (model load); median over the remaining subtasks of all runs; overhead = hub median − local median",
  };
}

/** Section (b): THROUGHPUT_RUNS concurrent runs of 2 chained subtasks; returns runs/minute of each repetition. */
async function throughputOnce(agentFile, dir, hubUrl, label) {
  const plan = planOf([
    { id: "s1", worker: "tiny" },
    { id: "s2", worker: "tiny", dependsOn: ["s1"] },
  ]);
  const crews = await Promise.all(
    Array.from({ length: THROUGHPUT_RUNS }, (_, i) =>
      createCrew(agentFile, {
        planner: new ScriptedChatModel([JSON.stringify(plan), ANSWER]),
        runDir: join(dir, `throughput-${label}-${i}`),
        hub: hubUrl,
      }),
    ),
  );
  try {
    const t0 = performance.now();
    const results = await Promise.all(crews.map((crew) => crew.run("Fleet bench task").result));
    const ms = performance.now() - t0;
    const failed = results.filter((r) => r.status !== "completed");
    if (failed.length > 0)
      throw new Error(`${failed.length} throughput runs failed: ${failed[0].error?.message}`);
    const byDevice = {};
    for (const r of results) for (const s of r.results) byDevice[s.device] = (byDevice[s.device] ?? 0) + 1;
    return { ms: Math.round(ms), runsPerMinute: (THROUGHPUT_RUNS * 60_000) / ms, subtasksByDevice: byDevice };
  } finally {
    await Promise.all(crews.map((crew) => crew.dispose()));
  }
}

async function throughput(agentFile, dir, hubUrl, startSecond) {
  const one = [];
  const two = [];
  await throughputOnce(agentFile, dir, hubUrl, "warm-1"); // the device's model is resident from (a); not timed
  for (let rep = 0; rep < REPS; rep++) one.push(await throughputOnce(agentFile, dir, hubUrl, `one-${rep}`));
  await startSecond();
  await throughputOnce(agentFile, dir, hubUrl, "warm-2"); // loads the second device's model; not timed
  for (let rep = 0; rep < REPS; rep++) two.push(await throughputOnce(agentFile, dir, hubUrl, `two-${rep}`));
  const r1 = stats(one.map((r) => r.runsPerMinute));
  const r2 = stats(two.map((r) => r.runsPerMinute));
  return {
    runsAtOnce: THROUGHPUT_RUNS,
    subtasksPerRun: 2,
    repetitions: REPS,
    oneDevice: { runsPerMinute: r1, details: one },
    twoDevices: { runsPerMinute: r2, details: two },
    twoOverOne: r2.median / r1.median,
    cores: cpus().length,
    note: `this machine has ${cpus().length} cores shared by the orchestrator (this process), nats-server and the devices (1 llama.cpp thread each), and by other work: 2 devices here cannot show scaling; the ratio measures contention on one machine, not a fleet of machines`,
  };
}

/**
 * The fleet section: starts a nats-server and a device, measures (a) and (b), stops everything.
 * `dir` is the benchmark's scratch directory.
 */
export async function fleetBench({ dir, log }) {
  // maxParallel 1: the subtasks of one run go one after another (each run of (b) is a chain anyway).
  const agentFile = join(dir, "fleet-bench.yaml");
  writeFileSync(agentFile, agentYaml(1));
  const nats = await startNats(join(dir, "fleet-nats"));
  const devices = [];
  try {
    devices.push(await startFleetDevice(nats.url, "bench-a", { agentFile, toolsFile: undefined }));
    log(`fleet: dispatch overhead, ${SUBTASKS} subtasks × ${REPS} runs, local and through the hub…`);
    const overhead = await dispatchOverhead(agentFile, dir, nats.url);
    log(`fleet: throughput, ${THROUGHPUT_RUNS} concurrent runs on 1 then 2 devices…`);
    const tput = await throughput(agentFile, dir, nats.url, async () => {
      devices.push(await startFleetDevice(nats.url, "bench-b", { agentFile, toolsFile: undefined }));
    });
    return { nats: "nats-server on 127.0.0.1 (JetStream, file storage)", overhead, throughput: tput };
  } finally {
    await killAll(devices);
    await nats.stop();
  }
}

/** The fleet section's rows of the benchmark's table. */
export function fleetRows(f) {
  const o = f.overhead;
  const t = f.throughput;
  const ms = (s) => `${s.median.toFixed(1)} [${s.min.toFixed(1)}–${s.max.toFixed(1)}]`;
  const rpm = (s) => `${s.median.toFixed(1)} [${s.min.toFixed(1)}–${s.max.toFixed(1)}]`;
  return [
    `| fleet: dispatch overhead per subtask, hub (1 device, this machine) − in-process | ${o.overheadMsMedian.toFixed(1)} ms (${o.overheadMicrosecondsMedian} µs) | median per-subtask wall ${ms(o.hubMsPerSubtask)} ms via hub vs ${ms(o.localMsPerSubtask)} ms in-process; ${o.subtasksPerRun}-subtask plan × ${o.runsEach} runs each, first subtask of each run left out |`,
    `| fleet: throughput, ${t.runsAtOnce} concurrent runs of 2 subtasks, runs/minute on 1 vs 2 devices | ${rpm(t.oneDevice.runsPerMinute)} vs ${rpm(t.twoDevices.runsPerMinute)} (×${t.twoOverOne.toFixed(2)}) | ${t.note} |`,
  ];
}

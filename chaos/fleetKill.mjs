// Fleet device kills: N runs, each on a fresh nats-server (JetStream, file storage) with 2 or 3 `edgecrew device`
// processes and an orchestrator (tests/fixtures/fleet/crew.mjs, a scripted planner) running a small plan (3–4
// subtasks of the fleet agent's alpha, beta and waiter workers, some with dependencies; only idempotent tools).
// At a point drawn by the seeded PRNG one device is SIGKILLed:
//   tool        while the waiter's slow tool holds (FLEET_HOLD_MS) on it: the device running the call
//   generation  0–300 ms after a device logged "running <run>/<subtask>" for a random non-tool subtask (model
//               load or generation): that device
//   between     right after the k-th "…: answered" line (k < plan size): the device that logged it
//   delay       a uniform delay in [0.5 s, typical run length]: a random device
// Every worker stays served by at least one survivor (2 devices: both serve all three workers; 3 devices: a serves
// alpha, beta, waiter; b alpha, waiter; c beta, waiter).
// Verdict per run: the run completed; each plan subtask has exactly one `subtask.completed` event in the run's
// events.jsonl; each result's device serves its worker; no result replaced: a watcher on the hub's results bucket
// saw every job key written once, and each result (and its subtask.completed event) names the device that wrote
// it. Late results dropped by the first-result-wins rule and redeliveries are counted, not failures.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openHub } from "../dist/fleet/index.js";
import {
  killAll,
  planOf,
  startFleetDevice,
  startNats,
  startOrchestrator,
  storedEvents,
  toolMarks,
} from "./fleet.mjs";
import { median } from "./lib.mjs";

const ALL = ["alpha", "beta", "waiter"];
const DEVICE_SETS = {
  2: { "dev-a": ALL, "dev-b": ALL },
  3: { "dev-a": ALL, "dev-b": ["alpha", "waiter"], "dev-c": ["beta", "waiter"] },
};
const PLANS = [
  [
    { id: "s1", worker: "waiter" },
    { id: "s2", worker: "alpha" },
    { id: "s3", worker: "beta", dependsOn: ["s1"] },
    { id: "s4", worker: "alpha", dependsOn: ["s2", "s3"] },
  ],
  [
    { id: "s1", worker: "alpha" },
    { id: "s2", worker: "waiter", dependsOn: ["s1"] },
    { id: "s3", worker: "beta", dependsOn: ["s1"] },
  ],
  [
    { id: "s1", worker: "beta" },
    { id: "s2", worker: "alpha" },
    { id: "s3", worker: "waiter", dependsOn: ["s1", "s2"] },
    { id: "s4", worker: "beta", dependsOn: ["s3"] },
  ],
];
const MODES = ["tool", "generation", "between", "delay"];
const RUN_TIMEOUT_MS = 150_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (random, xs) => xs[Math.floor(random() * xs.length)];
const subtaskOfKey = (key) => Buffer.from(key.split(".")[2] ?? "", "base64url").toString("utf8");

/** Watches every write to the hub's results bucket; `stop()` resolves with them. */
async function watchResults(hubUrl) {
  const hub = await openHub({ url: hubUrl, name: "chaos-fleet-watch" });
  const watcher = await hub.results.watch({ key: ">" });
  const writes = [];
  const done = (async () => {
    for await (const e of watcher) {
      let device;
      try {
        device = JSON.parse(new TextDecoder().decode(e.value)).device;
      } catch {}
      writes.push({ key: e.key, subtaskId: subtaskOfKey(e.key), operation: e.operation, device });
    }
  })();
  return {
    writes,
    stop: async () => {
      await sleep(300); // the last writes' notifications
      watcher.stop();
      await done.catch(() => undefined);
      await hub.close();
      return writes;
    },
  };
}

/** What a device was running when it was killed: subtasks with a "running" line and no outcome line after it. */
function runningOn(device) {
  const open = new Map();
  for (const line of device.stderrLines()) {
    const start = /running \S+\/(\S+) \(/.exec(line);
    if (start) open.set(start[1], true);
    const end =
      /\S+\/(\S+) \([^)]*\): (answered|failed|no valid answer|another device|cancelled|handed back)/.exec(
        line,
      );
    if (end) open.delete(end[1]);
  }
  return [...open.keys()];
}

const answeredLines = (devices) =>
  devices.flatMap((d) => d.stderrLines().flatMap((line, i) => (/: answered$/.test(line) ? [{ d, i }] : [])));

/** Waits for the kill point of `mode` (polling every 20 ms); kills and returns the victim, or undefined. */
async function killAtPoint(mode, draw, devices, orchestrator, markerDir) {
  const finished = () => !orchestrator.alive();
  const poll = async (found) => {
    for (;;) {
      if (finished()) return undefined;
      const hit = found();
      if (hit !== undefined) return hit;
      await sleep(20);
    }
  };
  let victim;
  if (mode === "tool") {
    const holder = await poll(() => toolMarks(markerDir, "slow")[0]?.split(" ")[0]);
    if (holder === undefined) return undefined;
    await sleep(draw.afterMs);
    victim = devices.find((d) => d.name === holder);
  } else if (mode === "generation") {
    const pattern = new RegExp(`running \\S+/${draw.subtaskId} \\(`);
    victim = await poll(() => devices.find((d) => d.stderrLines().some((line) => pattern.test(line))));
    if (victim === undefined) return undefined;
    await sleep(draw.afterMs);
  } else if (mode === "between") {
    victim = await poll(() => answeredLines(devices)[draw.answered - 1]?.d);
  } else {
    const end = performance.now() + draw.afterMs;
    await poll(() => (performance.now() >= end ? true : undefined));
    victim = finished() ? undefined : draw.device(devices);
  }
  if (victim === undefined || finished()) return undefined;
  const running = runningOn(victim);
  return victim.kill("SIGKILL") ? { victim, running } : undefined;
}

/** The verdict of one run; returns the problems (empty: pass) and what was counted. */
function judge({ plan, sets, result, exit, events, writes }) {
  const problems = [];
  if (result === undefined) {
    problems.push(`the orchestrator printed no result (exit ${exit.code ?? exit.signal})`);
    return { problems };
  }
  if (result.status !== "completed")
    problems.push(`status ${result.status}: ${result.error?.code ?? ""} ${result.error?.message ?? ""}`);
  const completed = events.filter((e) => e.type === "subtask.completed");
  for (const s of plan) {
    const n = completed.filter((e) => e.subtaskId === s.id).length;
    if (n !== 1) problems.push(`${s.id}: ${n} subtask.completed events`);
  }
  const ids = (result.results ?? []).map((r) => r.subtaskId).sort();
  const planIds = plan.map((s) => s.id).sort();
  if (JSON.stringify(ids) !== JSON.stringify(planIds)) problems.push(`results ${ids} ≠ plan ${planIds}`);
  for (const r of result.results ?? []) {
    if (r.by !== "worker") problems.push(`${r.subtaskId} answered by ${r.by}`);
    if (!sets[r.device]?.includes(r.worker))
      problems.push(`${r.subtaskId} [${r.worker}] ran on ${r.device}, which does not serve it`);
    const event = completed.find((e) => e.subtaskId === r.subtaskId);
    if (event && event.result?.device !== r.device)
      problems.push(`${r.subtaskId}: stored event names ${event.result?.device}, result ${r.device}`);
    const written = writes.filter((w) => w.subtaskId === r.subtaskId && w.operation === "PUT");
    if (!written.some((w) => w.device === r.device))
      problems.push(`${r.subtaskId}: no hub result written by ${r.device} (${written.map((w) => w.device)})`);
  }
  const perKey = new Map();
  for (const w of writes) perKey.set(w.key, (perKey.get(w.key) ?? 0) + 1);
  const replaced = [...perKey].filter(([, n]) => n > 1);
  if (replaced.length > 0) problems.push(`result keys written more than once: ${replaced.map(([k]) => k)}`);
  if (writes.some((w) => w.operation !== "PUT")) problems.push("a result was deleted or purged");
  return { problems, resultKeys: perKey.size };
}

/** One killed run on its own hub; returns its record. */
async function fleetRun({ scratch, index, attempt, random, typicalMs, mode }) {
  const dir = join(scratch, `fleet-${index}-${attempt}`);
  const markerDir = join(dir, "marks");
  const count = random() < 0.5 ? 2 : 3;
  const sets = DEVICE_SETS[count];
  const plan = pick(random, PLANS);
  // Draw every random number up front, whatever the mode, so that CHAOS_SEED replays the same sequence.
  // Generation kills target a non-tool subtask that another one depends on: the run is still going when it runs.
  const nonTool = plan.filter((s) => s.worker !== "waiter" && plan.some((t) => t.dependsOn?.includes(s.id)));
  const draw = {
    holdMs: Math.round(1000 + random() * 2000),
    subtaskId: pick(random, nonTool).id,
    answered: 1 + Math.floor(random() * (plan.length - 1)),
    r: random(),
    delayMs: Math.round(500 + random() * Math.max(0, typicalMs - 500)),
    deviceIndex: Math.floor(random() * count),
  };
  draw.afterMs = mode === "tool" ? Math.round(draw.r * draw.holdMs * 0.5) : Math.round(draw.r * 150);
  if (mode === "delay") draw.afterMs = draw.delayMs;
  draw.device = (devices) => devices[draw.deviceIndex];
  const record = {
    run: index + 1,
    mode,
    devices: Object.fromEntries(Object.entries(sets).map(([n, w]) => [n, w.join(",")])),
    plan: plan.map((s) => `${s.id}:${s.worker}${s.dependsOn ? `<${s.dependsOn.join("+")}` : ""}`).join(" "),
    point:
      mode === "tool"
        ? `slow tool held ${draw.holdMs} ms, kill ${draw.afterMs} ms into it`
        : mode === "generation"
          ? `${draw.afterMs} ms after "running …/${draw.subtaskId}"`
          : mode === "between"
            ? `after answered line ${draw.answered}`
            : `after ${draw.afterMs} ms, device #${draw.deviceIndex + 1}`,
  };
  mkdirSync(markerDir, { recursive: true });
  const nats = await startNats(join(dir, "nats"));
  const procs = [];
  let watch;
  try {
    const env = { FLEET_MARKER_DIR: markerDir, FLEET_HOLD_MS: mode === "tool" ? String(draw.holdMs) : "0" };
    const devices = await Promise.all(
      Object.entries(sets).map(([name, workers]) => startFleetDevice(nats.url, name, { workers, env })),
    );
    procs.push(...devices);
    watch = await watchResults(nats.url);
    const t0 = performance.now();
    const orchestrator = startOrchestrator(join(dir, "runs"), nats.url, planOf(plan), env);
    procs.push(orchestrator);
    const hang = setTimeout(() => orchestrator.kill("SIGKILL"), RUN_TIMEOUT_MS);
    const killed = await killAtPoint(mode, draw, devices, orchestrator, markerDir);
    if (killed) {
      record.killed = killed.victim.name;
      record.killedAtMs = Math.round(performance.now() - t0);
      record.victimWasRunning = killed.running;
    }
    const { exit, result } = await orchestrator.result();
    clearTimeout(hang);
    record.ms = Math.round(performance.now() - t0);
    const runId = orchestrator.runId();
    const writes = await watch.stop();
    watch = undefined;
    const events = runId === undefined ? [] : storedEvents(join(dir, "runs"), runId);
    const judged = judge({ plan, sets, result, exit, events, writes });
    record.runId = runId;
    record.status = result?.status;
    record.resultDevices = Object.fromEntries((result?.results ?? []).map((r) => [r.subtaskId, r.device]));
    record.redeliveries = devices.reduce(
      (n, d) => n + d.stderrLines().filter((l) => /\(delivery \d+\)/.test(l)).length,
      0,
    );
    record.lateResultsDropped = devices.reduce(
      (n, d) => n + d.stderrLines().filter((l) => /another device answered first/.test(l)).length,
      0,
    );
    // What the devices said about redeliveries and dropped late results (the evidence behind the counts).
    // "+N ms": since the orchestrator started, like killedAtMs (a redelivery before the kill means a live
    // device's job was redelivered: its in-progress acks did not reach the hub within the ack wait).
    record.deviceNotes = devices.flatMap((d) =>
      d
        .stderrTimed()
        .filter(({ line }) => /\(delivery \d+\)|another device answered first|already answered/.test(line))
        .map(
          ({ line, at }) => `+${Math.round(at - t0)} ms ${d.name}: ${line.replace(/^edgecrew device: /, "")}`,
        ),
    );
    record.redeliveredBeforeKill = devices.reduce(
      (n, d) =>
        n +
        d
          .stderrTimed()
          .filter(({ line, at }) => /\(delivery \d+\)/.test(line) && at - t0 < (record.killedAtMs ?? 0))
          .length,
      0,
    );
    record.slowToolCalls = toolMarks(markerDir, "slow").length;
    record.problems = judged.problems;
    if (!killed) record.problems.push("the run finished before its kill point: nothing was killed");
    if (exit.signal === "SIGKILL") record.problems.push(`hung: killed after ${RUN_TIMEOUT_MS} ms`);
    for (const d of devices) {
      if (d.name !== record.killed && !d.alive())
        record.problems.push(
          `survivor ${d.name} ended on its own (${d.child.exitCode ?? d.child.signalCode}) before the run's end`,
        );
    }
    record.pass = record.problems.length === 0;
    if (!record.pass) {
      record.orchestratorOutput = `${orchestrator.stdout().slice(-1500)}\n--- stderr ---\n${orchestrator.stderr().slice(-1500)}`;
      record.deviceLogs = Object.fromEntries(
        devices.map((d) => [
          d.name,
          {
            alive: d.alive(),
            exit: d.child.exitCode ?? d.child.signalCode,
            stderr: d
              .stderrTimed()
              .map(({ line, at }) => `+${Math.round(at - t0)} ms ${line}`)
              .slice(-40),
          },
        ]),
      );
    }
  } catch (error) {
    record.pass = false;
    record.problems = [`harness: ${error.message.split("\n")[0]}`];
    record.harnessError = error.message.slice(0, 3000);
  } finally {
    await watch?.stop().catch(() => undefined);
    await killAll(procs);
    await nats.stop();
  }
  return record;
}

/** A warm-up run without a kill: generates the fixture models into the shared cache, measures a run's length. */
async function warmUp(scratch) {
  const dir = join(scratch, "fleet-warm");
  const nats = await startNats(join(dir, "nats"));
  const procs = [];
  try {
    const env = { FLEET_MARKER_DIR: join(dir, "marks"), FLEET_HOLD_MS: "0" };
    mkdirSync(env.FLEET_MARKER_DIR, { recursive: true });
    procs.push(
      ...(await Promise.all(
        Object.entries(DEVICE_SETS[2]).map(([name, workers]) =>
          startFleetDevice(nats.url, name, { workers, env }),
        ),
      )),
    );
    const t0 = performance.now();
    const orchestrator = startOrchestrator(join(dir, "runs"), nats.url, planOf(PLANS[0]), env);
    procs.push(orchestrator);
    const hang = setTimeout(() => orchestrator.kill("SIGKILL"), RUN_TIMEOUT_MS);
    const { result } = await orchestrator.result();
    clearTimeout(hang);
    if (result?.status !== "completed")
      throw new Error(
        `the fleet warm-up run did not complete (${result?.status ?? "no result"}: ${result?.error?.code ?? ""} ${result?.error?.message ?? ""}): ${orchestrator.stderr().slice(-1500)}`,
      );
    return Math.round(performance.now() - t0);
  } finally {
    await killAll(procs);
    await nats.stop();
  }
}

/** The fleet section of `npm run chaos`: `runs` runs (CHAOS_FLEET_RUNS overrides), one device killed in each. */
export async function fleetKills({ scratch, runs, random, log }) {
  const started = performance.now();
  const n = Number(process.env.CHAOS_FLEET_RUNS ?? runs);
  log("fleet warm-up (fixture models, typical run length)…");
  await warmUp(scratch); // the first run generates the models: its length is not typical
  const typicalMs = await warmUp(scratch);
  const records = [];
  for (let i = 0; i < n; i++) {
    const mode = MODES[Math.floor(random() * MODES.length)];
    // A run that finished before its kill point tested nothing: draw a new point (same mode), at most 3 times.
    const attempts = [];
    let record;
    for (let attempt = 0; attempt < 3; attempt++) {
      record = await fleetRun({ scratch, index: i, attempt, random, typicalMs, mode });
      attempts.push({
        point: record.point,
        killed: record.killed ?? null,
        pass: record.pass,
        ...(record.harnessError
          ? { harnessError: record.harnessError.split("\n").slice(0, 3).join(" ") }
          : {}),
      });
      // A device that did not start (e.g. dist/ being rebuilt under it by someone else) tested nothing either:
      // counted in harnessRetries and tried again.
      if (record.killed !== undefined) break;
    }
    record.attempts = attempts;
    records.push(record);
    log(
      `fleet run ${i + 1}/${n} (${mode}, ${Object.keys(record.devices).length} devices): killed ${record.killed ?? "none"} at ${record.killedAtMs ?? "-"} ms → ${record.pass ? "pass" : `FAIL (${record.problems.join("; ")})`}`,
    );
  }
  const byMode = Object.fromEntries(
    MODES.map((m) => {
      const rs = records.filter((r) => r.mode === m);
      return [m, { runs: rs.length, passed: rs.filter((r) => r.pass).length }];
    }),
  );
  return {
    agent: "tests/fixtures/fleet/agent.yaml",
    typicalRunMs: typicalMs,
    ms: Math.round(performance.now() - started),
    runs: records.length,
    passed: records.filter((r) => r.pass).length,
    byMode,
    sideEffectUncertain: 0, // no non-idempotent tool in these plans
    redeliveries: records.reduce((s, r) => s + (r.redeliveries ?? 0), 0),
    lateResultsDropped: records.reduce((s, r) => s + (r.lateResultsDropped ?? 0), 0),
    retriedKillPoints: records.reduce(
      (n, r) => n + r.attempts.slice(0, -1).filter((a) => a.harnessError === undefined).length,
      0,
    ),
    harnessRetries: records.reduce(
      (n, r) => n + r.attempts.slice(0, -1).filter((a) => a.harnessError !== undefined).length,
      0,
    ),
    redeliveredBeforeKill: records.reduce((s, r) => s + (r.redeliveredBeforeKill ?? 0), 0),
    killedWhileRunning: records.filter((r) => (r.victimWasRunning?.length ?? 0) > 0).length,
    medianRunMs: median(records.flatMap((r) => (r.ms === undefined ? [] : [r.ms]))),
    details: records,
  };
}

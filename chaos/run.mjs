#!/usr/bin/env node
// Fault injection for edgecrew (`npm run chaos`): drives the BUILT CLI (bin/edgecrew.js) in child processes.
//
// 1. Crash and resume: N runs (CHAOS_RUNS, default 20) of tests/fixtures/agents/resumable.yaml are killed with
//    SIGKILL at a random point (a uniform delay between 0.2 s and the measured run length, or on a random line
//    of progress output), each followed by `edgecrew resume <id> --json`. The event journal must show that no
//    subtask whose result was durable before the kill is started again, that every other subtask completed
//    exactly once after the resume, and the answers must validate against the workers' schemas.
// 2. Bad inputs: truncated GGUF, GGUF without llama.feed_forward_length, an unknown architecture, a catalogue
//    of malformed agent YAML files, a run directory that cannot be created, and an aborted run (SIGINT). Each
//    must end with a typed error: exit 1 or 2 (130 for SIGINT), a clear stderr line, no signal death, no hang.
//
// Writes chaos/results/<YYYY-MM-DD>.json and prints a markdown summary; exits 1 when any check failed.
// Environment: CHAOS_RUNS (number of crash runs), CHAOS_SEED (PRNG seed, to replay a sequence of kill points).
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "bin/edgecrew.js");
const agentFile = join(root, "tests/fixtures/agents/resumable.yaml");
const TASK = "A weekend by a lake";

if (!existsSync(join(root, "dist/index.js"))) {
  console.error("chaos: dist/ is missing; build first (npm run build), or use npm run chaos");
  process.exit(2);
}
const { loadAgent } = await import(join(root, "dist/config/index.js"));
const { compileSchema } = await import(join(root, "dist/schema/compile.js"));
const { createFixtureModel, fixtureGgufDocument, writeGgufFile } = await import(
  join(root, "dist/testing/index.js")
);

const runs = Number(process.env.CHAOS_RUNS ?? 20);
if (!Number.isSafeInteger(runs) || runs < 1) {
  console.error(`chaos: CHAOS_RUNS must be a positive whole number, got ${process.env.CHAOS_RUNS}`);
  process.exit(2);
}
const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 0xffff_ffff) >>> 0;

/** mulberry32: a small seeded PRNG, so a failing sequence of kill points can be replayed with CHAOS_SEED. */
function prng(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);

const scratch = mkdtempSync(join(tmpdir(), "edgecrew-chaos-"));
const cacheDir = join(scratch, "cache");
mkdirSync(cacheDir);
const env = { EDGECREW_CACHE_DIR: cacheDir };

/**
 * Runs `node bin/edgecrew.js ...args`. `onLine(line, lineNo, kill)` sees each stdout line; `killAfterMs`
 * sends `killSignal` after that delay; the child is SIGKILLed after `timeoutMs` (a hang).
 */
function cli(args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? root,
      env: { ...process.env, NO_COLOR: "1", ...env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let partial = "";
    let lines = 0;
    let killedAtMs;
    let linesAtKill;
    let timedOut = false;
    const kill = (signal) => {
      if (killedAtMs !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      killedAtMs = performance.now() - started;
      linesAtKill = lines;
      child.kill(signal);
    };
    const hang = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 60_000);
    const delayed =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => kill(options.killSignal ?? "SIGKILL"), options.killAfterMs);
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines++;
        options.onLine?.(line, lines, kill);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(hang);
      if (delayed) clearTimeout(delayed);
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        ms: Math.round(performance.now() - started),
        timedOut,
        killedAtMs: killedAtMs === undefined ? undefined : Math.round(killedAtMs),
        linesAtKill,
        lines,
      });
    });
  });
}

function readEvents(runDir, runId) {
  const file = join(runDir, runId, "events.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        // A line torn by the kill is not an event; the store must cope with it on resume.
        return [];
      }
    });
}

const runIdOf = (stdout) => /^run (\S+) · agent/m.exec(stdout)?.[1];
const median = (xs) => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
const phaseStart = performance.now();

// ─── 0. warm-up: generate the fixture models once, measure a typical run ──────────────────────────────────

const agent = await loadAgent(agentFile);
const validators = new Map(agent.workers.map((w) => [w.name, compileSchema(w.output)]));

console.error("chaos: warm-up (fixture models, typical run length)…");
const warmDir = join(scratch, "warm");
const warm1 = await cli(["run", agentFile, "--run-dir", warmDir, TASK], { timeoutMs: 120_000 });
const warm2 = await cli(["run", agentFile, "--run-dir", warmDir, TASK], { timeoutMs: 120_000 });
if (warm1.code !== 0 || warm2.code !== 0) {
  console.error(`chaos: the warm-up runs failed (exit ${warm1.code}/${warm2.code}):\n${warm2.stderr}`);
  process.exit(1);
}
const typicalMs = warm2.ms;
const typicalLines = warm2.lines;

// ─── 1. SIGKILL + resume ──────────────────────────────────────────────────────────────────────────────────

/** The journal checks of one crashed-and-resumed run; returns the problems found (empty: pass). */
function checkResumed(runDir, runId, before, resumed, inspect) {
  const problems = [];
  let result;
  try {
    result = JSON.parse(resumed.stdout);
  } catch {
    problems.push(`resume printed no JSON result (exit ${resumed.code}, ${resumed.stderr.trim()})`);
    return { problems };
  }
  if (resumed.code !== 0) problems.push(`resume exited ${resumed.code}`);
  if (resumed.stderr !== "") problems.push(`resume wrote to stderr: ${resumed.stderr.trim().split("\n")[0]}`);
  if (result.status !== "completed") problems.push(`status ${result.status}: ${result.error?.message ?? ""}`);
  if (result.runId !== runId) problems.push(`resumed ${result.runId}, not ${runId}`);

  const events = readEvents(runDir, runId);
  const after = events.slice(before.length);
  const resumedEvent = after[0];
  if (before.some((e) => e.type === "run.completed")) {
    // Killed after the completion was durable (while printing the ledger or exiting): resume must hand back
    // the stored result and run nothing again.
    if (after.length > 0) problems.push(`a completed run got ${after.length} new events on resume`);
    for (const r of result.results) {
      if (!validators.get(r.worker)?.validate(r.answer)?.ok)
        problems.push(`${r.subtaskId} [${r.worker}] answer does not validate`);
    }
    return { problems, result, durable: result.results.map((r) => r.subtaskId), resumedCompleted: [] };
  }
  if (resumedEvent?.type !== "run.resumed") {
    problems.push(`first event after the kill is ${resumedEvent?.type}, not run.resumed`);
    return { problems, result };
  }
  const durable = new Set(resumedEvent.completed);
  const doneBefore = before.flatMap((e) => (e.type === "subtask.completed" ? [e.subtaskId] : []));
  for (const id of doneBefore)
    if (!durable.has(id)) problems.push(`${id} completed before the kill but is not durable`);
  const seqs = events.map((e) => e.seq);
  if (seqs.some((s, i) => s !== i + 1)) problems.push("event seq numbers have gaps or repeats");
  const restarted = after.flatMap((e) =>
    e.type === "subtask.started" && durable.has(e.subtaskId) ? [e.subtaskId] : [],
  );
  if (restarted.length > 0) problems.push(`durable subtasks started again: ${restarted.join(", ")}`);
  const completedAfter = after.flatMap((e) => (e.type === "subtask.completed" ? [e.subtaskId] : []));
  const redone = completedAfter.filter((id) => durable.has(id));
  if (redone.length > 0) problems.push(`durable subtasks completed again: ${redone.join(", ")}`);
  if (new Set(completedAfter).size !== completedAfter.length)
    problems.push(`a subtask completed twice after resume: ${completedAfter.join(", ")}`);
  const planIds = (result.plan?.subtasks ?? []).map((s) => s.id).sort();
  const covered = [...durable, ...completedAfter].sort();
  if (JSON.stringify(covered) !== JSON.stringify(planIds))
    problems.push(`durable+resumed ${covered.join(",")} ≠ plan ${planIds.join(",")}`);
  if (planIds.length === 0) problems.push("the result has no plan");

  const resultIds = result.results.map((r) => r.subtaskId).sort();
  if (JSON.stringify(resultIds) !== JSON.stringify(planIds))
    problems.push(`results ${resultIds.join(",")} ≠ plan ${planIds.join(",")}`);
  for (const r of result.results) {
    const check = validators.get(r.worker)?.validate(r.answer);
    if (!check?.ok) problems.push(`${r.subtaskId} [${r.worker}] answer does not validate`);
  }
  if (result.answer === undefined) problems.push("no final answer");
  if (!events.some((e) => e.type === "run.completed")) problems.push("no run.completed in the journal");

  // inspect reads the stored run back from disk: it must agree.
  let timeline;
  try {
    timeline = JSON.parse(inspect.stdout);
  } catch {
    problems.push(`inspect printed no JSON (exit ${inspect.code})`);
  }
  if (timeline) {
    if (timeline.status !== "completed") problems.push(`inspect says ${timeline.status}`);
    const notDone = timeline.subtasks.filter((s) => s.state !== "completed").map((s) => s.id);
    if (notDone.length > 0) problems.push(`inspect: subtasks not completed: ${notDone.join(", ")}`);
  }
  return {
    problems,
    result,
    durable: [...durable],
    resumedCompleted: completedAfter,
    planned: planIds.length,
  };
}

const crashRuns = [];
for (let i = 0; i < runs; i++) {
  const runDir = join(scratch, `runs-${i}`);
  const record = { run: i + 1, attempts: [], freshStarts: 0 };
  let killedRun;
  // A run that finished before its kill point tested nothing: draw a new kill point (at most 5 times).
  for (let attempt = 0; attempt < 5 && killedRun === undefined; attempt++) {
    const byLine = random() < 0.5;
    const killAfterMs = byLine ? undefined : Math.round(200 + random() * Math.max(0, typicalMs - 200));
    const killOnLine = byLine ? 1 + Math.floor(random() * typicalLines) : undefined;
    const first = await cli(["run", agentFile, "--run-dir", runDir, TASK], {
      killAfterMs,
      timeoutMs: 120_000,
      onLine: (_line, n, kill) => {
        if (killOnLine !== undefined && n >= killOnLine) kill("SIGKILL");
      },
    });
    const killed = first.signal === "SIGKILL" && !first.timedOut;
    record.attempts.push({
      mode: byLine ? "line" : "time",
      killAfterMs,
      killOnLine,
      killedAtMs: first.killedAtMs,
      linesAtKill: first.linesAtKill,
      outcome: killed ? "killed" : `exited ${first.code ?? first.signal}`,
    });
    if (killed) killedRun = first;
  }
  if (killedRun === undefined) {
    record.pass = false;
    record.problems = ["every attempt finished before its kill point"];
    crashRuns.push(record);
    continue;
  }
  record.killedAtMs = killedRun.killedAtMs;
  record.linesBeforeKill = killedRun.linesAtKill;
  const runId = runIdOf(killedRun.stdout);
  const metaExists = runId !== undefined && existsSync(join(runDir, runId, "meta.json"));
  if (!metaExists) {
    // Killed before the run directory existed: nothing to resume. resume must say so with a typed error,
    // then a fresh run must complete (counted).
    record.killedBeforeRunDir = true;
    if (runId !== undefined) {
      const missing = await cli(["resume", runId, "--run-dir", runDir, "--json"]);
      record.resumeOfMissing = { code: missing.code, stderr: missing.stderr.trim().split("\n")[0] };
    }
    record.freshStarts++;
    const fresh = await cli(["run", agentFile, "--run-dir", runDir, "--json", TASK], { timeoutMs: 120_000 });
    let status;
    try {
      status = JSON.parse(fresh.stdout).status;
    } catch {}
    record.pass = fresh.code === 0 && status === "completed";
    record.problems = record.pass ? [] : [`fresh run exited ${fresh.code} (${status})`];
    crashRuns.push(record);
    continue;
  }
  const before = readEvents(runDir, runId);
  record.runId = runId;
  record.eventsBeforeKill = before.length;
  record.lastEventBeforeKill = before.at(-1)?.type;
  record.completedBeforeKill = before.filter((e) => e.type === "subtask.completed").length;
  const resumed = await cli(["resume", runId, "--run-dir", runDir, "--json"], { timeoutMs: 120_000 });
  record.resumeMs = resumed.ms;
  if (resumed.signal !== null || resumed.timedOut) {
    record.pass = false;
    record.problems = [`resume died: ${resumed.timedOut ? "timed out" : resumed.signal}`];
    crashRuns.push(record);
    continue;
  }
  const inspect = await cli(["inspect", runId, "--run-dir", runDir, "--json"]);
  const checked = checkResumed(runDir, runId, before, resumed, inspect);
  record.durable = checked.durable;
  record.resumedCompleted = checked.resumedCompleted;
  record.planned = checked.planned;
  record.problems = checked.problems;
  record.pass = checked.problems.length === 0;
  crashRuns.push(record);
  console.error(
    `chaos: crash run ${i + 1}/${runs}: killed at ${record.killedAtMs} ms after ${record.eventsBeforeKill} events → ${record.pass ? "pass" : `FAIL (${record.problems.join("; ")})`}`,
  );
}
const crashMs = Math.round(performance.now() - phaseStart);

// ─── 2. bad inputs ────────────────────────────────────────────────────────────────────────────────────────

const badStart = performance.now();
const bad = join(scratch, "bad");
mkdirSync(bad);

/**
 * One bad-input case: runs the CLI and checks for a typed failure — an expected exit code, no signal, no
 * hang, a first stderr line that says what went wrong (and no stack trace).
 */
async function badCase(name, args, { codes = [1, 2], timeoutMs = 60_000, pattern, ...options } = {}) {
  const r = await cli(args, { timeoutMs, ...options });
  const errLines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  const outLines = r.stdout.split("\n").filter((l) => l.trim() !== "");
  // The one line that says what went wrong: a failed run reports `run failed: CODE message` on stdout with
  // its ledger; everything else reports `edgecrew: message` or `file:line:col: path: message` on stderr.
  const message =
    outLines.find((l) => /^run (failed|cancelled|aborted|interrupted)\b/.test(l)) ??
    errLines.find((l) => /^edgecrew: /.test(l)) ??
    errLines.find((l) => /:\d+:\d+: /.test(l)) ??
    errLines.find((l) => !/^\[node-llama-cpp\]/.test(l));
  const noise = errLines.filter((l) => /^\[node-llama-cpp\]/.test(l)).length;
  const problems = [];
  if (r.timedOut) problems.push(`hung: killed after ${timeoutMs} ms`);
  else if (r.signal !== null) problems.push(`died of ${r.signal}`);
  else if (!codes.includes(r.code)) problems.push(`exit ${r.code}, expected ${codes.join(" or ")}`);
  if (message === undefined) problems.push("no error line on stderr or stdout");
  if (/^\s+at /m.test(r.stderr)) problems.push("a stack trace on stderr");
  if (pattern && !pattern.test(r.stderr)) problems.push(`stderr does not match ${pattern}`);
  return {
    name,
    code: r.code,
    signal: r.signal,
    ms: r.ms,
    stderr: message ?? errLines[0] ?? "",
    ...(noise > 0 ? { llamaLogLines: noise } : {}),
    runId: runIdOf(r.stdout),
    pass: problems.length === 0,
    problems,
  };
}

/** An agent whose planner is the given local GGUF (so `run` reaches it first) and one fixture worker. */
function agentWithModel(name, modelPath) {
  const file = join(bad, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      "description: An agent with a broken model file",
      "planner:",
      `  model: ${modelPath}`,
      "workers:",
      "  - name: researcher",
      "    description: Finds facts",
      "    model: fixture:researcher?seed=11",
      "    output: { type: object, properties: { a: { type: string } }, required: [a], additionalProperties: false }",
      "device: { memory: 1GiB, threads: 1, gpu: false }",
      "",
    ].join("\n"),
  );
  return file;
}

const doc = fixtureGgufDocument({ name: "chaos", seed: 3, size: "tiny" });
const truncated = join(bad, "truncated.gguf");
await createFixtureModel({ seed: 3, size: "tiny", name: "chaos", path: truncated });
truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
const noFfn = join(bad, "no-ffn.gguf");
await writeGgufFile(noFfn, {
  ...doc,
  metadata: doc.metadata.filter(([key]) => key !== "llama.feed_forward_length"),
});
// An architecture llama.cpp does not know, with every hyper-parameter present under its name: the header
// check passes, so this reaches llama.cpp itself.
const wrongArch = join(bad, "wrong-arch.gguf");
await writeGgufFile(wrongArch, {
  ...doc,
  metadata: doc.metadata.map(([key, value]) =>
    key === "general.architecture"
      ? [key, { type: "string", value: "chaosarch" }]
      : [key.startsWith("llama.") ? `chaosarch.${key.slice(6)}` : key, value],
  ),
});
// An architecture string llama.cpp knows, on a llama file: the qwen2.* keys are all missing.
const mislabelled = join(bad, "mislabelled-arch.gguf");
await writeGgufFile(mislabelled, {
  ...doc,
  metadata: doc.metadata.map(([key, value]) =>
    key === "general.architecture" ? [key, { type: "string", value: "qwen2" }] : [key, value],
  ),
});

const badInputs = [];
for (const [name, path] of [
  ["truncated GGUF", truncated],
  ["GGUF without llama.feed_forward_length", noFfn],
  ["GGUF of an unknown architecture (chaosarch)", wrongArch],
  ["llama GGUF labelled qwen2", mislabelled],
]) {
  const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  const file = agentWithModel(slug.replace(/^-|-$/g, "").slice(0, 40), path);
  badInputs.push(
    await badCase(`validate: ${name}`, ["validate", file], {
      codes: [2],
      pattern: /:\d+:\d+: planner\.model/,
    }),
  );
  const runDir = join(bad, `runs-${slug}`);
  const run = await badCase(`run: ${name}`, ["run", file, "--run-dir", runDir, TASK], { codes: [1, 2] });
  badInputs.push(run);
}

// A read-only run directory: as root chmod does not stop writes, so the run directory's parent is a FILE and
// every mkdir below it fails with ENOTDIR.
const notADir = join(bad, "not-a-directory");
writeFileSync(notADir, "a file, not a directory\n");
badInputs.push(
  await badCase(
    "run: run directory cannot be created (parent is a file)",
    ["run", agentFile, "--run-dir", join(notADir, "runs"), TASK],
    { codes: [1] },
  ),
);
{
  const r = await cli(["run", agentFile, "--run-dir", join(notADir, "runs"), "--json", TASK], {
    timeoutMs: 60_000,
  });
  let code;
  try {
    code = JSON.parse(r.stdout).error?.code;
  } catch {}
  const pass = r.signal === null && !r.timedOut && r.code === 1 && code === "RUN_STORE_FAILED";
  badInputs.push({
    name: "run --json: run directory cannot be created → RUN_STORE_FAILED",
    code: r.code,
    signal: r.signal,
    ms: r.ms,
    stderr: code ?? r.stderr.trim().split("\n")[0] ?? "",
    pass,
    problems: pass ? [] : [`exit ${r.code}, error code ${code}`],
  });
}

// An aborted run: SIGINT while a subtask runs → exit 130, and the run stays on disk, stored as cancelled.
{
  const runDir = join(bad, "runs-sigint");
  const aborted = await badCase(
    "run: SIGINT during a subtask → exit 130",
    ["run", agentFile, "--run-dir", runDir, TASK],
    {
      codes: [130],
      onLine: (line, _n, kill) => {
        if (/^▶ s\d+ /.test(line)) kill("SIGINT");
      },
    },
  );
  if (aborted.code === 130 && aborted.runId !== undefined) {
    // Nothing lost: the interrupted run is on disk with its status.
    const inspect = await cli(["inspect", aborted.runId, "--run-dir", runDir, "--json"]);
    try {
      aborted.storedStatus = JSON.parse(inspect.stdout).status;
    } catch {
      aborted.problems.push(`inspect after SIGINT exited ${inspect.code}`);
    }
    const resumed = await cli(["resume", aborted.runId, "--run-dir", runDir, "--json"], {
      timeoutMs: 120_000,
    });
    try {
      aborted.resumedStatus = JSON.parse(resumed.stdout).status;
    } catch {}
    // A cancelled run is final: resume reports it (informational), it does not run it again.
    if (aborted.storedStatus !== "cancelled")
      aborted.problems.push(`the interrupted run is stored as ${aborted.storedStatus}, not cancelled`);
    aborted.stderr += ` → stored as ${aborted.storedStatus}, resume ${aborted.resumedStatus}`;
    aborted.pass = aborted.problems.length === 0;
  }
  badInputs.push(aborted);
}

// ─── the catalogue of malformed agent YAML ────────────────────────────────────────────────────────────────

const BASE = [
  "name: demo",
  "description: A demo agent",
  "planner:",
  "  model: openai:gpt-4o-mini",
  "workers:",
  "  - name: researcher",
  "    description: Finds facts",
  "    model: fixture:researcher?seed=11",
];
const y = (...lines) => `${lines.join("\n")}\n`;
const replace = (n, line) => BASE.map((old, i) => (i === n - 1 ? line : old));
const catalogue = [
  ["yaml-syntax", y("name: demo", "description: [unclosed", "planner: {}")],
  ["tab-indent", y("name: demo", "planner:", "\tmodel: x")],
  ["empty", ""],
  ["only-comment", y("# nothing yet")],
  ["list-not-mapping", y("- name: demo")],
  ["scalar-document", y("", "hello")],
  ["duplicate-key", y(BASE[0], "name: again", ...BASE.slice(1))],
  ["unknown-top-key", y(...BASE, "colour: blue")],
  ["typo-planner-key", y(...BASE.slice(0, 4), "  temprature: 0.2", ...BASE.slice(4))],
  ["typo-worker-key", y(...BASE, "    paralel: 2")],
  ["wrong-type", y(...BASE, "    parallel: two")],
  ["string-not-list", y(...BASE, "    tools: calculator")],
  ["not-integer", y(...BASE, "    maxTokens: 1.5")],
  ["too-low", y(...BASE, "limits: { maxParallel: 0 }")],
  ["too-high", y(...BASE, "    temperature: 3")],
  ["null-planner", y("name: demo", "description: A demo agent", "planner:", ...BASE.slice(4))],
  ["missing-required", y("name: demo", "planner:", "  model: openai:gpt-4o-mini")],
  ["missing-worker-key", y(...BASE.slice(0, 6), "    model: fixture:researcher?seed=11")],
  ["no-workers", y(...BASE.slice(0, 4), "workers: []")],
  ["bad-agent-name", y(...replace(1, "name: Trip Planner"))],
  ["bad-worker-name", y(...replace(6, '  - name: "1st"'))],
  [
    "duplicate-worker",
    y(...BASE, "  - name: researcher", "    description: Again", "    model: fixture:researcher?seed=11"),
  ],
  ["unknown-tool", y(...BASE, "    tools: [search]", "tools: [calculator]")],
  ["misspelt-tool", y(...BASE, "    tools: [calculater]", "tools: [calculator]")],
  ["undeclared-builtin-tool", y(...BASE, "    tools: [calculator]")],
  ["missing-model-file", y(...replace(8, "    model: ./models/missing.gguf"))],
  ["missing-planner-file", y(...replace(4, "  model: /nowhere/planner.gguf"))],
  ["remote-worker-model", y(...replace(8, "    model: openai:gpt-4o"))],
  ["model-not-gguf", y(...replace(8, "    model: ./models/qwen.bin"))],
  ["bad-fixture-query", y(...replace(8, "    model: fixture:tiny?temp=1"))],
  ["bad-fixture-seed", y(...replace(8, "    model: fixture:tiny?seed=-3"))],
  ["bad-hf-ref", y(...replace(8, "    model: hf:owner"))],
  ["bad-provider", y(...replace(4, "  model: OpenAI:gpt-4o"))],
  ["bad-memory", y(...BASE, "device: { memory: 6 gigs }")],
  ["zero-memory", y(...BASE, "device: { memory: 0GiB }")],
  ["negative-memory", y(...BASE, "device: { memory: -5 }")],
  ["unknown-gpu", y(...BASE, "device: { gpu: cdua }")],
  ["bad-escalation", y(...BASE, "escalation: { retries: 9, to: human }")],
  ["non-object-output", y(...BASE, "    output:", "      type: string")],
  ["unclosed-quote", y('name: "demo', ...BASE.slice(1))],
  ["anchor-undefined", y(...BASE, "limits: *nowhere")],
  ["binary-garbage", `${BASE.join("\n")}\n\u0000\u0001\u0002: [\n`],
];
const catalogueDir = join(bad, "catalogue");
mkdirSync(catalogueDir);
const catalogueCases = [];
for (const [name, text] of catalogue) {
  const file = join(catalogueDir, `${name}.yaml`);
  writeFileSync(file, text);
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  catalogueCases.push(
    await badCase(name, ["validate", file], {
      codes: [2],
      pattern: new RegExp(`^${escaped}:\\d+:\\d+`, "m"),
    }),
  );
}
{
  // The control: the same base, valid, must pass, or the catalogue proves nothing.
  const file = join(catalogueDir, "control-valid.yaml");
  writeFileSync(file, y(...BASE));
  const r = await cli(["validate", file]);
  catalogueCases.control = { code: r.code, pass: r.code === 0, stderr: r.stderr.trim() };
}
const badMs = Math.round(performance.now() - badStart);
const totalMs = Math.round(performance.now() - phaseStart);

// ─── results ──────────────────────────────────────────────────────────────────────────────────────────────

const crashPassed = crashRuns.filter((r) => r.pass).length;
const badPassed = badInputs.filter((r) => r.pass).length;
const cataloguePassed = catalogueCases.filter((r) => r.pass).length;
const allPass =
  crashPassed === crashRuns.length &&
  badPassed === badInputs.length &&
  cataloguePassed === catalogueCases.length &&
  catalogueCases.control.pass;

const date = new Date().toISOString().slice(0, 10);
const results = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
  seed,
  pass: allPass,
  timings: {
    warmupMs: [warm1.ms, warm2.ms],
    typicalRunMs: typicalMs,
    crashPhaseMs: crashMs,
    badInputsMs: badMs,
    totalMs,
  },
  crashResume: {
    runs: crashRuns.length,
    passed: crashPassed,
    freshStarts: crashRuns.reduce((n, r) => n + r.freshStarts, 0),
    killedAfterCompletion: crashRuns.filter((r) => r.lastEventBeforeKill === "run.completed").length,
    retriedKillPoints: crashRuns.reduce((n, r) => n + r.attempts.length - 1, 0),
    medianKillMs: median(crashRuns.flatMap((r) => (r.killedAtMs === undefined ? [] : [r.killedAtMs]))),
    medianResumeMs: median(crashRuns.flatMap((r) => (r.resumeMs === undefined ? [] : [r.resumeMs]))),
    durableSubtasksKept: crashRuns.reduce((n, r) => n + (r.durable?.length ?? 0), 0),
    subtasksRunAfterResume: crashRuns.reduce((n, r) => n + (r.resumedCompleted?.length ?? 0), 0),
    details: crashRuns,
  },
  badInputs: { cases: badInputs.length, passed: badPassed, details: badInputs },
  yamlCatalogue: {
    files: catalogueCases.length,
    passed: cataloguePassed,
    control: catalogueCases.control,
    details: [...catalogueCases],
  },
};
const resultsDir = join(root, "chaos/results");
mkdirSync(resultsDir, { recursive: true });
const resultsFile = join(resultsDir, `${date}.json`);
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);

const s = (ms) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);
const cell = (text) =>
  String(text ?? "")
    .replaceAll("|", "\\|")
    .slice(0, 110);
const out = [];
out.push(`## edgecrew chaos — ${results.date.slice(0, 16).replace("T", " ")} UTC (seed ${seed})`);
out.push("");
out.push(
  `Machine: ${results.machine.cpus} CPUs (${results.machine.cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. Typical run ${s(typicalMs)}; total ${s(totalMs)}.`,
);
out.push("");
out.push("| check | passed | notes |");
out.push("|---|---|---|");
out.push(
  `| SIGKILL + resume (${agent.name}) | ${crashPassed}/${crashRuns.length} | median kill at ${s(results.crashResume.medianKillMs)}, median resume ${s(results.crashResume.medianResumeMs)}; ${results.crashResume.durableSubtasksKept} durable subtasks kept, ${results.crashResume.subtasksRunAfterResume} run after resume, 0 allowed to re-run; ${results.crashResume.freshStarts} killed before the run dir existed (fresh run), ${results.crashResume.killedAfterCompletion} killed after run.completed was durable, ${results.crashResume.retriedKillPoints} kill points redrawn (run finished first) |`,
);
out.push(
  `| bad inputs (GGUF, run dir, SIGINT) | ${badPassed}/${badInputs.length} | typed error, no signal death, no hang |`,
);
out.push(
  `| malformed agent YAML catalogue | ${cataloguePassed}/${catalogueCases.length} | \`validate\` exits 2 with file:line:col; valid control ${catalogueCases.control.pass ? "ok" : "FAILED"} |`,
);
out.push("");
out.push("### Crash runs");
out.push("");
out.push(
  "| # | kill point | killed at | events before kill | last event | durable | run after resume | resume | result |",
);
out.push("|---|---|---|---|---|---|---|---|---|");
for (const r of crashRuns) {
  const a = r.attempts.at(-1);
  const point = a?.mode === "line" ? `stdout line ${a.killOnLine}` : `${a?.killAfterMs} ms`;
  out.push(
    `| ${r.run} | ${point} | ${r.killedAtMs ?? "-"} ms | ${r.eventsBeforeKill ?? "-"} | ${r.killedBeforeRunDir ? "(no run dir: fresh run)" : r.lastEventBeforeKill === "run.completed" ? "run.completed (already durable)" : (r.lastEventBeforeKill ?? "-")} | ${r.durable?.join(",") || "-"} | ${r.resumedCompleted?.join(",") || "-"} | ${s(r.resumeMs)} | ${r.pass ? "pass" : `**FAIL** ${cell(r.problems.join("; "))}`} |`,
  );
}
out.push("");
out.push("### Bad inputs");
out.push("");
out.push("| case | exit | time | error line | result |");
out.push("|---|---|---|---|---|");
for (const r of badInputs) {
  out.push(
    `| ${r.name} | ${r.code ?? r.signal} | ${s(r.ms)} | ${cell(r.stderr.replace(scratch, "$TMP"))}${r.llamaLogLines ? ` (+${r.llamaLogLines} llama.cpp log lines on stderr)` : ""} | ${r.pass ? "pass" : `**FAIL** ${cell(r.problems.join("; "))}`} |`,
  );
}
const failedCatalogue = catalogueCases.filter((r) => !r.pass);
out.push("");
out.push(
  `YAML catalogue: ${cataloguePassed}/${catalogueCases.length} files rejected with exit 2 and a file:line:col line (median ${s(median(catalogueCases.map((r) => r.ms)))} per file).`,
);
for (const r of failedCatalogue)
  out.push(`- **FAIL** ${r.name}: ${r.problems.join("; ")} (${cell(r.stderr)})`);
out.push("");
out.push(`Results: ${resultsFile.slice(root.length + 1)}`);
console.log(out.join("\n"));

rmSync(scratch, { recursive: true, force: true });
process.exit(allPass ? 0 : 1);

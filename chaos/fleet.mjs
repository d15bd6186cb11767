// Shared pieces of the fleet chaos runs (chaos/fleetKill.mjs) and the fleet benchmark (bench/fleet.mjs): a real
// nats-server with JetStream (file storage) on a free 127.0.0.1 port, `edgecrew device` processes of the built
// CLI, and the orchestrator script of the fleet tests (tests/fixtures/fleet/crew.mjs: the library with a scripted
// planner). nats-server is started by the fleet tests' helper (tests/helpers/natsServer.mjs). Without the
// nats-server binary it throws: a fleet section fails, it is never skipped.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "../tests/helpers/natsServer.mjs";
import { bin, root } from "./lib.mjs";

export const fleetFixtures = join(root, "tests/fixtures/fleet");
/** The fleet tests' agent: fixture workers alpha, beta (notes), waiter (idempotent slow tool), booker (not). */
export const fleetAgentFile = join(fleetFixtures, "agent.yaml");
export const fleetToolsFile = join(fleetFixtures, "tools.mjs");
export const crewScript = join(fleetFixtures, "crew.mjs");

/**
 * Starts nats-server with JetStream on `storeDir` (tests/helpers/natsServer.mjs, the fleet tests' own helper);
 * resolves with `{ url, port, log(), stop() }` once it is ready. Without the binary it throws.
 */
export async function startNats(storeDir, { readyTimeoutMs = 10_000 } = {}) {
  mkdirSync(storeDir, { recursive: true });
  return await startNatsServer({ storeDir, readyTimeoutMs });
}

/**
 * A child process of this Node with line watching: `stdoutLines()` / `stderrLines()` so far, `waitFor(stream,
 * test, timeoutMs)` resolves with the first matching line (rejects when the process ends first or on timeout),
 * `exited` resolves with `{ code, signal }`, `kill(signal)` records when it was sent.
 */
export function spawnNode(name, args, env = {}) {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const text = { stdout: "", stderr: "" };
  const lines = { stdout: [], stderr: [] };
  const partial = { stdout: "", stderr: "" };
  const waiters = new Set();
  for (const stream of ["stdout", "stderr"]) {
    child[stream].setEncoding("utf8").on("data", (chunk) => {
      text[stream] += chunk;
      partial[stream] += chunk;
      const parts = partial[stream].split("\n");
      partial[stream] = parts.pop() ?? "";
      for (const line of parts) lines[stream].push({ line, ms: Math.round(performance.now() - started) });
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise((resolve) =>
    child.on("close", (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal, ms: Math.round(performance.now() - started) });
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const proc = {
    name,
    child,
    started,
    exited,
    alive,
    killedAtMs: undefined,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    stdoutLines: () => lines.stdout.map((l) => l.line),
    stderrLines: () => lines.stderr.map((l) => l.line),
    /** stderr lines with `at`: the performance.now() of their arrival in this process. */
    stderrTimed: () => lines.stderr.map((l) => ({ line: l.line, at: started + l.ms })),
    kill(signal = "SIGKILL") {
      if (!alive()) return false;
      proc.killedAtMs = Math.round(performance.now() - started);
      child.kill(signal);
      return true;
    },
    /** The first line of `stream` (from index `from`) for which `test(line)` holds. */
    waitFor(stream, test, timeoutMs = 60_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines[stream].slice(from).find((l) => test(l.line));
          if (found !== undefined) return finish(() => resolve(found.line));
          if (!alive()) finish(() => reject(new Error(`${name} ended before the line it waited for`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${name}: no such ${stream} line in ${timeoutMs} ms`))),
          timeoutMs,
        );
        const finish = (then) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
  };
  return proc;
}

/**
 * Starts `edgecrew device <agentFile> --hub <url> --name <name> --tools <toolsFile> --heartbeat 1 [--workers …]`
 * and resolves once it prints "device … ready". `env` reaches the tools (FLEET_MARKER_DIR, FLEET_HOLD_MS).
 */
export async function startFleetDevice(hubUrl, name, options = {}) {
  const {
    workers,
    env = {},
    agentFile = fleetAgentFile,
    toolsFile = fleetToolsFile,
    extra = [],
    readyTimeoutMs = 120_000,
  } = options;
  const args = [bin, "device", agentFile, "--hub", hubUrl, "--name", name, "--heartbeat", "1"];
  if (toolsFile !== undefined) args.push("--tools", toolsFile);
  if (workers !== undefined) args.push("--workers", workers.join(","));
  const proc = spawnNode(name, [...args, ...extra], { FLEET_DEVICE: name, ...env });
  proc.workers = workers;
  try {
    await proc.waitFor("stdout", (line) => /^device .* ready/.test(line), readyTimeoutMs);
  } catch (error) {
    proc.kill();
    throw new Error(`device ${name} did not start: ${error.message}\n${proc.stderr().slice(-2000)}`);
  }
  return proc;
}

/**
 * Starts the fleet tests' orchestrator (tests/fixtures/fleet/crew.mjs run <runDir> <hub> <plan>): a scripted
 * planner that returns `plan`, the workers on the hub's devices. `result()` waits for it and parses its last stdout
 * line (the run's result JSON); `runId()` reads its "RUN-ID" line.
 */
export function startOrchestrator(runDir, hubUrl, plan, env = {}) {
  const proc = spawnNode("orchestrator", [crewScript, "run", runDir, hubUrl, JSON.stringify(plan)], env);
  proc.runId = () =>
    proc
      .stdoutLines()
      .find((line) => line.startsWith("RUN-ID "))
      ?.slice("RUN-ID ".length);
  proc.result = async () => {
    const exit = await proc.exited;
    const last = proc.stdoutLines().filter(Boolean).at(-1) ?? "";
    try {
      return { exit, result: JSON.parse(last) };
    } catch {
      return { exit, result: undefined };
    }
  };
  return proc;
}

/** A plan for the scripted planner from `{ id, worker, dependsOn? }` entries. */
export const planOf = (subtasks) => ({
  subtasks: subtasks.map((s) => ({ instruction: `Do ${s.id}`, dependsOn: [], ...s })),
});

/** The stored events of a run (events.jsonl in the orchestrator's run directory); torn lines are skipped. */
export { readEvents as storedEvents } from "./lib.mjs";

/** Lines of a tool's marker file in `dir` (one per execution of the tool: "<device> <pid>"). */
export function toolMarks(dir, tool) {
  const path = join(dir, tool);
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}

/** SIGKILLs every process of `procs` that is still running and waits for them to end. */
export async function killAll(procs) {
  for (const proc of procs) proc.kill("SIGKILL");
  await Promise.all(procs.map((proc) => proc.exited));
}

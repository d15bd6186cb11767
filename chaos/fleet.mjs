// Shared pieces of the fleet chaos runs (chaos/fleetKill.mjs) and the fleet benchmark (bench/fleet.mjs): a real
// nats-server with JetStream (file storage) on a free 127.0.0.1 port, `edgecrew device` processes of the built
// CLI, and the orchestrator script of the fleet tests (tests/fixtures/fleet/crew.mjs: the library with a scripted
// planner). Plain ESM, so it does not use tests/helpers/natsServer.ts (TypeScript); it follows what that helper
// does. Without the nats-server binary it throws: a fleet section fails, it is never skipped.
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import { bin, root } from "./lib.mjs";

export const fleetFixtures = join(root, "tests/fixtures/fleet");
/** The fleet tests' agent: fixture workers alpha, beta (notes), waiter (idempotent slow tool), booker (not). */
export const fleetAgentFile = join(fleetFixtures, "agent.yaml");
export const fleetToolsFile = join(fleetFixtures, "tools.mjs");
export const crewScript = join(fleetFixtures, "crew.mjs");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The nats-server binary on PATH, in /usr/sbin or /usr/local/sbin (Debian installs it in /usr/sbin). */
export function findNatsServer() {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error("nats-server is not installed (Debian: apt-get install nats-server)");
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Starts `nats-server -js -sd <storeDir> -a 127.0.0.1 -p <free port>`; resolves once it has logged "Server is
 * ready" and accepts connections. Returns `{ url, port, log(), stop() }` (stop: SIGTERM, SIGKILL after 5 s).
 */
export async function startNats(storeDir, { readyTimeoutMs = 10_000 } = {}) {
  mkdirSync(storeDir, { recursive: true });
  const port = await freePort();
  const args = ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)];
  const child = spawn(findNatsServer(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const onData = (chunk) => {
    log += chunk.toString("utf8");
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise((resolve) => child.once("close", resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (!(log.includes("Server is ready") && (await canConnect(port)))) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`nats-server exited before it was ready (${args.join(" ")}):\n${log}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server was not ready within ${readyTimeoutMs} ms:\n${log}`);
    }
    await sleep(50);
  }
  return { url: `nats://127.0.0.1:${port}`, port, log: () => log, stop };
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

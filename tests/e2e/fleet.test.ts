/**
 * Fleets end to end: a real nats-server with JetStream (file storage), devices as `edgecrew device` processes of
 * the built CLI, and an orchestrator process (tests/fixtures/fleet/crew.mjs: the library with a scripted planner).
 * Devices are killed, the hub restarted and the orchestrator killed while subtasks run; what must hold: every
 * subtask runs on a device that serves its worker, nothing stored is lost or replaced, a side effect is not
 * repeated, and a run either completes or fails with a clear error.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type NatsServerHandle, startNatsServer } from "../helpers/natsServer.mjs";
import { bin, repoRoot, runCli } from "./cli.js";

const fixtures = join(repoRoot, "tests/fixtures/fleet");
const agentFile = join(fixtures, "agent.yaml");
const toolsFile = join(fixtures, "tools.mjs");
const crewScript = join(fixtures, "crew.mjs");

interface Proc {
  readonly child: ChildProcess;
  readonly name: string;
  out(): string;
  /** Resolves with the first stdout line matching `pattern` (rejects when the process ends first). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Proc[] = [];
let server: NatsServerHandle;
let dir: string;

function start(name: string, args: readonly string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1", FLEET_MARKER_DIR: dir, FLEET_DEVICE: name, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  const proc: Proc = {
    child,
    name,
    out: () => `${stdout}\n--- stderr ---\n${stderr}`,
    exited,
    line: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = stdout.split("\n").find((line) => pattern.test(line));
          if (found !== undefined) return finish(() => resolve(found));
          if (child.exitCode !== null || child.signalCode !== null)
            finish(() => reject(new Error(`${name} ended before ${pattern}:\n${proc.out()}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${name}: no ${pattern} in ${timeoutMs} ms:\n${proc.out()}`))),
          timeoutMs,
        );
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      }),
  };
  started.push(proc);
  return proc;
}

async function device(name: string, extra: readonly string[] = [], env: Record<string, string> = {}) {
  const proc = start(
    name,
    [
      bin,
      "device",
      agentFile,
      "--hub",
      server.url,
      "--name",
      name,
      "--tools",
      toolsFile,
      "--heartbeat",
      "1",
      ...extra,
    ],
    env,
  );
  await proc.line(/^device .* ready/);
  return proc;
}

function orchestrate(mode: "run" | "resume", arg: string, env: Record<string, string> = {}) {
  return start("orchestrator", [crewScript, mode, join(dir, "runs"), server.url, arg], env);
}

interface ResultJson {
  status: string;
  error?: { code: string; message: string; context?: Record<string, unknown> };
  results: { subtaskId: string; worker: string; device?: string; by: string }[];
}

async function resultOf(proc: Proc): Promise<ResultJson> {
  const { code } = await proc.exited;
  const last = proc.out().split("\n--- stderr ---")[0]?.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as ResultJson;
  } catch {
    throw new Error(`the orchestrator (exit ${code}) printed no result:\n${proc.out()}`);
  }
}

/** Lines of a tool's marker file: one per execution, "<device> <pid>". */
function marks(tool: string): string[] {
  const path = join(dir, tool);
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const plan = (subtasks: { id: string; worker: string; dependsOn?: string[] }[]) =>
  JSON.stringify({
    subtasks: subtasks.map((s) => ({ instruction: `Do ${s.id}`, dependsOn: [], ...s })),
  });

/** Events of a stored run (the file store's journal), by type. */
function storedEvents(runId: string): { type: string; subtaskId?: string; device?: string }[] {
  const text = readFileSync(join(dir, "runs", runId, "events.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string; subtaskId?: string; device?: string });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgecrew-fleet-"));
  server = await startNatsServer();
});

afterEach(async () => {
  for (const proc of started.splice(0)) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
    await proc.exited;
  }
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("edgecrew fleet (real nats-server, device processes)", () => {
  it("runs a 6-subtask plan whose workers live on different devices, each subtask on a device that serves it", async () => {
    await Promise.all([device("dev-a", ["--workers", "alpha"]), device("dev-b", ["--workers", "beta"])]);
    const listed = await runCli(["fleet", "--hub", server.url, "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const devices = JSON.parse(listed.stdout) as { name: string; workers: { worker: string }[] }[];
    expect(devices.map((d) => [d.name, d.workers.map((w) => w.worker)])).toEqual([
      ["dev-a", ["alpha"]],
      ["dev-b", ["beta"]],
    ]);
    const orchestrator = orchestrate(
      "run",
      plan([
        { id: "s1", worker: "alpha" },
        { id: "s2", worker: "beta" },
        { id: "s3", worker: "alpha" },
        { id: "s4", worker: "beta", dependsOn: ["s1"] },
        { id: "s5", worker: "alpha", dependsOn: ["s2"] },
        { id: "s6", worker: "beta", dependsOn: ["s3", "s4"] },
      ]),
    );
    const result = await resultOf(orchestrator);
    expect(result.status, orchestrator.out()).toBe("completed");
    expect(result.results).toHaveLength(6);
    for (const r of result.results) {
      expect(r.by).toBe("worker");
      expect(r.device).toBe(r.worker === "alpha" ? "dev-a" : "dev-b");
    }
    // The devices' events reach the run with their names (the model loads happened there, not here).
    const runId = (await orchestrator.line(/^RUN-ID /)).slice("RUN-ID ".length);
    const loads = storedEvents(runId).filter((e) => e.type === "model.loaded");
    expect(new Set(loads.map((e) => e.device))).toEqual(new Set(["dev-a", "dev-b"]));
    // inspect shows which device ran each subtask.
    const inspected = await runCli(["inspect", runId, "--run-dir", join(dir, "runs")]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout.match(/worker on dev-a/g)).toHaveLength(3);
    expect(inspected.stdout.match(/worker on dev-b/g)).toHaveLength(3);
  });

  it("a device SIGKILLed mid-subtask: the subtask completes on another device, stored once", async () => {
    const hold = { FLEET_HOLD_MS: "60000" };
    const devices = await Promise.all([device("dev-a", [], hold), device("dev-b", [], hold)]);
    const orchestrator = orchestrate("run", plan([{ id: "s1", worker: "waiter" }]));
    await until(() => marks("slow").length === 1, "the slow tool to start");
    const holder = marks("slow")[0]?.split(" ")[0];
    const victim = devices.find((d) => d.name === holder);
    expect(victim, `the tool ran on ${holder}`).toBeDefined();
    victim?.child.kill("SIGKILL");
    const result = await resultOf(orchestrator);
    expect(result.status, orchestrator.out()).toBe("completed");
    const survivor = devices.find((d) => d !== victim)?.name;
    expect(result.results).toEqual([
      expect.objectContaining({ subtaskId: "s1", by: "worker", device: survivor }),
    ]);
    // The idempotent tool ran again on the survivor; the subtask completed (and was stored) once.
    expect(marks("slow").map((line) => line.split(" ")[0])).toEqual([holder, survivor]);
    const runId = (await orchestrator.line(/^RUN-ID /)).slice("RUN-ID ".length);
    expect(storedEvents(runId).filter((e) => e.type === "subtask.completed")).toHaveLength(1);
  });

  it("a non-idempotent tool call whose device died is not repeated: the subtask fails as side effect uncertain", async () => {
    const hold = { FLEET_HOLD_MS: "60000" };
    const devices = await Promise.all([device("dev-a", [], hold), device("dev-b", [], hold)]);
    const orchestrator = orchestrate("run", plan([{ id: "s1", worker: "booker" }]));
    await until(() => marks("book").length === 1, "the book tool to start");
    const holder = marks("book")[0]?.split(" ")[0];
    devices.find((d) => d.name === holder)?.child.kill("SIGKILL");
    const result = await resultOf(orchestrator);
    expect(result.status, orchestrator.out()).toBe("failed");
    expect(result.error?.code).toBe("SUBTASK_FAILED");
    expect(result.error?.context?.reason).toBe("side-effect-uncertain");
    expect(marks("book")).toHaveLength(1);
  });

  it("the hub restarts mid-run (JetStream file storage): the run completes", async () => {
    await device("dev-a", [], { FLEET_HOLD_MS: "3000" });
    const orchestrator = orchestrate(
      "run",
      plan([
        { id: "s1", worker: "waiter" },
        { id: "s2", worker: "alpha", dependsOn: ["s1"] },
      ]),
    );
    await until(() => marks("slow").length === 1, "the slow tool to start");
    await server.restart();
    const result = await resultOf(orchestrator);
    expect(result.status, orchestrator.out()).toBe("completed");
    expect(result.results.map((r) => [r.subtaskId, r.device])).toEqual([
      ["s1", "dev-a"],
      ["s2", "dev-a"],
    ]);
  });

  it("the orchestrator SIGKILLed mid-subtask: resume completes the run without running the subtask again", async () => {
    await device("dev-a", [], { FLEET_HOLD_MS: "3000" });
    const first = orchestrate(
      "run",
      plan([
        { id: "s1", worker: "waiter" },
        { id: "s2", worker: "alpha", dependsOn: ["s1"] },
      ]),
    );
    const runId = (await first.line(/^RUN-ID /)).slice("RUN-ID ".length);
    await until(() => marks("slow").length === 1, "the slow tool to start");
    first.child.kill("SIGKILL");
    await first.exited;
    const resumed = orchestrate("resume", runId);
    const result = await resultOf(resumed);
    expect(result.status, resumed.out()).toBe("completed");
    expect(result.results.map((r) => [r.subtaskId, r.by, r.device])).toEqual([
      ["s1", "worker", "dev-a"],
      ["s2", "worker", "dev-a"],
    ]);
    // s1 finished on the device while nobody listened; the resumed run took its stored result.
    expect(marks("slow")).toHaveLength(1);
  });

  it("no device serves the plan's worker: the run waits deviceWaitSeconds, then fails with NO_DEVICE", async () => {
    await device("dev-a", ["--workers", "alpha"]);
    const orchestrator = orchestrate("run", plan([{ id: "s1", worker: "beta" }]));
    const result = await resultOf(orchestrator);
    expect(result.status, orchestrator.out()).toBe("failed");
    expect(result.error?.code).toBe("NO_DEVICE");
    expect(result.error?.message).toMatch(/no device serves worker "beta".*waited 4 s.*dev-a/);
  });
});

describe("edgecrew fleet with an authenticated hub", () => {
  it("refuses a device with the wrong credentials and accepts the right ones", async () => {
    await server.stop();
    server = await startNatsServer({ user: "crew", password: "s3cret-pass" });
    const port = new URL(server.url).port;
    const wrong = await runCli([
      "device",
      agentFile,
      "--hub",
      `nats://crew:wrong@127.0.0.1:${port}`,
      "--tools",
      toolsFile,
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/HUB_FAILED|refused the credentials/);
    expect(wrong.stderr).not.toContain("wrong");
    const right = start(
      "dev-a",
      [bin, "device", agentFile, "--hub", server.url, "--name", "dev-a", "--tools", toolsFile],
      {
        EDGECREW_HUB_USER: "crew",
        EDGECREW_HUB_PASSWORD: "s3cret-pass",
      },
    );
    await right.line(/^device dev-a ready/);
  });
});

/**
 * Tool approval through the CLI, in child processes with real inference: the fixture agent's only worker must
 * call `shell.run` (declared `approve: true`). Without a terminal the call is denied unless `--yes`; on a
 * terminal (a pseudo-terminal from util-linux `script`) the person's "y" approves it and "n" denies it. The
 * outcome is read from the run's event journal (`tool.result`).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/types.js";
import { ANSI, bin, type CliResult, repoRoot, runCli, shellQuote } from "./cli.js";

const agentFile = join(repoRoot, "tests/fixtures/agents/approval.yaml");
const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };
const TASK = "Say hello";
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

type ToolResultEvent = Extract<RunEvent, { type: "tool.result" }>;

/** The `tool.result` events of the only run in `runDir`. */
function toolResults(runDir: string): ToolResultEvent[] {
  const runs = readdirSync(runDir).filter((name) => existsSync(join(runDir, name, "events.jsonl")));
  expect(runs).toHaveLength(1);
  return readFileSync(join(runDir, runs[0] ?? "", "events.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as RunEvent)
    .filter((event): event is ToolResultEvent => event.type === "tool.result");
}

/** Asserts the worker called shell.run and returns how the first call ended. */
function firstShellResult(runDir: string): ToolResultEvent["result"] {
  const results = toolResults(runDir);
  expect(results.length).toBeGreaterThan(0);
  const first = results[0];
  if (first === undefined) throw new Error("no tool.result event");
  expect(first.tool).toBe("shell.run");
  return first.result;
}

/**
 * Runs `edgecrew run` on a pseudo-terminal (`script -qefc`) and types `answer` once the approval prompt shows.
 */
function runOnTerminal(runDir: string, answer: string): Promise<CliResult & { readonly asked: boolean }> {
  const command = [process.execPath, bin, "run", agentFile, TASK, "--run-dir", runDir]
    .map(shellQuote)
    .join(" ");
  return new Promise((resolvePromise, reject) => {
    const child = spawn("script", ["-qefc", command, "/dev/null"], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let asked = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (!asked && /approve shell\.run for echoer/.test(stdout.replace(ANSI, ""))) {
        asked = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.stdin.on("error", () => {
      // The run may end before stdin is closed; nothing to do.
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, asked });
    });
  });
}

describe("tool approval in the CLI (child processes, real inference)", () => {
  it("denies the call without a terminal and without --yes, and says why", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
    const result = await runCli(["run", agentFile, TASK, "--run-dir", runDir], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/denied shell\.run for echoer \(s1\) with \{.*\}: no terminal to ask/);
    expect(result.stderr).toContain("pass --yes");
    const outcome = firstShellResult(runDir);
    expect(outcome).toMatchObject({ ok: false, reason: "denied" });
  });

  it("approves the call without a terminal when --yes is given", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
    const result = await runCli(["run", agentFile, TASK, "--run-dir", runDir, "--yes"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain("no terminal to ask");
    const outcome = firstShellResult(runDir);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true, output: { exitCode: 0 } });
  });

  describe.skipIf(!hasScript)("on a terminal (util-linux script)", () => {
    it.each([
      ["y", true],
      ["n", false],
    ] as const)("asks with the arguments; answering %s approves: %s", async (answer, approved) => {
      const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
      const result = await runOnTerminal(runDir, answer);
      const screen = result.stdout.replace(ANSI, "");
      expect(result.asked, screen).toBe(true);
      expect(result.code, screen).toBe(0);
      expect(screen).toMatch(/approve shell\.run for echoer \(s1\) with \{"command":"echo".*\}\? \[y\/N\]/);
      expect(screen).not.toContain("no terminal to ask");
      const outcome = firstShellResult(runDir);
      if (approved) expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
      else expect(outcome).toMatchObject({ ok: false, reason: "denied" });
    });
  });
});

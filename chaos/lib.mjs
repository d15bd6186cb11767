// Shared pieces of the chaos harness: driving the built CLI in a child process, reading a run's event journal,
// judging a bad-input case, and a seeded PRNG so that a failing sequence can be replayed.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const bin = join(root, "bin/edgecrew.js");
/** The multi-subtask agent of the crash runs (fixture models only: no network, no downloads). */
export const agentFile = join(root, "tests/fixtures/agents/resumable.yaml");
export const TASK = "A weekend by a lake";

/** mulberry32: a small seeded PRNG, so a failing sequence of kill points can be replayed with CHAOS_SEED. */
export function prng(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `node bin/edgecrew.js ...args`. `onLine(line, lineNo, kill)` sees each stdout line; `killAfterMs`
 * sends `killSignal` after that delay; the child is SIGKILLed after `timeoutMs` (a hang).
 */
export function cli(args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? root,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
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
    const timeoutMs = options.timeoutMs ?? 60_000;
    const hang = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
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
        timeoutMs,
        killedAtMs: killedAtMs === undefined ? undefined : Math.round(killedAtMs),
        linesAtKill,
        lines,
      });
    });
  });
}

export function readEvents(runDir, runId) {
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

export const runIdOf = (stdout) => /^run (\S+) · agent/m.exec(stdout)?.[1];
export const median = (xs) => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
/**
 * What is wrong with how a CLI run ended, by the rules every chaos case shares: a hang (the harness killed it),
 * a signal death, an exit code other than `codes`, a stack trace on stderr. Empty when it ended cleanly.
 */
export function processProblems(r, codes) {
  const problems = [];
  if (r.timedOut) problems.push(`hung: killed after ${r.timeoutMs} ms`);
  else if (r.signal !== null) problems.push(`died of ${r.signal}`);
  else if (!codes.includes(r.code)) problems.push(`exit ${r.code}, expected ${codes.join(" or ")}`);
  if (/^\s+at /m.test(r.stderr)) problems.push("a stack trace on stderr");
  return problems;
}

/**
 * One bad-input case: runs the CLI and checks for a typed failure — an expected exit code, no signal, no
 * hang, a first stderr line that says what went wrong (and no stack trace).
 */
export async function badCase(name, args, { codes = [1, 2], timeoutMs = 60_000, pattern, ...options } = {}) {
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
  const problems = processProblems(r, codes);
  if (message === undefined) problems.push("no error line on stderr or stdout");
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

/** A call refused or settled within this did not block the event loop (findings measured ~10 s). */
export const QUICK_MS = 1_000;

/** The context a tool call gets, for calls made straight through a ToolRegistry (security replays). */
export function callContext() {
  return {
    signal: new AbortController().signal,
    emit: () => undefined,
    runId: "chaos-security",
    subtaskId: "s1",
    worker: "attacker",
  };
}

/** A value as a short line for a detail column. */
export const short = (value) => JSON.stringify(value).slice(0, 200);

// Tool faults: MCP tools that throw, hang, flood or die mid-call (chaos/faultyMcpServer.mjs, a real MCP server
// on the SDK). Each case is a one-worker agent on fixture models whose worker is granted one tool of that
// server with `toolChoice: required`, so its first turn is always a call of it. Each run must end with a typed
// outcome (exit 0 or 1, `error.code` in the --json result when it failed, no signal death, no hang, no stack
// trace), its journal must show the call and how it failed (`tool.result` with ok false and the reason, or the
// subtask failed with the server named), `inspect` must read the run back with the same status, the bounded
// faults must end within their bound, and no MCP server process may outlive its run. A well-behaved tool of the
// same server is the control: it must complete with ok results, or the section proves nothing.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { cli, processProblems, readEvents, root } from "./lib.mjs";

const SERVER = join(root, "chaos/faultyMcpServer.mjs");
const TASK = "Call the tool once, then say whether it worked";
/** Per-call timeout of the server's tools (the agent's `timeoutMs`): what bounds the `hang` case. */
const CALL_TIMEOUT_MS = 2_000;
/** The registry's default output cap (DEFAULT_TOOL_MAX_OUTPUT_BYTES; MCP tools have no cap of their own). */
const OUTPUT_CAP = "64.0 KiB";
/** Most tool calls in one subtask (DEFAULT_MAX_TOOL_CALLS): the forced first one and up to 7 the model chooses. */
const MAX_CALLS = 8;
/** The run's own limits (the agent's `limits`): nothing in this section should come near them. */
const RUN_TIMEOUT_S = 60;
const SUBTASK_TIMEOUT_S = 20;
/** The harness's hard limit per CLI run: reaching it is a hang. */
const HARNESS_TIMEOUT_MS = 90_000;
/** Every other case (no per-call timeout involved) must end within this; a fixture run takes ~3 s. */
const QUICK_MS = 15_000;
/**
 * Slack on top of calls × CALL_TIMEOUT_MS for the hang case (model load, planning, joining, server stop): at least
 * this, and at least the control run's own time plus half again (the same work with answering calls; a loaded
 * machine slows both alike).
 */
const HANG_SLACK_MS = 10_000;
/** Peak RSS of the CLI above the control run's that counts as blowing up (the huge reply is 16 MiB). */
const RSS_GROWTH_LIMIT_KIB = 256 * 1024;

/**
 * The cases. `expect` judges the journal: `ok` wants every tool.result ok; `reason` wants every tool.result
 * failed with that reason and an error matching `error`; `serverExit` wants the subtask failed (or escalated)
 * with the server named. `output` must appear in an ok result; `bounded` checks the per-call timeout; `env` is
 * added to the server's environment; `memory` compares the CLI's peak RSS with the control run's.
 */
const CASES = [
  {
    tool: "ok",
    name: "control: well-behaved tool (faulty.ok)",
    expect: "ok",
    output: "hello from the faulty server",
    status: "completed",
  },
  {
    tool: "boom",
    name: "tool handler throws (faulty.boom)",
    expect: "reason",
    reason: "failed",
    error: /failed: boom: the tool handler threw on purpose/,
  },
  {
    tool: "hang",
    name: `tool never answers (faulty.hang, timeoutMs ${CALL_TIMEOUT_MS})`,
    expect: "reason",
    reason: "timeout",
    error: new RegExp(`did not finish within ${CALL_TIMEOUT_MS} ms`),
    bounded: true,
  },
  {
    tool: "big",
    name: `512 KiB result, over the ${OUTPUT_CAP} output cap (faulty.big)`,
    expect: "reason",
    reason: "failed",
    error: new RegExp(`of output, over the ${OUTPUT_CAP} limit`),
  },
  {
    tool: "huge",
    name: "16 MiB result, over the cap and the MCP stdio message limit (faulty.huge)",
    // A message over the transport's limit cannot be skipped (the stream cannot be resynchronised), so edgecrew
    // stops the server, and the error must say why: not "killed by SIGKILL", which reads like a crash.
    expect: "serverExit",
    error: /MCP server faulty exited \(stopped by edgecrew: it sent a message over 10 MiB/,
    memory: true,
  },
  {
    tool: "die",
    name: "server exits mid-call (faulty.die, exit code 3)",
    expect: "serverExit",
    error: /MCP server faulty exited \(code 3\)/,
  },
  {
    tool: "noisy",
    name: "server logs to stdout at start and before answering (faulty.noisy)",
    env: { FAULTY_STARTUP_NOISE: "1" },
    expect: "ok",
    output: "noisy but fine",
    status: "completed",
  },
];

function agentYaml(tool, dir, extraEnv = {}) {
  const env = {
    FAULTY_CALLS_FILE: join(dir, "calls"),
    FAULTY_PID_FILE: join(dir, "server.pid"),
    ...extraEnv,
  };
  return [
    `name: faulty-${tool}`,
    `description: One worker forced to call the faulty MCP tool ${tool}.`,
    "planner:",
    "  model: fixture:planner?seed=7&size=tiny",
    "  temperature: 0.8",
    "  maxTokens: 768",
    "workers:",
    "  - name: caller",
    "    description: Calls the faulty tool and says whether it worked.",
    "    model: fixture:caller?seed=3",
    `    tools: [faulty.${tool}]`,
    "    toolChoice: required",
    // The tools take no arguments: the budget covers the call and the one-boolean answer.
    "    maxTokens: 128",
    "    output:",
    "      type: object",
    "      properties:",
    "        done: { type: boolean }",
    "      required: [done]",
    "      additionalProperties: false",
    "tools:",
    "  - mcp:",
    "      name: faulty",
    `      command: ${JSON.stringify(process.execPath)}`,
    `      args: [${JSON.stringify(SERVER)}]`,
    `      env: ${JSON.stringify(env)}`,
    `      timeoutMs: ${CALL_TIMEOUT_MS}`,
    "limits:",
    "  maxReplans: 0",
    "  maxSubtasks: 1",
    "  maxParallel: 1",
    `  timeoutSeconds: ${RUN_TIMEOUT_S}`,
    `  subtaskTimeoutSeconds: ${SUBTASK_TIMEOUT_S}`,
    "device: { memory: 1GiB, threads: 1, gpu: false }",
    "escalation: { retries: 0, to: planner }",
    "",
  ].join("\n");
}

/**
 * Samples the peak resident set (VmHWM, KiB) of the process whose command line contains `marker` (the case's
 * unique run directory), from /proc; `stop()` returns the last peak seen, or undefined where /proc is absent.
 */
function watchPeakRss(marker) {
  let pid;
  let peak;
  const read = () => {
    try {
      if (pid === undefined) {
        for (const entry of readdirSync("/proc")) {
          if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
          let cmdline;
          try {
            cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
          } catch {
            continue;
          }
          if (cmdline.includes(marker) && cmdline.includes("edgecrew.js")) {
            pid = Number(entry);
            break;
          }
        }
      }
      if (pid === undefined) return;
      const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      if (hwm !== undefined) peak = Math.max(peak ?? 0, Number(hwm));
    } catch {
      // The process ended between two reads: the last peak stands.
    }
  };
  const timer = existsSync("/proc") ? setInterval(read, 50) : undefined;
  return {
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      return peak;
    },
  };
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
};

/** Waits up to `ms` for `pid` to be gone (a server gets a moment after the CLI exits, e.g. reaping). */
async function goneWithin(pid, ms) {
  const until = performance.now() + ms;
  while (alive(pid)) {
    if (performance.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    const start = text.indexOf("{");
    if (start < 0) return undefined;
    try {
      return JSON.parse(text.slice(start));
    } catch {
      return undefined;
    }
  }
}

const short = (text, n = 90) => {
  const one = String(text ?? "").replace(/\s+/g, " ");
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

async function runCase(spec, base, control) {
  const dir = join(base, spec.tool);
  await mkdir(dir, { recursive: true });
  const file = join(dir, "agent.yaml");
  writeFileSync(file, agentYaml(spec.tool, dir, spec.env));
  const runDir = join(dir, "runs");
  const rss = watchPeakRss(runDir);
  const r = await cli(["run", file, "--run-dir", runDir, "--json", TASK], { timeoutMs: HARNESS_TIMEOUT_MS });
  const peakRssKiB = rss.stop();
  const errLines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  const llamaLogLines = errLines.filter((l) => /^\[node-llama-cpp\]/.test(l)).length;

  // ── the process ──
  const problems = processProblems(r, [0, 1]);

  // ── the --json result ──
  const result = parseJson(r.stdout);
  const runId = result?.runId;
  const status = result?.status;
  const errorCode = result?.error?.code;
  const errorMessage = result?.error?.message;
  if (!r.timedOut && r.signal === null) {
    if (result === undefined) problems.push("stdout is not the --json result");
    else {
      if (status === "completed" && r.code !== 0) problems.push(`status completed but exit ${r.code}`);
      if (status === "failed" && r.code !== 1) problems.push(`status failed but exit ${r.code}`);
      if (status !== "completed" && status !== "failed") problems.push(`run status ${status}`);
      if (status === "failed" && typeof errorCode !== "string")
        problems.push("a failed run without error.code");
      if (spec.status !== undefined && status !== spec.status)
        problems.push(
          `run ${status} (${errorCode ?? "-"}: ${short(errorMessage, 80)}), expected ${spec.status}`,
        );
    }
  }

  // ── the journal ──
  const events = runId === undefined ? [] : readEvents(runDir, runId);
  const journalBytes =
    runId !== undefined && existsSync(join(runDir, runId, "events.jsonl"))
      ? statSync(join(runDir, runId, "events.jsonl")).size
      : undefined;
  const called = events.filter((e) => e.type === "tool.called");
  const results = events.filter((e) => e.type === "tool.result");
  const failedSubtasks = events.filter((e) => e.type === "subtask.failed");
  const escalated = events.filter((e) => e.type === "subtask.escalated");
  const toolName = `faulty.${spec.tool}`;
  const serverCalls = existsSync(join(dir, "calls"))
    ? readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean).length
    : 0;
  if (runId !== undefined) {
    if (events.length === 0) problems.push("no events in the journal");
    if (called.length === 0) problems.push(`no tool.called of ${toolName}`);
    if (called.some((e) => e.tool !== toolName)) problems.push(`a call of a tool other than ${toolName}`);
    if (results.length !== called.length)
      problems.push(`${called.length} tool.called but ${results.length} tool.result`);
    if (events.at(-1) !== undefined && !/^run\.(completed|failed)$/.test(events.at(-1).type))
      problems.push(`the journal ends with ${events.at(-1).type}, not the run's end`);
    if (serverCalls === 0 && called.length > 0) problems.push("no call reached the server");
  }
  const reasons = [...new Set(results.map((e) => (e.result.ok ? "ok" : e.result.reason)))];
  const firstError = results.find((e) => !e.result.ok)?.result.error;
  const callMs = results.map((e) => Math.round(e.ms));
  if (spec.expect === "ok") {
    const notOk = results.filter((e) => !e.result.ok);
    if (notOk.length > 0)
      problems.push(
        `${notOk.length} tool.result not ok: ${notOk[0].result.reason} ${short(notOk[0].result.error)}`,
      );
    if (
      results.length > 0 &&
      !results.some((e) => JSON.stringify(e.result.output ?? "").includes(spec.output))
    )
      problems.push(`no ok tool.result carries "${spec.output}"`);
  } else if (spec.expect === "reason") {
    const wrong = results.filter((e) => e.result.ok || e.result.reason !== spec.reason);
    if (wrong.length > 0)
      problems.push(
        `tool.result ${wrong[0].result.ok ? "ok" : `${wrong[0].result.reason}: ${short(wrong[0].result.error)}`}, expected ${spec.reason}`,
      );
    const unclear = results.filter((e) => !e.result.ok && !spec.error.test(e.result.error));
    if (unclear.length > 0)
      problems.push(`tool.result error "${short(unclear[0].result.error)}" does not match ${spec.error}`);
  } else if (spec.expect === "serverExit") {
    if (results.length > 0 && !results.every((e) => !e.result.ok && spec.error.test(e.result.error)))
      problems.push(`tool.result "${short(firstError ?? "ok")}" does not match ${spec.error}`);
    const named = [
      ...failedSubtasks.map((e) => e.error?.message),
      ...escalated.flatMap((e) => e.errors),
    ].filter((m) => spec.error.test(m ?? ""));
    if (named.length === 0) problems.push("no subtask.failed or subtask.escalated names the exited server");
    if (called.length > 1)
      problems.push(`${called.length} calls after the server died (the subtask should stop)`);
  }
  // The oversize output reached neither the model's journal nor the run directory.
  if (spec.memory || spec.tool === "big") {
    const longest = Math.max(0, ...results.map((e) => JSON.stringify(e).length));
    if (longest > 16 * 1024) problems.push(`a tool.result event of ${longest} bytes: the output was stored`);
    if (journalBytes !== undefined && journalBytes > 1024 * 1024)
      problems.push(`events.jsonl is ${journalBytes} bytes: the output reached the journal`);
  }
  if (spec.memory && peakRssKiB !== undefined && control?.peakRssKiB !== undefined) {
    const growth = peakRssKiB - control.peakRssKiB;
    if (growth > RSS_GROWTH_LIMIT_KIB)
      problems.push(`the CLI's peak RSS grew by ${Math.round(growth / 1024)} MiB over the control run`);
  }

  // ── bounds ──
  if (!r.timedOut) {
    if (spec.bounded) {
      const slack = Math.round(Math.max(HANG_SLACK_MS, 1.5 * (control?.ms ?? 0)));
      const bound = Math.max(1, called.length) * CALL_TIMEOUT_MS + slack;
      if (r.ms > bound)
        problems.push(`took ${r.ms} ms, over ${called.length} × ${CALL_TIMEOUT_MS} + ${slack} ms`);
      const off = callMs.filter((ms) => ms < CALL_TIMEOUT_MS - 50 || ms > CALL_TIMEOUT_MS + 1_500);
      if (off.length > 0) problems.push(`tool.result ms ${off.join(", ")}, not ≈ ${CALL_TIMEOUT_MS}`);
      if (called.length > MAX_CALLS) problems.push(`${called.length} calls, over the bound of ${MAX_CALLS}`);
    } else if (r.ms > QUICK_MS) problems.push(`took ${r.ms} ms, over ${QUICK_MS} ms`);
  }

  // ── no server outlives its run ──
  const pidFile = join(dir, "server.pid");
  const serverPid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : undefined;
  if (serverPid === undefined) problems.push("the MCP server never started (no pid file)");
  else if (!(await goneWithin(serverPid, 3_000))) {
    problems.push(`the MCP server (pid ${serverPid}) outlived the CLI`);
    try {
      process.kill(serverPid, "SIGKILL");
    } catch {}
  }

  // ── inspect reads the run back ──
  let storedStatus;
  let inspectCode;
  if (runId !== undefined) {
    const inspect = await cli(["inspect", runId, "--run-dir", runDir, "--json"], { timeoutMs: 30_000 });
    inspectCode = inspect.code;
    const timeline = parseJson(inspect.stdout);
    storedStatus = timeline?.status;
    if (inspect.code !== 0 || timeline === undefined) problems.push(`inspect exited ${inspect.code}`);
    else {
      if (storedStatus !== status) problems.push(`inspect says ${storedStatus}, the run said ${status}`);
      const storedCalls = (timeline.subtasks ?? []).reduce((n, s) => n + (s.toolCalls ?? 0), 0);
      if (storedCalls !== called.length)
        problems.push(`inspect counts ${storedCalls} tool calls, the journal ${called.length}`);
      if (status === "completed" && JSON.stringify(timeline.answer) !== JSON.stringify(result.answer))
        problems.push("inspect's answer differs from the run's");
      if (status === "failed" && timeline.error?.code !== errorCode)
        problems.push(`inspect's error ${timeline.error?.code}, the run's ${errorCode}`);
      if (
        (result?.results?.length ?? 0) !==
        (timeline.subtasks ?? []).filter((s) => s.state === "completed").length
      )
        problems.push("inspect's completed subtasks differ from the run's results");
    }
  }

  // ── the one line ──
  const outcome = r.timedOut
    ? `hung (killed after ${HARNESS_TIMEOUT_MS} ms)`
    : r.signal !== null
      ? `died of ${r.signal}`
      : `${status ?? `exit ${r.code}`}${errorCode ? ` ${errorCode}` : ""}`;
  const calls =
    results.length === 0
      ? "no tool.result"
      : `tool.result ${reasons.join("/")} ×${results.length}${spec.bounded ? ` (${callMs.join(", ")} ms)` : ""}`;
  const why =
    spec.expect === "serverExit"
      ? `; subtask ${failedSubtasks.length > 0 ? "failed" : escalated.length > 0 ? "escalated" : "?"}: ${short(failedSubtasks[0]?.error?.message ?? escalated[0]?.errors?.[0], 50)}`
      : firstError !== undefined
        ? `: ${short(firstError.replace(/^`[^`]+` /, ""), 60)}`
        : "";
  const rssNote =
    spec.memory && peakRssKiB !== undefined ? `; peak RSS ${Math.round(peakRssKiB / 1024)} MiB` : "";
  return {
    name: spec.name,
    code: r.code,
    signal: r.signal,
    ms: r.ms,
    stderr: `${outcome}; ${calls}${why}${rssNote}; inspect ${storedStatus ?? inspectCode ?? "-"}`,
    ...(llamaLogLines > 0 ? { llamaLogLines } : {}),
    runId,
    status,
    errorCode,
    errorMessage,
    toolCalled: called.length,
    toolResults: results.length,
    serverCalls,
    reasons,
    toolError: firstError,
    callMs,
    subtasksFailed: failedSubtasks.map(
      (e) => `${e.subtaskId}: ${e.error?.code} ${short(e.error?.message, 200)}`,
    ),
    subtasksEscalated: escalated.map(
      (e) => `${e.subtaskId}: ${e.reason} ${short(e.errors?.join("; "), 200)}`,
    ),
    journalBytes,
    storedStatus,
    peakRssKiB,
    pass: problems.length === 0,
    problems,
  };
}

export async function toolFaults({ scratch, log }) {
  const started = performance.now();
  const base = join(scratch, "tools");
  await mkdir(base, { recursive: true });
  const cases = [];
  let control;
  for (const spec of CASES) {
    log(`tools: ${spec.name}`);
    const c = await runCase(spec, base, control);
    if (spec.tool === "ok") control = c;
    log(`tools:   ${c.pass ? "pass" : "FAIL"} in ${(c.ms / 1000).toFixed(1)} s: ${c.stderr}`);
    cases.push(c);
  }
  return { cases, ms: Math.round(performance.now() - started) };
}

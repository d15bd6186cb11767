// Cloud planner faults: the resumable agent with `planner.model: openai:gpt-4o-mini`, pointed (OPENAI_BASE_URL)
// at a scripted OpenAI-compatible server on 127.0.0.1 that answers badly — text instead of JSON, a cyclic plan,
// unknown workers, a rejected API key, silence, a final answer that is not JSON. The real LangChain OpenAI
// client and the real CLI run; the workers are local fixture models. Each case must end as expected (repaired
// and completed, or a typed error), within its bound, with what was already stored readable by `inspect`.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { startFakeOpenAI } from "../tests/fixtures/fakeOpenAI.mjs";
import { agentFile, cli, processProblems, readEvents, TASK } from "./lib.mjs";

const plan = (subtasks) =>
  JSON.stringify({
    subtasks: subtasks.map(([id, worker, dependsOn = []]) => ({
      id,
      worker,
      instruction: `${worker}: do your part for the trip`,
      dependsOn,
    })),
  });
const GOOD = plan([
  ["s1", "researcher"],
  ["s2", "scheduler", ["s1"]],
  ["s3", "budgeter", ["s2"]],
]);
const CYCLIC = plan([
  ["s1", "researcher", ["s3"]],
  ["s2", "scheduler", ["s1"]],
  ["s3", "budgeter", ["s2"]],
]);
const UNKNOWN_WORKERS = plan([
  ["s1", "reseacher"],
  ["s2", "translator", ["s1"]],
]);
const PROSE = "Sure! First research two lakes, then make a schedule, then estimate the budget.";
const FINAL = JSON.stringify({ answer: "Two days at the lake, within budget." });

/**
 * The cases: how the server answers the plan call (`plan(n)`, n from 1) and the final-answer call, what the
 * run must end as, and the most planner requests it may take (the planner's 3 attempts, no client retries).
 */
const CASES = [
  {
    name: "plan reply is prose, not JSON (every attempt)",
    plan: () => ({ content: PROSE }),
    expect: { status: "failed", code: "PLAN_INVALID", message: /not valid JSON/ },
    maxPlanRequests: 3,
  },
  {
    name: "plan reply is not JSON once, then valid",
    plan: (n) => (n === 1 ? { content: '{"subtasks": [ {"id": "s1", ' } : { content: GOOD }),
    expect: { status: "completed", rejected: 1 },
    maxPlanRequests: 2,
  },
  {
    name: "cyclic plan (every attempt)",
    plan: () => ({ content: CYCLIC }),
    expect: { status: "failed", code: "PLAN_INVALID", message: /cycle/ },
    maxPlanRequests: 3,
  },
  {
    name: "cyclic plan, repaired on the 2nd attempt",
    plan: (n) => ({ content: n === 1 ? CYCLIC : GOOD }),
    expect: { status: "completed", rejected: 1 },
    maxPlanRequests: 2,
  },
  {
    name: "plan names unknown workers (every attempt)",
    plan: () => ({ content: UNKNOWN_WORKERS }),
    expect: { status: "failed", code: "PLAN_INVALID", message: /unknown worker/ },
    maxPlanRequests: 3,
  },
  {
    name: "API key rejected (HTTP 401)",
    plan: () => ({ status: 401, message: "Incorrect API key provided" }),
    expect: { status: "failed", code: "PLANNER_FAILED", message: /401|API key/ },
    maxPlanRequests: 1,
  },
  {
    name: "planner never answers (run timeout 5 s)",
    plan: () => ({ hang: true }),
    timeoutSeconds: 5,
    expect: { status: "failed", code: "LIMIT_EXCEEDED", message: /time/, withinMs: 15_000 },
    maxPlanRequests: 1,
  },
  {
    name: "final answer is not JSON (every attempt): worker results kept",
    plan: () => ({ content: GOOD }),
    join: () => ({ content: "The trip looks great!" }),
    expect: { status: "failed", code: "PLANNER_FAILED", message: /final answer/, keptResults: 3 },
    maxPlanRequests: 1,
  },
];

/** The resumable agent with a cloud planner; escalation off so that only the planner's replies matter. */
function cloudAgent(dir, name, timeoutSeconds) {
  const agent = parse(readFileSync(agentFile, "utf8"));
  agent.name = name;
  agent.planner = { model: "openai:gpt-4o-mini", temperature: 0 };
  agent.limits = { ...agent.limits, timeoutSeconds: timeoutSeconds ?? 120 };
  agent.limits.subtaskTimeoutSeconds = Math.min(
    agent.limits.subtaskTimeoutSeconds,
    agent.limits.timeoutSeconds,
  );
  agent.escalation = { retries: 1, to: "fail" };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(agent));
  return file;
}

async function runCase(scratch, index, spec) {
  const server = await startFakeOpenAI({
    reply: ({ schema, n }) =>
      schema === "plan"
        ? spec.plan(n)
        : schema === "final_answer"
          ? (spec.join?.(n) ?? { content: FINAL })
          : { status: 400, message: `the chaos planner does not answer ${schema}` },
  });
  const runDir = join(scratch, `planner-runs-${index}`);
  const file = cloudAgent(scratch, `cloud-planner-${index}`, spec.timeoutSeconds);
  let r;
  try {
    r = await cli(["run", file, "--run-dir", runDir, "--json", TASK], {
      timeoutMs: 60_000,
      env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-chaos-not-a-real-key" },
    });
  } finally {
    await server.close();
  }
  const problems = [];
  let result;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    problems.push(`no JSON result on stdout (exit ${r.code})`);
  }
  const { expect } = spec;
  problems.push(...processProblems(r, [expect.status === "completed" ? 0 : 1]));
  if (result !== undefined) {
    if (result.status !== expect.status) problems.push(`status ${result.status}, expected ${expect.status}`);
    if (expect.code !== undefined && result.error?.code !== expect.code)
      problems.push(`error ${result.error?.code}, expected ${expect.code}`);
    if (expect.message !== undefined && !expect.message.test(result.error?.message ?? ""))
      problems.push(`error message does not match ${expect.message}`);
  }
  const planRequests = server.requests.filter((q) => q.schema === "plan").length;
  if (planRequests > spec.maxPlanRequests)
    problems.push(
      `${planRequests} plan requests, at most ${spec.maxPlanRequests} expected (client retries?)`,
    );
  if (expect.withinMs !== undefined && r.ms > expect.withinMs)
    problems.push(`took ${r.ms} ms, more than ${expect.withinMs}`);

  // Nothing lost: the stored run reads back with the same status, and the journal has what happened.
  const runId = result?.runId;
  const events = runId === undefined ? [] : readEvents(runDir, runId);
  const rejected = events.filter((e) => e.type === "plan.rejected").length;
  const completedSubtasks = events.filter((e) => e.type === "subtask.completed").length;
  if (expect.rejected !== undefined && rejected !== expect.rejected)
    problems.push(`${rejected} plan.rejected events, expected ${expect.rejected}`);
  let stored;
  if (runId !== undefined) {
    const inspect = await cli(["inspect", runId, "--run-dir", runDir, "--json"]);
    try {
      stored = JSON.parse(inspect.stdout);
    } catch {
      problems.push(`inspect exited ${inspect.code} without JSON`);
    }
    if (stored !== undefined && stored.status !== result.status)
      problems.push(`inspect says ${stored.status}, the run said ${result.status}`);
    const storedDone = stored?.subtasks?.filter((s) => s.state === "completed").length ?? 0;
    if (expect.keptResults !== undefined && storedDone !== expect.keptResults)
      problems.push(`${storedDone} completed subtasks stored, expected ${expect.keptResults}`);
  } else if (result !== undefined) {
    problems.push("the result has no run id");
  }
  const outcome =
    result?.status === "completed"
      ? `completed after ${rejected} rejected plan(s)`
      : `${result?.status ?? "?"}: ${result?.error?.code ?? "?"} ${(result?.error?.message ?? "").split("\n")[0]}`;
  return {
    name: spec.name,
    code: r.code,
    signal: r.signal,
    ms: r.ms,
    stderr: `${outcome}; ${planRequests} plan request(s)${completedSubtasks > 0 ? `, ${completedSubtasks} subtasks completed` : ""}${stored ? `, stored as ${stored.status}` : ""}`,
    planRequests,
    requests: server.requests.length,
    rejectedPlans: rejected,
    errorCode: result?.error?.code,
    storedStatus: stored?.status,
    pass: problems.length === 0,
    problems,
  };
}

export async function plannerFaults({ scratch, log }) {
  const started = performance.now();
  const cases = [];
  for (const [i, spec] of CASES.entries()) {
    const c = await runCase(scratch, i, spec);
    log(`planner: ${c.name} → ${c.pass ? "pass" : `FAIL (${c.problems.join("; ")})`}`);
    cases.push(c);
  }
  return { cases, ms: Math.round(performance.now() - started) };
}

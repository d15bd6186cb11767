// Crash and resume: runs of the resumable agent are SIGKILLed at a random point (a uniform delay between 0.2 s and
// the measured run length, or on a random line of progress output), each followed by `edgecrew resume <id>`.
// The event journal must show that no subtask whose result was durable before the kill is started again, that
// every other subtask completed exactly once after the resume, and the answers must validate against the
// workers' schemas; `inspect` must read the same outcome back from disk.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadAgent } from "../dist/config/index.js";
import { compileSchema } from "../dist/schema/compile.js";
import { agentFile, cli, median, readEvents, runIdOf, TASK } from "./lib.mjs";

/** The journal checks of one crashed-and-resumed run; returns the problems found (empty: pass). */
function checkResumed(validators, runDir, runId, before, resumed, inspect) {
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

/**
 * Runs the crash-and-resume phase: two warm-up runs (fixture models generated, typical run length measured),
 * then `runs` killed runs, each resumed and checked. `random` draws the kill points.
 */
export async function crashResume({ scratch, runs, random, log }) {
  const started = performance.now();
  const agent = await loadAgent(agentFile);
  const validators = new Map(agent.workers.map((w) => [w.name, compileSchema(w.output)]));

  log("warm-up (fixture models, typical run length)…");
  const warmDir = join(scratch, "warm");
  const warm1 = await cli(["run", agentFile, "--run-dir", warmDir, TASK], { timeoutMs: 120_000 });
  const warm2 = await cli(["run", agentFile, "--run-dir", warmDir, TASK], { timeoutMs: 120_000 });
  if (warm1.code !== 0 || warm2.code !== 0) {
    throw new Error(`the warm-up runs failed (exit ${warm1.code}/${warm2.code}):\n${warm2.stderr}`);
  }
  const typicalMs = warm2.ms;
  const typicalLines = warm2.lines;

  const records = [];
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
      records.push(record);
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
      const fresh = await cli(["run", agentFile, "--run-dir", runDir, "--json", TASK], {
        timeoutMs: 120_000,
      });
      let status;
      try {
        status = JSON.parse(fresh.stdout).status;
      } catch {}
      record.pass = fresh.code === 0 && status === "completed";
      record.problems = record.pass ? [] : [`fresh run exited ${fresh.code} (${status})`];
      records.push(record);
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
      records.push(record);
      continue;
    }
    const inspect = await cli(["inspect", runId, "--run-dir", runDir, "--json"]);
    const checked = checkResumed(validators, runDir, runId, before, resumed, inspect);
    record.durable = checked.durable;
    record.resumedCompleted = checked.resumedCompleted;
    record.planned = checked.planned;
    record.problems = checked.problems;
    record.pass = checked.problems.length === 0;
    records.push(record);
    log(
      `crash run ${i + 1}/${runs}: killed at ${record.killedAtMs} ms after ${record.eventsBeforeKill} events → ${record.pass ? "pass" : `FAIL (${record.problems.join("; ")})`}`,
    );
  }

  return {
    agent: agent.name,
    warmupMs: [warm1.ms, warm2.ms],
    typicalRunMs: typicalMs,
    ms: Math.round(performance.now() - started),
    runs: records.length,
    passed: records.filter((r) => r.pass).length,
    freshStarts: records.reduce((n, r) => n + r.freshStarts, 0),
    killedAfterCompletion: records.filter((r) => r.lastEventBeforeKill === "run.completed").length,
    retriedKillPoints: records.reduce((n, r) => n + r.attempts.length - 1, 0),
    medianKillMs: median(records.flatMap((r) => (r.killedAtMs === undefined ? [] : [r.killedAtMs]))),
    medianResumeMs: median(records.flatMap((r) => (r.resumeMs === undefined ? [] : [r.resumeMs]))),
    durableSubtasksKept: records.reduce((n, r) => n + (r.durable?.length ?? 0), 0),
    subtasksRunAfterResume: records.reduce((n, r) => n + (r.resumedCompleted?.length ?? 0), 0),
    details: records,
  };
}

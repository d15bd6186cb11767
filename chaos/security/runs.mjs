// Security: issue 12, findings 5 (secrets leak), 6 (resume trusts the run directory) and 7 (a run directory that
// crashes or hangs resume), replayed against the BUILT package and CLI (bin/edgecrew.js, dist/).
//
// 5. A secret used as an object key reached events.jsonl and tools.jsonl; a secret split across two strings
//    survived; `run --json` printed it in `task`; the library's RunResult carried it in task, instructions and
//    the answer; a secret under 6 characters was silently never redacted. Held: none of the secret (whole or
//    either half) in the run directory, the events or the RunResult of a crew whose code tool answers with the
//    secret as a key and split over two fields; none in `run --json`; a short secret refused by `validate` with
//    its line:col.
// 6. `resume` loaded the agent file named in meta.json; one whose MCP server is `sh -c 'touch F'` ran. Held: F is
//    never created, whether meta.json names the file or holds a copy of it that other users could write.
// 7. A snapshot.json with wrong types crashed resume after the work (a TypeError and its stack, exit 1); a FIFO as
//    meta.json made inspect, runs and resume hang; (found while fixing it) an event payload of the wrong type
//    crashed inspect and the whole `runs` listing. Held: RUN_CORRUPT naming the file (and line), before any work
//    (nothing appended, no outcome), no stack; the FIFO answered within seconds by all three.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentFile, cli, processProblems, root } from "../lib.mjs";

const SECRET = "chaos-0f9e8d7c6b5a-secret";
const HEAD = SECRET.slice(0, 12);
const TAIL = SECRET.slice(12);
/** A refusal that reads no model and runs nothing must come within this (a hang is the finding). */
const QUICK_MS = 20_000;

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");
const row = (attack, held, detail) => ({ attack, result: held ? "held" : "broken", detail });
const firstLine = (text) =>
  text
    .split("\n")
    .find((line) => line.trim() !== "")
    ?.trim() ?? "";

/** Runs `node …args` with `env` added; kills it after `timeoutMs`. */
function node(args, env, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Every regular file under `dir`, as one string ("" when there is none). */
function allText(dir) {
  if (!existsSync(dir)) return "";
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(join(entry.parentPath, entry.name), "utf8"))
    .join("\n");
}

/** Which of the secret's forms `text` holds: the whole, either half. */
function leaks(text) {
  return [
    text.includes(SECRET) ? "the secret" : undefined,
    text.includes(HEAD) ? "its first half" : undefined,
    text.includes(TAIL) ? "its second half" : undefined,
  ].filter(Boolean);
}

/**
 * The library case: a crew (scripted planner, one fixture worker forced to call a code tool once) whose task,
 * plan instruction and joined answer hold the secret and whose tool answers `{ <secret>: …, a: "… <head>",
 * b: "<tail> …" }`. Runs in a child process on the built package; prints the RunResult and the events as JSON.
 */
const CREW_SCRIPT = `
import { z } from ${JSON.stringify(import.meta.resolve("zod"))};
import { createCrew, defineAgent, defineTool } from ${JSON.stringify(join(root, "dist/index.js"))};
import { ScriptedChatModel } from ${JSON.stringify(join(root, "dist/testing/index.js"))};
const [runDir, SECRET, HEAD, TAIL] = process.argv.slice(2);
const lookup = defineTool({
  name: "lookup", description: "Looks up the vault", input: z.object({}), idempotent: true,
  run: async () => ({ [SECRET]: "the key is the secret", a: "part " + HEAD, b: TAIL + " end" }),
});
const agent = defineAgent({
  name: "vault", description: "Reads the vault", planner: { model: "scripted:planner" },
  workers: [{ name: "reader", description: "Reads the vault", model: "fixture:reader?seed=3", tools: ["lookup"],
    toolChoice: "required", maxToolCalls: 1, maxTokens: 96,
    output: { type: "object", properties: { done: { type: "boolean" } }, required: ["done"], additionalProperties: false } }],
  limits: { maxReplans: 0, maxSubtasks: 1, maxParallel: 1, timeoutSeconds: 60, subtaskTimeoutSeconds: 45 },
  device: { threads: 1, gpu: false }, escalation: { retries: 0, to: "planner" }, secrets: ["CHAOS_SECRET"],
}, { tools: ["lookup"] });
const planner = new ScriptedChatModel([
  JSON.stringify({ subtasks: [{ id: "s1", worker: "reader", instruction: "Read the vault with " + SECRET, dependsOn: [] }] }),
  JSON.stringify({ answer: "the vault key is " + SECRET }),
]);
const crew = await createCrew(agent, { planner, runDir, tools: [lookup] });
try {
  const events = [];
  const run = crew.run("Open the vault, the key is " + SECRET, { onEvent: (e) => events.push(e) });
  const result = await run.result;
  console.log(JSON.stringify({ result, events }));
} finally {
  await crew.dispose();
}
`;

async function secretAttacks(scratch) {
  const rows = [];
  const dir = join(scratch, "secrets");
  mkdirSync(dir, { recursive: true });

  // Through the library: keys, split strings, RunResult.
  const script = join(dir, "secrets-crew.mjs");
  writeFileSync(script, CREW_SCRIPT);
  const runDir = join(dir, "crew-runs");
  const lib = await node([script, runDir, SECRET, HEAD, TAIL], { CHAOS_SECRET: SECRET }, 120_000);
  let parsed;
  try {
    parsed = JSON.parse(lib.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || parsed.result?.status !== "completed") {
    rows.push(
      row(
        "library: a secret as an object key and split over two strings (events, tools.jsonl)",
        false,
        `the crew did not complete: exit ${lib.code}, ${firstLine(lib.stderr) || firstLine(lib.stdout)}`,
      ),
    );
  } else {
    const stored = allText(runDir);
    const toolsJournal = readdirSync(runDir)
      .map((id) => readFileSync(join(runDir, id, "tools.jsonl"), "utf8"))
      .join("");
    const fromEvents = leaks(JSON.stringify(parsed.events));
    const fromStore = leaks(stored);
    const called = toolsJournal.includes('"tool":"lookup"');
    rows.push(
      row(
        "library: a secret as an object key and split over two strings (events, events.jsonl, tools.jsonl)",
        called && fromEvents.length === 0 && fromStore.length === 0,
        !called
          ? "the tool was never journaled: the case proves nothing"
          : fromEvents.length + fromStore.length === 0
            ? "no trace of the key or either half in the events or the run directory"
            : `found ${[...fromEvents.map((l) => `${l} in the events`), ...fromStore.map((l) => `${l} in the run directory`)].join(", ")}`,
      ),
    );
    const r = parsed.result;
    const raw = [
      leaks(r.task).length > 0 ? "task" : undefined,
      leaks(JSON.stringify(r.plan ?? null)).length > 0 ? "instructions" : undefined,
      leaks(JSON.stringify(r.answer ?? null)).length > 0 ? "answer" : undefined,
    ].filter(Boolean);
    rows.push(
      row(
        "library: RunResult task, instructions and answer",
        raw.length === 0,
        raw.length === 0 ? `task is ${JSON.stringify(r.task)}` : `raw secret in ${raw.join(", ")}`,
      ),
    );
  }

  // Through the CLI: run --json.
  const file = join(dir, "agent.yaml");
  writeFileSync(file, `${readFileSync(agentFile, "utf8")}\nsecrets: [CHAOS_SECRET]\n`);
  const cliRuns = join(dir, "cli-runs");
  const run = await cli(["run", file, "--run-dir", cliRuns, "--json", `A weekend by a lake, key ${SECRET}`], {
    env: { CHAOS_SECRET: SECRET },
    timeoutMs: 120_000,
  });
  const outLeaks = leaks(run.stdout);
  const dirLeaks = leaks(allText(cliRuns));
  const problems = processProblems(run, [0]);
  rows.push(
    row(
      "CLI: run --json with the secret in the task",
      problems.length === 0 && outLeaks.length === 0 && dirLeaks.length === 0,
      problems.length > 0
        ? problems.join("; ")
        : outLeaks.length + dirLeaks.length === 0
          ? "stdout and the run directory hold no trace of it"
          : `found ${[...outLeaks.map((l) => `${l} on stdout`), ...dirLeaks.map((l) => `${l} in the run directory`)].join(", ")}`,
    ),
  );

  // A secret too short to redact: refused at validate, with its line:col.
  const shortFile = join(dir, "short.yaml");
  writeFileSync(shortFile, `${readFileSync(agentFile, "utf8")}\nsecrets: [CHAOS_PIN]\n`);
  const validate = await cli(["validate", shortFile], { env: { CHAOS_PIN: "1234" }, timeoutMs: QUICK_MS });
  const located = /:\d+:\d+: secrets\[0\]: .*CHAOS_PIN has 4 characters/.test(validate.stderr);
  rows.push(
    row(
      "validate: a secret of 4 characters",
      validate.code === 2 && located,
      validate.code === 2 && located
        ? firstLine(validate.stderr.split("\n").find((l) => l.includes("CHAOS_PIN")) ?? "")
        : `exit ${validate.code}: ${firstLine(validate.stderr) || "accepted"}`,
    ),
  );
  return rows;
}

/** A run directory made by hand, as whoever can write the runs folder would. */
function craftRun(runDir, runId, meta, files = {}) {
  const dir = join(runDir, runId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "meta.json"),
    `${JSON.stringify({ runId, agent: "resumable", task: "A weekend by a lake", createdAt: Date.now(), ...meta })}\n`,
  );
  writeFileSync(join(dir, "events.jsonl"), "");
  writeFileSync(join(dir, "tools.jsonl"), "");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function resumeAttacks(scratch) {
  const rows = [];
  const dir = join(scratch, "resume");
  mkdirSync(dir, { recursive: true });
  const runDir = join(dir, "runs");
  const marker = join(dir, "pwned");
  const agentText = readFileSync(agentFile, "utf8");
  const evilText = `${agentText}\ntools:\n  - mcp: { name: evil, command: sh, args: [-c, ${JSON.stringify(`touch ${marker}`)}] }\n`;
  const evilFile = join(dir, "evil.yaml");
  writeFileSync(evilFile, evilText);

  craftRun(runDir, "named-run", { agentSource: evilFile });
  const named = await cli(["resume", "named-run", "--run-dir", runDir, "--json"], { timeoutMs: 60_000 });
  const ranNamed = existsSync(marker);
  rmSync(marker, { force: true });
  rows.push(
    row(
      "resume: meta.json names an agent whose MCP server is sh -c 'touch F'",
      !ranNamed && processProblems(named, [1, 2]).length === 0,
      ranNamed ? "F was created: the command ran" : `exit ${named.code}: ${firstLine(named.stderr)}`,
    ),
  );

  const copy = { file: evilFile, text: evilText, sha256: sha256(evilText) };
  const writable = craftRun(runDir, "writable-run", { agentSource: evilFile, agentCopy: copy });
  chmodSync(join(writable, "meta.json"), 0o666);
  const open = await cli(["resume", "writable-run", "--run-dir", runDir, "--json"], { timeoutMs: 60_000 });
  const ranCopy = existsSync(marker);
  rmSync(marker, { force: true });
  rows.push(
    row(
      "resume: a world-writable meta.json holds a copy of that agent (hash matching)",
      !ranCopy && processProblems(open, [1, 2]).length === 0,
      ranCopy ? "F was created: the command ran" : `exit ${open.code}: ${firstLine(open.stderr)}`,
    ),
  );
  return rows;
}

async function corruptRunAttacks(scratch) {
  const rows = [];
  const runDir = join(scratch, "corrupt", "runs");
  const agentText = readFileSync(agentFile, "utf8");
  const copy = { file: agentFile, text: agentText, sha256: sha256(agentText) };
  for (const [label, snapshot] of [
    ["null usage records", { state: '"executing"', usage: [null] }],
    [
      "string token counts",
      {
        usage: [
          {
            model: "m",
            locality: "local",
            promptTokens: "12",
            completionTokens: 1,
            durationMs: 1,
            loadMs: 0,
          },
        ],
      },
    ],
  ]) {
    const runId = `snapshot-${label.split(" ")[0]}`;
    const run = craftRun(
      runDir,
      runId,
      { agentSource: agentFile, agentCopy: copy },
      { "snapshot.json": JSON.stringify(snapshot) },
    );
    const r = await cli(["resume", runId, "--run-dir", runDir, "--json"], { timeoutMs: 120_000 });
    const typed = /RUN_CORRUPT|is corrupt: snapshot\.json/.test(r.stderr);
    const worked =
      readFileSync(join(run, "events.jsonl"), "utf8") !== "" || existsSync(join(run, "outcome.json"));
    const problems = processProblems(r, [1]);
    rows.push(
      row(
        `resume: snapshot.json with ${label}`,
        typed && !worked && problems.length === 0,
        [
          ...problems,
          typed ? firstLine(r.stderr) : `no RUN_CORRUPT: ${firstLine(r.stderr) || `exit ${r.code}`}`,
          ...(worked ? ["the run did work before failing"] : []),
        ].join("; "),
      ),
    );
  }

  // An event whose payload is of the wrong type: inspect and runs read payloads, so they are checked too.
  const eventRuns = join(scratch, "corrupt", "event-runs");
  const bad = { type: "subtask.completed", runId: "event-run", seq: 1, at: 1, subtaskId: "s1", result: null };
  craftRun(eventRuns, "event-run", {}, { "events.jsonl": `${JSON.stringify(bad)}\n` });
  for (const args of [
    ["inspect", "event-run"],
    ["runs", "--json"],
  ]) {
    const r = await cli([...args, "--run-dir", eventRuns], { timeoutMs: QUICK_MS });
    const problems = processProblems(r, args[0] === "runs" ? [0] : [1]);
    const named = /events\.jsonl:1/.test(args[0] === "runs" ? r.stdout : r.stderr);
    if (!named) problems.push("events.jsonl:1 is not named");
    rows.push(
      row(
        `${args[0]}: an event payload of the wrong type (result: null)`,
        problems.length === 0,
        problems.length > 0
          ? problems.join("; ")
          : firstLine(r.stderr) || "listed as corrupt, naming events.jsonl:1",
      ),
    );
  }

  const fifoRuns = join(scratch, "corrupt", "fifo-runs");
  const fifo = craftRun(fifoRuns, "fifo-run", {});
  craftRun(fifoRuns, "good-run", {});
  rmSync(join(fifo, "meta.json"));
  execFileSync("mkfifo", [join(fifo, "meta.json")]);
  for (const args of [
    ["inspect", "fifo-run"],
    ["runs", "--json"],
    ["resume", "fifo-run"],
  ]) {
    const r = await cli([...args, "--run-dir", fifoRuns], { timeoutMs: QUICK_MS });
    const expected = args[0] === "runs" ? [0] : [1];
    const problems = processProblems(r, expected);
    if (args[0] !== "runs" && !/meta\.json/.test(r.stderr))
      problems.push("the error does not name meta.json");
    rows.push(
      row(
        `${args[0]}: a FIFO as meta.json`,
        problems.length === 0,
        problems.length > 0
          ? problems.join("; ")
          : `${r.ms} ms: ${firstLine(r.stderr) || firstLine(r.stdout)}`,
      ),
    );
  }
  return rows;
}

/**
 * Replays findings 5, 6 and 7 against the built package and CLI; one row per attack: held (the fix stands) or
 * broken (the attack still works), with what was seen.
 */
export async function attacks({ scratch, log = () => undefined }) {
  const rows = [];
  const groups = [
    ["secrets (library crew, run --json, validate)", secretAttacks],
    ["resume and the agent a run directory names", resumeAttacks],
    ["damaged run directories (snapshot types, FIFO meta.json)", corruptRunAttacks],
  ];
  for (const [label, replay] of groups) {
    log(`security/runs: ${label}`);
    try {
      rows.push(...(await replay(scratch)));
    } catch (error) {
      // The harness itself failed: the attacks of this group cannot be shown to hold.
      rows.push(
        row(label, false, `the replay failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
  }
  return rows;
}

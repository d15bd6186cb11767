#!/usr/bin/env node
// Fault injection for edgecrew (`npm run chaos`): drives the BUILT CLI (bin/edgecrew.js) in child processes.
//
// Sections (each in its own module):
//   crash      SIGKILL at a random point of N runs of a multi-subtask agent, each followed by `resume` (crash.mjs)
//   bad        broken GGUF files, a run directory that cannot be created, a full disk, SIGINT (badInputs.mjs)
//   catalogue  malformed agent YAML files, each rejected with file:line:col (catalogue.mjs)
//   planner    a cloud planner (an OpenAI-compatible server on 127.0.0.1) that answers badly (planner.mjs)
//   tools      MCP tools that throw, hang, flood or die mid-call (tools.mjs)
//   security   the attacks of the security review (issue 12), each held or broken (security.mjs, security/*.mjs)
//   fleet      N runs on a real nats-server with 2–3 `edgecrew device` processes, one SIGKILLed at a random point
//              (tool hold, generation, between subtasks, delay); each run completes, every subtask stored once
//              (fleetKill.mjs, fleet.mjs)
// Every case must end with a typed outcome — exit 0, 1 or 2 (130 for SIGINT), a clear error line, no signal
// death, no hang — and lose nothing that was already stored in the run directory.
//
// Writes chaos/results/<YYYY-MM-DD>.json (or CHAOS_OUT) and prints a markdown summary; exits 1 when any check
// failed. Environment: CHAOS_RUNS (crash runs, default 20), CHAOS_SEED (PRNG seed, to replay a sequence of kill
// points), CHAOS_ONLY (comma-separated sections, default all), CHAOS_OUT (results file), CHAOS_FLEET_RUNS (fleet
// runs, default CHAOS_RUNS).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { median, prng, root } from "./lib.mjs";

/** Each section's module and entry point; each takes `{ scratch, runs, random, log }`. */
const SECTION_MODULES = {
  crash: ["./crash.mjs", "crashResume"],
  bad: ["./badInputs.mjs", "badInputs"],
  catalogue: ["./catalogue.mjs", "yamlCatalogue"],
  planner: ["./planner.mjs", "plannerFaults"],
  tools: ["./tools.mjs", "toolFaults"],
  security: ["./security.mjs", "securityAttacks"],
  fleet: ["./fleetKill.mjs", "fleetKills"],
};
const SECTIONS = Object.keys(SECTION_MODULES);

if (!existsSync(join(root, "dist/index.js"))) {
  console.error("chaos: dist/ is missing; build first (npm run build), or use npm run chaos");
  process.exit(2);
}
const runs = Number(process.env.CHAOS_RUNS ?? 20);
if (!Number.isSafeInteger(runs) || runs < 1) {
  console.error(`chaos: CHAOS_RUNS must be a positive whole number, got ${process.env.CHAOS_RUNS}`);
  process.exit(2);
}
const only = (process.env.CHAOS_ONLY ?? SECTIONS.join(",")).split(",").map((s) => s.trim());
const unknown = only.filter((s) => !SECTIONS.includes(s));
if (unknown.length > 0) {
  console.error(`chaos: unknown CHAOS_ONLY section ${unknown.join(", ")} (expected ${SECTIONS.join(", ")})`);
  process.exit(2);
}
const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 0xffff_ffff) >>> 0;
const random = prng(seed);
const log = (message) => console.error(`chaos: ${message}`);

const scratch = mkdtempSync(join(tmpdir(), "edgecrew-chaos-"));
// Every child CLI generates and caches its fixture models here, shared across the sections.
process.env.EDGECREW_CACHE_DIR = join(scratch, "cache");
mkdirSync(process.env.EDGECREW_CACHE_DIR);

const started = performance.now();
const sections = {};
try {
  // The sections' modules import dist/, so they load only after the check above. They run in this order.
  const context = { scratch, runs, random, log };
  for (const name of SECTIONS.filter((section) => only.includes(section))) {
    const [file, entry] = SECTION_MODULES[name];
    sections[name] = await (await import(file))[entry](context);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const totalMs = Math.round(performance.now() - started);

// ─── results ──────────────────────────────────────────────────────────────────────────────────────────────

const { crash, bad, catalogue, planner, tools, security, fleet } = sections;
const casesPass = (section) => section === undefined || section.cases.every((c) => c.pass);
const allPass =
  (crash === undefined || crash.passed === crash.runs) &&
  casesPass(bad) &&
  casesPass(catalogue) &&
  (catalogue === undefined || catalogue.control.pass) &&
  casesPass(planner) &&
  casesPass(tools) &&
  casesPass(security) &&
  (fleet === undefined || fleet.passed === fleet.runs);

const date = new Date().toISOString().slice(0, 10);
const results = {
  date: new Date().toISOString(),
  command: "npm run chaos",
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
  seed,
  sections: only,
  pass: allPass,
  totalMs,
  ...sections,
};
const resultsFile = process.env.CHAOS_OUT ?? join(root, "chaos/results", `${date}.json`);
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);

const s = (ms) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);
const cell = (text) =>
  String(text ?? "")
    .replaceAll(scratch, "$TMP")
    .replaceAll("|", "\\|")
    .slice(0, 110);
// A skipped case (one that needs root here, say) is neither passed nor failed: it is counted apart.
const passed = (cases) => {
  const ran = cases.filter((c) => !c.skipped);
  const skipped = cases.length - ran.length;
  return `${ran.filter((c) => c.pass).length}/${ran.length}${skipped > 0 ? ` (${skipped} skipped)` : ""}`;
};
const verdict = (c) => (c.skipped ? "skipped" : c.pass ? "pass" : `**FAIL** ${cell(c.problems.join("; "))}`);
const out = [];
out.push(`## edgecrew chaos — ${results.date.slice(0, 16).replace("T", " ")} UTC (seed ${seed})`);
out.push("");
out.push(
  `Machine: ${results.machine.cpus} CPUs (${results.machine.cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.${crash ? ` Typical run ${s(crash.typicalRunMs)};` : ""} total ${s(totalMs)}.`,
);
out.push("");
out.push("| check | passed | notes |");
out.push("|---|---|---|");
if (crash) {
  out.push(
    `| SIGKILL + resume (${crash.agent}) | ${crash.passed}/${crash.runs} | median kill at ${s(crash.medianKillMs)}, median resume ${s(crash.medianResumeMs)}; ${crash.durableSubtasksKept} durable subtasks kept, ${crash.subtasksRunAfterResume} run after resume, 0 allowed to re-run; ${crash.freshStarts} killed before the run dir existed (fresh run), ${crash.killedAfterCompletion} killed after run.completed was durable, ${crash.retriedKillPoints} kill points redrawn (run finished first) |`,
  );
}
if (bad) {
  out.push(
    `| bad inputs (GGUF, run dir, disk full, SIGINT) | ${passed(bad.cases)} | typed error, no signal death, no hang, stored results kept |`,
  );
}
if (catalogue) {
  out.push(
    `| malformed agent YAML catalogue | ${passed(catalogue.cases)} | \`validate\` exits 2 with file:line:col; valid control ${catalogue.control.pass ? "ok" : "FAILED"} |`,
  );
}
if (planner) {
  out.push(
    `| cloud planner replies badly | ${passed(planner.cases)} | repaired, or a typed error within the bound; no client-side retry storm |`,
  );
}
if (tools) {
  out.push(
    `| tools that throw, hang, flood or die | ${passed(tools.cases)} | the failure reaches the model as data or fails the subtask; the run ends, its directory reads back |`,
  );
}
if (security) {
  out.push(
    `| security review attacks (shell, fs, calculator, http, run directories, secrets) | ${passed(security.cases)} | each attack replayed as written; held = refused or confined, nothing leaked or left running |`,
  );
}
if (fleet) {
  out.push(
    `| fleet: a device SIGKILLed mid-run (2–3 devices, real nats-server) | ${fleet.passed}/${fleet.runs} | completed, each subtask stored once, on a device serving its worker, no result replaced; by kill point ${Object.entries(
      fleet.byMode,
    )
      .map(([m, c]) => `${m} ${c.passed}/${c.runs}`)
      .join(
        ", ",
      )}; ${fleet.killedWhileRunning} killed while running a subtask, ${fleet.redeliveries} redeliveries, ${fleet.lateResultsDropped} late results dropped, ${fleet.sideEffectUncertain} side-effect-uncertain (no non-idempotent tool), ${fleet.retriedKillPoints} kill points redrawn (run finished first), ${fleet.harnessRetries} runs retried after a device failed to start; ${fleet.redeliveredBeforeKill} of the redeliveries came before the kill (a live device's job); median run ${s(fleet.medianRunMs)} |`,
  );
}
if (crash) {
  out.push("");
  out.push("### Crash runs");
  out.push("");
  out.push(
    "| # | kill point | killed at | events before kill | last event | durable | run after resume | resume | result |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|");
  for (const r of crash.details) {
    const a = r.attempts.at(-1);
    const point = a?.mode === "line" ? `stdout line ${a.killOnLine}` : `${a?.killAfterMs} ms`;
    const last = r.killedBeforeRunDir
      ? "(no run dir: fresh run)"
      : r.lastEventBeforeKill === "run.completed"
        ? "run.completed (already durable)"
        : (r.lastEventBeforeKill ?? "-");
    out.push(
      `| ${r.run} | ${point} | ${r.killedAtMs ?? "-"} ms | ${r.eventsBeforeKill ?? "-"} | ${last} | ${r.durable?.join(",") || "-"} | ${r.resumedCompleted?.join(",") || "-"} | ${s(r.resumeMs)} | ${verdict(r)} |`,
    );
  }
}
if (fleet) {
  out.push("");
  out.push("### Fleet device kills");
  out.push("");
  out.push("| # | devices | plan | kill point | killed | at | was running | redelivered | run | result |");
  out.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of fleet.details) {
    out.push(
      `| ${r.run} | ${Object.keys(r.devices).length} | ${r.plan} | ${r.mode}: ${cell(r.point)} | ${r.killed ?? "-"} | ${r.killedAtMs ?? "-"} ms | ${r.victimWasRunning?.join(",") || "-"} | ${r.redeliveries ?? "-"} | ${s(r.ms)} | ${verdict(r)} |`,
    );
  }
}
for (const [title, section] of [
  ["Bad inputs", bad],
  ["Cloud planner faults", planner],
  ["Tool faults", tools],
]) {
  if (section === undefined) continue;
  out.push("");
  out.push(`### ${title}`);
  out.push("");
  out.push("| case | exit | time | outcome | result |");
  out.push("|---|---|---|---|---|");
  for (const c of section.cases) {
    const noise = c.llamaLogLines ? ` (+${c.llamaLogLines} llama.cpp log lines on stderr)` : "";
    out.push(
      `| ${c.name} | ${c.code ?? c.signal} | ${s(c.ms)} | ${cell(c.stderr)}${noise} | ${verdict(c)} |`,
    );
  }
}
if (security) {
  out.push("");
  out.push("### Security");
  out.push("");
  out.push("| area | attack | result | detail |");
  out.push("|---|---|---|---|");
  for (const c of security.cases) {
    out.push(`| ${c.area} | ${cell(c.name)} | ${c.pass ? "held" : "**BROKEN**"} | ${cell(c.detail)} |`);
  }
}
if (catalogue) {
  out.push("");
  out.push(
    `YAML catalogue: ${passed(catalogue.cases)} files rejected with exit 2 and a file:line:col line (median ${s(median(catalogue.cases.map((c) => c.ms)))} per file).`,
  );
  for (const c of catalogue.cases.filter((x) => !x.pass))
    out.push(`- **FAIL** ${c.name}: ${c.problems.join("; ")} (${cell(c.stderr)})`);
}
out.push("");
out.push(`Results: ${relative(root, resultsFile)}`);
console.log(out.join("\n"));
process.exit(allPass ? 0 : 1);

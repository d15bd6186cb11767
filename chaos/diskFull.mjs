// Disk full: the run directory lives on a small tmpfs that is filled up to a chosen number of free pages, so
// that the run's writes hit ENOSPC at a different point in each case (creating the run, the plan, a result,
// the outcome). The run must end with a typed error (or complete, when the room sufficed) — exit 0 or 1, no
// signal, no hang — and, once the space is freed, `resume` must finish the run from what was stored, never
// starting a stored subtask again. Mounting a tmpfs needs root; without it the cases are reported as skipped.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentFile, cli, processProblems, readEvents, TASK } from "./lib.mjs";

const FREE_PAGES = [0, 1, 2, 3, 4, 5, 6, 8, 10, 16];

function tryMount(dir, size) {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return String(error.stderr ?? error.message)
      .trim()
      .split("\n")[0];
  }
}

/** Fills the file system until exactly `pages` blocks are free (a filler file). */
function fillTo(mount, pages) {
  const filler = join(mount, "filler");
  rmSync(filler, { force: true });
  const { bavail, bsize } = statfsSync(mount);
  const bytes = Math.max(0, (bavail - pages) * bsize);
  if (bytes > 0) writeFileSync(filler, Buffer.alloc(bytes, 0x61));
  return { filler, free: statfsSync(mount).bavail };
}

async function oneCase(mount, pages) {
  const runDir = join(mount, `runs-${pages}`);
  mkdirSync(runDir);
  const { filler, free } = fillTo(mount, pages);
  const first = await cli(["run", agentFile, "--run-dir", runDir, "--json", TASK], { timeoutMs: 120_000 });
  rmSync(filler, { force: true }); // the space comes back
  const problems = [];
  let result;
  try {
    result = JSON.parse(first.stdout);
  } catch {
    // A failure before the run had an id (the run directory could not be created) prints the error on stderr.
  }
  problems.push(...processProblems(first, [0, 1]));
  const code = result?.error?.code ?? /^edgecrew: .*?\b([A-Z_]{6,})\b/m.exec(first.stderr)?.[1];
  const message = (result?.error?.message ?? first.stderr.trim()).split("\n")[0];
  if (first.code === 1 && code !== "RUN_STORE_FAILED" && !/ENOSPC|no space/i.test(message))
    problems.push(`failed with ${code ?? "no code"}: ${message}, not a store error`);

  let resumed;
  let rerun = [];
  const runId = result?.runId;
  const stored = runId === undefined ? [] : readEvents(runDir, runId);
  const storedDone = new Set(stored.flatMap((e) => (e.type === "subtask.completed" ? [e.subtaskId] : [])));
  if (first.code === 1 && runId !== undefined) {
    const r = await cli(["resume", runId, "--run-dir", runDir, "--json"], { timeoutMs: 120_000 });
    try {
      resumed = JSON.parse(r.stdout);
    } catch {}
    if (r.signal !== null || r.timedOut) problems.push(`resume died: ${r.signal ?? "timed out"}`);
    else if (resumed === undefined) {
      // The run directory never got created (ENOSPC at the very start): resume must say so, typed.
      if (r.code !== 1 || !/no stored run/.test(r.stderr)) problems.push(`resume: ${r.stderr.trim()}`);
    } else if (resumed.status !== "completed") {
      problems.push(`resume ended ${resumed.status}: ${resumed.error?.code} ${resumed.error?.message ?? ""}`);
    }
    const after = readEvents(runDir, runId).slice(stored.length);
    rerun = after.flatMap((e) =>
      e.type === "subtask.started" && storedDone.has(e.subtaskId) ? [e.subtaskId] : [],
    );
    if (rerun.length > 0) problems.push(`stored subtasks started again: ${rerun.join(", ")}`);
  }
  const outcome =
    first.code === 0
      ? "completed (room sufficed)"
      : `${code ?? "?"} (${message.replace(/^edgecrew: /, "").slice(0, 60)})${
          resumed === undefined
            ? runId === undefined
              ? "; nothing stored"
              : ""
            : `; after freeing space resume → ${resumed.status} (${storedDone.size} stored subtasks kept)`
        }`;
  rmSync(runDir, { recursive: true, force: true }); // the next case starts with the same room
  return {
    name: `run: disk full, ${free} free page(s) of ${statfsSync(mount).bsize} B`,
    code: first.code,
    signal: first.signal,
    ms: first.ms,
    stderr: outcome,
    errorCode: code,
    resumedStatus: resumed?.status,
    storedSubtasks: storedDone.size,
    pass: problems.length === 0,
    problems,
  };
}

export async function diskFull({ scratch, log }) {
  const mount = join(scratch, "diskfull");
  const why = tryMount(mount, "256k");
  if (why !== undefined) {
    log(`disk full: skipped, cannot mount a tmpfs (${why})`);
    return [
      {
        name: "run: disk full (tmpfs)",
        skipped: true,
        stderr: `skipped: cannot mount a tmpfs here (${why}); run npm run chaos as root to include it`,
        pass: true,
        problems: [],
      },
    ];
  }
  const cases = [];
  try {
    for (const pages of FREE_PAGES) {
      const c = await oneCase(mount, pages);
      log(`disk full with ${pages} free page(s) → ${c.pass ? "pass" : `FAIL (${c.problems.join("; ")})`}`);
      cases.push(c);
    }
  } finally {
    try {
      execFileSync("umount", [mount], { stdio: "pipe" });
    } catch {}
  }
  return cases;
}

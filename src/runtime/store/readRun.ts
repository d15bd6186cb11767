/**
 * Reads one run directory of the file store back into a StoredRun, trusting nothing: every file is parsed and
 * checked against its schema, every result must sit under its own name in the current revision and belong to the
 * current plan. Whatever fails is RUN_CORRUPT naming the file (and line), because resuming from a damaged run
 * could repeat side effects or skip work; the one tolerated flaw is the torn last line a crash mid-append
 * leaves in a JSONL file, which is dropped and reported in `warnings`.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { JsonValue, StoredRun, SubtaskResult, ToolJournalEntry } from "../../types.js";
import { errnoOf, isTempFileName } from "./durableFs.js";
import { parseJsonLines } from "./jsonLines.js";
import {
  EVENTS_FILE,
  META_FILE,
  OUTCOME_FILE,
  PLAN_FILE,
  revisionDir,
  SNAPSHOT_FILE,
  subtaskIdOfFileName,
  TOOLS_FILE,
} from "./runLayout.js";
import { runCorrupt, runNotFound } from "./storeErrors.js";
import { type CurrentPlan, foldToolJournal } from "./storeRules.js";
import { checkRecord, type StoredRecords } from "./storeSchemas.js";

/**
 * A run as the file store loads it: the StoredRun, plus what `load` tolerated and dropped (a torn last line of
 * a JSONL file, a stray file in a results directory), one human-readable line each. Empty for a clean run.
 */
export interface FileStoredRun extends StoredRun {
  readonly warnings: readonly string[];
}

/** Reads a file the run needs; `undefined` when an optional one is absent. */
async function readText(dir: string, runId: string, file: string, required: boolean) {
  try {
    return await readFile(join(dir, file), "utf8");
  } catch (cause) {
    if (errnoOf(cause) === "ENOENT" && !required) return undefined;
    const problem = errnoOf(cause) === "ENOENT" ? "missing" : "cannot be read";
    throw runCorrupt(runId, file, problem, { cause, path: join(dir, file) });
  }
}

function parseJson(runId: string, file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw runCorrupt(runId, file, "not valid JSON", { cause });
  }
}

function expectRecord<K extends keyof StoredRecords>(
  runId: string,
  file: string,
  kind: K,
  value: unknown,
  line?: number,
): StoredRecords[K] {
  const checked = checkRecord(kind, value);
  if (!checked.ok) throw runCorrupt(runId, file, `unexpected content: ${checked.problems}`, { line });
  return checked.value;
}

async function readRecord<K extends keyof StoredRecords>(
  dir: string,
  runId: string,
  file: string,
  kind: K,
): Promise<StoredRecords[K] | undefined> {
  const text = await readText(dir, runId, file, kind === "meta");
  return text === undefined ? undefined : expectRecord(runId, file, kind, parseJson(runId, file, text));
}

async function readLog<K extends "event" | "journal">(
  dir: string,
  runId: string,
  file: string,
  kind: K,
  warnings: string[],
): Promise<StoredRecords[K][]> {
  const text = (await readText(dir, runId, file, true)) ?? "";
  const parsed = parseJsonLines(text);
  if (!parsed.ok) throw runCorrupt(runId, file, "not valid JSON", { line: parsed.line, cause: parsed.cause });
  if (parsed.torn !== undefined) {
    warnings.push(
      `${file}:${parsed.torn.line}: dropped an unterminated last line (${parsed.torn.length} characters): ` +
        "an append that a crash interrupted before it was acknowledged",
    );
  }
  return parsed.values.map(({ line, value }) => expectRecord(runId, file, kind, value, line));
}

async function readResults(
  dir: string,
  runId: string,
  current: CurrentPlan,
  warnings: string[],
): Promise<Record<string, SubtaskResult>> {
  const folder = revisionDir(current.revision);
  let names: string[];
  try {
    names = await readdir(join(dir, folder));
  } catch (cause) {
    // savePlan creates the folder (durably) before plan.json names the revision, so it cannot be missing.
    throw runCorrupt(runId, folder, errnoOf(cause) === "ENOENT" ? "missing" : "cannot be read", { cause });
  }
  const planned = new Set(current.plan.subtasks.map((subtask) => subtask.id));
  const results: Record<string, SubtaskResult> = {};
  for (const name of names.sort()) {
    const file = `${folder}/${name}`;
    if (isTempFileName(name)) continue; // a write a crash interrupted before its rename: never acknowledged
    if (!name.endsWith(".json")) {
      warnings.push(`${file}: ignored a file the store does not write`);
      continue;
    }
    const id = subtaskIdOfFileName(name);
    if (id === undefined) throw runCorrupt(runId, file, "not a result file name the store writes");
    const text = (await readText(dir, runId, file, true)) ?? "";
    const result = expectRecord(runId, file, "result", parseJson(runId, file, text));
    if (result.subtaskId !== id) {
      throw runCorrupt(runId, file, `holds the result of subtask ${JSON.stringify(result.subtaskId)}`);
    }
    if (!planned.has(id)) {
      throw runCorrupt(
        runId,
        file,
        `subtask ${JSON.stringify(id)} is not in plan revision ${current.revision}`,
      );
    }
    results[id] = result;
  }
  return results;
}

/**
 * Loads the run stored in `dir` (whose name is `runId`). Throws RUN_NOT_FOUND when there is no such directory
 * and RUN_CORRUPT (naming the file, and the line of a JSONL file) when anything in it cannot be trusted.
 *
 * @example
 * const run = await readStoredRun("/home/me/.edgecrew/runs/20250101-120000-ab12cd", "20250101-120000-ab12cd");
 */
export async function readStoredRun(dir: string, runId: string): Promise<FileStoredRun> {
  try {
    if (!(await stat(dir)).isDirectory()) throw runCorrupt(runId, ".", "not a directory", { path: dir });
  } catch (cause) {
    const errno = errnoOf(cause);
    if (errno === "ENOENT" || errno === "ENOTDIR") throw runNotFound(runId);
    throw cause;
  }
  const warnings: string[] = [];
  const meta = (await readRecord(dir, runId, META_FILE, "meta")) as StoredRecords["meta"];
  if (meta.runId !== runId)
    throw runCorrupt(runId, META_FILE, `belongs to run ${JSON.stringify(meta.runId)}`);

  const events = await readLog(dir, runId, EVENTS_FILE, "event", warnings);
  for (const [index, event] of events.entries()) {
    if (event.runId !== runId) {
      throw runCorrupt(runId, EVENTS_FILE, `an event of run ${JSON.stringify(event.runId)}`, {
        line: index + 1,
      });
    }
  }
  const planFile = await readRecord(dir, runId, PLAN_FILE, "planFile");
  const results = planFile === undefined ? {} : await readResults(dir, runId, planFile, warnings);
  const snapshotText = await readText(dir, runId, SNAPSHOT_FILE, false);
  const snapshot =
    snapshotText === undefined ? undefined : (parseJson(runId, SNAPSHOT_FILE, snapshotText) as JsonValue);
  const journal: ToolJournalEntry[] = await readLog(dir, runId, TOOLS_FILE, "journal", warnings);
  const outcome = await readRecord(dir, runId, OUTCOME_FILE, "outcome");
  if (outcome !== undefined && outcome.runId !== runId) {
    throw runCorrupt(runId, OUTCOME_FILE, `the outcome of run ${JSON.stringify(outcome.runId)}`);
  }
  return {
    meta,
    events,
    ...(planFile === undefined ? {} : { plan: planFile.plan }),
    revision: planFile?.revision ?? 0,
    results,
    ...(snapshot === undefined ? {} : { snapshot }),
    toolJournal: foldToolJournal(journal),
    ...(outcome === undefined ? {} : { outcome }),
    warnings,
  };
}

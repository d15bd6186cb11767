/**
 * Reads one run directory of the file store back into a StoredRun, trusting nothing: every file is parsed and
 * checked against its schema, every result must sit under its own name in the current revision and belong to the
 * current plan. Whatever fails is RUN_CORRUPT naming the file (and line), because resuming from a damaged run
 * could repeat side effects or skip work; the one tolerated flaw is the torn last line a crash mid-append
 * leaves in a JSONL file, which is dropped and reported in `warnings`. A run file that is not a regular file (a
 * FIFO, a device, a socket, a symbolic link) is RUN_CORRUPT without being read, so nothing here can block.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isEdgecrewError } from "../../errors.js";
import type { StoredRun, SubtaskResult, ToolJournalEntry } from "../../types.js";
import { agentCopyHash } from "./agentCopy.js";
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
  /**
   * Set when someone other than this process's user could have written the run's meta.json, and so its agent
   * copy: `edgecrew resume` then refuses to run that copy and asks for `--agent` (as git refuses a repository
   * owned by another user). Undefined when only this user (or root, for root's runs) could have.
   */
  readonly foreignWriter?: string;
}

/** What a special file is, for the message that refuses it. */
function kindOf(info: Stats): string {
  if (info.isSymbolicLink()) return "a symbolic link";
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  if (info.isDirectory()) return "a directory";
  return "not a regular file";
}

/** Flags that open a run file without following a link or waiting on a FIFO (0 where a platform lacks one). */
const SAFE_READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A run file's text and the status of the file it was read from (owner and mode matter for meta.json). */
interface FileRead {
  readonly text: string;
  readonly info: Stats;
}

/**
 * Reads a file the run needs; `undefined` when an optional one is absent. A run directory is data that anyone
 * with write access to it may have shaped, so only a regular file is read: a FIFO would block the read forever,
 * a device could be endless or act on open, a symbolic link could point anywhere. The name is checked with
 * lstat before anything is opened, then opened with O_NOFOLLOW | O_NONBLOCK (so a swap after the check cannot
 * block or follow a link either) and checked again on the open descriptor.
 */
async function readRunFile(dir: string, runId: string, file: string, required: boolean) {
  const path = join(dir, file);
  const unreadable = (cause: unknown): never => {
    const errno = errnoOf(cause);
    if (errno === "ELOOP")
      throw runCorrupt(runId, file, "a symbolic link; a run file never is one", { path });
    const problem = errno === "ENOENT" ? "missing" : "cannot be read";
    throw runCorrupt(runId, file, problem, { cause, path });
  };
  let named: Stats;
  try {
    named = await lstat(path);
  } catch (cause) {
    if (errnoOf(cause) === "ENOENT" && !required) return undefined;
    return unreadable(cause);
  }
  if (!named.isFile()) throw runCorrupt(runId, file, `${kindOf(named)}, not a regular file`, { path });
  let handle: FileHandle;
  try {
    handle = await open(path, SAFE_READ_FLAGS);
  } catch (cause) {
    return unreadable(cause);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.ino !== named.ino || info.dev !== named.dev) {
      throw runCorrupt(runId, file, `was replaced while it was read (now ${kindOf(info)})`, { path });
    }
    return { text: await handle.readFile("utf8"), info } satisfies FileRead;
  } catch (cause) {
    if (isEdgecrewError(cause)) throw cause;
    return unreadable(cause);
  } finally {
    await handle.close();
  }
}

/**
 * The text of a run file, read only when it is a regular file (a FIFO, device, socket or symbolic link is
 * RUN_CORRUPT at once, never opened in a way that blocks); `undefined` when an optional one is absent.
 */
export async function readText(dir: string, runId: string, file: string, required: boolean) {
  return (await readRunFile(dir, runId, file, required))?.text;
}

/**
 * Why someone other than this process's user could have written `meta.json` (which holds the agent copy
 * `resume` would run), or undefined when no one else could: owned by another user, or writable by its group or
 * by everyone. Unknown on platforms without user ids (Windows), where it is undefined.
 */
function foreignWriter(info: Stats): string | undefined {
  const uid = process.geteuid?.();
  if (uid === undefined) return undefined;
  if (info.uid !== uid) return `${META_FILE} is owned by user id ${info.uid}, not by this user (${uid})`;
  if ((info.mode & 0o022) !== 0) {
    return `${META_FILE} can be written by other users (mode ${(info.mode & 0o777).toString(8).padStart(3, "0")})`;
  }
  return undefined;
}

/**
 * Reads run `runId`'s meta.json: schema-checked, about this run, and with an agent copy that matches its hash.
 * `foreignWriter` says who else could have written it (see {@link FileStoredRun.foreignWriter}).
 */
export async function readRunMeta(
  dir: string,
  runId: string,
): Promise<{ meta: StoredRecords["meta"]; foreignWriter?: string }> {
  const read = (await readRunFile(dir, runId, META_FILE, true)) as FileRead;
  const meta = expectRecord(runId, META_FILE, "meta", parseJson(runId, META_FILE, read.text));
  if (meta.runId !== runId)
    throw runCorrupt(runId, META_FILE, `belongs to run ${JSON.stringify(meta.runId)}`);
  const copy = meta.agentCopy;
  if (copy !== undefined && agentCopyHash(copy.text) !== copy.sha256) {
    throw runCorrupt(
      runId,
      META_FILE,
      "the agent copy does not match its sha256: it was changed after the run began",
    );
  }
  const foreign = foreignWriter(read.info);
  return foreign === undefined ? { meta } : { meta, foreignWriter: foreign };
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
  const { meta, foreignWriter: foreign } = await readRunMeta(dir, runId);

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
  const snapshot = await readRecord(dir, runId, SNAPSHOT_FILE, "snapshot");
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
    ...(foreign === undefined ? {} : { foreignWriter: foreign }),
  };
}

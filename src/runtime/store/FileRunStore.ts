/**
 * The run store on the local file system: one directory per run (layout in runLayout.ts), every write durable
 * before its promise resolves. This is what makes "kill -9 loses nothing" true: whatever the runtime was told is
 * stored survives a crash or a power cut, and whatever a crash interrupted is either absent or dropped on load.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { lstat, mkdir, readdir, rename, rm } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { EdgecrewError, ErrorCodes, isEdgecrewError } from "../../errors.js";
import type {
  JsonValue,
  Plan,
  RunEvent,
  RunMeta,
  RunResult,
  RunStore,
  SubtaskResult,
  ToolJournalEntry,
} from "../../types.js";
import {
  appendLine,
  errnoOf,
  fsyncDir,
  mkdirDurable,
  writeFileAtomic,
  writeFileDurable,
} from "./durableFs.js";
import { KeyedQueue } from "./KeyedQueue.js";
import { type FileStoredRun, readRunMeta, readStoredRun, readText } from "./readRun.js";
import {
  EVENTS_FILE,
  META_FILE,
  OUTCOME_FILE,
  PLAN_FILE,
  resultFileName,
  revisionDir,
  SNAPSHOT_FILE,
  TOOLS_FILE,
} from "./runLayout.js";
import { isSafeRunId, runCorrupt, runNotFound, storeFailed } from "./storeErrors.js";
import {
  type CurrentPlan,
  checkEvent,
  checkMeta,
  checkOutcome,
  checkPlanWrite,
  checkResultWrite,
  requireRecord,
  toJsonText,
} from "./storeRules.js";
import { checkRecord } from "./storeSchemas.js";

export type { FileStoredRun } from "./readRun.js";

/** Options of {@link FileRunStore}. */
export interface FileRunStoreOptions {
  /** Absolute path of the directory that holds one directory per run (the CLI uses `<cwd>/.edgecrew/runs`). */
  readonly root: string;
}

/**
 * A {@link RunStore} that keeps each run in `<root>/<runId>/`. Whole files (meta, plan, results, snapshot,
 * outcome) are replaced atomically (temp file, fsync, rename, fsync of the directory); the event log and the
 * tool journal are appended and fdatasynced, one append at a time per file, so concurrent calls never
 * interleave lines. A run is created atomically too (built under a hidden name, then renamed into place), so
 * a crash never leaves a half-created run. One process writes a given run at a time; `load` may run anywhere.
 *
 * @example
 * const store = new FileRunStore({ root: resolve(".edgecrew/runs") });
 * await store.create({ runId, agent: "demo", task: "…", createdAt: Date.now() });
 * await store.appendEvent(runId, event);
 * const run = await store.load(runId); // run.warnings says what a crash left behind and load dropped
 */
export class FileRunStore implements RunStore {
  /** The directory holding the runs. */
  readonly root: string;
  readonly #queue = new KeyedQueue();

  constructor(options: FileRunStoreOptions) {
    if (!isAbsolute(options.root)) {
      // Resolving here would tie the store to whatever the working directory is at construction time.
      throw new EdgecrewError(
        ErrorCodes.RUN_STORE_FAILED,
        `the run store's root must be an absolute path, got ${JSON.stringify(options.root)}`,
        { context: { root: options.root, reason: "invalid-root" } },
      );
    }
    this.root = options.root;
  }

  /** The directory of run `runId`; an id that could reach outside the root names no run. */
  #dir(runId: string): string {
    if (typeof runId !== "string" || !isSafeRunId(runId)) throw runNotFound(String(runId));
    return join(this.root, runId);
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await lstat(path);
      return true;
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return false;
      throw error;
    }
  }

  /** Turns a failed write into the typed error callers switch on: RUN_NOT_FOUND or RUN_STORE_FAILED. */
  async #failure(runId: string, target: string, error: unknown, creating: boolean): Promise<EdgecrewError> {
    if (isEdgecrewError(error)) return error;
    const errno = errnoOf(error);
    // ENOENT while writing into a run means the run directory is gone; while creating one it is an I/O failure.
    if (errno === "ENOENT" && !creating && !(await this.#exists(join(this.root, runId)).catch(() => true))) {
      return runNotFound(runId);
    }
    const path: unknown = (error as { path?: unknown } | null)?.path;
    const message = error instanceof Error ? error.message : String(error);
    return storeFailed(runId, "io", `cannot write ${target} of run ${runId}: ${message}`, {
      cause: error,
      path: typeof path === "string" ? path : join(this.root, runId, target),
      errno,
    });
  }

  /** Runs a write under `key`'s queue and maps whatever it throws. */
  #write<T>(
    runId: string,
    key: string,
    target: string,
    task: () => Promise<T>,
    creating = false,
  ): Promise<T> {
    return this.#queue.run(`${runId}\n${key}`, async () => {
      try {
        return await task();
      } catch (error) {
        throw await this.#failure(runId, target, error, creating);
      }
    });
  }

  /** The stored plan, read fresh so that checks see what is on disk (one small file). */
  async #currentPlan(runId: string): Promise<CurrentPlan | undefined> {
    const text = await readText(this.#dir(runId), runId, PLAN_FILE, false);
    if (text === undefined) {
      if (!(await this.#exists(join(this.root, runId)))) throw runNotFound(runId);
      return undefined;
    }
    // A plan.json that load would call corrupt is no base for a write either.
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw runCorrupt(runId, PLAN_FILE, "not valid JSON", { cause });
    }
    const checked = checkRecord("planFile", value);
    if (!checked.ok) throw runCorrupt(runId, PLAN_FILE, `unexpected content: ${checked.problems}`);
    return checked.value;
  }

  /** Appends one line to a JSONL file (cutting a torn tail a crash or a failed append left there first). */
  #append(runId: string, file: string, line: string): Promise<void> {
    const path = join(this.#dir(runId), file);
    return this.#write(runId, file, file, () => appendLine(path, line));
  }

  /**
   * Creates run `meta.runId` with its meta, an empty event log and an empty tool journal. Refuses an id that is
   * not a safe path segment and an id already taken (RUN_STORE_FAILED, reason `invalid-run-id` / `exists`):
   * an existing run is never overwritten.
   */
  async create(meta: RunMeta): Promise<void> {
    checkMeta(meta);
    const runId = meta.runId;
    const dir = this.#dir(runId);
    const text = `${toJsonText(runId, meta, "the meta")}\n`;
    const exists = () =>
      storeFailed(runId, "exists", `run ${runId} already exists in ${this.root}; refusing to overwrite it`, {
        path: dir,
      });
    const build = async () => {
      if (await this.#exists(dir)) throw exists();
      await mkdirDurable(this.root);
      // Hidden names are never valid run ids, so list() and load() cannot mistake the staging directory for a run.
      const staging = join(this.root, `.new-${runId}.${randomBytes(6).toString("hex")}`);
      await mkdir(staging);
      try {
        await writeFileDurable(join(staging, META_FILE), text);
        await writeFileDurable(join(staging, EVENTS_FILE), "");
        await writeFileDurable(join(staging, TOOLS_FILE), "");
        await fsyncDir(staging);
        await rename(staging, dir);
      } catch (error) {
        await rm(staging, { recursive: true, force: true }).catch(() => {});
        const errno = errnoOf(error);
        // Another writer created the run after the check above: rename refuses a non-empty target.
        if (errno === "ENOTEMPTY" || errno === "EEXIST") throw exists();
        throw error;
      }
      await fsyncDir(this.root);
    };
    await this.#write(runId, "state", META_FILE, build, true);
  }

  /** Appends `event` to the run's event log; resolves once it is on disk. Calls are recorded in call order. */
  async appendEvent(runId: string, event: RunEvent): Promise<void> {
    this.#dir(runId);
    checkEvent(runId, event);
    await this.#append(runId, EVENTS_FILE, `${toJsonText(runId, event, `event ${event.type}`)}\n`);
  }

  /**
   * Stores plan `revision` and its carried results. The results go to a fresh `results/r<revision>/` first and
   * plan.json is replaced last, so a crash in between leaves the previous plan in force, never a plan whose
   * carried results are missing.
   */
  async savePlan(
    runId: string,
    revision: number,
    plan: Plan,
    carried: readonly SubtaskResult[],
  ): Promise<void> {
    const dir = this.#dir(runId);
    await this.#write(runId, "state", PLAN_FILE, async () => {
      checkPlanWrite(runId, await this.#currentPlan(runId), revision, plan, carried);
      const files = carried.map((result) => this.#resultFile(runId, result));
      const planText = toJsonText(runId, { revision, plan }, `plan revision ${revision}`);
      const folder = join(dir, revisionDir(revision));
      // Left over from an attempt at this revision that a crash cut short: nothing refers to it yet.
      await rm(folder, { recursive: true, force: true });
      await mkdirDurable(folder);
      for (const { name, text } of files) await writeFileDurable(join(folder, name), text);
      await fsyncDir(folder);
      await writeFileAtomic(join(dir, PLAN_FILE), planText);
    });
  }

  #resultFile(runId: string, result: SubtaskResult): { name: string; text: string } {
    const name = resultFileName(result.subtaskId);
    if (name === undefined) {
      throw storeFailed(
        runId,
        "invalid-record",
        `refused result of run ${runId}: its subtask id is not valid Unicode`,
      );
    }
    return { name, text: toJsonText(runId, result, `result ${result.subtaskId}`) };
  }

  /** Stores a validated result of plan `revision`; it is on disk when the promise resolves. */
  async saveResult(runId: string, revision: number, result: SubtaskResult): Promise<void> {
    const dir = this.#dir(runId);
    await this.#write(runId, "state", `result ${String(result?.subtaskId)}`, async () => {
      checkResultWrite(runId, await this.#currentPlan(runId), revision, result);
      const { name, text } = this.#resultFile(runId, result);
      await writeFileAtomic(join(dir, revisionDir(revision), name), text);
    });
  }

  /** Replaces the run's machine snapshot atomically (refusing one that load would call corrupt). */
  async saveSnapshot(runId: string, snapshot: JsonValue): Promise<void> {
    const dir = this.#dir(runId);
    requireRecord(runId, "snapshot", snapshot, "the snapshot");
    const text = toJsonText(runId, snapshot, "the snapshot");
    await this.#write(runId, "state", SNAPSHOT_FILE, () => writeFileAtomic(join(dir, SNAPSHOT_FILE), text));
  }

  /** Appends a tool-journal entry (an intent, or a call's result); resolves once it is on disk. */
  async journalTool(runId: string, entry: ToolJournalEntry): Promise<void> {
    this.#dir(runId);
    requireRecord(runId, "journal", entry, "a tool-journal entry");
    await this.#append(runId, TOOLS_FILE, `${toJsonText(runId, entry, "a tool-journal entry")}\n`);
  }

  /** Replaces the run's final result atomically (a resumed run that ends again replaces it). */
  async saveOutcome(runId: string, outcome: RunResult): Promise<void> {
    const dir = this.#dir(runId);
    checkOutcome(runId, outcome);
    const text = toJsonText(runId, outcome, "the outcome");
    await this.#write(runId, "state", OUTCOME_FILE, () => writeFileAtomic(join(dir, OUTCOME_FILE), text));
  }

  /**
   * Reads run `runId` back. RUN_NOT_FOUND for an unknown (or unsafe) id; RUN_CORRUPT naming the file when
   * anything stored cannot be trusted. A torn last line of a JSONL file is dropped and listed in `warnings`.
   */
  load(runId: string): Promise<FileStoredRun> {
    try {
      return readStoredRun(this.#dir(runId), runId);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The runs under the root, newest first (by `createdAt`, then by id). A directory without a readable, valid
   * meta.json (not a run, or a damaged one) is skipped, not an error: `load` reports what is wrong with it.
   */
  async list(): Promise<readonly RunMeta[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return [];
      throw new EdgecrewError(
        ErrorCodes.RUN_STORE_FAILED,
        `cannot list runs in ${this.root}: ${String(error)}`,
        {
          cause: error,
          context: { path: this.root, errno: errnoOf(error), reason: "io" },
        },
      );
    }
    const metas: RunMeta[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !isSafeRunId(entry.name)) continue;
      try {
        // The same checks as load's, so a FIFO or device named meta.json is skipped, never waited on.
        metas.push((await readRunMeta(join(this.root, entry.name), entry.name)).meta);
      } catch {
        // Not a run, or a damaged one: listing goes on.
      }
    }
    return metas.sort(newestFirst);
  }
}

/** Orders runs newest first; runs created in the same millisecond by id, descending (ids start with a time). */
function newestFirst(a: RunMeta, b: RunMeta): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  if (a.runId === b.runId) return 0;
  return a.runId < b.runId ? 1 : -1;
}

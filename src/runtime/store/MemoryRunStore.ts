/**
 * The run store in memory: the same contract as the file store (same checks, same typed errors, same folding of
 * the tool journal) without durability. For the runtime's unit tests and for library users who want runs that
 * live only as long as the process.
 */
import type {
  JsonValue,
  Plan,
  RunEvent,
  RunMeta,
  RunResult,
  RunStore,
  StoredRun,
  SubtaskResult,
  ToolJournalEntry,
} from "../../types.js";
import { isSafeRunId, runNotFound, storeFailed } from "./storeErrors.js";
import {
  type CurrentPlan,
  checkEvent,
  checkMeta,
  checkOutcome,
  checkPlanWrite,
  checkResultWrite,
  foldToolJournal,
  requireRecord,
  toJsonText,
} from "./storeRules.js";

interface MemoryRun {
  readonly meta: RunMeta;
  readonly events: RunEvent[];
  current?: CurrentPlan;
  /** Results by plan revision, then by subtask id; older revisions are kept but never loaded. */
  readonly results: Map<number, Map<string, SubtaskResult>>;
  snapshot?: JsonValue;
  readonly journal: ToolJournalEntry[];
  outcome?: RunResult;
}

/**
 * Copies a value through JSON, as the file store's write and read do: the stored copy cannot be changed by
 * the caller afterwards, and what comes back is exactly what a file would have given (no `undefined` fields).
 */
function viaJson<T>(runId: string, value: T, what: string): T {
  return JSON.parse(toJsonText(runId, value, what)) as T;
}

/**
 * A {@link RunStore} held in a Map. Every value is copied in and out through JSON, so tests see what a file
 * store would return and cannot change stored runs by mutating objects they passed or got back.
 *
 * @example
 * const store = new MemoryRunStore();
 * await store.create({ runId: "r1", agent: "demo", task: "…", createdAt: Date.now() });
 * (await store.load("r1")).events; // []
 */
export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<string, MemoryRun>();

  #run(runId: string): MemoryRun {
    const run = typeof runId === "string" && isSafeRunId(runId) ? this.#runs.get(runId) : undefined;
    if (run === undefined) throw runNotFound(String(runId));
    return run;
  }

  /** Creates a run; refuses an unsafe id or one already taken (RUN_STORE_FAILED). */
  async create(meta: RunMeta): Promise<void> {
    checkMeta(meta);
    if (this.#runs.has(meta.runId)) {
      throw storeFailed(meta.runId, "exists", `run ${meta.runId} already exists; refusing to overwrite it`);
    }
    this.#runs.set(meta.runId, {
      meta: viaJson(meta.runId, meta, "the meta"),
      events: [],
      results: new Map(),
      journal: [],
    });
  }

  /** Appends an event to the run's log. */
  async appendEvent(runId: string, event: RunEvent): Promise<void> {
    const run = this.#run(runId);
    checkEvent(runId, event);
    run.events.push(viaJson(runId, event, "an event"));
  }

  /** Makes `plan` revision `revision` current, with exactly the `carried` results. */
  async savePlan(
    runId: string,
    revision: number,
    plan: Plan,
    carried: readonly SubtaskResult[],
  ): Promise<void> {
    const run = this.#run(runId);
    checkPlanWrite(runId, run.current, revision, plan, carried);
    const results = new Map<string, SubtaskResult>();
    for (const result of carried) results.set(result.subtaskId, viaJson(runId, result, "a carried result"));
    run.results.set(revision, results);
    run.current = { revision, plan: viaJson(runId, plan, `plan revision ${revision}`) };
  }

  /** Records a result of plan `revision` (kept apart, and not loaded, when that revision is no longer current). */
  async saveResult(runId: string, revision: number, result: SubtaskResult): Promise<void> {
    const run = this.#run(runId);
    checkResultWrite(runId, run.current, revision, result);
    const copy = viaJson(runId, result, `result ${result.subtaskId}`);
    const results = run.results.get(revision) ?? new Map<string, SubtaskResult>();
    results.set(copy.subtaskId, copy);
    run.results.set(revision, results);
  }

  /** Replaces the run's snapshot (refusing one the file store's load would call corrupt). */
  async saveSnapshot(runId: string, snapshot: JsonValue): Promise<void> {
    const run = this.#run(runId);
    requireRecord(runId, "snapshot", snapshot, "the snapshot");
    run.snapshot = viaJson(runId, snapshot, "the snapshot");
  }

  /** Records a tool-journal entry. */
  async journalTool(runId: string, entry: ToolJournalEntry): Promise<void> {
    const run = this.#run(runId);
    requireRecord(runId, "journal", entry, "a tool-journal entry");
    run.journal.push(viaJson(runId, entry, "a tool-journal entry"));
  }

  /** Replaces the run's final result. */
  async saveOutcome(runId: string, outcome: RunResult): Promise<void> {
    const run = this.#run(runId);
    checkOutcome(runId, outcome);
    run.outcome = viaJson(runId, outcome, "the outcome");
  }

  /** A copy of everything stored about `runId`; RUN_NOT_FOUND for an unknown id. */
  async load(runId: string): Promise<StoredRun> {
    const run = this.#run(runId);
    const current = run.current;
    const results = current === undefined ? undefined : run.results.get(current.revision);
    const stored: StoredRun = {
      meta: run.meta,
      events: run.events,
      ...(current === undefined ? {} : { plan: current.plan }),
      revision: current?.revision ?? 0,
      results: Object.fromEntries(results ?? []),
      ...(run.snapshot === undefined ? {} : { snapshot: run.snapshot }),
      toolJournal: foldToolJournal(run.journal),
      ...(run.outcome === undefined ? {} : { outcome: run.outcome }),
    };
    return viaJson(runId, stored, "the run");
  }

  /** Stored runs, newest first (by `createdAt`, then by id). */
  async list(): Promise<readonly RunMeta[]> {
    return [...this.#runs.values()]
      .map((run) => viaJson(run.meta.runId, run.meta, "the meta"))
      .sort((a, b) => b.createdAt - a.createdAt || compareDescending(a.runId, b.runId));
  }
}

function compareDescending(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? 1 : -1;
}

/**
 * Starts (or resumes) one run: creates its event hub and orchestrator actor, links the caller's AbortSignal to
 * CANCEL, makes the run durable through a RunStore when one is given, and resolves the result only after
 * everything the run started has settled and its outcome is on disk — so a cancelled or failed run leaves
 * nothing running behind it, and a crash at any point loses nothing that was reported done.
 */
import { randomBytes } from "node:crypto";
import { createActor } from "xstate";
import { EdgecrewError, ErrorCodes, type ErrorInfo, toEdgecrewError } from "../errors.js";
import type {
  AgentCopy,
  AgentDefinition,
  JsonValue,
  PlannerPort,
  RunEvent,
  RunEventInput,
  RunResult,
  RunStatus,
  RunStore,
  StoredRun,
  SubtaskResult,
  UsageRecord,
  WorkerPort,
} from "../types.js";
import type { RunPersistence } from "./actors.js";
import { EventHub, isTransientEvent, type RunEventListener } from "./EventHub.js";
import { buildLedger } from "./ledger.js";
import { createOrchestratorMachine, type OrchestratorContext, resultsInPlanOrder } from "./machine.js";
import type { Redactor } from "./redact.js";
import { type RoutingTable, readRouting, routeOf } from "./routing.js";
import { streamingPlanner, streamingWorkers } from "./streaming.js";

/** A run in progress. */
export interface Run<TAnswer = JsonValue, TResult = SubtaskResult> {
  readonly id: string;
  /** Every event of the run, from the first; the iteration ends when the run ends. */
  readonly events: AsyncIterable<RunEvent>;
  /**
   * Settles when the run has ended and everything it started has stopped. Never rejects. Typed by the agent's
   * answer types (see `defineAgent`): narrow on `status` to reach the answer or the error.
   */
  readonly result: Promise<RunResult<TAnswer, TResult>>;
  /** Cancels the run (like aborting the signal passed to `run`). */
  cancel(reason?: string): void;
}

export interface StartRunOptions {
  readonly planner: PlannerPort;
  readonly workers: WorkerPort;
  readonly signal?: AbortSignal;
  readonly runId?: string;
  /** Listeners called with every event, in order; one that throws is reported and the run goes on. */
  readonly listeners?: readonly RunEventListener[];
  /**
   * Receives a sink into this run's event stream, for events that originate outside the run (e.g. a shared
   * model manager loading a model). Events sent after the run has ended are dropped.
   */
  readonly connect?: (emit: (event: RunEventInput) => void) => void;
  /** Called when an event listener throws (the run goes on). */
  readonly onListenerError?: (error: unknown, event: RunEvent) => void;
  readonly clock?: () => number;
  /** Makes the run durable: events, plans, results, snapshots and the outcome are written as they happen. */
  readonly store?: RunStore;
  /** The agent file, recorded in the stored run (for people to read; resume never loads it). */
  readonly agentSource?: string;
  /** The agent YAML and its hash, recorded in the stored run: what `edgecrew resume` rebuilds the agent from. */
  readonly agentCopy?: AgentCopy;
  /** Continues this stored run (same id) instead of starting a new one; needs `store`. */
  readonly resume?: StoredRun;
  /** Recorded in the stored run's meta: the task is private data, and stays so when the run is resumed. */
  readonly privateTask?: boolean;
  /** Removes secrets from every event, from everything written to the store, and from the RunResult. */
  readonly redactor?: Redactor;
  /**
   * Resolves `result` with the values the run produced, secrets included (events and the store stay redacted).
   * Only for a caller that asks explicitly: by default the RunResult is redacted like everything else.
   */
  readonly revealSecrets?: boolean;
  /**
   * Opt-in streaming: the ports' calls are told to emit `subtask.delta` / `planner.delta` with the text their
   * models generate. Deltas reach listeners and `events` but are never written to the store (default false).
   */
  readonly stream?: boolean;
}

/** A sortable, unique run id: `20261128-153012-a1b2c3`. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** How long to wait for cancelled work to notice its signal before giving up on it. */
const SETTLE_TIMEOUT_MS = 10_000;

/** The part of the machine's context a snapshot keeps (the agent is reloaded from its file on resume). */
function snapshotOf(state: string, ctx: OrchestratorContext): JsonValue {
  return JSON.parse(
    JSON.stringify({
      state,
      revision: ctx.replans,
      running: ctx.running,
      completed: Object.keys(ctx.results),
      usage: ctx.usage,
    }),
  ) as JsonValue;
}

function usageOfSnapshot(snapshot: JsonValue | undefined): readonly UsageRecord[] {
  const usage = (snapshot as { usage?: unknown } | undefined)?.usage;
  return Array.isArray(usage) ? (usage as UsageRecord[]) : [];
}

/**
 * Writes to the store one at a time, in order. The first failure is kept and reported once through
 * `onFailure`; later writes are skipped, since the stored run can no longer be trusted to be complete.
 */
function writeQueue(onFailure: (error: EdgecrewError) => void) {
  let tail: Promise<void> = Promise.resolve();
  let failed: EdgecrewError | undefined;
  const enqueue = (write: () => Promise<void>): Promise<void> => {
    const next = tail.then(async () => {
      if (failed !== undefined) throw failed;
      try {
        await write();
      } catch (error) {
        failed = toEdgecrewError(error, ErrorCodes.RUN_STORE_FAILED);
        onFailure(failed);
        throw failed;
      }
    });
    tail = next.catch(() => undefined);
    return next;
  };
  return { enqueue, drain: () => tail };
}

/** Starts a run of `agent` on `task` with the given planner and workers (or resumes `options.resume`). */
export function startRun(agent: AgentDefinition, task: string, options: StartRunOptions): Run {
  const stored = options.resume;
  const runId = stored?.meta.runId ?? options.runId ?? newRunId();
  const clock = options.clock ?? Date.now;
  const store = options.store;
  if (stored !== undefined && store === undefined) {
    throw new EdgecrewError(ErrorCodes.INTERNAL, "resuming a run needs the store it was loaded from");
  }
  const redact = options.redactor;
  const hub = new EventHub(runId, {
    clock,
    onListenerError: options.onListenerError,
    firstSeq: (stored?.events.length ?? 0) + 1,
    ...(redact === undefined
      ? {}
      : {
          transform: (event: RunEventInput) =>
            redact.json(event as unknown as JsonValue) as unknown as RunEventInput,
        }),
  });
  const clean = <T>(value: T): T =>
    redact === undefined ? value : (redact.json(value as unknown as JsonValue) as unknown as T);
  // Declared before the actor so that a store failure can fail the run.
  let fail: (error: ErrorInfo) => void = () => {};
  const writes = writeQueue((error) => fail(error.toInfo()));
  if (store !== undefined) {
    if (stored === undefined) {
      void writes
        .enqueue(() =>
          store.create({
            runId,
            agent: agent.name,
            task: clean(task),
            createdAt: clock(),
            ...(options.agentSource === undefined ? {} : { agentSource: options.agentSource }),
            ...(options.agentCopy === undefined ? {} : { agentCopy: options.agentCopy }),
            ...(options.privateTask === true ? { privateTask: true } : {}),
          }),
        )
        .catch(() => undefined);
    }
    hub.subscribe((event) => {
      // Streamed text is for watching the run live, not part of its record (see isTransientEvent).
      if (isTransientEvent(event)) return;
      void writes.enqueue(() => store.appendEvent(runId, event)).catch(() => undefined);
    });
  }
  for (const listener of options.listeners ?? []) hub.subscribe(listener);
  options.connect?.((event) => hub.emit(event));

  const persist: RunPersistence =
    store === undefined
      ? { plan: async () => {}, result: async () => {} }
      : {
          plan: (revision, plan, carried) =>
            writes.enqueue(() => store.savePlan(runId, revision, clean(plan), carried.map(clean))),
          result: (revision, result) =>
            writes.enqueue(() => store.saveResult(runId, revision, clean(result))),
        };

  if (stored === undefined) hub.emit({ type: "run.started", task, agent: agent.name });
  else
    hub.emit({
      type: "run.resumed",
      agent: stored.meta.agent,
      task: stored.meta.task,
      completed: Object.keys(stored.results),
      revision: stored.revision,
      ...(stored.plan === undefined ? {} : { plan: stored.plan }),
    });

  // Auto-escalation reads the agent's history once, now; a history that cannot be read routes nothing.
  const routing: Promise<RoutingTable> | undefined =
    store === undefined || agent.escalation.auto === undefined
      ? undefined
      : readRouting(store, agent, { excludeRunId: runId }).catch(() => ({
          workers: new Map(),
          runsRead: 0,
          skipped: [],
        }));

  const pending = new Set<Promise<unknown>>();
  const machine = createOrchestratorMachine({
    planner: options.stream === true ? streamingPlanner(options.planner) : options.planner,
    workers: options.stream === true ? streamingWorkers(options.workers) : options.workers,
    emit: (event) => hub.emit(event),
    clock,
    persist,
    ...(routing === undefined
      ? {}
      : {
          route: async (input) => routeOf(await routing, agent, input.subtask.id, input.subtask.worker),
        }),
    track: (work) => {
      const settled = work.then(
        () => undefined,
        () => undefined,
      );
      pending.add(settled);
      void settled.then(() => pending.delete(settled));
    },
  });
  const startedAt = clock();
  const actor = createActor(machine, {
    input: {
      runId,
      task,
      agent,
      ...(stored === undefined
        ? {}
        : {
            restore: {
              plan: stored.plan,
              revision: stored.revision,
              results: stored.results,
              usage: usageOfSnapshot(stored.snapshot),
            },
          }),
    },
  });
  fail = (error) => actor.send({ type: "FAIL", error });

  const cancel = (reason = "cancelled") => actor.send({ type: "CANCEL", reason });
  const onAbort = () => {
    const reason: unknown = options.signal?.reason;
    cancel(
      reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "the run was aborted",
    );
  };

  if (store !== undefined) {
    let last = "";
    actor.subscribe((snapshot) => {
      const state = JSON.stringify(snapshot.value);
      const body = snapshotOf(state, snapshot.context);
      const text = JSON.stringify(body);
      if (text === last) return;
      last = text;
      void writes.enqueue(() => store.saveSnapshot(runId, body)).catch(() => undefined);
    });
  }

  const finish = async (): Promise<RunResult> => {
    options.signal?.removeEventListener("abort", onAbort);
    const snapshot = actor.getSnapshot();
    const ctx = snapshot.context;
    const status: RunStatus =
      snapshot.value === "done" ? "completed" : snapshot.value === "cancelled" ? "cancelled" : "failed";
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, SETTLE_TIMEOUT_MS).unref());
    await Promise.race([Promise.all([...pending]), timeout]);
    const results = resultsInPlanOrder(ctx.plan, ctx.results);
    const error =
      ctx.error ??
      (status === "failed" ? new EdgecrewError(ErrorCodes.INTERNAL, "the run failed").toInfo() : undefined);
    if (status === "completed") hub.emit({ type: "run.completed", answer: ctx.answer ?? null });
    else if (status === "cancelled")
      hub.emit({ type: "run.cancelled", reason: error?.message ?? "cancelled" });
    else if (error) hub.emit({ type: "run.failed", error });
    hub.close();
    const common = {
      runId,
      agent: agent.name,
      task,
      ...(ctx.plan === undefined ? {} : { plan: ctx.plan }),
      results,
      ledger: buildLedger([...ctx.usage, ...results.flatMap((r) => r.usage)]),
      startedAt,
      endedAt: clock(),
    };
    // RunResult is a union on `status`: a completed run has its answer, a failed one its error.
    const result: RunResult =
      status === "completed"
        ? { ...common, status, answer: ctx.answer ?? null }
        : status === "cancelled"
          ? { ...common, status, ...(error === undefined ? {} : { error }) }
          : {
              ...common,
              status,
              error: error ?? new EdgecrewError(ErrorCodes.INTERNAL, "the run failed").toInfo(),
            };
    if (store !== undefined) {
      await writes.enqueue(() => store.saveOutcome(runId, clean(result))).catch(() => undefined);
      await writes.drain();
    }
    return options.revealSecrets === true ? result : clean(result);
  };

  const result = new Promise<RunResult>((resolve) => {
    actor.subscribe({
      complete: () => void finish().then(resolve),
      error: (error) => {
        // The machine itself threw (a bug): report it as a failed run rather than an unhandled rejection.
        options.signal?.removeEventListener("abort", onAbort);
        const info = new EdgecrewError(ErrorCodes.INTERNAL, `orchestrator error: ${String(error)}`, {
          cause: error,
        }).toInfo();
        hub.emit({ type: "run.failed", error: info });
        hub.close();
        resolve(
          clean({
            runId,
            agent: agent.name,
            task,
            status: "failed",
            results: [],
            error: info,
            ledger: buildLedger([]),
            startedAt,
            endedAt: clock(),
          }),
        );
      },
    });
  });

  actor.start();
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  return { id: runId, events: hub.iterate(), result, cancel };
}

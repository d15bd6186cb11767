/**
 * Starts one run: creates its event hub and orchestrator actor, links the caller's AbortSignal to CANCEL, and
 * resolves the result only after everything the run started (generation, planner calls) has settled, so that a
 * cancelled or failed run leaves nothing running behind it.
 */
import { randomBytes } from "node:crypto";
import { createActor } from "xstate";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type {
  AgentDefinition,
  PlannerPort,
  RunEvent,
  RunEventInput,
  RunResult,
  RunStatus,
  WorkerPort,
} from "../types.js";
import { EventHub, type RunEventListener } from "./EventHub.js";
import { buildLedger } from "./ledger.js";
import { createOrchestratorMachine } from "./machine.js";

/** A run in progress. */
export interface Run {
  readonly id: string;
  /** Every event of the run, from the first; the iteration ends when the run ends. */
  readonly events: AsyncIterable<RunEvent>;
  /** Settles when the run has ended and everything it started has stopped. Never rejects. */
  readonly result: Promise<RunResult>;
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
}

/** A sortable, unique run id: `20261128-153012-a1b2c3`. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** How long to wait for cancelled work to notice its signal before giving up on it. */
const SETTLE_TIMEOUT_MS = 10_000;

/** Starts a run of `agent` on `task` with the given planner and workers. */
export function startRun(agent: AgentDefinition, task: string, options: StartRunOptions): Run {
  const runId = options.runId ?? newRunId();
  const clock = options.clock ?? Date.now;
  const hub = new EventHub(runId, { clock, onListenerError: options.onListenerError });
  for (const listener of options.listeners ?? []) hub.subscribe(listener);
  options.connect?.((event) => hub.emit(event));
  const pending = new Set<Promise<unknown>>();
  const machine = createOrchestratorMachine({
    planner: options.planner,
    workers: options.workers,
    emit: (event) => hub.emit(event),
    clock,
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
  const actor = createActor(machine, { input: { runId, task, agent } });

  const cancel = (reason = "cancelled") => actor.send({ type: "CANCEL", reason });
  const onAbort = () => {
    const reason: unknown = options.signal?.reason;
    cancel(
      reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "the run was aborted",
    );
  };

  const result = new Promise<RunResult>((resolve) => {
    actor.subscribe({
      complete: () => {
        options.signal?.removeEventListener("abort", onAbort);
        const snapshot = actor.getSnapshot();
        const ctx = snapshot.context;
        const status: RunStatus =
          snapshot.value === "done" ? "completed" : snapshot.value === "cancelled" ? "cancelled" : "failed";
        const finish = async () => {
          const timeout = new Promise<void>((r) => setTimeout(r, SETTLE_TIMEOUT_MS).unref());
          await Promise.race([Promise.all([...pending]), timeout]);
          const results = Object.values(ctx.results);
          const error =
            ctx.error ??
            (status === "failed"
              ? new EdgecrewError(ErrorCodes.INTERNAL, "the run failed").toInfo()
              : undefined);
          if (status === "completed") hub.emit({ type: "run.completed", answer: ctx.answer ?? null });
          else if (status === "cancelled")
            hub.emit({ type: "run.cancelled", reason: error?.message ?? "cancelled" });
          else if (error) hub.emit({ type: "run.failed", error });
          hub.close();
          resolve({
            runId,
            agent: agent.name,
            task,
            status,
            plan: ctx.plan,
            results,
            answer: status === "completed" ? (ctx.answer ?? null) : undefined,
            error: status === "completed" ? undefined : error,
            ledger: buildLedger([...ctx.usage, ...results.flatMap((r) => r.usage)]),
            startedAt,
            endedAt: clock(),
          });
        };
        void finish();
      },
      error: (error) => {
        // The machine itself threw (a bug): report it as a failed run rather than an unhandled rejection.
        options.signal?.removeEventListener("abort", onAbort);
        const info = new EdgecrewError(ErrorCodes.INTERNAL, `orchestrator error: ${String(error)}`, {
          cause: error,
        }).toInfo();
        hub.emit({ type: "run.failed", error: info });
        hub.close();
        resolve({
          runId,
          agent: agent.name,
          task,
          status: "failed",
          results: [],
          error: info,
          ledger: buildLedger([]),
          startedAt,
          endedAt: clock(),
        });
      },
    });
  });

  hub.emit({ type: "run.started", task, agent: agent.name });
  actor.start();
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  return { id: runId, events: hub.iterate(), result, cancel };
}

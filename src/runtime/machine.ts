/**
 * The orchestrator: an xstate v5 machine that drives one run through
 * `planning → executing → joining → done | failed | cancelled`.
 *
 * The machine's context holds only data (plan, results, errors), never functions, so its snapshot can be
 * persisted. The ports it talks to (planner, workers, event sink) are closed over by the actors, which are
 * declared by name in `setup()`: tests replace them with `machine.provide({ actors: … })`.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup } from "xstate";
import { AbortError, EdgecrewError, ErrorCodes, type ErrorInfo, toEdgecrewError } from "../errors.js";
import { substituteReferences } from "../references.js";
import type {
  AgentDefinition,
  CallContext,
  JoinDecision,
  JsonValue,
  Plan,
  PlannerPort,
  PlanRevision,
  Produced,
  RunEventInput,
  Subtask,
  SubtaskResult,
  UsageRecord,
  WorkerOutcome,
  WorkerPort,
} from "../types.js";
import { reuseResults } from "./reuse.js";
import { pickDispatch, readySubtasks } from "./scheduler.js";

/** What the machine needs from the outside world. */
export interface OrchestratorPorts {
  readonly planner: PlannerPort;
  readonly workers: WorkerPort;
  /** Receives every event the run emits (the EventHub stamps and stores them). */
  readonly emit: (event: RunEventInput) => void;
  readonly clock: () => number;
  /** Registers in-flight work so the run can wait for it to settle after a cancel or failure. */
  readonly track: (work: Promise<unknown>) => void;
}

export interface OrchestratorInput {
  readonly runId: string;
  readonly task: string;
  readonly agent: AgentDefinition;
}

export interface OrchestratorContext {
  readonly runId: string;
  readonly task: string;
  readonly agent: AgentDefinition;
  readonly plan: Plan | undefined;
  /** Completed subtasks by id, in completion order. */
  readonly results: Readonly<Record<string, SubtaskResult>>;
  readonly running: readonly string[];
  readonly answer: JsonValue | undefined;
  readonly error: ErrorInfo | undefined;
  /** Usage of planner calls and of subtasks that did not complete (completed ones carry their own). */
  readonly usage: readonly UsageRecord[];
  /** Revised plans so far (≤ limits.maxReplans). */
  readonly replans: number;
  /** Set while planning a revision: why, and what the previous plan produced. */
  readonly revision: PlanRevision | undefined;
}

export type OrchestratorEvent =
  | { type: "CANCEL"; reason: string }
  | { type: "SUBTASK.SETTLED"; subtaskId: string; outcome: WorkerOutcome; startedAt: number; endedAt: number }
  | { type: "SUBTASK.ERROR"; subtaskId: string; error: ErrorInfo }
  | {
      type: "ESCALATION.DONE";
      subtaskId: string;
      produced: Produced<JsonValue>;
      startedAt: number;
      endedAt: number;
    }
  | { type: "ESCALATION.ERROR"; subtaskId: string; error: ErrorInfo; usage: readonly UsageRecord[] };

interface SubtaskInput {
  readonly runId: string;
  readonly task: string;
  readonly subtask: Subtask;
  readonly agent: AgentDefinition;
  readonly dependencies: Readonly<Record<string, JsonValue>>;
}

function answersOf(results: Readonly<Record<string, SubtaskResult>>): Record<string, JsonValue> {
  return Object.fromEntries(Object.entries(results).map(([id, r]) => [id, r.answer]));
}

function workerOf(agent: AgentDefinition, name: string) {
  const worker = agent.workers.find((w) => w.name === name);
  if (worker === undefined)
    throw new EdgecrewError(ErrorCodes.INTERNAL, `plan names unknown worker "${name}"`);
  return worker;
}

/** Builds the orchestrator machine over the given ports. */
export function createOrchestratorMachine(ports: OrchestratorPorts) {
  const context = (signal: AbortSignal): CallContext => ({ signal, emit: ports.emit });

  return setup({
    types: {
      context: {} as OrchestratorContext,
      events: {} as OrchestratorEvent,
      input: {} as OrchestratorInput,
    },
    actors: {
      planTask: fromPromise<
        Produced<Plan>,
        { task: string; agent: AgentDefinition; revision: PlanRevision | undefined }
      >(({ input, signal }) => {
        const work = ports.planner.plan(
          {
            task: input.task,
            workers: input.agent.workers.map((w) => ({
              name: w.name,
              description: w.description,
              output: w.output,
              tools: w.tools,
            })),
            maxSubtasks: input.agent.limits.maxSubtasks,
            ...(input.revision === undefined ? {} : { revision: input.revision }),
          },
          context(signal),
        );
        ports.track(work);
        return work;
      }),

      runSubtask: fromCallback<OrchestratorEvent, SubtaskInput>(({ input, sendBack }) => {
        const controller = new AbortController();
        const timeoutMs = input.agent.limits.subtaskTimeoutSeconds * 1000;
        const timer = setTimeout(
          () =>
            controller.abort(
              new EdgecrewError(
                ErrorCodes.LIMIT_EXCEEDED,
                `subtask ${input.subtask.id} exceeded limits.subtaskTimeoutSeconds (${input.agent.limits.subtaskTimeoutSeconds} s)`,
                { context: { limit: "subtaskTimeoutSeconds", subtaskId: input.subtask.id } },
              ),
            ),
          timeoutMs,
        );
        const startedAt = ports.clock();
        // Once the run stops this actor, nothing may be sent back: the parent is gone.
        let stopped = false;
        const worker = workerOf(input.agent, input.subtask.worker);
        const work = ports.workers
          .execute(
            {
              runId: input.runId,
              task: input.task,
              subtask: {
                ...input.subtask,
                instruction: substituteReferences(input.subtask.instruction, input.dependencies),
              },
              worker,
              dependencies: input.dependencies,
            },
            context(controller.signal),
          )
          .then(
            (outcome) => {
              if (stopped) return;
              sendBack({
                type: "SUBTASK.SETTLED",
                subtaskId: input.subtask.id,
                outcome,
                startedAt,
                endedAt: ports.clock(),
              });
            },
            (error: unknown) => {
              if (stopped) return;
              // A timeout aborts with a LIMIT_EXCEEDED reason: report that, not the worker's AbortError.
              const reason: unknown = controller.signal.reason;
              const cause = reason instanceof EdgecrewError ? reason : error;
              sendBack({
                type: "SUBTASK.ERROR",
                subtaskId: input.subtask.id,
                error: toEdgecrewError(cause).toInfo(),
              });
            },
          )
          .finally(() => clearTimeout(timer));
        ports.track(work);
        return () => {
          stopped = true;
          clearTimeout(timer);
          if (!controller.signal.aborted) controller.abort(new Error("subtask stopped: the run ended"));
        };
      }),

      escalateSubtask: fromCallback<OrchestratorEvent, SubtaskInput & { errors: readonly string[] }>(
        ({ input, sendBack }) => {
          const controller = new AbortController();
          let stopped = false;
          const startedAt = ports.clock();
          const work = ports.planner
            .solve(
              {
                runId: input.runId,
                task: input.task,
                subtask: {
                  ...input.subtask,
                  instruction: substituteReferences(input.subtask.instruction, input.dependencies),
                },
                worker: workerOf(input.agent, input.subtask.worker),
                dependencies: input.dependencies,
                errors: input.errors,
              },
              context(controller.signal),
            )
            .then(
              (produced) => {
                if (stopped) return;
                sendBack({
                  type: "ESCALATION.DONE",
                  subtaskId: input.subtask.id,
                  produced,
                  startedAt,
                  endedAt: ports.clock(),
                });
              },
              (error: unknown) => {
                if (stopped) return;
                const typed = toEdgecrewError(error);
                sendBack({
                  type: "ESCALATION.ERROR",
                  subtaskId: input.subtask.id,
                  error: typed.toInfo(),
                  usage: typed.usage,
                });
              },
            );
          ports.track(work);
          return () => {
            stopped = true;
            if (!controller.signal.aborted) controller.abort(new Error("escalation stopped: the run ended"));
          };
        },
      ),

      joinResults: fromPromise<Produced<JoinDecision>, { ctx: OrchestratorContext }>(({ input, signal }) => {
        const { ctx } = input;
        if (ctx.plan === undefined) throw new EdgecrewError(ErrorCodes.INTERNAL, "joining without a plan");
        const work = ports.planner.join(
          {
            task: ctx.task,
            plan: ctx.plan,
            results: Object.values(ctx.results),
            ...(ctx.agent.answer === undefined ? {} : { answerSchema: ctx.agent.answer }),
            allowReplan: ctx.replans < ctx.agent.limits.maxReplans,
          },
          context(signal),
        );
        ports.track(work);
        return work;
      }),
    },

    delays: {
      runTimeout: ({ context: ctx }) => ctx.agent.limits.timeoutSeconds * 1000,
    },

    guards: {
      allComplete: ({ context: ctx }) =>
        ctx.plan?.subtasks.every((s) => ctx.results[s.id] !== undefined) === true,
      outcomeValid: ({ event }) => event.type === "SUBTASK.SETTLED" && event.outcome.ok,
      canEscalate: ({ context: ctx }) => ctx.agent.escalation.to === "planner",
      wantsReplan: (_, produced: Produced<JoinDecision>) => produced.value.kind === "replan",
    },

    actions: {
      emitStarted: ({ context: ctx }) =>
        ports.emit({ type: "run.started", task: ctx.task, agent: ctx.agent.name }),

      dispatch: enqueueActions(({ context: ctx, enqueue }) => {
        const plan = ctx.plan;
        if (plan === undefined) return;
        const completed = new Set(Object.keys(ctx.results));
        const running = new Set(ctx.running);
        const ready = readySubtasks(plan, completed, running);
        const picks = pickDispatch(
          ready,
          plan.subtasks.filter((s) => running.has(s.id)),
          {
            maxParallel: ctx.agent.limits.maxParallel,
            workerParallel: (name) => workerOf(ctx.agent, name).parallel,
            isResident: (name) => ports.workers.isResident(name),
          },
        );
        if (picks.length === 0) return;
        const answers = answersOf(ctx.results);
        for (const subtask of picks) {
          const dependencies = Object.fromEntries(
            subtask.dependsOn.flatMap((id) => (answers[id] === undefined ? [] : [[id, answers[id]]])),
          );
          ports.emit({
            type: "subtask.started",
            subtaskId: subtask.id,
            worker: subtask.worker,
            model: workerOf(ctx.agent, subtask.worker).model.raw,
          });
          enqueue.spawnChild("runSubtask", {
            id: `subtask:${subtask.id}`,
            input: { runId: ctx.runId, task: ctx.task, subtask, agent: ctx.agent, dependencies },
          });
        }
        enqueue.assign({ running: [...ctx.running, ...picks.map((s) => s.id)] });
      }),

      recordResult: assign(({ context: ctx, event }) => {
        if (event.type !== "SUBTASK.SETTLED" || !event.outcome.ok) return {};
        const result: SubtaskResult = {
          subtaskId: event.subtaskId,
          worker: workerOf(ctx.agent, ctx.plan?.subtasks.find((s) => s.id === event.subtaskId)?.worker ?? "")
            .name,
          answer: event.outcome.answer,
          by: "worker",
          attempts: event.outcome.attempts,
          startedAt: event.startedAt,
          endedAt: event.endedAt,
          usage: event.outcome.usage,
        };
        ports.emit({ type: "subtask.completed", subtaskId: event.subtaskId, result });
        return {
          results: { ...ctx.results, [event.subtaskId]: result },
          running: ctx.running.filter((id) => id !== event.subtaskId),
        };
      }),

      escalate: enqueueActions(({ context: ctx, event, enqueue }) => {
        if (event.type !== "SUBTASK.SETTLED" || event.outcome.ok) return;
        const subtask = ctx.plan?.subtasks.find((s) => s.id === event.subtaskId);
        if (subtask === undefined) return;
        ports.emit({
          type: "subtask.escalated",
          subtaskId: subtask.id,
          worker: subtask.worker,
          reason: event.outcome.reason,
          errors: event.outcome.errors,
        });
        const answers = answersOf(ctx.results);
        const dependencies = Object.fromEntries(
          subtask.dependsOn.flatMap((id) => (answers[id] === undefined ? [] : [[id, answers[id]]])),
        );
        // The worker's spent usage stays in the ledger even though the planner gives the answer.
        enqueue.assign({ usage: [...ctx.usage, ...event.outcome.usage] });
        enqueue.spawnChild("escalateSubtask", {
          id: `escalation:${subtask.id}`,
          input: {
            runId: ctx.runId,
            task: ctx.task,
            subtask,
            agent: ctx.agent,
            dependencies,
            errors: event.outcome.errors,
          },
        });
      }),

      recordEscalated: assign(({ context: ctx, event }) => {
        if (event.type !== "ESCALATION.DONE") return {};
        const worker = ctx.plan?.subtasks.find((s) => s.id === event.subtaskId)?.worker ?? "";
        const result: SubtaskResult = {
          subtaskId: event.subtaskId,
          worker,
          answer: event.produced.value,
          by: "planner",
          attempts: 1,
          startedAt: event.startedAt,
          endedAt: event.endedAt,
          usage: event.produced.usage,
        };
        ports.emit({ type: "subtask.completed", subtaskId: event.subtaskId, result });
        return {
          results: { ...ctx.results, [event.subtaskId]: result },
          running: ctx.running.filter((id) => id !== event.subtaskId),
        };
      }),

      recordFailure: assign(({ context: ctx, event }) => {
        let error: ErrorInfo;
        let usage: readonly UsageRecord[] = [];
        if (event.type === "SUBTASK.SETTLED" && !event.outcome.ok) {
          usage = event.outcome.usage;
          const why =
            event.outcome.reason === "invalid-output" ? "gave no valid answer" : "could not run its model";
          error = new EdgecrewError(
            ErrorCodes.SUBTASK_FAILED,
            `subtask ${event.subtaskId} ${why} after ${event.outcome.attempts} attempt(s):\n${event.outcome.errors.map((e) => `  - ${e}`).join("\n")}`,
            {
              context: {
                subtaskId: event.subtaskId,
                reason: event.outcome.reason,
                errors: [...event.outcome.errors],
              },
            },
          ).toInfo();
        } else if (event.type === "SUBTASK.ERROR") {
          error = event.error;
        } else if (event.type === "ESCALATION.ERROR") {
          error = event.error;
          usage = event.usage;
        } else {
          return {};
        }
        ports.emit({ type: "subtask.failed", subtaskId: event.subtaskId, error });
        return {
          error,
          usage: [...ctx.usage, ...usage],
          running: ctx.running.filter((id) => id !== event.subtaskId),
        };
      }),

      setPlan: assign(({ context: ctx }, produced: Produced<Plan>) => {
        const plan = produced.value;
        const revision = ctx.revision;
        if (revision === undefined) return { plan, usage: [...ctx.usage, ...produced.usage] };
        const { results, dropped } = reuseResults(revision.previous, ctx.results, plan);
        ports.emit({
          type: "plan.revised",
          reason: revision.reason,
          revision: ctx.replans,
          reused: Object.keys(results),
        });
        return {
          plan,
          results,
          revision: undefined,
          // Results the new plan drops still cost tokens: keep their usage in the ledger.
          usage: [...ctx.usage, ...produced.usage, ...dropped.flatMap((r) => r.usage)],
        };
      }),

      startReplan: assign(({ context: ctx }, produced: Produced<JoinDecision>) => ({
        replans: ctx.replans + 1,
        revision: {
          reason: produced.value.kind === "replan" ? produced.value.reason : "",
          previous: ctx.plan ?? { subtasks: [] },
          results: Object.values(ctx.results),
        },
        usage: [...ctx.usage, ...produced.usage],
      })),

      setAnswer: assign(({ context: ctx }, produced: Produced<JoinDecision>) => ({
        answer: produced.value.kind === "answer" ? produced.value.answer : undefined,
        usage: [...ctx.usage, ...produced.usage],
      })),

      setError: assign(({ context: ctx }, error: unknown) => {
        const typed = toEdgecrewError(error);
        return { error: typed.toInfo(), usage: [...ctx.usage, ...typed.usage] };
      }),

      setCancelled: assign(({ event }) => ({
        error: new AbortError(event.type === "CANCEL" ? event.reason : "cancelled").toInfo(),
      })),

      setRunTimeout: assign(({ context: ctx }) => ({
        error: new EdgecrewError(
          ErrorCodes.LIMIT_EXCEEDED,
          `the run exceeded limits.timeoutSeconds (${ctx.agent.limits.timeoutSeconds} s)`,
          { context: { limit: "timeoutSeconds" } },
        ).toInfo(),
      })),
    },
  }).createMachine({
    id: "run",
    context: ({ input }) => ({
      runId: input.runId,
      task: input.task,
      agent: input.agent,
      plan: undefined,
      results: {},
      running: [],
      answer: undefined,
      error: undefined,
      usage: [],
      replans: 0,
      revision: undefined,
    }),
    initial: "active",
    states: {
      active: {
        initial: "planning",
        after: { runTimeout: { target: "failed", actions: "setRunTimeout" } },
        on: { CANCEL: { target: "cancelled", actions: "setCancelled" } },
        states: {
          planning: {
            invoke: {
              src: "planTask",
              input: ({ context: ctx }) => ({ task: ctx.task, agent: ctx.agent, revision: ctx.revision }),
              onDone: {
                target: "executing",
                actions: { type: "setPlan", params: ({ event }) => event.output },
              },
              onError: {
                target: "#run.failed",
                actions: {
                  type: "setError",
                  params: ({ event }: { event: { error: unknown } }) => event.error,
                },
              },
            },
          },
          executing: {
            entry: "dispatch",
            always: { guard: "allComplete", target: "joining" },
            on: {
              "SUBTASK.SETTLED": [
                { guard: "outcomeValid", actions: ["recordResult", "dispatch"] },
                { guard: "canEscalate", actions: "escalate" },
                { target: "#run.failed", actions: "recordFailure" },
              ],
              "SUBTASK.ERROR": { target: "#run.failed", actions: "recordFailure" },
              "ESCALATION.DONE": { actions: ["recordEscalated", "dispatch"] },
              "ESCALATION.ERROR": { target: "#run.failed", actions: "recordFailure" },
            },
          },
          joining: {
            invoke: {
              src: "joinResults",
              input: ({ context: ctx }) => ({ ctx }),
              onDone: [
                {
                  guard: { type: "wantsReplan", params: ({ event }) => event.output },
                  target: "planning",
                  actions: { type: "startReplan", params: ({ event }) => event.output },
                },
                { target: "#run.done", actions: { type: "setAnswer", params: ({ event }) => event.output } },
              ],
              onError: {
                target: "#run.failed",
                actions: {
                  type: "setError",
                  params: ({ event }: { event: { error: unknown } }) => event.error,
                },
              },
            },
          },
        },
      },
      done: { type: "final" },
      failed: { type: "final" },
      cancelled: { type: "final" },
    },
  });
}

export type OrchestratorMachine = ReturnType<typeof createOrchestratorMachine>;

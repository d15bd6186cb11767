/**
 * The orchestrator: an xstate v5 machine that drives one run through
 * `planning → executing → joining → done | failed | cancelled`.
 *
 * The machine's context holds only data (plan, results, errors), never functions, so its snapshot can be
 * persisted. The ports it talks to (planner, workers, event sink) are closed over by the actors, which are
 * declared by name in `setup()`: tests replace them with `machine.provide({ actors: … })`.
 */
import { assign, enqueueActions, setup } from "xstate";
import { AbortError, EdgecrewError, ErrorCodes, type ErrorInfo, toEdgecrewError } from "../errors.js";
import { substituteReferences } from "../references.js";
import type {
  AgentDefinition,
  JoinDecision,
  JsonValue,
  Plan,
  PlanRevision,
  Produced,
  Subtask,
  SubtaskResult,
  UsageRecord,
} from "../types.js";
import {
  createActors,
  type OrchestratorEvent,
  type OrchestratorPorts,
  type PlannedRevision,
  type SubtaskInput,
  workerOf,
} from "./actors.js";
import { workerIdentity } from "./routing.js";
import { pickDispatch, readySubtasks } from "./scheduler.js";

export type { OrchestratorEvent, OrchestratorPorts, RunPersistence } from "./actors.js";

/** Where a resumed run starts from: its plan, the durable results of that plan, and the usage so far. */
export interface RestoredState {
  readonly plan: Plan | undefined;
  readonly revision: number;
  readonly results: Readonly<Record<string, SubtaskResult>>;
  readonly usage: readonly UsageRecord[];
}

export interface OrchestratorInput {
  readonly runId: string;
  readonly task: string;
  readonly agent: AgentDefinition;
  /** Present when resuming a stored run. */
  readonly restore?: RestoredState;
}

export interface OrchestratorContext {
  readonly runId: string;
  readonly task: string;
  readonly agent: AgentDefinition;
  readonly plan: Plan | undefined;
  /** Completed subtasks of the current plan by id, in completion order. */
  readonly results: Readonly<Record<string, SubtaskResult>>;
  readonly running: readonly string[];
  readonly answer: JsonValue | undefined;
  readonly error: ErrorInfo | undefined;
  /** Usage of planner calls and of work no result carries (failed, dropped by a replan). */
  readonly usage: readonly UsageRecord[];
  /** Revised plans so far (≤ limits.maxReplans); also the current plan's revision number. */
  readonly replans: number;
  /** Set while planning a revision: why, and what the previous plan produced. */
  readonly revision: PlanRevision | undefined;
}

/** A run's results in plan order (subtasks finish in any order; readers and the joiner see one order). */
export function resultsInPlanOrder(
  plan: Plan | undefined,
  results: Readonly<Record<string, SubtaskResult>>,
): SubtaskResult[] {
  const order = new Map((plan?.subtasks ?? []).map((subtask, index) => [subtask.id, index]));
  const rank = (id: string) => order.get(id) ?? order.size;
  return Object.values(results).sort((a, b) => rank(a.subtaskId) - rank(b.subtaskId));
}

function answersOf(results: Readonly<Record<string, SubtaskResult>>): Record<string, JsonValue> {
  return Object.fromEntries(Object.entries(results).map(([id, r]) => [id, r.answer]));
}

function dependenciesOf(
  dependsOn: readonly string[],
  results: Readonly<Record<string, SubtaskResult>>,
): Record<string, JsonValue> {
  const answers = answersOf(results);
  return Object.fromEntries(
    dependsOn.flatMap((id) => (answers[id] === undefined ? [] : [[id, answers[id]]])),
  );
}

/** What a subtask actor needs: the subtask, its dependencies' answers and the plan revision. */
function subtaskInput(ctx: OrchestratorContext, subtask: Subtask): SubtaskInput {
  return {
    runId: ctx.runId,
    task: ctx.task,
    subtask,
    agent: ctx.agent,
    dependencies: dependenciesOf(subtask.dependsOn, ctx.results),
    revision: ctx.replans,
  };
}

/** Remote tokens (prompt + completion) spent so far: planner calls and results' usage. */
function remoteTokens(ctx: OrchestratorContext): number {
  const records = [...ctx.usage, ...Object.values(ctx.results).flatMap((r) => r.usage)];
  return records.reduce((n, u) => (u.locality === "remote" ? n + u.promptTokens + u.completionTokens : n), 0);
}

/** Builds the orchestrator machine over the given ports. */
export function createOrchestratorMachine(ports: OrchestratorPorts) {
  return setup({
    types: {
      context: {} as OrchestratorContext,
      events: {} as OrchestratorEvent,
      input: {} as OrchestratorInput,
    },
    actors: createActors(ports),

    delays: {
      runTimeout: ({ context: ctx }) => ctx.agent.limits.timeoutSeconds * 1000,
    },

    guards: {
      remoteBudgetExceeded: ({ context: ctx }) => {
        const budget = ctx.agent.limits.maxRemoteTokens;
        return budget !== undefined && remoteTokens(ctx) > budget;
      },
      hasPlan: ({ context: ctx }) => ctx.plan !== undefined,
      allComplete: ({ context: ctx }) =>
        ctx.plan?.subtasks.every((s) => ctx.results[s.id] !== undefined) === true,
      canEscalate: ({ context: ctx }) => ctx.agent.escalation.to === "planner",
      wantsReplan: (_, produced: Produced<JoinDecision>) => produced.value.kind === "replan",
    },

    actions: {
      dispatch: enqueueActions(({ context: ctx, enqueue }) => {
        const plan = ctx.plan;
        if (plan === undefined) return;
        const running = new Set(ctx.running);
        const ready = readySubtasks(plan, new Set(Object.keys(ctx.results)), running);
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
        for (const subtask of picks) {
          // Side effects go through `enqueue` so they run when the actions execute, in order — not while
          // xstate computes the transition (which, for an initial state, happens before the actor starts).
          const worker = workerOf(ctx.agent, subtask.worker);
          const model = worker.model.raw;
          const identity = (worker.lora ?? []).length > 0 ? workerIdentity(worker) : undefined;
          const input = subtaskInput(ctx, subtask);
          const instruction = substituteReferences(subtask.instruction, input.dependencies);
          enqueue(() =>
            ports.emit({
              type: "subtask.started",
              subtaskId: subtask.id,
              worker: subtask.worker,
              model,
              ...(identity === undefined ? {} : { identity }),
              instruction,
            }),
          );
          enqueue.spawnChild("runSubtask", { id: `subtask:${subtask.id}`, input });
        }
        enqueue.assign({ running: [...ctx.running, ...picks.map((s) => s.id)] });
      }),

      escalate: enqueueActions(({ context: ctx, event, enqueue }) => {
        if (event.type !== "SUBTASK.UNANSWERED") return;
        const subtask = ctx.plan?.subtasks.find((s) => s.id === event.subtaskId);
        if (subtask === undefined) return;
        const { reason, errors } = event.outcome;
        enqueue(() =>
          ports.emit({
            type: "subtask.escalated",
            subtaskId: subtask.id,
            worker: subtask.worker,
            reason,
            errors,
          }),
        );
        // The worker's spent usage stays in the ledger even though the planner gives the answer.
        enqueue.assign({ usage: [...ctx.usage, ...event.outcome.usage] });
        enqueue.spawnChild("escalateSubtask", {
          id: `escalation:${subtask.id}`,
          input: { ...subtaskInput(ctx, subtask), errors: event.outcome.errors },
        });
      }),

      // Auto-escalation: the planner answers without the worker being tried (no usage of the worker to keep).
      routeToPlanner: enqueueActions(({ context: ctx, event, enqueue }) => {
        if (event.type !== "SUBTASK.ROUTED") return;
        const subtask = ctx.plan?.subtasks.find((s) => s.id === event.subtaskId);
        if (subtask === undefined) return;
        const { route } = event;
        enqueue(() => ports.emit({ type: "subtask.routed", ...route }));
        enqueue.spawnChild("escalateSubtask", {
          id: `escalation:${subtask.id}`,
          input: { ...subtaskInput(ctx, subtask), errors: [route.reason] },
        });
      }),

      recordResult: assign(({ context: ctx, event }) => {
        if (event.type !== "SUBTASK.DONE") return {};
        const { result } = event;
        ports.emit({ type: "subtask.completed", subtaskId: result.subtaskId, result });
        return {
          results: { ...ctx.results, [result.subtaskId]: result },
          running: ctx.running.filter((id) => id !== result.subtaskId),
        };
      }),

      recordFailure: assign(({ context: ctx, event }) => {
        let error: ErrorInfo;
        let usage: readonly UsageRecord[];
        if (event.type === "SUBTASK.UNANSWERED") {
          const { outcome } = event;
          const why =
            outcome.reason === "invalid-output" ? "gave no valid answer" : "could not run its model";
          usage = outcome.usage;
          error = new EdgecrewError(
            ErrorCodes.SUBTASK_FAILED,
            `subtask ${event.subtaskId} ${why} after ${outcome.attempts} attempt(s):\n${outcome.errors.map((e) => `  - ${e}`).join("\n")}`,
            { context: { subtaskId: event.subtaskId, reason: outcome.reason, errors: [...outcome.errors] } },
          ).toInfo();
        } else if (event.type === "SUBTASK.ERROR") {
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

      setPlan: assign(({ context: ctx }, planned: PlannedRevision) => ({
        plan: planned.value,
        results: planned.carried,
        revision: undefined,
        // Results a replan drops still cost tokens: keep their usage in the ledger.
        usage: [...ctx.usage, ...planned.usage, ...planned.dropped.flatMap((r) => r.usage)],
      })),

      startReplan: assign(({ context: ctx }, produced: Produced<JoinDecision>) => ({
        replans: ctx.replans + 1,
        revision: {
          reason: produced.value.kind === "replan" ? produced.value.reason : "",
          previous: ctx.plan ?? { subtasks: [] },
          results: resultsInPlanOrder(ctx.plan, ctx.results),
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

      setFailure: assign(({ event }) => (event.type === "FAIL" ? { error: event.error } : {})),

      setCancelled: assign(({ event }) => ({
        error: new AbortError(event.type === "CANCEL" ? event.reason : "cancelled").toInfo(),
      })),

      setBudgetExceeded: assign(({ context: ctx }) => ({
        error: new EdgecrewError(
          ErrorCodes.LIMIT_EXCEEDED,
          `the run spent ${remoteTokens(ctx)} remote tokens, over limits.maxRemoteTokens (${ctx.agent.limits.maxRemoteTokens})`,
          { context: { limit: "maxRemoteTokens", spent: remoteTokens(ctx) } },
        ).toInfo(),
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
      plan: input.restore?.plan,
      results: input.restore?.results ?? {},
      running: [],
      answer: undefined,
      error: undefined,
      usage: input.restore?.usage ?? [],
      replans: input.restore?.revision ?? 0,
      revision: undefined,
    }),
    initial: "active",
    states: {
      active: {
        initial: "start",
        after: { runTimeout: { target: "failed", actions: "setRunTimeout" } },
        // Checked after every transition: a planner call that crosses the budget ends the run there.
        always: { guard: "remoteBudgetExceeded", target: "failed", actions: "setBudgetExceeded" },
        on: {
          CANCEL: { target: "cancelled", actions: "setCancelled" },
          FAIL: { target: "failed", actions: "setFailure" },
        },
        states: {
          // A resumed run with a plan goes straight back to executing; completed subtasks are not redone.
          start: { always: [{ guard: "hasPlan", target: "executing" }, { target: "planning" }] },
          planning: {
            invoke: {
              src: "planTask",
              input: ({ context: ctx }) => ({
                task: ctx.task,
                agent: ctx.agent,
                revision: ctx.replans,
                previous: ctx.revision,
                results: ctx.results,
              }),
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
              "SUBTASK.DONE": { actions: ["recordResult", "dispatch"] },
              "SUBTASK.ROUTED": { actions: "routeToPlanner" },
              "SUBTASK.UNANSWERED": [
                { guard: "canEscalate", actions: "escalate" },
                { target: "#run.failed", actions: "recordFailure" },
              ],
              "SUBTASK.ERROR": { target: "#run.failed", actions: "recordFailure" },
            },
          },
          joining: {
            invoke: {
              src: "joinResults",
              input: ({ context: ctx }) => ({
                task: ctx.task,
                plan: ctx.plan ?? { subtasks: [] },
                results: resultsInPlanOrder(ctx.plan, ctx.results),
                agent: ctx.agent,
                allowReplan: ctx.replans < ctx.agent.limits.maxReplans,
              }),
              onDone: [
                {
                  guard: { type: "wantsReplan", params: ({ event }) => event.output },
                  target: "planning",
                  actions: { type: "startReplan", params: ({ event }) => event.output },
                },
                { target: "answered", actions: { type: "setAnswer", params: ({ event }) => event.output } },
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
          // The final answer is in; the budget is checked once more (a child's eventless transitions take
          // precedence over its parent's, so the check must be here too).
          answered: {
            always: [
              { guard: "remoteBudgetExceeded", target: "#run.failed", actions: "setBudgetExceeded" },
              { target: "#run.done" },
            ],
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

/**
 * The orchestrator's actors: planning, one actor per running subtask (worker or escalated to the planner), and
 * joining. They close over the ports, so the machine's context stays plain data. Results are made durable
 * here — a subtask's result is persisted *before* the machine hears of it, so nothing can depend on a result
 * that a crash could still lose.
 */
import { fromCallback, fromPromise } from "xstate";
import { EdgecrewError, ErrorCodes, type ErrorInfo, toEdgecrewError } from "../errors.js";
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
  RunEventPayloads,
  Subtask,
  SubtaskResult,
  UsageRecord,
  WorkerDefinition,
  WorkerOutcome,
  WorkerPort,
} from "../types.js";
import { reuseResults } from "./reuse.js";

/** Where the runtime makes plans and results durable (a RunStore, or nothing). */
export interface RunPersistence {
  plan(revision: number, plan: Plan, carried: readonly SubtaskResult[]): Promise<void>;
  result(revision: number, result: SubtaskResult): Promise<void>;
}

/** What the machine needs from the outside world. */
export interface OrchestratorPorts {
  readonly planner: PlannerPort;
  readonly workers: WorkerPort;
  /** Receives every event the run emits (the EventHub stamps and stores them). */
  readonly emit: (event: RunEventInput) => void;
  readonly clock: () => number;
  /** Registers in-flight work so the run can wait for it to settle after a cancel or failure. */
  readonly track: (work: Promise<unknown>) => void;
  readonly persist: RunPersistence;
  /**
   * Auto-escalation: whether a subtask goes straight to the planner (the `subtask.routed` payload) instead of
   * its worker. Absent: every subtask runs its worker first.
   */
  readonly route?: (input: SubtaskInput) => Promise<RunEventPayloads["subtask.routed"] | undefined>;
}

export type OrchestratorEvent =
  | { type: "CANCEL"; reason: string }
  /** Something outside the machine broke the run (e.g. the run store can no longer write). */
  | { type: "FAIL"; error: ErrorInfo }
  /** A subtask completed (by its worker or the planner); its result is already durable. */
  | { type: "SUBTASK.DONE"; result: SubtaskResult }
  /** Auto-escalation sends the subtask to the planner without running its worker. */
  | { type: "SUBTASK.ROUTED"; subtaskId: string; route: RunEventPayloads["subtask.routed"] }
  /** The worker could not give a valid answer (escalation may take over). */
  | { type: "SUBTASK.UNANSWERED"; subtaskId: string; outcome: Extract<WorkerOutcome, { ok: false }> }
  /** The subtask cannot complete (timeout, store failure, escalation failed). */
  | { type: "SUBTASK.ERROR"; subtaskId: string; error: ErrorInfo; usage: readonly UsageRecord[] };

export interface SubtaskInput {
  readonly runId: string;
  readonly task: string;
  readonly subtask: Subtask;
  readonly agent: AgentDefinition;
  readonly dependencies: Readonly<Record<string, JsonValue>>;
  /** The plan revision the result belongs to. */
  readonly revision: number;
}

export interface EscalationInput extends SubtaskInput {
  readonly errors: readonly string[];
}

export interface PlanInput {
  readonly task: string;
  readonly agent: AgentDefinition;
  /** 0 for the first plan, +1 per replan. */
  readonly revision: number;
  /** Set for a replan: why, and the previous plan with its results. */
  readonly previous: PlanRevision | undefined;
  /** Completed results of the previous plan, by id (empty for the first plan). */
  readonly results: Readonly<Record<string, SubtaskResult>>;
}

/** A new plan with the results it carries over from the previous one (already durable). */
export interface PlannedRevision extends Produced<Plan> {
  readonly carried: Readonly<Record<string, SubtaskResult>>;
  readonly dropped: readonly SubtaskResult[];
}

export function workerOf(agent: AgentDefinition, name: string): WorkerDefinition {
  const worker = agent.workers.find((w) => w.name === name);
  if (worker === undefined)
    throw new EdgecrewError(ErrorCodes.INTERNAL, `plan names unknown worker "${name}"`);
  return worker;
}

/**
 * A callback actor around one unit of subtask work: gives the work an AbortSignal (aborted when the run stops
 * the actor, or when `timeoutMs` passes), reports exactly one event back, and never reports after being stopped.
 */
function subtaskActor<I extends SubtaskInput>(
  ports: OrchestratorPorts,
  run: (input: I, signal: AbortSignal) => Promise<OrchestratorEvent>,
  timeoutMs: (input: I) => number | undefined,
) {
  return fromCallback<OrchestratorEvent, I>(({ input, sendBack }) => {
    const controller = new AbortController();
    const limit = timeoutMs(input);
    const timer =
      limit === undefined
        ? undefined
        : setTimeout(
            () =>
              controller.abort(
                new EdgecrewError(
                  ErrorCodes.LIMIT_EXCEEDED,
                  `subtask ${input.subtask.id} exceeded limits.subtaskTimeoutSeconds (${input.agent.limits.subtaskTimeoutSeconds} s)`,
                  { context: { limit: "subtaskTimeoutSeconds", subtaskId: input.subtask.id } },
                ),
              ),
            limit,
          );
    // Once the run stops this actor, nothing may be sent back: the parent is gone.
    let stopped = false;
    const work = run(input, controller.signal)
      .catch((error: unknown): OrchestratorEvent => {
        // A timeout aborts with a LIMIT_EXCEEDED reason: report that, not the port's AbortError.
        const reason: unknown = controller.signal.reason;
        const typed = toEdgecrewError(reason instanceof EdgecrewError ? reason : error);
        return {
          type: "SUBTASK.ERROR",
          subtaskId: input.subtask.id,
          error: typed.toInfo(),
          usage: typed.usage,
        };
      })
      .then((event) => {
        if (!stopped) sendBack(event);
      })
      .finally(() => clearTimeout(timer));
    ports.track(work);
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort(new Error("subtask stopped: the run ended"));
    };
  });
}

/** The actors of the orchestrator machine, over the given ports. */
export function createActors(ports: OrchestratorPorts) {
  const context = (signal: AbortSignal): CallContext => ({ signal, emit: ports.emit });
  const request = (input: SubtaskInput) => ({
    runId: input.runId,
    task: input.task,
    subtask: {
      ...input.subtask,
      instruction: substituteReferences(input.subtask.instruction, input.dependencies),
    },
    worker: workerOf(input.agent, input.subtask.worker),
    dependencies: input.dependencies,
    revision: input.revision,
  });
  /** Persists a result, then reports it: durable before anything can depend on it. */
  const complete = async (input: SubtaskInput, result: SubtaskResult): Promise<OrchestratorEvent> => {
    await ports.persist.result(input.revision, result);
    return { type: "SUBTASK.DONE", result };
  };

  return {
    planTask: fromPromise<PlannedRevision, PlanInput>(({ input, signal }) => {
      // The planner announces its plan (`plan.created`) as soon as it accepts it; the runtime holds that back
      // until the plan is durable and, on a replan, `plan.revised` is out — so a revision is announced before
      // its plan — and stamps the plan's revision on it.
      const held: RunEventInput[] = [];
      const announce = () => {
        for (const event of held.splice(0))
          ports.emit(event.type === "plan.created" ? { ...event, revision: input.revision } : event);
      };
      const planContext: CallContext = {
        signal,
        emit: (event) => (event.type === "plan.created" ? held.push(event) : ports.emit(event)),
      };
      const work = (async () => {
        const produced = await ports.planner.plan(
          {
            task: input.task,
            workers: input.agent.workers.map((w) => ({
              name: w.name,
              description: w.description,
              output: w.output,
              tools: w.tools,
            })),
            maxSubtasks: input.agent.limits.maxSubtasks,
            ...(input.previous === undefined ? {} : { revision: input.previous }),
          },
          planContext,
        );
        const reuse =
          input.previous === undefined
            ? { results: {}, dropped: [] }
            : reuseResults(input.previous.previous, input.results, produced.value);
        await ports.persist.plan(input.revision, produced.value, Object.values(reuse.results));
        if (input.previous !== undefined) {
          ports.emit({
            type: "plan.revised",
            reason: input.previous.reason,
            revision: input.revision,
            reused: Object.keys(reuse.results),
          });
        }
        announce();
        return { ...produced, carried: reuse.results, dropped: reuse.dropped };
      })();
      // A plan that could not be stored was still made: it is announced all the same, after the failure.
      work.catch(announce);
      ports.track(work);
      return work;
    }),

    runSubtask: subtaskActor<SubtaskInput>(
      ports,
      async (input, signal) => {
        const route = await ports.route?.(input);
        if (route !== undefined) return { type: "SUBTASK.ROUTED", subtaskId: input.subtask.id, route };
        const startedAt = ports.clock();
        const outcome = await ports.workers.execute(request(input), context(signal));
        if (!outcome.ok) return { type: "SUBTASK.UNANSWERED", subtaskId: input.subtask.id, outcome };
        return complete(input, {
          subtaskId: input.subtask.id,
          worker: input.subtask.worker,
          answer: outcome.answer,
          by: "worker",
          attempts: outcome.attempts,
          startedAt,
          endedAt: ports.clock(),
          usage: outcome.usage,
          ...(outcome.device === undefined ? {} : { device: outcome.device }),
        });
      },
      (input) => input.agent.limits.subtaskTimeoutSeconds * 1000,
    ),

    escalateSubtask: subtaskActor<EscalationInput>(
      ports,
      async (input, signal) => {
        const startedAt = ports.clock();
        const produced = await ports.planner.solve(
          { ...request(input), errors: input.errors },
          context(signal),
        );
        return complete(input, {
          subtaskId: input.subtask.id,
          worker: input.subtask.worker,
          answer: produced.value,
          by: "planner",
          attempts: 1,
          startedAt,
          endedAt: ports.clock(),
          usage: produced.usage,
        });
      },
      // The planner stands in under the run's overall limit, not the small model's per-subtask one.
      () => undefined,
    ),

    joinResults: fromPromise<
      Produced<JoinDecision>,
      {
        task: string;
        plan: Plan;
        results: readonly SubtaskResult[];
        agent: AgentDefinition;
        allowReplan: boolean;
      }
    >(({ input, signal }) => {
      const work = ports.planner.join(
        {
          task: input.task,
          plan: input.plan,
          results: input.results,
          ...(input.agent.answer === undefined ? {} : { answerSchema: input.agent.answer }),
          allowReplan: input.allowReplan,
        },
        context(signal),
      );
      ports.track(work);
      return work;
    }),
  };
}

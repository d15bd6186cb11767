/**
 * A planner port for a run that is one subtask on a named worker: the plan is fixed (the task is the worker's
 * instruction) and the join hands back the worker's answer, so no planner model is asked unless the worker's
 * subtask escalates, which still goes to the agent's planner.
 */
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { AgentDefinition, Plan, PlannerPort } from "../types.js";

/** The id of the only subtask of a single-subtask run. */
export const SINGLE_SUBTASK_ID = "s1";

/**
 * Wraps `planner` so that every run it plans is the task as one subtask (`s1`) of `worker`, and its final answer
 * is that subtask's answer (valid against the worker's output schema, not the agent's `answer`). `solve` (the
 * escalation of a failed worker answer) is the wrapped planner's. Throws USAGE for a worker the agent lacks.
 */
export function singleSubtaskPlanner(
  planner: PlannerPort,
  agent: AgentDefinition,
  worker: string,
): PlannerPort {
  if (!agent.workers.some((w) => w.name === worker)) {
    throw new EdgecrewError(
      ErrorCodes.USAGE,
      `agent "${agent.name}" has no worker "${worker}" (workers: ${agent.workers.map((w) => w.name).join(", ")})`,
      { context: { worker } },
    );
  }
  return {
    model: planner.model,
    plan(request, context) {
      const plan: Plan = {
        subtasks: [{ id: SINGLE_SUBTASK_ID, worker, instruction: request.task, dependsOn: [] }],
      };
      // Announced like a model's plan, so events, the store and inspect read the same.
      context.emit({ type: "plan.created", plan, attempt: 1 });
      return Promise.resolve({ value: plan, usage: [] });
    },
    join(request) {
      const result = request.results.find((r) => r.subtaskId === SINGLE_SUBTASK_ID);
      if (result === undefined) {
        return Promise.reject(
          new EdgecrewError(
            ErrorCodes.SUBTASK_FAILED,
            `subtask ${SINGLE_SUBTASK_ID} left no result to answer with`,
          ),
        );
      }
      return Promise.resolve({ value: { kind: "answer", answer: result.answer }, usage: [] });
    },
    solve(request, context) {
      return planner.solve(request, context);
    },
  };
}

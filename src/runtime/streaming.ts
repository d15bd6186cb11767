/**
 * The streaming opt-in of a run: the ports a run with `stream: true` uses are the crew's own ports with every
 * call's context saying `stream: true`, so that the worker emits `subtask.delta` and the planner `planner.delta`
 * for this run only (one crew's ports serve many runs, streamed or not).
 */
import type { CallContext, PlannerPort, WorkerPort } from "../types.js";

function streamed(context: CallContext): CallContext {
  return { ...context, stream: true };
}

/** The planner port with `stream: true` in every call's context. */
export function streamingPlanner(planner: PlannerPort): PlannerPort {
  return {
    model: planner.model,
    plan: (request, context) => planner.plan(request, streamed(context)),
    join: (request, context) => planner.join(request, streamed(context)),
    solve: (request, context) => planner.solve(request, streamed(context)),
  };
}

/** The worker port with `stream: true` in every call's context; disposing it disposes nothing (the crew does). */
export function streamingWorkers(workers: WorkerPort): WorkerPort {
  return {
    execute: (request, context) => workers.execute(request, streamed(context)),
    isResident: (worker) => workers.isResident(worker),
    dispose: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
}

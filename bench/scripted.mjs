// Definitions the benchmark's sections share (bench/run.mjs and the swap workload's child process): worker and
// agent definitions as the runtime takes them, and a scripted planner port that returns one fixed plan, so
// that what is timed is the workers and the runtime, never a planner model.

/** The planner reference of a scripted agent: named in events and the ledger, never loaded. */
const SCRIPTED_PLANNER = "scripted:planner";

/** A worker definition with the benchmark's defaults; `overrides` sets the rest (name, output, limits). */
export function workerDef(model, overrides) {
  return {
    name: "w",
    description: "bench worker",
    model,
    tools: [],
    contextSize: 2048,
    maxTokens: 64,
    temperature: 0.8,
    parallel: 1,
    ...overrides,
  };
}

/** An agent definition whose planner is scripted; `fields` gives name, description, workers, limits, … */
export function scriptedAgent(fields) {
  return {
    planner: { model: { kind: "remote", raw: SCRIPTED_PLANNER, provider: "scripted", model: "planner" } },
    tools: [],
    device: { gpu: false },
    ...fields,
  };
}

/**
 * A planner port that answers `plan` with `plan` (announcing it, then calling `onPlanned`), joins with a short
 * answer, and answers an escalation with `solve` (by default an escalation is an error: the section expects
 * none). `usage` is what the plan call reports.
 */
export function scriptedPlanner(plan, { onPlanned, solve, usage = [] } = {}) {
  return {
    model: SCRIPTED_PLANNER,
    async plan(_request, ctx) {
      ctx.emit({ type: "plan.created", plan, attempt: 1 });
      onPlanned?.();
      return { value: plan, usage };
    },
    async join(req) {
      return { value: { kind: "answer", answer: `joined ${req.results.length}` }, usage: [] };
    },
    async solve(req) {
      if (solve === undefined) throw new Error("no escalation in the benchmark");
      return { value: solve(req), usage: [] };
    },
  };
}

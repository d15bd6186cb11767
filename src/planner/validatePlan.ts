/**
 * Plan validation: turns whatever a planner model returned into a valid DAG, or into a list of problems that
 * is precise enough to send back to the model ("s3 depends on s7, which does not exist"). Every problem is
 * reported, not only the first, so one re-ask can fix them all.
 */
import { checkReferencePath, findReferences, formatReference } from "../references.js";
import { formatZodIssues } from "../schema/compile.js";
import type { Plan, Subtask, WorkerSummary } from "../types.js";
import { planReplySchema } from "./planSchema.js";

export type PlanValidation =
  | { readonly ok: true; readonly plan: Plan }
  | { readonly ok: false; readonly errors: string[] };

export interface PlanValidationOptions {
  readonly workers: readonly WorkerSummary[];
  readonly maxSubtasks: number;
}

/**
 * Whether a tool name is covered by a worker's grants: granted by name, or a member of a granted family or MCP
 * server (`fs` grants `fs.read`, `files` grants `files.read_text_file`).
 */
function isGranted(tool: string, grants: readonly string[]): boolean {
  return grants.some((grant) => tool === grant || tool.startsWith(`${grant}.`));
}

/** Finds one cycle (as a list of ids, first repeated at the end) in a dependency graph, if there is one. */
export function findCycle(subtasks: readonly Pick<Subtask, "id" | "dependsOn">[]): string[] | undefined {
  // Duplicate ids (reported separately) merge their edges; self-edges are reported as "depends on itself".
  const deps = new Map<string, string[]>();
  for (const s of subtasks) {
    deps.set(s.id, [...(deps.get(s.id) ?? []), ...s.dependsOn.filter((d) => d !== s.id)]);
  }
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id);
    if (seen === "done") return undefined;
    if (seen === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      if (!deps.has(dep)) continue;
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const s of subtasks) {
    const cycle = visit(s.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Validates a planner's reply: shape, unique ids, known workers, existing dependencies, no cycles, the
 * subtask limit, and `{{id.answer.field}}` references (to a direct dependency, to a field its worker's output
 * schema has).
 */
export function validatePlan(reply: unknown, options: PlanValidationOptions): PlanValidation {
  const parsed = planReplySchema.safeParse(reply);
  if (!parsed.success) return { ok: false, errors: formatZodIssues(parsed.error.issues) };
  const subtasks = parsed.data.subtasks;
  const errors: string[] = [];
  const workers = new Map(options.workers.map((w) => [w.name, w]));

  if (subtasks.length > options.maxSubtasks) {
    errors.push(`the plan has ${subtasks.length} subtasks; the limit is ${options.maxSubtasks}`);
  }
  const ids = new Set<string>();
  for (const s of subtasks) {
    if (ids.has(s.id)) errors.push(`subtask id "${s.id}" is used more than once`);
    ids.add(s.id);
  }
  const byId = new Map(subtasks.map((s) => [s.id, s]));
  for (const s of subtasks) {
    if (!workers.has(s.worker)) {
      errors.push(`${s.id}: unknown worker "${s.worker}" (workers: ${[...workers.keys()].join(", ")})`);
    }
    const worker = workers.get(s.worker);
    for (const tool of s.tools ?? []) {
      if (worker !== undefined && !isGranted(tool, worker.tools)) {
        errors.push(
          `${s.id}: names the tool "${tool}", which worker "${s.worker}" is not granted (its tools: ${worker.tools.join(", ") || "none"})`,
        );
      }
    }
    for (const dep of s.dependsOn) {
      if (dep === s.id) errors.push(`${s.id}: depends on itself`);
      else if (!byId.has(dep)) errors.push(`${s.id}: depends on "${dep}", which is not in the plan`);
    }
    for (const ref of findReferences(s.instruction)) {
      const target = byId.get(ref.subtaskId);
      if (target === undefined) {
        errors.push(
          `${s.id}: instruction references ${formatReference(ref)}, but there is no subtask "${ref.subtaskId}"`,
        );
        continue;
      }
      if (!s.dependsOn.includes(ref.subtaskId)) {
        errors.push(
          `${s.id}: instruction references ${formatReference(ref)} but does not list "${ref.subtaskId}" in dependsOn`,
        );
      }
      const output = workers.get(target.worker)?.output;
      const problem = output === undefined ? undefined : checkReferencePath(output, ref.path);
      if (problem !== undefined) errors.push(`${s.id}: ${formatReference(ref)} cannot exist: ${problem}`);
    }
  }
  const cycle = findCycle(subtasks);
  if (cycle) errors.push(`dependency cycle: ${cycle.join(" → ")}`);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    plan: {
      subtasks: subtasks.map((s) => ({
        id: s.id,
        worker: s.worker,
        instruction: s.instruction,
        dependsOn: [...new Set(s.dependsOn)],
        ...(s.tools === undefined || s.tools.length === 0 ? {} : { tools: [...new Set(s.tools)] }),
      })),
    },
  };
}

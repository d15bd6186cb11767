/**
 * The planner's prompts. Kept apart from the code that sends them so they can be read, reviewed and tested as
 * text; every fact the model needs (workers, their answer fields, limits, the reference syntax) is stated here.
 */
import { describeSchema, describeType } from "../schema/describe.js";
import type { EscalationRequest, JoinRequest, JsonSchema, PlanRequest, WorkerSummary } from "../types.js";
import { planReplyJsonSchema } from "./planSchema.js";
import { replyShape } from "./replyShape.js";

/** The one line that states the accepted reply shape; system prompts and re-asks use the same one. */
function replyLine(shape: string): string {
  return `Reply with JSON only: ${shape}.`;
}

/** What a plan reply looks like: derived from `planReplySchema`, which validatePlan parses replies with. */
export function planShape(): string {
  return replyShape(planReplyJsonSchema, {
    id: '"s1"',
    worker: '"<worker name>"',
    instruction: '"<what to do>"',
    dependsOn: "[]",
    tools: "[]",
  });
}

/**
 * What a final-answer reply looks like: derived from the joiner's reply schema (`joinSchema`), which the reply
 * is validated against — `{"answer": …}`, or `{"decision": …}` with its two alternatives while replans are left.
 */
export function joinShape(replySchema: JsonSchema): string {
  return replyShape(replySchema, {
    answer: "<the final answer>",
    replan: '"<why the plan must change>"',
  });
}

function fieldList(schema: JsonSchema): string {
  const properties = schema.properties;
  if (typeof properties !== "object" || properties === null || Array.isArray(properties))
    return describeType(schema);
  return Object.entries(properties)
    .map(([name, field]) =>
      typeof field === "object" && field !== null && !Array.isArray(field)
        ? `${name} (${describeType(field)})`
        : name,
    )
    .join(", ");
}

function workerLine(worker: WorkerSummary): string {
  const tools = worker.tools.length > 0 ? ` Tools: ${worker.tools.join(", ")}.` : "";
  return `- ${worker.name}: ${worker.description} Answer fields: ${fieldList(worker.output)}.${tools}`;
}

/** System prompt for planning. */
export function planSystemPrompt(request: PlanRequest): string {
  return [
    "You are the planner of a team of small specialised workers. Break the user's task into a short plan of subtasks; each subtask is done by one worker.",
    "",
    "Workers:",
    ...request.workers.map(workerLine),
    "",
    "Rules:",
    `- Use at most ${request.maxSubtasks} subtasks; fewer is better. Give them ids s1, s2, s3, … in order.`,
    "- dependsOn lists the ids of earlier subtasks whose answers a subtask needs. No cycles.",
    "- An instruction may quote a dependency's answer as {{s1.answer}} or one of its fields as {{s1.answer.field}}; the field must be one of that worker's answer fields.",
    "- Each instruction must be self-contained: the worker sees only its instruction, the task and its dependencies' answers.",
    "- Optionally, `tools` lists the names of its worker's tools that a subtask needs; the worker is always offered them.",
    "",
    replyLine(planShape()),
  ].join("\n");
}

/** User prompt for planning; for a revision, the previous plan, its results and the reason to change it. */
export function planUserPrompt(request: PlanRequest): string {
  const revision = request.revision;
  if (revision === undefined) return `Task: ${request.task}`;
  const byId = new Map(revision.results.map((r) => [r.subtaskId, r]));
  return [
    `Task: ${request.task}`,
    "",
    "Your previous plan and its results:",
    ...revision.previous.subtasks.map((s) => {
      const result = byId.get(s.id);
      const deps = s.dependsOn.length > 0 ? ` (after ${s.dependsOn.join(", ")})` : "";
      return `- ${s.id} [${s.worker}]${deps}: ${s.instruction}\n  answer: ${result === undefined ? "(none)" : JSON.stringify(result.answer)}`;
    }),
    "",
    `Revise the plan because: ${revision.reason}`,
    "Keep a subtask exactly as it was (same worker, instruction and dependencies) to reuse its result without running it again.",
  ].join("\n");
}

/**
 * System prompt for joining results into the final answer (or, when allowed, asking for a revised plan);
 * `replySchema` is the schema the reply is validated against (`joinSchema`).
 */
export function joinSystemPrompt(allowReplan: boolean, replySchema: JsonSchema): string {
  return [
    "You are the planner of a team of workers. They have completed the subtasks of your plan.",
    "Using their results, give the final answer to the user's task.",
    ...(allowReplan
      ? [
          "If the results cannot answer the task, you may instead ask for a revised plan and say why; finished subtasks that stay the same are not run again.",
        ]
      : []),
    replyLine(joinShape(replySchema)),
  ].join("\n");
}

/** User prompt for joining: the task, then each subtask with its validated answer. */
export function joinUserPrompt(request: JoinRequest): string {
  const byId = new Map(request.results.map((r) => [r.subtaskId, r]));
  const lines = [`Task: ${request.task}`, "", "Results:"];
  for (const subtask of request.plan.subtasks) {
    const result = byId.get(subtask.id);
    lines.push(`- ${subtask.id} (${subtask.worker}): ${subtask.instruction}`);
    lines.push(`  answer: ${result === undefined ? "(none)" : JSON.stringify(result.answer)}`);
  }
  return lines.join("\n");
}

/** System prompt for doing a worker's subtask after the worker failed (escalation). */
export function solveSystemPrompt(request: EscalationRequest): string {
  const worker = request.worker;
  return [
    `You are standing in for the worker "${worker.name}" (${worker.description}), whose small model could not do this subtask.`,
    ...(worker.system === undefined ? [] : [worker.system]),
    describeSchema(worker.output),
    replyLine(replyShape(worker.output)),
  ].join("\n");
}

/** User prompt for escalation: the task, the subtask, its dependencies' answers and what went wrong. */
export function solveUserPrompt(request: EscalationRequest): string {
  const deps = Object.entries(request.dependencies);
  return [
    `Task: ${request.task}`,
    `Subtask ${request.subtask.id}: ${request.subtask.instruction}`,
    ...(deps.length === 0
      ? []
      : ["Answers of earlier subtasks:", ...deps.map(([id, a]) => `- ${id}: ${JSON.stringify(a)}`)]),
    "The worker's attempts failed with:",
    ...request.errors.map((e) => `- ${e}`),
  ].join("\n");
}

/**
 * Follow-up after a rejected reply (a plan, a final answer, an escalated answer): every problem, then what to
 * send instead.
 */
function repairPrompt(subject: "plan" | "answer", errors: readonly string[], reply: string): string {
  return [`Your ${subject} was rejected:`, ...errors.map((e) => `- ${e}`), reply].join("\n");
}

/** Follow-up after a rejected plan: the problems, then the plan shape again. */
export const planRepairPrompt = (errors: readonly string[]): string =>
  repairPrompt("plan", errors, replyLine(planShape()));

/** Follow-up after a final answer (or decision) that failed the reply schema: the shape that schema accepts. */
export const joinRepairPrompt = (errors: readonly string[], replySchema: JsonSchema): string =>
  repairPrompt("answer", errors, replyLine(joinShape(replySchema)));

/** Follow-up after an escalated answer that failed the worker's schema: the shape of that schema. */
export const solveRepairPrompt = (errors: readonly string[], output: JsonSchema): string =>
  repairPrompt("answer", errors, replyLine(replyShape(output)));

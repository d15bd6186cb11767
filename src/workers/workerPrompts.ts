/**
 * The prompts a local worker sends. The grammar forces the answer's shape, but the model never sees it, so the
 * system prompt describes the expected fields in words (and says how to use the tools, when there are any);
 * the user prompt carries the task, the instruction and the answers of the subtasks this one depends on; a
 * repair turn quotes the exact validation errors.
 */
import { describeSchema } from "../schema/describe.js";
import type { SubtaskRequest } from "../types.js";

/**
 * The system prompt: the worker's own instructions, then how to use its tools (when it has any; the tools
 * themselves are documented by the chat template, after this text), then the answer's fields and the
 * JSON-only rule. It depends on the worker alone, never on the subtask, so every subtask of a worker starts
 * with the same tokens and the evaluated prefix is reused.
 */
export function workerSystemPrompt(
  request: SubtaskRequest,
  options: { readonly hasTools?: boolean } = {},
): string {
  const parts: string[] = [];
  const own = request.worker.system?.trim();
  if (own) parts.push(own);
  if (options.hasTools === true) {
    parts.push(
      request.worker.toolChoice === "required"
        ? "Call at least one of the provided functions to get what you need, then give your answer."
        : "You may call the provided functions to get what you need before you answer; call one only when it helps.",
    );
  }
  parts.push(describeSchema(request.worker.output));
  parts.push("Answer with JSON only: one JSON value, no explanations, no code fences.");
  return parts.join("\n\n");
}

/** The user prompt: the overall task, this subtask's instruction, and its dependencies' answers as JSON. */
export function workerUserPrompt(request: SubtaskRequest): string {
  const parts = [`Overall task: ${request.task}`, `Your step: ${request.subtask.instruction}`];
  const dependencies = Object.entries(request.dependencies);
  if (dependencies.length > 0) {
    const answers = dependencies.map(([id, answer]) => `${id}: ${JSON.stringify(answer)}`).join("\n");
    parts.push(`Results of the earlier steps (JSON):\n${answers}`);
  }
  return parts.join("\n\n");
}

/** The repair turn after an invalid answer: every validation error, and the JSON-only rule again. */
export function repairPrompt(errors: readonly string[]): string {
  return [
    "Your answer is not valid:",
    ...errors.map((error) => `- ${error}`),
    "Reply again with the corrected JSON only.",
  ].join("\n");
}

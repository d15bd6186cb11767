/**
 * The shapes a planner model is asked to return. Two forms of one plan:
 * - `planReplySchema` (zod): what any chat model returns through structured output; loose on purpose, the
 *   validator (validatePlan.ts) checks the graph and explains every problem so the planner can fix it.
 * - `planGrammarSchema(...)` (JSON Schema): for a local model decoded under a grammar, a schema in which invalid
 *   plans are unrepresentable wherever JSON Schema can say it: ids are fixed by position (`s1`, `s2`, …),
 *   workers are an enum, and subtask *i* may only depend on subtasks before it — so every plan the grammar
 *   admits is already acyclic, with no dangling or unknown ids, and within `maxSubtasks`.
 */
import { z } from "zod";
import type { JsonSchema, WorkerSummary } from "../types.js";

/** Longest instruction accepted; bounded so that a weak model's string always closes. */
export const MAX_INSTRUCTION_LENGTH = 400;

export const subtaskReplySchema = z.object({
  id: z.string().min(1).describe("unique id, e.g. s1"),
  worker: z.string().min(1).describe("name of the worker that does this subtask"),
  instruction: z.string().min(1).max(MAX_INSTRUCTION_LENGTH).describe("what the worker must do"),
  dependsOn: z.array(z.string()).default([]).describe("ids of subtasks whose answers this one needs"),
});

/** A plan as a model returns it, before graph validation. */
export const planReplySchema = z.object({
  subtasks: z.array(subtaskReplySchema).min(1).describe("the subtasks, in an order that respects dependsOn"),
});

export type PlanReply = z.infer<typeof planReplySchema>;

/** The id of the subtask at a 0-based position, as the grammar form fixes it. */
export function positionalId(index: number): string {
  return `s${index + 1}`;
}

/**
 * The grammar-tight JSON Schema for a local planner. Grammar size grows with `maxSubtasks`² (each position
 * lists the ids before it), which stays small for the plans edgecrew targets (≤ 16 subtasks).
 */
export function planGrammarSchema(
  workers: readonly WorkerSummary[],
  maxSubtasks: number,
  maxInstructionLength: number = MAX_INSTRUCTION_LENGTH,
): JsonSchema {
  const names = workers.map((w) => w.name);
  const positions: JsonSchema[] = [];
  for (let i = 0; i < maxSubtasks; i++) {
    const earlier = Array.from({ length: i }, (_, j) => positionalId(j));
    positions.push({
      type: "object",
      properties: {
        id: { const: positionalId(i) },
        worker: { enum: names },
        instruction: { type: "string", minLength: 1, maxLength: maxInstructionLength },
        dependsOn:
          i === 0 ? { type: "array", maxItems: 0 } : { type: "array", items: { enum: earlier }, maxItems: i },
      },
      required: ["id", "worker", "instruction", "dependsOn"],
      additionalProperties: false,
    });
  }
  return {
    type: "object",
    properties: {
      subtasks: { type: "array", prefixItems: positions, minItems: 1, maxItems: maxSubtasks },
    },
    required: ["subtasks"],
    additionalProperties: false,
  };
}

/**
 * The longest instruction that still lets a plan of `maxSubtasks` close within `maxTokens` of output, given how
 * many characters the model's tokenizer packs into a token. A grammar guarantees a plan's shape only if
 * generation is not cut off first; a weak model may fill every string to its `maxLength`, so the lengths must
 * add up to less than the token budget. Clamped to [16, MAX_INSTRUCTION_LENGTH].
 */
export function instructionBudget(options: {
  readonly maxTokens: number;
  readonly maxSubtasks: number;
  readonly charsPerToken: number;
  readonly workers: readonly WorkerSummary[];
}): number {
  const longestWorker = Math.max(...options.workers.map((w) => w.name.length), 1);
  // {"id":"s12","worker":"…","instruction":"…","dependsOn":["s1",…]}, with some whitespace.
  const scaffoldChars = 64 + longestWorker + options.maxSubtasks * 6;
  const perSubtaskTokens = (options.maxTokens - 24) / options.maxSubtasks;
  const chars = Math.floor(perSubtaskTokens * options.charsPerToken - scaffoldChars);
  return Math.min(MAX_INSTRUCTION_LENGTH, Math.max(16, chars));
}

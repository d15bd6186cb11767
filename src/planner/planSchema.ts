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
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { compileGrammar } from "../schema/grammar/index.js";
import type { JsonSchema, WorkerSummary } from "../types.js";

/** Longest instruction accepted; bounded so that a weak model's string always closes. */
export const MAX_INSTRUCTION_LENGTH = 400;
/** The final answer's schema when the agent declares none. */
export const DEFAULT_ANSWER_SCHEMA: JsonSchema = { type: "string", minLength: 1, maxLength: 4000 };
/** The longest reason for a replan. */
const MAX_REPLAN_LENGTH = 400;

export const subtaskReplySchema = z.object({
  id: z.string().min(1).describe("unique id, e.g. s1"),
  worker: z.string().min(1).describe("name of the worker that does this subtask"),
  instruction: z.string().min(1).max(MAX_INSTRUCTION_LENGTH).describe("what the worker must do"),
  dependsOn: z.array(z.string()).default([]).describe("ids of subtasks whose answers this one needs"),
  tools: z
    .array(z.string().min(1))
    .optional()
    .describe("optional: names of its worker's tools this subtask needs; they are always offered to it"),
});

/** A plan as a model returns it, before graph validation. */
export const planReplySchema = z.object({
  subtasks: z.array(subtaskReplySchema).min(1).describe("the subtasks, in an order that respects dependsOn"),
});

export type PlanReply = z.infer<typeof planReplySchema>;

/** `planReplySchema` as JSON Schema (as it parses input: `dependsOn` may be left out), for the prompts' shape. */
export const planReplyJsonSchema = z.toJSONSchema(planReplySchema, { io: "input" }) as JsonSchema;

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

/** The shortest instruction a local planner may be held to; a budget that cannot afford it is refused. */
export const MIN_INSTRUCTION_LENGTH = 16;

/**
 * The longest `maxLength` in [min, max] for which `schemaFor(length)` compiles to a grammar whose longest output
 * fits `maxTokens` (binary search on the compiler's exact worst case: a token per character, escapes counted).
 * Throws TOKEN_BUDGET_EXCEEDED, with the tokens needed, when even `min` does not fit.
 */
export function longestFitting(
  schemaFor: (length: number) => JsonSchema,
  range: { readonly min: number; readonly max: number },
  maxTokens: number,
  what: string,
): number {
  const needed = (length: number) => compileGrammar(schemaFor(length)).maxTokens;
  const shortest = needed(range.min);
  if (shortest > maxTokens) {
    throw new EdgecrewError(
      ErrorCodes.TOKEN_BUDGET_EXCEEDED,
      `${what} needs up to ${shortest} tokens even with ${range.min}-character strings, more than maxTokens ${maxTokens}; raise the planner's maxTokens`,
      { context: { tokensNeeded: shortest, maxTokens } },
    );
  }
  let low = range.min;
  let high = range.max;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (needed(middle) <= maxTokens) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * The longest instruction that lets every plan the grammar admits — `maxSubtasks` subtasks, each instruction
 * at its longest, every character written as an escape — close within `maxTokens`. A grammar guarantees a plan's
 * shape only if generation is not cut off first, and the planner's prompt states the same limit, so the model
 * is never cut off mid-word either.
 */
export function instructionBudget(options: {
  readonly maxTokens: number;
  readonly maxSubtasks: number;
  readonly workers: readonly WorkerSummary[];
}): number {
  return longestFitting(
    (length) => planGrammarSchema(options.workers, options.maxSubtasks, length),
    { min: MIN_INSTRUCTION_LENGTH, max: MAX_INSTRUCTION_LENGTH },
    options.maxTokens,
    `a plan of ${options.maxSubtasks} subtasks`,
  );
}

/**
 * The joiner's reply schema: `{ answer }`, or — while replans are left — `{ decision: { answer } | { replan } }`
 * (a cloud model's structured output wants an object at the top, so the alternatives sit one level down).
 */
export function joinSchema(
  answerSchema: JsonSchema,
  allowReplan: boolean,
  replanLength = MAX_REPLAN_LENGTH,
): JsonSchema {
  const answer: JsonSchema = {
    type: "object",
    properties: { answer: answerSchema },
    required: ["answer"],
    additionalProperties: false,
  };
  if (!allowReplan) return answer;
  const replan: JsonSchema = {
    type: "object",
    properties: { replan: { type: "string", minLength: 1, maxLength: replanLength } },
    required: ["replan"],
    additionalProperties: false,
  };
  return {
    type: "object",
    properties: { decision: { oneOf: [answer, replan] } },
    required: ["decision"],
    additionalProperties: false,
  };
}

/**
 * The joiner's reply schema for a model with an output limit (`maxTokens`, for a grammar-constrained model):
 * the default answer and the replan reason get the longest lengths that let every reply close within it, and
 * the prompt states them. Without a limit, the plain {@link joinSchema}. Throws TOKEN_BUDGET_EXCEEDED when even
 * a declared answer schema at its shortest cannot fit.
 */
export function fittedJoinSchema(options: {
  readonly answerSchema: JsonSchema | undefined;
  readonly allowReplan: boolean;
  readonly maxTokens: number | undefined;
}): JsonSchema {
  const schemaFor = (length: number) =>
    joinSchema(
      options.answerSchema ?? { ...DEFAULT_ANSWER_SCHEMA, maxLength: length },
      options.allowReplan,
      Math.min(length, MAX_REPLAN_LENGTH),
    );
  const longest = DEFAULT_ANSWER_SCHEMA.maxLength as number;
  if (options.maxTokens === undefined) return schemaFor(longest);
  return schemaFor(
    longestFitting(schemaFor, { min: 16, max: longest }, options.maxTokens, "the final answer"),
  );
}

/**
 * What a grammar-constrained (local) planner cannot do within `maxTokens`: write a plan of `maxSubtasks`
 * subtasks, or a final answer. Empty when both fit; `validate` reports these before any run.
 */
export function plannerBudgetProblems(options: {
  readonly workers: readonly WorkerSummary[];
  readonly maxSubtasks: number;
  readonly maxTokens: number;
  readonly answerSchema: JsonSchema | undefined;
  readonly allowReplan: boolean;
}): string[] {
  const problems: string[] = [];
  for (const attempt of [() => instructionBudget(options), () => fittedJoinSchema(options)]) {
    try {
      attempt();
    } catch (error) {
      if (!(error instanceof EdgecrewError) || error.code !== ErrorCodes.TOKEN_BUDGET_EXCEEDED) throw error;
      problems.push(error.message);
    }
  }
  return problems;
}

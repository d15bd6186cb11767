/**
 * The `calculator` built-in. Small models are bad at arithmetic and good at writing it down, so this tool
 * evaluates what they write. It uses edgecrew's own evaluator rather than LangChain's `Calculator`: that one
 * reads `1e3` as 1·e·3 ≈ 8.15, accepts `(1` as 1, and reports failures as a sentence in its result string,
 * each of which would hand a model a wrong number with a straight face.
 */
import { z } from "zod";
import { defineTool, type Tool } from "../defineTool.js";
import {
  EXPRESSION_CONSTANTS,
  EXPRESSION_FUNCTIONS,
  evaluateExpression,
  MAX_EXPRESSION_LENGTH,
  parseExpression,
} from "./expression.js";

export { MAX_EXPRESSION_LENGTH };

const calculatorInput = z.object({
  expression: z
    .string()
    .min(1)
    .max(MAX_EXPRESSION_LENGTH)
    .describe("An arithmetic expression, e.g. 2 * (3 + 4) or sqrt(2) ^ 2")
    // A syntax error is the model's mistake in the arguments, so it is reported as invalid input before the
    // tool runs; evaluation errors (division by zero) are reported by the run. zod runs this refinement even
    // when `max` has failed, so an over-long text is left to `max` here and never parsed.
    .superRefine((text, ctx) => {
      if (text.length > MAX_EXPRESSION_LENGTH) return;
      try {
        parseExpression(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
      }
    }),
});

const calculatorOutput = z.object({ result: z.number() });

/**
 * Creates the calculator tool: `{ expression }` → `{ result }`; `approve: true` makes every call wait for a
 * human's approval. Supports `+ - * / % ^ **`, parentheses,
 * scientific notation, the constants pi, e and tau, and common functions (sqrt, ln, log, sin, min, …).
 *
 * @example
 * const registry = new ToolRegistry().register(createCalculatorTool());
 * await registry.call("calculator", { expression: "2 * (3 + 4)" }, context); // { ok: true, output: { result: 14 } }
 */
export function createCalculatorTool(
  options: { readonly approve?: boolean } = {},
): Tool<z.output<typeof calculatorInput>, z.output<typeof calculatorOutput>> {
  return defineTool({
    name: "calculator",
    description:
      "Evaluates an arithmetic expression exactly and returns { result }. Use it for any calculation instead of " +
      `doing arithmetic yourself. Operators: + - * / % ^ and parentheses. Constants: ${EXPRESSION_CONSTANTS.join(", ")}. ` +
      `Functions: ${EXPRESSION_FUNCTIONS.join(", ")} (angles in radians; log is base 10, ln is natural).`,
    input: calculatorInput,
    output: calculatorOutput,
    idempotent: true,
    approve: options.approve ?? false,
    run: async ({ expression }) => ({ result: evaluateExpression(expression) }),
  });
}

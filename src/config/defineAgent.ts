/**
 * Validation of an agent definition given as a plain value, shared by `defineAgent` (objects in code) and the
 * YAML loader: the zod schema, then the cross-field checks, and only when both are clean, the build. Every
 * problem is collected before anything is thrown, so a user fixes a file in one pass, not one error per run.
 */
import { resolve } from "node:path";
import { AgentDefinitionError, type DefinitionIssue } from "../errors.js";
import type { AgentDefinition } from "../types.js";
import { type AgentInput, agentInputSchema } from "./agentSchema.js";
import { buildAgentDefinition } from "./buildDefinition.js";
import { crossCheckAgent } from "./crossChecks.js";
import { formatIssuePath, type RawIssue } from "./issues.js";
import { agentErrorMap, translateZodIssues } from "./zodIssues.js";

/** The outcome of validating a value: the definition, or every problem found (located by path only). */
export type AgentValidation =
  | { readonly ok: true; readonly agent: AgentDefinition }
  | { readonly ok: false; readonly issues: readonly RawIssue[] };

/**
 * Validates any value as an agent definition without throwing. `baseDir` is where relative paths resolve;
 * `source` is recorded on the definition. Used by the YAML loader, which then places each issue in its file.
 */
export function validateAgentValue(
  value: unknown,
  context: { baseDir: string; source?: string; providedTools?: readonly string[] },
): AgentValidation {
  const parsed = agentInputSchema.safeParse(value, { error: agentErrorMap, reportInput: true });
  const issues = [
    ...(parsed.success ? [] : translateZodIssues(parsed.error.issues, agentInputSchema)),
    ...crossCheckAgent(value, context.baseDir, context.providedTools),
  ];
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    agent: buildAgentDefinition(parsed.data, {
      baseDir: context.baseDir,
      ...(context.source === undefined ? {} : { source: context.source }),
    }),
  };
}

/** Options of {@link defineAgent}. */
export interface DefineAgentOptions {
  /** Directory relative model and tool paths resolve against; default: the current working directory. */
  readonly baseDir?: string;
  /** Names of tools supplied in code (createCrew's `tools`), which workers may grant without declaring them. */
  readonly tools?: readonly string[];
}

/**
 * Validates an agent definition written in code (the same shape as the YAML) and returns the AgentDefinition
 * with every default applied. Throws one AgentDefinitionError listing every problem, each with its dotted path
 * (`workers[1].model`); there are no line numbers, as there is no file.
 *
 * @example
 * const agent = defineAgent({
 *   name: "trip-planner",
 *   description: "Plans trips",
 *   planner: { model: "openai:gpt-4o-mini" },
 *   workers: [{ name: "researcher", description: "Finds facts", model: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M" }],
 * });
 * agent.workers[0].maxTokens; // 512
 */
export function defineAgent(definition: AgentInput, options: DefineAgentOptions = {}): AgentDefinition {
  const result = validateAgentValue(definition, {
    baseDir: resolve(options.baseDir ?? process.cwd()),
    ...(options.tools === undefined ? {} : { providedTools: options.tools }),
  });
  if (result.ok) return result.agent;
  const issues: DefinitionIssue[] = result.issues.map((issue) => ({
    path: formatIssuePath(issue.path),
    message: issue.message,
  }));
  throw new AgentDefinitionError(issues);
}

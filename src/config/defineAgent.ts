/**
 * Validation of an agent definition given as a plain value, shared by `defineAgent` (objects in code) and the
 * YAML loader: the zod schema, then the cross-field checks, and only when both are clean, the build. Every
 * problem is collected before anything is thrown, so a user fixes a file in one pass, not one error per run.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { AgentDefinitionError, type DefinitionIssue } from "../errors.js";
import { ZOD4_REQUIRED, zodMajorOf } from "../tools/defineTool.js";
import { type ProvidedTool, toolNames } from "../tools/fromLangChainTool.js";
import type { AgentDefinition, AnyWorkerAnswers, JsonValue } from "../types.js";
import { type AgentInput, agentInputSchema } from "./agentSchema.js";
import { buildAgentDefinition } from "./buildDefinition.js";
import { crossCheckAgent } from "./crossChecks.js";
import { formatIssuePath, type PathSegment, type RawIssue, valueIssue } from "./issues.js";
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

/** A worker of {@link DefineAgentInput}: as in YAML, and its `output` may also be a zod 4 schema. */
export type DefineWorkerInput = Omit<AgentInput["workers"][number], "output"> & {
  /** JSON Schema (type: object) or zod 4 object schema of the worker's answer; default `{ answer: string }`. */
  readonly output?: AgentInput["workers"][number]["output"] | z.ZodType;
};

/**
 * What {@link defineAgent} accepts: the YAML shape (optional keys optional), where worker `output`s and the
 * final `answer` may be zod 4 schemas as well as JSON Schemas. A zod schema is exported to JSON Schema (its
 * output side); the result types follow it (see {@link AgentDefinition}).
 */
export type DefineAgentInput = Omit<AgentInput, "workers" | "answer"> & {
  readonly workers: readonly DefineWorkerInput[];
  /** JSON Schema (type: object) or zod 4 object schema of the final answer; a bounded string when absent. */
  readonly answer?: AgentInput["answer"] | z.ZodType;
};

/**
 * The type a schema given to defineAgent validates to: a zod schema's output type, or any JSON for a JSON Schema
 * (and for a zod schema whose type is not known more precisely than `z.ZodType`).
 */
export type SchemaOutput<S> = S extends z.ZodType
  ? unknown extends z.output<S>
    ? JsonValue
    : z.output<S>
  : JsonValue;

/**
 * The type of an optional schema key `K` of `T`: the schema's output when it is given, `absent` when the key is
 * missing, either when the key is optional in `T` (a definition typed as a whole rather than written out).
 */
type OptionalSchemaOutput<T, K extends string, Absent> = K extends keyof T
  ? T extends { readonly [P in K]: infer S }
    ? SchemaOutput<S>
    : SchemaOutput<Exclude<T[K], undefined>> | Absent
  : Absent;

/** The final answer type of a definition: its zod `answer`'s output, any JSON, or a string when absent. */
export type AnswerOf<D> = OptionalSchemaOutput<D, "answer", string>;

/** The answer type of one worker input: its zod `output`'s output, any JSON, or the default `{ answer: string }`. */
export type WorkerAnswerOf<W> = OptionalSchemaOutput<W, "output", { answer: string }>;

/** Each worker's answer type by worker name, for a definition whose worker names are literal types. */
export type WorkerAnswersOf<D> = D extends { readonly workers: readonly (infer W)[] }
  ? { [K in W as K extends { readonly name: infer N extends string } ? N : never]: WorkerAnswerOf<K> }
  : AnyWorkerAnswers;

/**
 * Replaces each zod schema (worker outputs, the final answer) by its JSON Schema, so that the rest of validation
 * sees the YAML shape. A schema that cannot be exported (a transform, a date) or is a zod 3 one becomes an issue
 * at its path, and the field is dropped so that it is not reported a second time as "not a mapping".
 */
function exportZodSchemas(value: unknown): { value: unknown; issues: RawIssue[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { value, issues: [] };
  const issues: RawIssue[] = [];
  const convert = (schema: unknown, path: PathSegment[]): { keep: boolean; schema?: unknown } => {
    const major = zodMajorOf(schema);
    if (major === undefined) return { keep: true, schema };
    if (major === 3) {
      issues.push(valueIssue(path, `this is a zod 3 schema; ${ZOD4_REQUIRED}`));
      return { keep: false };
    }
    try {
      const { $schema: _ignored, ...exported } = z.toJSONSchema(schema as z.ZodType, {
        io: "output",
      }) as Record<string, unknown>;
      return { keep: true, schema: exported };
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      issues.push(
        valueIssue(
          path,
          `the zod schema cannot be expressed as JSON Schema (${reason}); use JSON-compatible zod types`,
        ),
      );
      return { keep: false };
    }
  };
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = { ...record };
  if (Array.isArray(record.workers)) {
    out.workers = record.workers.map((worker: unknown, index) => {
      if (typeof worker !== "object" || worker === null || !("output" in worker)) return worker;
      const { output, ...rest } = worker as Record<string, unknown>;
      const converted = convert(output, ["workers", index, "output"]);
      return converted.keep ? { ...rest, output: converted.schema } : rest;
    });
  }
  if ("answer" in record) {
    const converted = convert(record.answer, ["answer"]);
    if (converted.keep) out.answer = converted.schema;
    else delete out.answer;
  }
  return { value: out, issues };
}

/** Options of {@link defineAgent}. */
export interface DefineAgentOptions {
  /** Directory relative model and tool paths resolve against; default: the current working directory. */
  readonly baseDir?: string;
  /**
   * Tools supplied in code (what createCrew's `tools` will get), or their names: workers may grant them without
   * a declaration under `tools:`. Tools from `defineTool`, LangChain tools, and names may be mixed.
   */
  readonly tools?: readonly ProvidedTool[];
}

/**
 * Validates an agent definition written in code (the same shape as the YAML) and returns the AgentDefinition
 * with every default applied. Throws one AgentDefinitionError listing every problem, each with its dotted path
 * (`workers[1].model`); there are no line numbers, as there is no file.
 *
 * Worker `output`s and the final `answer` may be zod 4 object schemas: each is exported to JSON Schema (the
 * grammar and the validator work on that; refinements JSON Schema cannot say are not checked), and the types
 * follow: `createCrew(agent).run(task).result` is a `RunResult` whose completed `answer` is the answer schema's
 * output type, and whose `results` narrow by `worker` to that worker's output type. Without an `answer`, the
 * final answer is a string; without an `output`, a worker answers `{ answer: string }`.
 *
 * @example
 * const agent = defineAgent({
 *   name: "facts",
 *   description: "Finds a city's facts",
 *   planner: { model: "openai:gpt-4o-mini" },
 *   workers: [{ name: "researcher", description: "Finds facts", model: "fixture:w",
 *               output: z.object({ city: z.string(), population: z.number() }) }],
 *   answer: z.object({ summary: z.string() }),
 * });
 * const result = await (await createCrew(agent)).run("Lisbon").result;
 * if (result.status === "completed") result.answer.summary; // string
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
export function defineAgent<const D extends DefineAgentInput>(
  definition: D,
  options: DefineAgentOptions = {},
): AgentDefinition<AnswerOf<D>, WorkerAnswersOf<D>> {
  const exported = exportZodSchemas(definition);
  const result = validateAgentValue(exported.value, {
    baseDir: resolve(options.baseDir ?? process.cwd()),
    ...(options.tools === undefined ? {} : { providedTools: toolNames(options.tools) }),
  });
  if (result.ok && exported.issues.length === 0) {
    // The types are the schemas' own: the answers are validated against the JSON Schemas exported from them.
    return result.agent as AgentDefinition<AnswerOf<D>, WorkerAnswersOf<D>>;
  }
  const issues: DefinitionIssue[] = [...exported.issues, ...(result.ok ? [] : result.issues)].map(
    (issue) => ({
      path: formatIssuePath(issue.path),
      message: issue.message,
    }),
  );
  throw new AgentDefinitionError(issues);
}

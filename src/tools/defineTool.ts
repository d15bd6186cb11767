/**
 * The {@link Tool} contract and `defineTool`, the way to write one. A tool's zod input schema plays two parts:
 * exported as JSON Schema it becomes `ToolSpec.input`, from which the workers layer builds the grammar of the
 * call; and it validates the decoded arguments again before `run`, because a grammar cannot express every rule.
 */
import { z } from "zod";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { formatZodIssues, type ValidationResult } from "../schema/compile.js";
import type { JsonSchema, JsonValue, ToolCallContext, ToolSpec } from "../types.js";
import { toJsonValue } from "./jsonValue.js";

/** What a tool name must look like: a letter, then letters, digits, `_`, `.` or `-`. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z][\w.-]*$/;

/**
 * A runnable tool: its spec (what models and the planner see), how to check its arguments and output, and
 * the function that does the work. Registries run tools; user code normally creates them with
 * {@link defineTool} or {@link fromLangChainTool} rather than by hand.
 */
export interface Tool<Args = unknown, Output extends JsonValue = JsonValue> {
  readonly spec: ToolSpec;
  /** This tool's call timeout, overriding the registry's default (built-ins use their configured timeout). */
  readonly timeoutMs?: number;
  /** This tool's output size cap in JSON bytes, overriding the registry's default. */
  readonly maxOutputBytes?: number;
  /** Checks raw arguments from a model; never throws. Errors are `path: message` strings. */
  parseArgs(args: unknown): ValidationResult<Args>;
  /** Checks what `run` returned: JSON, and valid against the output schema when the tool has one. */
  parseOutput(output: unknown): ValidationResult<Output>;
  /**
   * Does the work with already-validated arguments. `context.signal` is aborted when the call times out or the
   * run is cancelled; a tool that holds resources (a process, a socket) must stop when it fires.
   */
  run(args: Args, context: ToolCallContext): Promise<Output>;
}

/** Everything `defineTool` needs; only `name`, `description`, `input` and `run` are required. */
export interface ToolDefinition<Input extends z.ZodType, Output extends JsonValue> {
  /** Unique in a registry; matches {@link TOOL_NAME_PATTERN}. A dot namespaces a family (`fs.read`). */
  readonly name: string;
  /** What the tool does, for the planner and the worker models: say when to use it and what it returns. */
  readonly description: string;
  /** Zod schema of the arguments; must describe an object (`z.object({...})`). */
  readonly input: Input;
  /** Zod schema of the output; when given, an output that does not match makes the call `failed`. */
  readonly output?: z.ZodType<Output>;
  /** Safe to run twice with the same arguments (default false). */
  readonly idempotent?: boolean;
  /** Needs a human's approval before every call (default false). */
  readonly approve?: boolean;
  /**
   * Its results are private data (default false): the answers of a worker granted it are private, and never
   * reach a remote planner as they are (see the agent's `privacy:`).
   */
  readonly private?: boolean;
  /** Call timeout in ms for this tool, overriding the registry's default. */
  readonly timeoutMs?: number;
  /** Output cap in JSON bytes for this tool, overriding the registry's default. */
  readonly maxOutputBytes?: number;
  readonly run: (args: z.output<Input>, context: ToolCallContext) => Promise<Output>;
}

/**
 * Throws TOOL_INVALID unless `name` is a valid tool name. Exported so that adapters (LangChain, MCP) apply the
 * same rule to names they did not choose.
 */
export function assertToolName(name: string): void {
  if (!TOOL_NAME_PATTERN.test(name)) {
    throw new EdgecrewError(
      ErrorCodes.TOOL_INVALID,
      `invalid tool name ${JSON.stringify(name)}: it must start with a letter and contain only letters, digits, _, . and -`,
      { context: { tool: name } },
    );
  }
}

/** Throws TOOL_INVALID unless a limit is a positive finite number. */
export function assertPositiveLimit(name: string, what: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new EdgecrewError(ErrorCodes.TOOL_INVALID, `tool \`${name}\`: ${what} must be a positive number`, {
      context: { tool: name, [what]: value },
    });
  }
}

/**
 * Checks that an argument schema describes an object: tool calls are function calls with named arguments,
 * and the workers layer builds an object grammar for them.
 */
export function assertObjectSchema(name: string, schema: JsonSchema): void {
  if (schema.type !== "object") {
    throw new EdgecrewError(
      ErrorCodes.TOOL_INVALID,
      `tool \`${name}\`: its input schema must describe an object (type: "object"), got ${JSON.stringify(schema.type ?? null)}`,
      { context: { tool: name } },
    );
  }
}

/**
 * Which zod a value is a schema of: 4 for zod 4 (classic or mini, also `zod/v4` of zod 3.25), 3 for zod 3 (or
 * `zod/v3`), undefined for anything else. Checked by shape, so a schema from another copy of zod still counts.
 */
export function zodMajorOf(value: unknown): 3 | 4 | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const internals: unknown = (value as { _zod?: unknown })._zod;
  if (typeof internals === "object" && internals !== null && "def" in internals) return 4;
  const def: unknown = (value as { _def?: unknown })._def;
  if (typeof def === "object" && def !== null && "typeName" in def) return 3;
  return undefined;
}

/** What to do about a zod 3 schema: said the same way by defineTool and defineAgent. */
export const ZOD4_REQUIRED =
  'edgecrew needs zod 4 schemas (`import { z } from "zod"` with zod 4, or `import { z } from "zod/v4"` with zod 3.25)';

/** Throws TOOL_INVALID unless `schema` is a zod 4 schema, saying so plainly for a zod 3 one. */
function assertZod4(name: string, what: "input" | "output", schema: unknown): void {
  const major = zodMajorOf(schema);
  if (major === 4) return;
  const message =
    major === 3
      ? `tool \`${name}\`: its ${what} schema is a zod 3 schema; ${ZOD4_REQUIRED}`
      : `tool \`${name}\`: its ${what} must be a zod 4 schema${what === "input" ? " (z.object({ ... }))" : ""}, got ${schema === null ? "null" : Array.isArray(schema) ? "an array" : typeof schema}`;
  throw new EdgecrewError(ErrorCodes.TOOL_INVALID, message, { context: { tool: name, zod: major ?? null } });
}

/**
 * The JSON Schema a model must follow when it writes the arguments, i.e. the zod schema's *input* side (a
 * field with a default is optional there). The `$schema` marker is dropped: specs are embedded in prompts and
 * grammars, where it is noise.
 */
function inputJsonSchema(name: string, input: z.ZodType): JsonSchema {
  let exported: Record<string, unknown>;
  try {
    exported = z.toJSONSchema(input, { io: "input" }) as Record<string, unknown>;
  } catch (cause) {
    throw new EdgecrewError(
      ErrorCodes.TOOL_INVALID,
      `tool \`${name}\`: its input schema cannot be expressed as JSON Schema (${cause instanceof Error ? cause.message : String(cause)}); use JSON-compatible zod types`,
      { cause, context: { tool: name } },
    );
  }
  const { $schema: _ignored, ...schema } = exported;
  const checked = toJsonValue(schema);
  if (
    !checked.ok ||
    typeof checked.value !== "object" ||
    checked.value === null ||
    Array.isArray(checked.value)
  ) {
    throw new EdgecrewError(ErrorCodes.TOOL_INVALID, `tool \`${name}\`: its input schema is not plain JSON`, {
      context: { tool: name },
    });
  }
  return checked.value;
}

/**
 * Checks a tool's output: JSON first (always), then the tool's own schema when it has one. Shared by every
 * kind of tool so that "output must be JSON" means the same thing everywhere.
 */
export function checkOutput<Output extends JsonValue>(
  output: unknown,
  schema: z.ZodType<Output> | undefined,
): ValidationResult<Output> {
  const json = toJsonValue(output);
  if (!json.ok) return { ok: false, errors: [json.error] };
  if (schema === undefined) return { ok: true, value: json.value as Output };
  const parsed = z.safeParse(schema, json.value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, errors: formatZodIssues(parsed.error.issues) };
}

/**
 * Defines a tool from zod 4 schemas and an async function. Throws TOOL_INVALID for a bad name, a schema that is
 * not a zod 4 one (a zod 3 schema is named as such), an input schema that is not an object or cannot be exported
 * to JSON Schema, or a non-positive limit. The returned tool is
 * frozen; register it in a {@link ToolRegistry} to make it callable by workers.
 *
 * @example
 * const weather = defineTool({
 *   name: "weather",
 *   description: "Current temperature in a city, in °C.",
 *   input: z.object({ city: z.string().min(1) }),
 *   output: z.object({ celsius: z.number() }),
 *   idempotent: true,
 *   run: async ({ city }, { signal }) => ({ celsius: await lookUp(city, signal) }),
 * });
 */
export function defineTool<Input extends z.ZodType, Output extends JsonValue = JsonValue>(
  definition: ToolDefinition<Input, Output>,
): Tool<z.output<Input>, Output> {
  const { name, input, output, run } = definition;
  assertToolName(name);
  if (typeof definition.description !== "string" || definition.description.trim() === "") {
    throw new EdgecrewError(ErrorCodes.TOOL_INVALID, `tool \`${name}\` needs a description`, {
      context: { tool: name },
    });
  }
  assertPositiveLimit(name, "timeoutMs", definition.timeoutMs);
  assertPositiveLimit(name, "maxOutputBytes", definition.maxOutputBytes);
  assertZod4(name, "input", input);
  if (output !== undefined) assertZod4(name, "output", output);
  const inputSchema = inputJsonSchema(name, input);
  assertObjectSchema(name, inputSchema);

  const spec: ToolSpec = Object.freeze({
    name,
    description: definition.description,
    input: inputSchema,
    idempotent: definition.idempotent ?? false,
    approve: definition.approve ?? false,
    ...(definition.private === true ? { private: true } : {}),
  });
  const tool: Tool<z.output<Input>, Output> = {
    spec,
    ...(definition.timeoutMs !== undefined ? { timeoutMs: definition.timeoutMs } : {}),
    ...(definition.maxOutputBytes !== undefined ? { maxOutputBytes: definition.maxOutputBytes } : {}),
    parseArgs(args) {
      const parsed = z.safeParse(input, args);
      return parsed.success
        ? { ok: true, value: parsed.data as z.output<Input> }
        : { ok: false, errors: formatZodIssues(parsed.error.issues) };
    },
    parseOutput: (value) => checkOutput(value, output),
    run: (args, context) => run(args, context),
  };
  return Object.freeze(tool);
}

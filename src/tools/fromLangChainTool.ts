/**
 * Adapts a LangChain tool (`tool()` from `@langchain/core/tools`, a `StructuredTool`, or a classic string
 * `Tool` such as the community ones) to an edgecrew {@link Tool}, so that the large LangChain tool catalogue can
 * be granted to workers. LangChain is only a type here, plus a lazy load of its schema converter for the one
 * case edgecrew cannot convert itself (zod 3 schemas), so importing edgecrew still does not load LangChain.
 */
import { createRequire } from "node:module";
import type { StructuredToolInterface } from "@langchain/core/tools";
import { z } from "zod";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { compileSchema, formatZodIssues, type ValidationResult } from "../schema/compile.js";
import type { JsonSchema, JsonValue, ToolCallContext, ToolSpec } from "../types.js";
import {
  assertObjectSchema,
  assertPositiveLimit,
  assertToolName,
  checkOutput,
  type Tool,
} from "./defineTool.js";
import { toJsonValue } from "./jsonValue.js";

/** What the adapter needs of a LangChain tool: any `StructuredToolInterface` (tool(), StructuredTool, Tool). */
export type LangChainTool = StructuredToolInterface;

/** Settings LangChain tools do not carry, and a rename for names edgecrew does not accept. */
export interface FromLangChainToolOptions {
  /** The name in edgecrew (default: the tool's own name, which must then match TOOL_NAME_PATTERN). */
  readonly name?: string;
  /** Safe to run twice with the same arguments (default false: LangChain tools may have side effects). */
  readonly idempotent?: boolean;
  /** Needs a human's approval before every call (default false). */
  readonly approve?: boolean;
  readonly timeoutMs?: number;
  readonly maxOutputBytes?: number;
}

type ArgsValidator = (args: unknown) => ValidationResult<unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isZod4(schema: unknown): schema is z.ZodType {
  return isRecord(schema) && isRecord(schema._zod) && "def" in schema._zod;
}

function isZod3(schema: unknown): boolean {
  return isRecord(schema) && !("_zod" in schema) && isRecord(schema._def) && "typeName" in schema._def;
}

function invalid(name: string, message: string, cause?: unknown): EdgecrewError {
  return new EdgecrewError(ErrorCodes.TOOL_INVALID, `LangChain tool \`${name}\`: ${message}`, {
    cause,
    context: { tool: name },
  });
}

// Zod 3 schemas (LangChain's own classic `Tool` uses one) need LangChain's converter. It is loaded on first
// use only, through `require` so that this adapter can stay synchronous.
function zod3ToJsonSchema(name: string, schema: unknown): unknown {
  try {
    const load = createRequire(import.meta.url);
    const converter = load(
      "@langchain/core/utils/json_schema",
    ) as typeof import("@langchain/core/utils/json_schema");
    return converter.toJsonSchema(schema as Parameters<typeof converter.toJsonSchema>[0]);
  } catch (cause) {
    throw invalid(name, "its zod 3 schema could not be converted to JSON Schema", cause);
  }
}

function toObjectSchema(name: string, value: unknown): JsonSchema {
  const checked = toJsonValue(value);
  if (!checked.ok || !isRecord(checked.value)) throw invalid(name, "its schema is not a JSON Schema object");
  const { $schema: _ignored, ...schema } = checked.value as { [key: string]: JsonValue };
  assertObjectSchema(name, schema);
  return schema;
}

/**
 * The tool's argument schema as JSON Schema, and the validator edgecrew runs before invoking it. A valid call
 * passes the model's arguments on unchanged: LangChain parses them again inside `invoke`, and parsing twice
 * would apply transforms twice.
 */
function describeArgs(name: string, schema: unknown): { input: JsonSchema; validate: ArgsValidator } {
  if (isZod4(schema)) {
    let exported: unknown;
    try {
      exported = z.toJSONSchema(schema, { io: "input" });
    } catch (cause) {
      throw invalid(name, "its zod schema cannot be expressed as JSON Schema", cause);
    }
    const input = toObjectSchema(name, exported);
    return {
      input,
      validate: (args) => {
        const parsed = z.safeParse(schema, args);
        return parsed.success
          ? { ok: true, value: args }
          : { ok: false, errors: formatZodIssues(parsed.error.issues) };
      },
    };
  }
  // Zod 3 and plain JSON Schema both end up as JSON Schema, checked by edgecrew's one JSON Schema validator.
  // LangChain validates again inside `invoke`, with the original schema.
  const input = toObjectSchema(name, isZod3(schema) ? zod3ToJsonSchema(name, schema) : schema);
  let compiled: ReturnType<typeof compileSchema>;
  try {
    compiled = compileSchema(input);
  } catch (cause) {
    throw invalid(name, "its JSON Schema cannot be used for validation", cause);
  }
  return {
    input,
    validate: (args) => {
      const checked = compiled.validate(args);
      return checked.ok ? { ok: true, value: args } : checked;
    },
  };
}

/**
 * What a LangChain tool returned, as JSON: a string that holds JSON is parsed, any other string becomes
 * `{ output }`; a ToolMessage contributes its content; other values must already be JSON.
 */
export function langChainOutputToJson(value: unknown): JsonValue {
  if (typeof value === "string") {
    try {
      const parsed: unknown = JSON.parse(value);
      const checked = toJsonValue(parsed);
      if (checked.ok) return checked.value;
    } catch {
      // not JSON: plain text output
    }
    return { output: value };
  }
  // A ToolMessage (returned by tools that build their own) is a class instance; its content is what matters.
  if (isRecord(value) && !isPlainObject(value) && "content" in value)
    return langChainOutputToJson(value.content);
  const checked = toJsonValue(value);
  if (!checked.ok)
    throw new Error(`the LangChain tool returned something that is not JSON (${checked.error})`);
  return checked.value;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Wraps a LangChain tool as an edgecrew tool. Its schema may be zod 4, zod 3 or JSON Schema, and must describe
 * an object; its output is mapped by {@link langChainOutputToJson}. The call's signal is passed to `invoke`.
 * Throws TOOL_INVALID for an unusable name or schema.
 *
 * @example
 * import { tool } from "@langchain/core/tools";
 * const add = tool(async ({ a, b }) => String(a + b), {
 *   name: "add", description: "Adds two numbers", schema: z.object({ a: z.number(), b: z.number() }),
 * });
 * registry.register(fromLangChainTool(add, { idempotent: true })); // add({ a: 1, b: 2 }) → 3
 */
export function fromLangChainTool(tool: LangChainTool, options: FromLangChainToolOptions = {}): Tool {
  const name = options.name ?? tool.name;
  assertToolName(name);
  assertPositiveLimit(name, "timeoutMs", options.timeoutMs);
  assertPositiveLimit(name, "maxOutputBytes", options.maxOutputBytes);
  const { input, validate } = describeArgs(name, tool.schema);
  const spec: ToolSpec = Object.freeze({
    name,
    description: tool.description || `The LangChain tool ${tool.name}.`,
    input,
    idempotent: options.idempotent ?? false,
    approve: options.approve ?? false,
  });
  // `invoke` is generic over LangChain's schema types; the arguments were validated above, so call it plainly.
  const invoke = tool.invoke.bind(tool) as (
    input: unknown,
    config: { signal: AbortSignal },
  ) => Promise<unknown>;
  const adapted: Tool = {
    spec,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
    parseArgs: validate,
    parseOutput: (value) => checkOutput(value, undefined),
    run: async (args: unknown, context: ToolCallContext) =>
      langChainOutputToJson(await invoke(args, { signal: context.signal })),
  };
  return Object.freeze(adapted);
}

/**
 * A tool as code may hand it to edgecrew (createCrew's `tools`, `loadAgent`'s `tools`, a `--tools` module): an
 * edgecrew {@link Tool} (`defineTool`, `fromLangChainTool`) or a LangChain tool (`tool()`, a `StructuredTool`, a
 * `DynamicStructuredTool`, a classic `Tool`), converted with {@link fromLangChainTool}'s defaults.
 */
export type AnyTool = Tool | LangChainTool;

/** A tool supplied in code, or only its name (where only names matter: declaring it to the YAML loader). */
export type ProvidedTool = AnyTool | string;

/** True for an edgecrew tool: a `spec` with a name, and `run`. Checked by shape, like the error guards. */
export function isEdgecrewTool(value: unknown): value is Tool {
  return (
    isRecord(value) &&
    isRecord(value.spec) &&
    typeof value.spec.name === "string" &&
    typeof value.run === "function" &&
    typeof value.parseArgs === "function"
  );
}

/** True for a LangChain tool: a name, a schema and `invoke` (what {@link fromLangChainTool} needs). */
export function isLangChainTool(value: unknown): value is LangChainTool {
  return (
    isRecord(value) &&
    typeof value.name === "string" &&
    "schema" in value &&
    typeof (value as { invoke?: unknown }).invoke === "function"
  );
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "object") return `a ${typeof value}`;
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof ctor === "string" && ctor !== "Object" ? `a ${ctor}` : "an object";
}

/**
 * The edgecrew tool for an edgecrew or LangChain tool (a LangChain one is adapted by {@link fromLangChainTool}).
 * Throws TOOL_INVALID, saying what it got, for anything else. `where` names the value in the message.
 */
export function toTool(value: AnyTool, where = "a tool"): Tool {
  if (isEdgecrewTool(value)) return value;
  if (isLangChainTool(value)) return fromLangChainTool(value);
  throw new EdgecrewError(
    ErrorCodes.TOOL_INVALID,
    `${where} is ${describeValue(value)}, not a tool: expected a defineTool() result or a LangChain tool (tool(), StructuredTool, DynamicStructuredTool)`,
    { context: { got: describeValue(value) } },
  );
}

/** The names of tools supplied in code (a string is a name already); what the YAML loader needs to know. */
export function toolNames(tools: readonly ProvidedTool[]): string[] {
  return tools.map((tool, index) => {
    if (typeof tool === "string") return tool;
    if (isLangChainTool(tool) && !isEdgecrewTool(tool)) return tool.name;
    return toTool(tool, `tools[${index}]`).spec.name;
  });
}

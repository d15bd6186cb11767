/**
 * One validator for every JSON Schema edgecrew meets (worker answers, the final answer, tool inputs): the schema
 * is compiled once into zod with `z.fromJSONSchema`, and every value is checked by it after decoding. Grammar
 * constrains generation; this is the check that always runs afterwards, whatever the grammar could express.
 */
import { z } from "zod";
import { EdgecrewError, ErrorCodes, ValidationError } from "../errors.js";
import type { JsonSchema, JsonValue } from "../types.js";

/** The outcome of validating one value: the (parsed) value, or `path: message` strings for every problem. */
export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly string[] };

/** A JSON Schema compiled for repeated validation. */
export interface CompiledSchema<T = JsonValue> {
  readonly jsonSchema: JsonSchema;
  /** Checks a value; never throws. */
  validate(value: unknown): ValidationResult<T>;
  /** Checks a value; throws a ValidationError listing every problem. */
  parse(value: unknown): T;
}

/** Formats zod issues as `path: message` lines (`(root)` for the value itself), one per issue. */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

/** Renders a path like `items[2].name`; `(root)` for the empty path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

const cache = new WeakMap<JsonSchema, CompiledSchema>();

/**
 * Compiles a JSON Schema into a reusable validator. Throws an EdgecrewError with code SCHEMA_INVALID when the
 * schema cannot be understood. Results are cached per schema object.
 *
 * @example
 * const schema = compileSchema({ type: "object", properties: { n: { type: "integer" } }, required: ["n"] });
 * schema.validate({ n: 1.5 }); // { ok: false, errors: ["n: Invalid input: expected int, received number"] }
 */
export function compileSchema(jsonSchema: JsonSchema): CompiledSchema {
  const cached = cache.get(jsonSchema);
  if (cached !== undefined) return cached;
  let zodSchema: z.ZodType;
  try {
    zodSchema = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (cause) {
    throw new EdgecrewError(
      ErrorCodes.SCHEMA_INVALID,
      `unusable JSON Schema: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  const compiled: CompiledSchema = {
    jsonSchema,
    validate(value) {
      const result = zodSchema.safeParse(value);
      return result.success
        ? { ok: true, value: result.data as JsonValue }
        : { ok: false, errors: formatZodIssues(result.error.issues) };
    },
    parse(value) {
      const result = compiled.validate(value);
      if (!result.ok) {
        throw new ValidationError(
          `value does not match its schema:\n${result.errors.join("\n")}`,
          result.errors,
        );
      }
      return result.value;
    },
  };
  cache.set(jsonSchema, compiled);
  return compiled;
}

/**
 * Parses model text as JSON and validates it. Text that is not JSON yields one error saying so, with a short
 * excerpt, so that a repair prompt can quote it.
 */
export function parseJsonAgainst(schema: CompiledSchema, text: string): ValidationResult<JsonValue> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const excerpt = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    return {
      ok: false,
      errors: [
        `(root): not valid JSON (${cause instanceof Error ? cause.message : String(cause)}): ${excerpt}`,
      ],
    };
  }
  return schema.validate(value);
}

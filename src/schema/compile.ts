/**
 * One validator for every JSON Schema edgecrew meets (worker answers, the final answer, MCP and YAML tool inputs).
 * Grammar constrains generation; this is the check that always runs afterwards, whatever the grammar could
 * express. It is ajv in its 2020-12 mode with ajv-formats (see docs/DECISIONS.md, "The JSON Schema validator"),
 * on the schema rewritten to that dialect by `normalizeSchema`, so draft-04…07 schemas validate as their authors
 * meant. Omitted optional properties that declare a `default` take it in the value handed on.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { z } from "zod";
import { EdgecrewError, ErrorCodes, ValidationError } from "../errors.js";
import type { JsonSchema, JsonValue } from "../types.js";
import { isMultipleOf } from "./multipleOf.js";
import { mapSchemas, normalizeSchema } from "./normalize.js";

/** The outcome of validating one value: the (parsed) value, or `path: message` strings for every problem. */
export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly string[] };

/** A JSON Schema compiled for repeated validation. */
export interface CompiledSchema<T = JsonValue> {
  /** The schema as given. */
  readonly jsonSchema: JsonSchema;
  /** The schema in the 2020-12 spelling that the validator and the grammar compiler read. */
  readonly normalized: JsonSchema;
  /** Checks a value; never throws. A valid value comes back with the defaults of omitted properties filled in. */
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

/** The path of an ajv error, with the property a `required`/`additionalProperties` error is about appended. */
function errorPath(error: ErrorObject): string {
  const parts: PropertyKey[] = error.instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part));
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (error.keyword === "required" && params.missingProperty !== undefined)
    parts.push(params.missingProperty);
  if (error.keyword === "additionalProperties" && params.additionalProperty !== undefined)
    parts.push(params.additionalProperty);
  return formatPath(parts);
}

function errorMessage(error: ErrorObject): string {
  switch (error.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return "is not allowed (no such property)";
    case "enum": {
      const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
      return allowed === undefined
        ? "must be one of the allowed values"
        : `must be one of ${JSON.stringify(allowed)}`;
    }
    case "contains": {
      const { minContains, maxContains } = error.params as { minContains?: number; maxContains?: number };
      return maxContains === undefined || maxContains >= UNREACHED_MAX_CONTAINS
        ? `must contain at least ${minContains ?? 1} valid item(s)`
        : (error.message ?? "fails contains");
    }
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

/** Formats ajv errors as `path: message` lines, without repeats (ajv reports some problems once per branch). */
function formatAjvErrors(errors: readonly ErrorObject[]): string[] {
  return [...new Set(errors.map((error) => `${errorPath(error)}: ${errorMessage(error)}`))];
}

const engines = new Map<boolean, Ajv2020>();

/**
 * The one ajv instance (all errors reported): schemas are compiled without registering them, so they never clash
 * by `$id`. `allErrors: false` gives its twin that stops at the first error (see compileSchema's fallback).
 */
export function validatorEngine(allErrors = true): Ajv2020 {
  let engine = engines.get(allErrors);
  if (engine === undefined) {
    engine = new Ajv2020({
      strict: false,
      allErrors,
      useDefaults: true,
      // Properties are the value's own: without this ajv reads `toString` or `constructor` through the prototype
      // and refuses an object that simply does not have them.
      ownProperties: true,
      // Real schemas use patterns that are valid only without the `u` flag (e.g. `[\.\,]`).
      unicodeRegExp: false,
      validateSchema: false,
      addUsedSchema: false,
      logger: false,
    });
    (addFormats as unknown as (instance: Ajv2020, options: { mode: "full" }) => void)(engine, {
      mode: "full",
    });
    // ajv divides doubles (0.3 is not a multiple of 0.1 there); JSON numbers are decimals (see multipleOf.ts).
    engine.removeKeyword("multipleOf");
    engine.addKeyword({
      keyword: "multipleOf",
      type: "number",
      schemaType: "number",
      error: { message: ({ schema }) => `must be multiple of ${String(schema)}` },
      validate: (divisor: number, data: number) => isMultipleOf(data, divisor),
    });
    engines.set(allErrors, engine);
  }
  return engine;
}

/** A `maxContains` no array reaches: it changes nothing but which of ajv's code paths checks `contains`. */
const UNREACHED_MAX_CONTAINS = Number.MAX_SAFE_INTEGER;

/**
 * The schema with `maxContains` set on every `contains` that has none. ajv 8.20 checks a plain `contains` (at least
 * one match) with a flag it never resets, so inside a loop — `items: {contains: …}` — an empty array after a
 * matching one passes (`[[1], []]` against items that must contain 1). With a maximum it takes the path that
 * counts from zero for each array.
 */
function boundContains(schema: JsonSchema): JsonSchema {
  return mapSchemas(schema, (node) =>
    node.contains !== undefined && node.maxContains === undefined
      ? { ...node, maxContains: UNREACHED_MAX_CONTAINS }
      : { ...node },
  ) as JsonSchema;
}

const cache = new WeakMap<JsonSchema, CompiledSchema>();

/** Compiles so far: each gets a base URI of its own (see compileSchema). */
let compiles = 0;

/**
 * Compiles a JSON Schema into a reusable validator. Throws an EdgecrewError with code SCHEMA_INVALID when the
 * schema cannot be understood (a `$ref` that points nowhere or off the document, a keyword with a value of the
 * wrong type, a regular expression JavaScript rejects). Results are cached per schema object.
 *
 * @example
 * const schema = compileSchema({ type: "object", properties: { n: { type: "integer" } }, required: ["n"] });
 * schema.validate({ n: 1.5 }); // { ok: false, errors: ["n: must be integer"] }
 */
export function compileSchema(jsonSchema: JsonSchema): CompiledSchema {
  const cached = cache.get(jsonSchema);
  if (cached !== undefined) return cached;
  const normalized = normalizeSchema(jsonSchema);
  let check: ValidateFunction;
  // Without a base URI of its own, ajv cannot resolve `$ref: "#"` (the root, as recursive schemas use it)
  // when schemas are not registered; an id of its own per compile gives it one.
  const rooted = boundContains(
    typeof normalized.$id === "string"
      ? normalized
      : { ...normalized, $id: `urn:edgecrew:schema:${++compiles}` },
  );
  try {
    check = validatorEngine().compile(rooted);
  } catch (cause) {
    throw new EdgecrewError(
      ErrorCodes.SCHEMA_INVALID,
      `unusable JSON Schema: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  /** The first-error-only twin of `check`, compiled when `check` throws (see validate). */
  let firstError: ValidateFunction | undefined;
  const compiled: CompiledSchema = {
    jsonSchema,
    normalized,
    validate(value) {
      // ajv fills defaults in place: validate a copy so that the caller's value stays as it was.
      let copy = structuredClone(value) as JsonValue;
      try {
        return check(copy)
          ? { ok: true, value: copy }
          : { ok: false, errors: formatAjvErrors(check.errors ?? []) };
      } catch (thrown) {
        // ajv 8.20's all-errors code can throw ("Cannot set properties of undefined") on patternProperties in
        // anyOf branches with additionalProperties: false; its first-error code does not. Its verdict stands.
        try {
          firstError ??= validatorEngine(false).compile(rooted);
          copy = structuredClone(value) as JsonValue;
          return firstError(copy)
            ? { ok: true, value: copy }
            : { ok: false, errors: formatAjvErrors(firstError.errors ?? []) };
        } catch {
          const message = thrown instanceof Error ? thrown.message : String(thrown);
          return { ok: false, errors: [`(root): the validator could not check this value (${message})`] };
        }
      }
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

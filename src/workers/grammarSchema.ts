/**
 * Turns an answer's JSON Schema into the `GbnfJsonSchema` that node-llama-cpp compiles into a grammar, so that
 * the grammar enforces what it can and never silently enforces something else. The grammar is only the first
 * line of defence: every decoded value is validated by zod (`compileSchema`) afterwards, and whatever the
 * grammar could not express is caught there and repaired.
 *
 * Enforced by the grammar (after this conversion):
 * - `type` (including `type: [a, "null"]` and other type lists, turned into `oneOf`), `const`, `enum` of
 *   primitives, `oneOf`, `anyOf` (turned into `oneOf`: node-llama-cpp silently compiles `anyOf` to "null only"),
 *   OpenAPI's `nullable: true`;
 * - objects: `properties` (the grammar always emits every declared property, in order, which an optional
 *   property also accepts), `additionalProperties` (set to `false` unless the schema gives it),
 *   `minProperties`/`maxProperties`;
 * - arrays: `items`, `prefixItems` (and `items: false` after them closes the tuple), `minItems`, `maxItems`;
 * - strings: `minLength`, `maxLength` — a string without `maxLength` gets `defaultMaxLength` (256) because an
 *   unbounded string may never close on a weak model — and the shape of `format` `date`, `time`, `date-time`
 *   (not calendar validity: the grammar admits 2023-02-30, which zod rejects);
 * - lengths up to 1999 and item/property counts up to 999 (llama.cpp's grammar parser rejects larger
 *   repetitions): larger `minLength`/`maxLength`/`minItems`/`maxItems`/`min|maxProperties` are capped for the
 *   grammar (reported);
 * - integers whose `minimum`/`maximum` (or exclusive bounds, and `multipleOf`) leave at most `maxEnumRange` (64)
 *   values become an `enum` of those values;
 * - `$ref` to `#/$defs/…` or `#/definitions/…` of the root schema (recursion included); `allOf` is merged into
 *   its parent (properties and `required` united) as an approximation.
 *
 * Enforced only by zod afterwards (dropped for the grammar and listed in `dropped`): `pattern`, other string
 * `format`s, `minimum`/`maximum`/`exclusive*`/`multipleOf` on numbers and on wide integer ranges, integer-ness
 * against exponents (the grammar's integers admit `1e3`), `uniqueItems`, `contains`, `not`,
 * `if`/`then`/`else`, `dependentRequired`/`dependentSchemas`, `propertyNames`, `patternProperties`,
 * `required` (the grammar emits every property anyway), and `anyOf`/`oneOf`/`allOf` that sit next to a `type`
 * as extra constraints. A schema that allows anything (`{}` or `true`) is narrowed to a bounded string, a
 * number, a boolean or null.
 *
 * Rejected with SCHEMA_INVALID: `$ref`s that do not point into the root's `$defs`/`definitions`, `enum`/`const`
 * values that are objects or arrays, and a `false` schema.
 */
import type { GbnfJsonSchema } from "node-llama-cpp";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { JsonObject, JsonSchema, JsonValue } from "../types.js";
import { mergeAllOf } from "./mergeAllOf.js";
import { GRAMMAR_STRING_FORMATS, zodOnlyKeywords } from "./zodOnlyKeywords.js";

/** Tuning of the conversion; the defaults suit small local models. */
export interface GrammarSchemaOptions {
  /** `maxLength` given to strings that declare none (default 256). */
  readonly defaultMaxLength?: number;
  /** `maxItems` given to arrays that declare none; `undefined` (the default) leaves such arrays unbounded. */
  readonly defaultMaxItems?: number;
  /** Largest integer range (in values) that becomes an `enum` (default 64). */
  readonly maxEnumRange?: number;
}

/** The converted schema and the keywords the grammar cannot enforce (as `path: keyword`), left to zod. */
export interface GrammarSchemaResult {
  readonly schema: GbnfJsonSchema;
  readonly dropped: readonly string[];
}

/** The default `maxLength` for strings that declare none. */
export const DEFAULT_GRAMMAR_MAX_LENGTH = 256;
/** The default largest integer range that becomes an enum. */
export const DEFAULT_GRAMMAR_MAX_ENUM_RANGE = 64;
/**
 * The longest string length the grammar can state. llama.cpp's grammar parser rejects a repetition whose count
 * times the repeated rule's size reaches 2000 (MAX_REPETITION_THRESHOLD); measured with node-llama-cpp 3.21.1:
 * `maxLength` 1999 parses, 2000 does not.
 */
export const GRAMMAR_MAX_STRING_LENGTH = 1999;
/** The largest item/property count the grammar can state (measured: `maxItems` 1000 parses, 1500 does not). */
export const GRAMMAR_MAX_ITEMS = 999;

type Node = { [key: string]: unknown };
type Primitive = string | number | boolean | null;

const TYPE_NAMES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
interface Context {
  readonly maxLength: number;
  readonly maxItems: number | undefined;
  readonly maxEnumRange: number;
  readonly defs: ReadonlyMap<string, string>;
  readonly dropped: string[];
}

function fail(message: string, path: string): never {
  throw new EdgecrewError(ErrorCodes.SCHEMA_INVALID, `${path}: ${message}`, { context: { path } });
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPrimitive(value: unknown): value is Primitive {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function where(path: string): string {
  return path === "" ? "(root)" : path;
}

/**
 * Converts a JSON Schema into a grammar-safe `GbnfJsonSchema` for `llama.createGrammarForJsonSchema`.
 * Throws an EdgecrewError SCHEMA_INVALID for schemas it cannot honour (see the file comment).
 *
 * @example
 * const { schema, dropped } = toGrammarSchema({
 *   type: "object",
 *   properties: { day: { type: "integer", minimum: 1, maximum: 7 }, note: { anyOf: [{ type: "string" }, { type: "null" }] } },
 * });
 * // schema.properties.day → { enum: [1, 2, 3, 4, 5, 6, 7] }; note → oneOf [{ type: "string", maxLength: 256 }, { type: "null" }]
 */
export function toGrammarSchema(schema: JsonSchema, options: GrammarSchemaOptions = {}): GrammarSchemaResult {
  const rawDefs: Record<string, JsonValue> = {
    ...(isObject(schema.definitions) ? schema.definitions : {}),
    ...(isObject(schema.$defs) ? schema.$defs : {}),
  };
  // Every def is renamed to a safe identifier: node-llama-cpp uses the name in grammar rule names.
  const defNames = new Map<string, string>();
  for (const name of Object.keys(rawDefs))
    defNames.set(name, `d${defNames.size}_${name.replace(/\W/g, "_")}`);
  const context: Context = {
    maxLength: options.defaultMaxLength ?? DEFAULT_GRAMMAR_MAX_LENGTH,
    maxItems: options.defaultMaxItems,
    maxEnumRange: options.maxEnumRange ?? DEFAULT_GRAMMAR_MAX_ENUM_RANGE,
    defs: defNames,
    dropped: [],
  };
  let root = convert(schema, "", context);
  if (defNames.size > 0) {
    const defs: Node = {};
    for (const [name, value] of Object.entries(rawDefs)) {
      defs[defNames.get(name) as string] = convert(value, `$defs.${name}`, context);
    }
    // Only object, array, oneOf and $ref schemas carry `$defs` for node-llama-cpp, so wrap anything else.
    if (
      root.type === "object" ||
      root.type === "array" ||
      root.oneOf !== undefined ||
      root.$ref !== undefined
    ) {
      root = { ...root, $defs: defs };
    } else {
      root = { oneOf: [root], $defs: defs };
    }
  }
  return { schema: root as GbnfJsonSchema, dropped: context.dropped };
}

function convert(schema: JsonValue | undefined, path: string, context: Context): Node {
  if (schema === true || schema === undefined) return anyValue(context);
  if (schema === false) fail("a `false` schema accepts nothing and cannot be generated", where(path));
  if (!isObject(schema)) fail("a schema must be an object or a boolean", where(path));

  const merged = mergeAllOf(schema, (index) => fail(`allOf[${index}] must be an object schema`, where(path)));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 1)
    context.dropped.push(`${where(path)}: allOf (merged)`);
  const description = typeof merged.description === "string" ? { description: merged.description } : {};

  if (typeof merged.$ref === "string")
    return { $ref: resolveRef(merged.$ref, path, context), ...description };
  if (merged.const !== undefined) {
    if (!isPrimitive(merged.const)) fail("`const` must be a string, number, boolean or null", where(path));
    return { const: merged.const, ...description };
  }
  if (Array.isArray(merged.enum)) {
    if (!merged.enum.every(isPrimitive))
      fail("`enum` values must be strings, numbers, booleans or null", where(path));
    return { enum: [...merged.enum], ...description };
  }

  const types = typeList(merged, path);
  const wantsNull = types.includes("null") || merged.nullable === true;
  const combinator = Array.isArray(merged.oneOf)
    ? "oneOf"
    : Array.isArray(merged.anyOf)
      ? "anyOf"
      : undefined;

  const alternatives: Node[] = [];
  if (types.length === 0 && combinator !== undefined) {
    const members = merged[combinator] as JsonValue[];
    members.forEach((member, index) => {
      alternatives.push(convert(member, `${path}.${combinator}[${index}]`, context));
    });
    // The grammar accepts a value matching several alternatives; exclusivity is zod's to check.
    if (combinator === "oneOf" && members.length > 1)
      context.dropped.push(`${where(path)}: oneOf exclusivity`);
    if (combinator === "oneOf" && Array.isArray(merged.anyOf)) context.dropped.push(`${where(path)}: anyOf`);
  } else {
    // Next to a `type`, a combinator only adds constraints (e.g. `anyOf: [{ required: [a] }, …]`).
    if (Array.isArray(merged.oneOf)) context.dropped.push(`${where(path)}: oneOf`);
    if (Array.isArray(merged.anyOf)) context.dropped.push(`${where(path)}: anyOf`);
    for (const type of types) {
      if (type !== "null") alternatives.push(convertTyped(merged, type, path, context, description));
    }
    if (alternatives.length === 0 && !wantsNull) alternatives.push(anyValue(context));
  }
  if (wantsNull && !alternatives.some((alt) => alt.type === "null")) alternatives.push({ type: "null" });
  const node =
    alternatives.length === 1 ? (alternatives[0] as Node) : { oneOf: alternatives, ...description };
  reportDropped(merged, path, context);
  return node;
}

/** The value types a schema allows: its `type` (string or list), or inferred from type-specific keywords. */
function typeList(schema: JsonObject, path: string): string[] {
  const type = schema.type;
  const list = Array.isArray(type) ? type : typeof type === "string" ? [type] : [];
  for (const name of list) {
    if (typeof name !== "string" || !TYPE_NAMES.has(name))
      fail(`unknown type ${JSON.stringify(name)}`, where(path));
  }
  if (list.length > 0) return [...new Set(list as string[])];
  if (schema.properties !== undefined || schema.additionalProperties !== undefined) return ["object"];
  if (schema.items !== undefined || schema.prefixItems !== undefined) return ["array"];
  if (schema.maxLength !== undefined || schema.minLength !== undefined || schema.pattern !== undefined)
    return ["string"];
  return [];
}

function convertTyped(
  schema: JsonObject,
  type: string,
  path: string,
  context: Context,
  description: Node,
): Node {
  switch (type) {
    case "string":
      return convertString(schema, path, context, description);
    case "integer":
      return convertInteger(schema, context, description);
    case "object":
      return convertObject(schema, path, context, description);
    case "array":
      return convertArray(schema, path, context, description);
    default:
      // number, boolean: the grammar has nothing more to say about them.
      return { type, ...description };
  }
}

function convertString(schema: JsonObject, path: string, context: Context, description: Node): Node {
  if (typeof schema.format === "string" && GRAMMAR_STRING_FORMATS.has(schema.format)) {
    return { type: "string", format: schema.format, ...description };
  }
  const node: Node = { type: "string" };
  const minLength = capped(schema.minLength, "minLength", GRAMMAR_MAX_STRING_LENGTH, path, context);
  if (minLength !== undefined && minLength > 0) node.minLength = minLength;
  const declared = capped(schema.maxLength, "maxLength", GRAMMAR_MAX_STRING_LENGTH, path, context);
  node.maxLength =
    declared ?? Math.min(Math.max(context.maxLength, minLength ?? 0), GRAMMAR_MAX_STRING_LENGTH);
  return { ...node, ...description };
}

/** A length or count limited to what llama.cpp's grammar parser accepts; capping is reported as dropped. */
function capped(
  raw: JsonValue | undefined,
  keyword: string,
  limit: number,
  path: string,
  context: Context,
): number | undefined {
  const value = nonNegativeInteger(raw);
  if (value === undefined || value <= limit) return value;
  context.dropped.push(`${where(path)}: ${keyword} (capped to ${limit})`);
  return limit;
}

function convertInteger(schema: JsonObject, context: Context, description: Node): Node {
  const values = smallIntegerRange(schema, context.maxEnumRange);
  if (values !== undefined && values.length > 0) return { enum: values, ...description };
  return { type: "integer", ...description };
}

/** The integers a schema's bounds allow, when there are few enough of them to list. */
function smallIntegerRange(schema: JsonObject, limit: number): number[] | undefined {
  let low = typeof schema.minimum === "number" ? Math.ceil(schema.minimum) : undefined;
  let high = typeof schema.maximum === "number" ? Math.floor(schema.maximum) : undefined;
  if (typeof schema.exclusiveMinimum === "number") {
    const bound = Math.floor(schema.exclusiveMinimum) + 1;
    low = low === undefined ? bound : Math.max(low, bound);
  }
  if (typeof schema.exclusiveMaximum === "number") {
    const bound = Math.ceil(schema.exclusiveMaximum) - 1;
    high = high === undefined ? bound : Math.min(high, bound);
  }
  if (low === undefined || high === undefined || high < low || high - low + 1 > limit) return undefined;
  const step = typeof schema.multipleOf === "number" && schema.multipleOf > 0 ? schema.multipleOf : undefined;
  const values: number[] = [];
  for (let value = low; value <= high; value++) {
    if (step === undefined || Number.isInteger(value / step)) values.push(value);
  }
  return values;
}

function convertObject(schema: JsonObject, path: string, context: Context, description: Node): Node {
  const properties: Node = {};
  if (isObject(schema.properties)) {
    for (const [name, value] of Object.entries(schema.properties)) {
      properties[name] = convert(value, join(path, name), context);
    }
  }
  const node: Node = { type: "object", properties };
  const additional = schema.additionalProperties;
  if (additional === undefined || additional === false) node.additionalProperties = false;
  else if (additional === true) node.additionalProperties = true;
  else node.additionalProperties = convert(additional, join(path, "additionalProperties"), context);
  const minProperties = capped(schema.minProperties, "minProperties", GRAMMAR_MAX_ITEMS, path, context);
  if (minProperties !== undefined) node.minProperties = minProperties;
  const maxProperties = capped(schema.maxProperties, "maxProperties", GRAMMAR_MAX_ITEMS, path, context);
  if (maxProperties !== undefined) node.maxProperties = maxProperties;
  return { ...node, ...description };
}

function convertArray(schema: JsonObject, path: string, context: Context, description: Node): Node {
  const node: Node = { type: "array" };
  if (Array.isArray(schema.prefixItems)) {
    node.prefixItems = schema.prefixItems.map((item, index) =>
      convert(item, `${path}.prefixItems[${index}]`, context),
    );
  }
  let maxItems = capped(schema.maxItems, "maxItems", GRAMMAR_MAX_ITEMS, path, context);
  if (schema.items === false) {
    // 2020-12 closed tuple: nothing may follow the prefix items.
    maxItems = Array.isArray(schema.prefixItems) ? schema.prefixItems.length : 0;
  } else if (schema.items !== undefined) {
    node.items = convert(schema.items, join(path, "items"), context);
  } else if (!Array.isArray(schema.prefixItems)) {
    node.items = anyValue(context);
  }
  const minItems = capped(schema.minItems, "minItems", GRAMMAR_MAX_ITEMS, path, context);
  if (minItems !== undefined && minItems > 0) node.minItems = minItems;
  maxItems ??=
    context.maxItems === undefined
      ? undefined
      : Math.min(Math.max(context.maxItems, minItems ?? 0), GRAMMAR_MAX_ITEMS);
  if (maxItems !== undefined) node.maxItems = maxItems;
  return { ...node, ...description };
}

/** A value of any primitive type, bounded: what `{}` becomes (see the file comment). */
function anyValue(context: Context): Node {
  return {
    oneOf: [
      { type: "string", maxLength: context.maxLength },
      { type: "number" },
      { type: "boolean" },
      { type: "null" },
    ],
  };
}

function resolveRef(ref: string, path: string, context: Context): string {
  const match = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(ref);
  const name =
    match?.[1] === undefined
      ? undefined
      : decodeURIComponent(match[1].replace(/~1/g, "/").replace(/~0/g, "~"));
  const renamed = name === undefined ? undefined : context.defs.get(name);
  if (renamed === undefined) {
    fail(`$ref ${JSON.stringify(ref)} does not point to a definition in the root's $defs`, where(path));
  }
  return `#/$defs/${renamed}`;
}

function reportDropped(schema: JsonObject, path: string, context: Context): void {
  const types = new Set(typeList(schema, path));
  const integerEnum =
    types.has("integer") &&
    !types.has("number") &&
    smallIntegerRange(schema, context.maxEnumRange) !== undefined;
  for (const keyword of zodOnlyKeywords(schema, { integerEnum }))
    context.dropped.push(`${where(path)}: ${keyword}`);
}

function nonNegativeInteger(value: JsonValue | undefined): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

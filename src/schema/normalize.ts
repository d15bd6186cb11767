/**
 * One dialect for every JSON Schema edgecrew meets. Real schemas come in draft-04, -06, -07 and 2020-12
 * spellings (MCP servers, JSON Schema Store, OpenAPI fragments); the validator (ajv's 2020-12 mode) and the
 * grammar compiler both read the 2020-12 spelling, so each schema is rewritten once, here:
 *
 * - `id` (draft-04) → `$id`, and in a schema that declares draft-04 (or 03) a `$id` is dropped: those drafts do
 *   not know the keyword, so it must not move the base of the `$ref`s under it (JSON Schema Store's cryproj
 *   schemas carry generator-written `$id`s that would leave every `#/definitions/…` pointing nowhere); boolean `exclusiveMinimum`/`exclusiveMaximum` next to `minimum`/`maximum`
 *   (draft-04) → numeric exclusive bounds;
 * - array-form `items` + `additionalItems` (draft-04…07) → `prefixItems` + `items`;
 * - `dependencies` → `dependentRequired` (array values) and `dependentSchemas` (schema values);
 * - OpenAPI's `nullable: true` → `type` with `"null"` added (or an `anyOf` with `{type: "null"}`);
 * - `$schema` is dropped: the dialect is now known.
 *
 * `$ref`s keep pointing where they pointed: the rewrite keeps every JSON pointer that a `$ref` can name
 * (`definitions` stays `definitions`), and only renames keywords inside schema objects.
 */
import type { JsonObject, JsonSchema, JsonValue } from "../types.js";
import { isObject } from "./jsonShapes.js";

/** Keywords whose value is a schema. */
const SCHEMA_VALUED = [
  "additionalProperties",
  "propertyNames",
  "items",
  "additionalItems",
  "contains",
  "not",
  "if",
  "then",
  "else",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contentSchema",
] as const;
/** Keywords whose value is an array of schemas. */
const SCHEMA_ARRAYS = ["allOf", "anyOf", "oneOf", "prefixItems"] as const;
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"] as const;

/**
 * The schema in the 2020-12 spelling (see the file comment). Returns a new object; the input is not changed.
 * Values that are not schemas where a schema is expected are kept as they are, for the validator to reject.
 *
 * @example
 * normalizeSchema({ id: "x", items: [{ type: "string" }], additionalItems: false });
 * // { $id: "x", prefixItems: [{ type: "string" }], items: false }
 */
export function normalizeSchema(schema: JsonSchema): JsonSchema {
  const { $schema: dialect, ...rest } = schema;
  const legacy = typeof dialect === "string" && /json-schema\.org\/draft-0[34]\//.test(dialect);
  return mapSchemas(rest, (node) => normalizeNode(node, legacy)) as JsonSchema;
}

/**
 * A copy of `node` with `rewrite` applied to it and then to every schema under it (top-down: a rewrite may move
 * subschemas, as array-form `items` → `prefixItems`, before they are visited). Values that are not objects where a
 * schema is expected are kept as they are; data (`const`, `enum`, `default`, …) is never visited.
 */
export function mapSchemas(node: JsonValue, rewrite: (schema: JsonObject) => JsonObject): JsonValue {
  if (!isObject(node)) return node;
  const out = rewrite(node);
  for (const key of SCHEMA_VALUED) if (out[key] !== undefined) out[key] = mapSchemas(out[key], rewrite);
  for (const key of SCHEMA_ARRAYS) {
    const value = out[key];
    if (Array.isArray(value)) out[key] = value.map((member) => mapSchemas(member, rewrite));
  }
  for (const key of SCHEMA_MAPS) {
    const value = out[key];
    if (!isObject(value)) continue;
    const mapped: JsonObject = {};
    for (const [name, member] of Object.entries(value)) mapped[name] = mapSchemas(member, rewrite);
    out[key] = mapped;
  }
  return out;
}

/** One schema object in the 2020-12 spelling (its subschemas are left to mapSchemas). Returns a copy. */
function normalizeNode(node: JsonObject, legacy: boolean): JsonObject {
  const out: JsonObject = { ...node };

  if (legacy) delete out.$id;
  if (typeof out.id === "string" && out.$id === undefined) {
    out.$id = out.id;
    delete out.id;
  }
  for (const [flag, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ] as const) {
    if (typeof out[flag] !== "boolean") continue;
    const value = out[bound];
    if (out[flag] === true && typeof value === "number") {
      out[flag] = value;
      delete out[bound];
    } else {
      delete out[flag];
    }
  }
  if (Array.isArray(out.items)) {
    out.prefixItems = out.items;
    if (out.additionalItems !== undefined) out.items = out.additionalItems;
    else delete out.items;
    delete out.additionalItems;
  } else if (out.additionalItems !== undefined) {
    // Without array-form items, additionalItems has no effect.
    delete out.additionalItems;
  }
  if (isObject(out.dependencies)) {
    const required: JsonObject = isObject(out.dependentRequired) ? { ...out.dependentRequired } : {};
    const schemas: JsonObject = isObject(out.dependentSchemas) ? { ...out.dependentSchemas } : {};
    for (const [name, value] of Object.entries(out.dependencies)) {
      if (Array.isArray(value)) required[name] = value;
      else schemas[name] = value;
    }
    delete out.dependencies;
    if (Object.keys(required).length > 0) out.dependentRequired = required;
    if (Object.keys(schemas).length > 0) out.dependentSchemas = schemas;
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === "string") out.type = out.type === "null" ? "null" : [out.type, "null"];
    else if (Array.isArray(out.type) && !out.type.includes("null")) out.type = [...out.type, "null"];
    else if (out.type === undefined && (Array.isArray(out.enum) || out.const !== undefined)) {
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    }
  } else if (out.nullable === false) {
    delete out.nullable;
  }

  return out;
}

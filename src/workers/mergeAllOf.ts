/**
 * Flattens `allOf` for the grammar, which has no intersection: members are merged into their parent. Exact
 * intersection semantics stay with zod, which validates every answer against the original schema.
 */
import type { JsonObject, JsonValue } from "../types.js";

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges a schema's `allOf` members (recursively) into it: `properties` and `required` are united, and any other
 * keyword of a later member overrides an earlier one while the parent's own keywords win. Returns the schema
 * itself when it has no `allOf`; calls `invalid(index)` (which must throw) for a member that is not an object.
 */
export function mergeAllOf(schema: JsonObject, invalid: (index: number) => never): JsonObject {
  if (!Array.isArray(schema.allOf)) return schema;
  const { allOf, ...rest } = schema;
  let merged: JsonObject = { ...rest };
  (allOf as JsonValue[]).forEach((member, index) => {
    if (!isObject(member)) invalid(index);
    const flat = mergeAllOf(member, invalid);
    const properties = {
      ...(isObject(merged.properties) ? merged.properties : {}),
      ...(isObject(flat.properties) ? flat.properties : {}),
    };
    const required = [
      ...new Set([
        ...(Array.isArray(merged.required) ? merged.required : []),
        ...(Array.isArray(flat.required) ? flat.required : []),
      ]),
    ];
    merged = { ...flat, ...merged };
    if (Object.keys(properties).length > 0) merged.properties = properties;
    if (required.length > 0) merged.required = required;
  });
  return merged;
}

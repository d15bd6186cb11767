/** Shape checks on JSON values that every part of schema/ reads schemas with. */
import type { JsonObject, JsonValue } from "../types.js";

/** Whether `value` is a JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A count keyword's value (`minLength`, `maxItems`, …): a whole number ≥ 0, else undefined. */
export function count(value: JsonValue | undefined): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

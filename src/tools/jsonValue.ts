/**
 * Tool outputs travel to models, events and the persisted run log, so they must be plain JSON. JavaScript
 * happily returns values JSON cannot carry faithfully (`undefined`, `NaN`, a `Date`, a class instance, a
 * cycle); catching them here turns a silent `null` or `{}` in the log into a clear failure of the tool.
 */
import type { JsonObject, JsonValue } from "../types.js";

/** A value checked to be JSON, or the first reason it is not (with the path to the offending part). */
export type JsonCheck =
  | { readonly ok: true; readonly value: JsonValue }
  | { readonly ok: false; readonly error: string };

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "number") return String(value);
  if (typeof value === "object" && value !== null) return value.constructor?.name ?? "object";
  return typeof value;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks that a value is plain JSON and returns a copy of it. Object properties whose value is `undefined` are
 * dropped (as `JSON.stringify` would, and as JavaScript code expects of an optional field); anything else JSON
 * cannot represent is reported with its path (`items[2].when: Date is not a JSON value`).
 *
 * @example
 * toJsonValue({ a: 1, b: undefined }); // { ok: true, value: { a: 1 } }
 * toJsonValue({ n: Number.NaN }); // { ok: false, error: "n: NaN is not a JSON value" }
 */
export function toJsonValue(value: unknown): JsonCheck {
  const seen = new Set<object>();
  let failure: string | undefined;

  const visit = (current: unknown, path: string): JsonValue | undefined => {
    if (current === null || typeof current === "string" || typeof current === "boolean") return current;
    if (typeof current === "number") {
      if (Number.isFinite(current)) return current;
    } else if (Array.isArray(current)) {
      if (seen.has(current)) {
        failure = `${path}: a cycle is not a JSON value`;
        return undefined;
      }
      seen.add(current);
      const items: JsonValue[] = [];
      for (const [index, item] of current.entries()) {
        const checked = visit(item, `${path === "(root)" ? "" : path}[${index}]`);
        if (failure !== undefined) return undefined;
        items.push(checked ?? null);
      }
      seen.delete(current);
      return items;
    } else if (typeof current === "object" && isPlainObject(current)) {
      if (seen.has(current)) {
        failure = `${path}: a cycle is not a JSON value`;
        return undefined;
      }
      seen.add(current);
      const out: JsonObject = {};
      for (const [key, item] of Object.entries(current)) {
        if (item === undefined) continue;
        const checked = visit(item, path === "(root)" ? key : `${path}.${key}`);
        if (failure !== undefined || checked === undefined) return undefined;
        out[key] = checked;
      }
      seen.delete(current);
      return out;
    }
    failure = `${path}: ${describe(current)} is not a JSON value`;
    return undefined;
  };

  const result = visit(value, "(root)");
  return failure === undefined && result !== undefined
    ? { ok: true, value: result }
    : { ok: false, error: failure ?? "(root): undefined is not a JSON value" };
}

/**
 * The same value as {@link toJsonValue}, or a best-effort stand-in for logging when it is not JSON: events
 * must carry *something* that describes what a model sent, even when it is malformed.
 */
export function toLoggableJson(value: unknown): JsonValue {
  const checked = toJsonValue(value);
  return checked.ok ? checked.value : `[not JSON: ${checked.error}]`;
}

const encoder = new TextEncoder();

/** Size of a JSON value once serialised, in UTF-8 bytes: what it costs to hand to a model. */
export function jsonByteLength(value: JsonValue): number {
  return encoder.encode(JSON.stringify(value)).byteLength;
}

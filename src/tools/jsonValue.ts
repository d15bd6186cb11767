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

/**
 * Size of a JSON value counting what it keeps, not how JSON escapes it: each string (key or value) counts its
 * UTF-8 bytes plus two quotes, everything else its JSON text. Output caps are on this measure, so a string of
 * control characters (`\u0001` is 6 bytes once escaped) costs what it holds; the escaped JSON is at most 6
 * times larger.
 *
 * @example
 * keptByteLength({ s: "\u0000\u0000" }); // 10, where jsonByteLength gives 20
 */
export function keptByteLength(value: JsonValue): number {
  if (typeof value === "string") return Buffer.byteLength(value, "utf8") + 2;
  if (value === null || typeof value !== "object") return JSON.stringify(value).length;
  if (Array.isArray(value)) {
    let total = 2 + Math.max(0, value.length - 1);
    for (const item of value) total += keptByteLength(item);
    return total;
  }
  const entries = Object.entries(value);
  let total = 2 + Math.max(0, entries.length - 1);
  for (const [key, item] of entries) total += Buffer.byteLength(key, "utf8") + 3 + keptByteLength(item);
  return total;
}

function stringLeaves(value: JsonValue, into: number[]): number[] {
  if (typeof value === "string") into.push(Buffer.byteLength(value, "utf8"));
  else if (Array.isArray(value)) for (const item of value) stringLeaves(item, into);
  else if (value !== null && typeof value === "object")
    for (const item of Object.values(value)) stringLeaves(item, into);
  return into;
}

/** The longest prefix of `text` that is at most `bytes` UTF-8 bytes, cut between characters. */
function utf8Prefix(text: string, bytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= bytes) return text;
  // encodeInto writes whole characters only; `read` counts the UTF-16 units they came from.
  const { read } = encoder.encodeInto(text, new Uint8Array(bytes));
  return text.slice(0, read);
}

function cutStrings(value: JsonValue, longest: number): JsonValue {
  if (typeof value === "string") return utf8Prefix(value, longest);
  if (Array.isArray(value)) return value.map((item) => cutStrings(item, longest));
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) out[key] = cutStrings(item, longest);
  return out;
}

/**
 * A tool output cut to fit `limit` kept bytes ({@link keptByteLength}), for outputs that say they can be cut: an
 * object with a boolean `truncated` field, which comes back `true`. The longest string values are shortened to a
 * common length (so a short `stderr` survives a flood on `stdout`), each cut between characters. `undefined`
 * when the value has no such field or cannot fit even with every string emptied.
 *
 * @example
 * truncateToFit({ stdout: "x".repeat(100), stderr: "e", truncated: false }, 60);
 * // { stdout: "xxx…" (cut), stderr: "e", truncated: true }
 */
export function truncateToFit(value: JsonValue, limit: number): JsonObject | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  if (typeof value.truncated !== "boolean") return undefined;
  const marked: JsonObject = { ...value, truncated: true };
  const excess = keptByteLength(marked) - limit;
  if (excess <= 0) return marked;
  const lengths = stringLeaves(marked, []);
  const cutAt = (longest: number) => lengths.reduce((sum, length) => sum + Math.max(0, length - longest), 0);
  if (cutAt(0) < excess) return undefined;
  // The largest common length that removes enough: binary search over 0..longest string.
  let low = 0;
  let high = lengths.reduce((most, length) => Math.max(most, length), 0);
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (cutAt(middle) >= excess) low = middle;
    else high = middle - 1;
  }
  const cut = cutStrings(marked, low) as JsonObject;
  return keptByteLength(cut) <= limit ? cut : undefined;
}

/**
 * References from one subtask's instruction to a dependency's validated answer: `{{s1.answer}}` or
 * `{{s1.answer.items[0].name}}`. The planner validates them against the dependency's output schema (so a plan
 * cannot point at a field that will never exist) and the runtime substitutes them just before dispatch.
 * Pure functions, shared by planner/ and runtime/.
 */
import type { JsonSchema, JsonValue } from "./types.js";

/** One `{{id.answer.path}}` occurrence in an instruction. */
export interface AnswerReference {
  /** The exact text matched, braces included. */
  readonly text: string;
  readonly subtaskId: string;
  /** Path inside the answer: property names and array indexes; empty for the whole answer. */
  readonly path: readonly (string | number)[];
}

const REFERENCE = /\{\{\s*([A-Za-z][\w-]*)\.answer((?:\.[A-Za-z_$][\w$-]*|\[\d+\])*)\s*\}\}/g;
const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]/g;

/** Finds every answer reference in a text, in order. */
export function findReferences(text: string): AnswerReference[] {
  const found: AnswerReference[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    const path: (string | number)[] = [];
    for (const segment of (match[2] ?? "").matchAll(SEGMENT)) {
      path.push(segment[1] !== undefined ? segment[1] : Number(segment[2]));
    }
    found.push({ text: match[0], subtaskId: match[1] ?? "", path });
  }
  return found;
}

/** Renders a reference path for messages: `s1.answer.items[0]`. */
export function formatReference(ref: Pick<AnswerReference, "subtaskId" | "path">): string {
  return `${ref.subtaskId}.answer${ref.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}`;
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks that a path can exist in values of a schema; returns why not, or undefined when it can. Schemas that
 * do not constrain the path (no `properties`, `additionalProperties` allowed, unions) accept it.
 */
export function checkReferencePath(
  schema: JsonSchema,
  path: readonly (string | number)[],
): string | undefined {
  let current: JsonValue | undefined = schema;
  for (const [index, part] of path.entries()) {
    if (!isObject(current)) return undefined;
    const where = index === 0 ? "the answer" : `"${String(path[index - 1])}"`;
    if (typeof part === "number") {
      if (current.type !== undefined && current.type !== "array") return `${where} is not an array`;
      current = current.items;
      continue;
    }
    if (current.type !== undefined && current.type !== "object") return `${where} is not an object`;
    const properties = current.properties;
    if (isObject(properties) && part in properties) {
      current = properties[part];
    } else if (
      current.additionalProperties === false ||
      (isObject(properties) && current.additionalProperties === undefined)
    ) {
      const known = isObject(properties) ? Object.keys(properties) : [];
      return `${where} has no field "${part}"${known.length > 0 ? ` (fields: ${known.join(", ")})` : ""}`;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** Looks a path up in a value; undefined when it is not there. */
export function resolvePath(value: JsonValue, path: readonly (string | number)[]): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const part of path) {
    if (typeof part === "number") current = Array.isArray(current) ? current[part] : undefined;
    else current = isObject(current) ? current[part] : undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/**
 * Replaces every reference with the referenced value: strings as they are, anything else as compact JSON.
 * A reference to a missing value is left as `(missing s1.answer.x)` so the worker sees the gap rather than a
 * silently empty string.
 */
export function substituteReferences(text: string, answers: Readonly<Record<string, JsonValue>>): string {
  return text.replace(REFERENCE, (whole) => {
    const [ref] = findReferences(whole);
    if (ref === undefined) return whole;
    const answer = answers[ref.subtaskId];
    const value = answer === undefined ? undefined : resolvePath(answer, ref.path);
    if (value === undefined) return `(missing ${formatReference(ref)})`;
    return typeof value === "string" ? value : JSON.stringify(value);
  });
}

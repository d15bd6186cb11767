/**
 * Turns zod issues into messages an agent author can act on. Zod's defaults speak about types ("expected
 * record, received array"); these speak YAML ("expected a mapping, got a list"), name the missing key, split
 * unknown keys into one issue each with a "did you mean", and pick the union branch the author evidently meant
 * instead of reporting every alternative.
 */
import { z } from "zod";
import { didYouMean } from "../suggest.js";
import type { PathSegment, RawIssue } from "./issues.js";
import { EMPTY_TOOL_ENTRY } from "./toolSchema.js";

type ZodIssue = z.core.$ZodIssue;

const EXPECTED: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  null: "null",
};

/**
 * A short phrase for a value as YAML shows it: `the string "abc"`, `number 1.5`, `a list`, `null`.
 *
 * @example
 * describeValue([1, 2]); // "a list"
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}

function bound(
  issue: { readonly origin: string; readonly inclusive?: boolean },
  limit: number | bigint,
  side: "min" | "max",
) {
  const n = Number(limit);
  switch (issue.origin) {
    case "string":
      return side === "min" && n === 1
        ? "must not be empty"
        : `must be ${side === "min" ? "at least" : "at most"} ${n} characters long`;
    case "array":
      return `must have ${side === "min" ? "at least" : "at most"} ${n} item${n === 1 ? "" : "s"}`;
    default:
      if (side === "min")
        return issue.inclusive === false ? `must be greater than ${n}` : `must be at least ${n}`;
      return issue.inclusive === false ? `must be less than ${n}` : `must be at most ${n}`;
  }
}

/**
 * The error map used when validating an agent: plain-language messages for the issue kinds zod words for
 * programmers. Messages given in the schema itself take precedence over it (zod's rule), so a key with its own
 * message keeps it.
 */
export const agentErrorMap: z.core.$ZodErrorMap = (issue) => {
  const got = describeValue(issue.input);
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) {
        const key = issue.path?.at(-1);
        return typeof key === "string" ? `missing required key \`${key}\`` : "a value is required here";
      }
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${got}`;
    }
    case "too_small":
      return `${bound(issue, issue.minimum, "min")}, got ${issue.origin === "array" ? describeCount(issue.input) : got}`;
    case "too_big":
      return `${bound(issue, issue.maximum, "max")}, got ${issue.origin === "array" ? describeCount(issue.input) : got}`;
    case "invalid_value": {
      const options = issue.values.map((value) => JSON.stringify(value)).join(", ");
      const hint =
        typeof issue.input === "string"
          ? didYouMean(
              issue.input,
              issue.values.filter((value): value is string => typeof value === "string"),
            )
          : "";
      return `expected one of ${options}, got ${got}${hint}`;
    }
    default:
      return undefined;
  }
};

function describeCount(value: unknown): string {
  return Array.isArray(value) ? `${value.length} item${value.length === 1 ? "" : "s"}` : describeValue(value);
}

function segmentOf(key: PropertyKey): PathSegment {
  return typeof key === "number" ? key : String(key);
}

// The schemas a path can lead to: several when a union is on the way (a tool entry is a name or a mapping).
function unwrap(schema: z.core.$ZodType): z.core.$ZodType[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return unwrap(schema.unwrap());
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) return unwrap(schema.unwrap());
  if (schema instanceof z.ZodUnion)
    return schema.options.flatMap((option: z.core.$ZodType) => unwrap(option));
  if (schema instanceof z.ZodPipe) return unwrap(schema.in);
  return [schema];
}

/**
 * The keys a strict object in `schema` accepts at `path` (empty when the path leads nowhere known), for the
 * "did you mean" of an unknown key.
 */
export function knownKeysAt(schema: z.core.$ZodType, path: readonly PathSegment[]): string[] {
  let current = unwrap(schema);
  for (const segment of path) {
    current = current.flatMap((node) => {
      if (node instanceof z.ZodObject && typeof segment === "string") {
        const child: z.core.$ZodType | undefined = node.shape[segment];
        return child === undefined ? [] : unwrap(child);
      }
      if (node instanceof z.ZodArray && typeof segment === "number") return unwrap(node.element);
      if (node instanceof z.ZodRecord && typeof segment === "string") return unwrap(node.valueType);
      return [];
    });
  }
  const keys = current.flatMap((node) => (node instanceof z.ZodObject ? Object.keys(node.shape) : []));
  return [...new Set(keys)];
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hint = didYouMean(key, known);
  if (hint !== "") return `unknown key \`${key}\`${hint}`;
  return known.length > 0
    ? `unknown key \`${key}\` (allowed keys: ${known.join(", ")})`
    : `unknown key \`${key}\``;
}

// A union branch "was meant" when it accepted the value's overall shape, i.e. none of its issues is about the
// value itself. With exactly one such branch its issues are the useful ones; otherwise the union's message is.
function meantBranch(branches: readonly (readonly ZodIssue[])[]): readonly ZodIssue[] | undefined {
  const meant = branches.filter(
    (issues) => issues.length > 0 && issues.every((issue) => issue.path.length > 0),
  );
  return meant.length === 1 ? meant[0] : undefined;
}

interface Translated extends RawIssue {
  readonly tag?: string;
}

/**
 * Translates the issues of a failed `safeParse` of `schema` (run with {@link agentErrorMap}) into raw issues:
 * one per unknown key, union failures narrowed to the branch that was meant, redundant issues dropped.
 */
export function translateZodIssues(issues: readonly ZodIssue[], schema: z.core.$ZodType): RawIssue[] {
  const out: Translated[] = [];
  const visit = (issue: ZodIssue, prefix: readonly PathSegment[]): void => {
    const path = [...prefix, ...issue.path.map(segmentOf)];
    switch (issue.code) {
      case "unrecognized_keys": {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys)
          out.push({ path: [...path, key], at: "key", message: unknownKeyMessage(key, known) });
        return;
      }
      case "invalid_union": {
        const branch = meantBranch(issue.errors);
        if (branch !== undefined) for (const inner of branch) visit(inner, path);
        else out.push({ path, at: "value", message: issue.message });
        return;
      }
      case "custom": {
        const tag = issue.params?.tag;
        out.push({ path, at: "value", message: issue.message, ...(typeof tag === "string" ? { tag } : {}) });
        return;
      }
      default:
        out.push({ path, at: "value", message: issue.message });
    }
  };
  for (const issue of issues) visit(issue, []);
  // An entry like `- fz: {}` is both "unknown key fz" and "no tool key"; the first says it all.
  const unknownKeyParents = new Set(
    out.filter((issue) => issue.at === "key").map((issue) => JSON.stringify(issue.path.slice(0, -1))),
  );
  return out
    .filter((issue) => issue.tag !== EMPTY_TOOL_ENTRY || !unknownKeyParents.has(JSON.stringify(issue.path)))
    .map(({ path, at, message }) => ({ path, at, message }));
}

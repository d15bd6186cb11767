/**
 * Boolean combinations of `pattern`s written as one pattern, so that `allOf` of patterns and the complement of
 * a pattern travel through schema merges and complements as an ordinary `pattern` keyword: `a` and `b` both
 * is `^(?=[\s\S]*?(?:a))(?=[\s\S]*?(?:b))`, `a` nowhere is `^(?![\s\S]*?(?:a))`. These are ECMA-262 regexes
 * with exactly the combined meaning (ajv reads them as any engine does); the grammar writes them through
 * automata (automaton.ts), which read a lookahead at the start of a pattern.
 *
 * A combination is flat: a conjunction of lookaheads anchored at the start, each a part that must (or must
 * not) match a prefix, and a rest. Combining flattens the parts of combined patterns, so no lookahead ends up
 * inside another; the complement of a conjunction is the union of its parts' complements (complement.ts).
 */

import type { JsonValue } from "../../types.js";
import { isObject } from "../jsonShapes.js";

/** A lookahead-anchored conjunction: `^(?=X)(?!Y)…rest` read into its parts (sources as written). */
export interface PatternParts {
  readonly looks: readonly { readonly negative: boolean; readonly source: string }[];
  /** What follows the lookaheads, anchored at the start ("" when nothing does). */
  readonly rest: string;
}

const ANY = "[\\s\\S]*?";

/** The index just past the group that opens at `open` (a `(`), or -1 when it is not closed. */
function groupEnd(source: string, open: number): number {
  let depth = 0;
  let inClass = false;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * The parts of a pattern of the form `^(?=X)(?!Y)…rest` (at least one lookahead), or undefined for any other
 * pattern.
 */
export function patternParts(source: string): PatternParts | undefined {
  if (!source.startsWith("^(?=") && !source.startsWith("^(?!")) return undefined;
  const looks: { negative: boolean; source: string }[] = [];
  let at = 1;
  while (source.startsWith("(?=", at) || source.startsWith("(?!", at)) {
    const end = groupEnd(source, at);
    if (end < 0) return undefined;
    looks.push({ negative: source[at + 2] === "!", source: source.slice(at + 3, end - 1) });
    at = end;
  }
  const rest = source.slice(at);
  // A quantified lookahead or a top-level `|` would change what the parts mean.
  if (/^[*+?{]/.test(rest) || hasTopLevelBar(rest)) return undefined;
  return { looks, rest };
}

function hasTopLevelBar(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}

/**
 * Whether pieces of patterns may be put into one: a `\1` (an octal escape where there is no group, a
 * backreference where there is) or a named group (two of one name are an error) would change meaning.
 */
function combinable(source: string): boolean {
  return !/\\[1-9k]/.test(source) && !/\(\?<(?![=!])/.test(source);
}

/** The lookaheads that make up `source` as a conjunct: its own parts, or "matches somewhere". */
function conjuncts(source: string): string[] {
  const parts = patternParts(source);
  if (parts === undefined) return [`(?=${ANY}(?:${source}))`];
  const out = parts.looks.map((look) => `(?${look.negative ? "!" : "="}${look.source})`);
  if (parts.rest !== "") out.push(`(?=${parts.rest})`);
  return out;
}

function valid(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/**
 * One pattern that matches exactly the strings every one of `sources` matches, or undefined when they cannot be
 * put together safely (see {@link combinable}) or one is not a valid regex.
 *
 * @example
 * allPatterns(["^a", "b$"]); // "^(?=[\\s\\S]*?(?:^a))(?=[\\s\\S]*?(?:b$))"
 */
export function allPatterns(sources: readonly string[]): string | undefined {
  if (!sources.every((source) => valid(source) && combinable(source))) return undefined;
  const unique = [...new Set(sources.flatMap(conjuncts))];
  const combined = `^${unique.join("")}`;
  return valid(combined) ? combined : undefined;
}

/**
 * Patterns whose union is exactly the strings `source` does not match (one for a plain pattern, one per part
 * for a conjunction), or undefined when that cannot be written safely.
 */
export function patternComplement(source: string): string[] | undefined {
  if (!valid(source) || !combinable(source)) return undefined;
  const parts = patternParts(source);
  const out =
    parts === undefined
      ? [`^(?!${ANY}(?:${source}))`]
      : [
          ...parts.looks.map((look) => `^(?${look.negative ? "=" : "!"}${look.source})`),
          ...(parts.rest === "" ? [] : [`^(?!${parts.rest})`]),
        ];
  return out.every(valid) ? out : undefined;
}

/**
 * One pattern that matches exactly the strings one of `sources` matches (`(?:a)|(?:b)`), or undefined when they
 * cannot be put together safely ({@link combinable}) or one has a lookahead, which the automata read only at
 * the start of a pattern.
 */
export function eitherPattern(sources: readonly string[]): string | undefined {
  if (!sources.every((source) => valid(source) && combinable(source) && !/\(\?<?[=!]/.test(source)))
    return undefined;
  const combined = [...new Set(sources)].map((source) => `(?:${source})`).join("|");
  return valid(combined) ? combined : undefined;
}

/**
 * The members of an `anyOf` with those that are only a `pattern` put into one (see {@link eitherPattern}), in
 * the place of the first: `anyOf: [{pattern: "^a"}, {pattern: "^b"}, X]` is `anyOf: [{pattern:
 * "(?:^a)|(?:^b)"}, X]`, the same values (non-strings pass both), and one alternative where the products of
 * allOf merges (merge.ts) multiply alternatives. The members unchanged where fewer than two are only a pattern.
 */
export function mergedPatternMembers(members: readonly JsonValue[]): JsonValue[] {
  const only = (member: JsonValue): member is { pattern: string } =>
    isObject(member) && Object.keys(member).length === 1 && typeof member.pattern === "string";
  const patterns = members.filter(only).map((member) => member.pattern);
  if (patterns.length < 2) return [...members];
  const either = eitherPattern(patterns);
  if (either === undefined) return [...members];
  const first = members.findIndex(only);
  return members.flatMap((member, index) =>
    index === first ? [{ pattern: either }] : only(member) ? [] : [member],
  );
}

/**
 * Whether a lookahead conjunction requires one part and also its absence (`^(?=X)(?!X)`, as the complement of
 * an anyOf of negated patterns puts next to them): no string matches it.
 */
export function contradictoryPattern(source: string): boolean {
  const parts = patternParts(source);
  if (parts === undefined) return false;
  const positive = new Set(parts.looks.filter((look) => !look.negative).map((look) => look.source));
  return parts.looks.some((look) => look.negative && positive.has(look.source));
}

/** A pattern matching exactly the given strings (for a string `not: {enum}` next to a pattern). */
export function literalsPattern(values: readonly string[]): string {
  const escaped = values.map((value) => value.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&"));
  return `^(?:${escaped.join("|")})$`;
}

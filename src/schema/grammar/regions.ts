/**
 * The key space of two object schemas that must both hold (`allOf`), split into regions. For one schema, what a
 * key that is not a declared property may hold depends on which of its `patternProperties` the key matches
 * (all their schemas) or, where none does, on `additionalProperties`. For two schemas, the keys split into
 * cells of each — a set of one side's patterns matched and the others not — and a region is a pair of cells,
 * the key matching both cells' patterns, with the allOf of the two cells' value schemas. A region whose value
 * is `false` holds no key; an empty one (its automaton accepts nothing) is dropped. The merged schema is then
 * `patternProperties` of pairwise disjoint region patterns (lookahead conjunctions, patterns.ts) and
 * `additionalProperties: false`, which objects.ts writes key by key; declared names are left out of every region
 * and get the allOf of what each side gives them.
 *
 * A side whose `additionalProperties` is `false` and whose patterns are already disjoint (a merged schema) has
 * one cell per pattern; any other side has one cell per subset of its patterns, each needing the complements
 * of the others, so at most MAX_SIDE_PATTERNS of them. Past MAX_REGIONS regions, or where a complement cannot
 * be written as one pattern, the merge gives up (undefined) and merge.ts combines the keywords as before (the
 * validator checks the rest).
 */
import type { JsonObject, JsonValue } from "../../types.js";
import { isObject } from "../jsonShapes.js";
import { intersectDfa, patternDfa } from "./automaton.js";
import { acceptsNothing } from "./keyGroups.js";
import { allPatterns, literalsPattern, patternComplement } from "./patterns.js";
import { UnsupportedRegexError } from "./regexParser.js";

/** Most patterns of a side whose every subset is a cell (2^n cells). */
export const MAX_SIDE_PATTERNS = 4;
/** Most non-empty regions a merge may write; past it the merge is left as before. */
export const MAX_REGIONS = 16;
/** Most cell pairs a merge examines (each an automaton product). */
const MAX_PAIRS = 64;

interface Cell {
  /** The key matches all of these. */
  readonly patterns: readonly string[];
  readonly value: JsonValue;
}

/** The merged key space: properties, region patterns, and `additionalProperties: false`. */
export interface KeySpace {
  readonly properties: JsonObject;
  readonly patternProperties: JsonObject;
}

function trivial(value: JsonValue | undefined): boolean {
  return value === undefined || value === true || (isObject(value) && Object.keys(value).length === 0);
}

/** Whether the schema says anything about the keys it does not declare (patterns, or additionalProperties). */
export function constrainsKeys(schema: JsonObject): boolean {
  const patterns = schema.patternProperties;
  return (isObject(patterns) && Object.keys(patterns).length > 0) || !trivial(schema.additionalProperties);
}

function both(a: JsonValue, b: JsonValue): JsonValue {
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  if (trivial(a)) return b;
  if (trivial(b)) return a;
  if (a === false || b === false) return false;
  return { allOf: [a, b] };
}

function allOf(values: readonly JsonValue[]): JsonValue {
  return values.reduce<JsonValue>((acc, value) => both(acc, value), true);
}

function matches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return false;
  }
}

/** Whether the automata of the two patterns share no string (false when that cannot be decided). */
export function patternsDisjoint(a: string, b: string): boolean {
  try {
    return acceptsNothing(intersectDfa(patternDfa(a), patternDfa(b)));
  } catch (error) {
    if (error instanceof UnsupportedRegexError) return false;
    throw error;
  }
}

/** Whether no string matches the pattern (false when that cannot be decided). */
function emptyPattern(pattern: string): boolean {
  try {
    return acceptsNothing(patternDfa(pattern));
  } catch (error) {
    if (error instanceof UnsupportedRegexError) return false;
    throw error;
  }
}

/** The cells of one side (see the file comment), or undefined when they cannot be written. */
function cells(schema: JsonObject): Cell[] | undefined {
  const entries = isObject(schema.patternProperties) ? Object.entries(schema.patternProperties) : [];
  const additional = schema.additionalProperties ?? true;
  const separate =
    additional === false &&
    entries.every(([p], i) => entries.every(([q], j) => j <= i || patternsDisjoint(p, q)));
  if (separate) {
    return entries
      .filter(([, value]) => value !== false)
      .map(([pattern, value]) => ({ patterns: [pattern], value: value as JsonValue }));
  }
  if (entries.length > MAX_SIDE_PATTERNS) return undefined;
  const out: Cell[] = [];
  for (let mask = 0; mask < 1 << entries.length; mask++) {
    const inside = entries.filter((_, i) => mask & (1 << i));
    const value = inside.length === 0 ? additional : allOf(inside.map(([, schema]) => schema as JsonValue));
    if (value === false) continue;
    const patterns = inside.map(([pattern]) => pattern);
    for (const [pattern] of entries.filter((_, i) => !(mask & (1 << i)))) {
      const not = patternComplement(pattern);
      if (not?.length !== 1) return undefined;
      patterns.push(not[0] as string);
    }
    out.push({ patterns, value });
  }
  return out;
}

/** What a side gives a declared name: its own schema (if it declares it) and its matching patterns' schemas. */
function nameValue(schema: JsonObject, name: string): JsonValue {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const patterns = isObject(schema.patternProperties) ? Object.entries(schema.patternProperties) : [];
  const matching = patterns
    .filter(([pattern]) => matches(pattern, name))
    .map(([, value]) => value as JsonValue);
  if (Object.hasOwn(properties, name)) return allOf([properties[name] as JsonValue, ...matching]);
  return matching.length > 0 ? allOf(matching) : (schema.additionalProperties ?? true);
}

/**
 * The key space of `a` and `b` merged (see the file comment), or undefined when it cannot be written within
 * the bounds.
 *
 * @example
 * mergeKeySpaces({ patternProperties: { a: true }, additionalProperties: false },
 *   { patternProperties: { b: true }, additionalProperties: false });
 * // { properties: {}, patternProperties: { "^(?=[\\s\\S]*?(?:a))(?=[\\s\\S]*?(?:b))": true } }
 */
export function mergeKeySpaces(a: JsonObject, b: JsonObject): KeySpace | undefined {
  const left = cells(a);
  const right = cells(b);
  if (left === undefined || right === undefined || left.length * right.length > MAX_PAIRS) return undefined;
  const declared = [
    ...new Set([
      ...(isObject(a.properties) ? Object.keys(a.properties) : []),
      ...(isObject(b.properties) ? Object.keys(b.properties) : []),
    ]),
  ];
  const notDeclared = declared.length === 0 ? [] : patternComplement(literalsPattern(declared));
  if (notDeclared === undefined || notDeclared.length > 1) return undefined;
  const patternProperties: JsonObject = {};
  let regions = 0;
  for (const x of left) {
    for (const y of right) {
      const value = both(x.value, y.value);
      if (value === false) continue;
      const pattern = allPatterns([...x.patterns, ...y.patterns, ...notDeclared]);
      if (pattern === undefined) return undefined;
      if (emptyPattern(pattern)) continue;
      if (++regions > MAX_REGIONS) return undefined;
      patternProperties[pattern] = Object.hasOwn(patternProperties, pattern)
        ? both(patternProperties[pattern] as JsonValue, value)
        : value;
    }
  }
  const properties: JsonObject = {};
  for (const name of declared) properties[name] = both(nameValue(a, name), nameValue(b, name));
  return { properties, patternProperties };
}

/**
 * The complement of a schema as a union of schemas the grammar can write, so that `not`, `if`/`then`/`else`,
 * `dependentSchemas` and the exclusivity of `oneOf` become `anyOf`s the compiler already knows.
 *
 * A schema is a conjunction of its keywords, so its complement is the union of each keyword's complement:
 * `not {required: [a]}` is an object without `a`; `not {minimum: 5}` a number below 5; `not {enum: ["x", 1]}`
 * anything of another type, a number in one of the open intervals around 1, or a string other than "x". Every
 * alternative returned admits only values the schema refuses (soundness, which the grammar promises); a
 * `pattern`'s complement is a pattern too (patterns.ts: a negative lookahead the automata write), and a
 * `multipleOf`'s (or one of multipleOfs under not/allOf/anyOf/oneOf) a `not` the number automaton writes
 * (residues.ts). Where a keyword's complement cannot be written (a `format`'s, say), its alternatives are
 * left out: the union is then smaller than the complement (`exact: false`), still sound, and the values left
 * out are ones the grammar will not write.
 *
 * A oneOf's alternative is written with every other alternative's complement ({@link jointly}): where two of
 * those ask an object for a key (`not: {patternProperties}`), one key may answer both, which an object with
 * few properties needs.
 */
import type { JsonObject, JsonValue } from "../../types.js";
import { count, isObject } from "../jsonShapes.js";
import { isAnnotation, listedValues, MORE_CONTAINS, typeSet } from "./merge.js";
import { allPatterns, patternComplement } from "./patterns.js";
import { GRAMMAR_KEYWORDS, VALIDATOR_KEYWORDS } from "./report.js";
import { formulaOnOthers, multipleFormula } from "./residues.js";

/** The union of schemas that make up (part of) a schema's complement. */
export interface Complement {
  readonly alternatives: readonly JsonValue[];
  /** Whether the union is the whole complement (false: some values the schema refuses are left out). */
  readonly exact: boolean;
}

/** Resolves a `$ref` to its target schema, or undefined when it points nowhere. */
export type RefResolver = (reference: string) => JsonValue | undefined;

/** Most alternatives a complement may have before it is given up (each becomes a branch of the grammar). */
export const MAX_ALTERNATIVES = 16;
/** Most `$ref`s followed inside one complement (recursive schemas stop here). */
const MAX_DEPTH = 4;
/** Most schema objects one complement looks at: a complement is worth writing only for small schemas. */
const MAX_VISITS = 64;

const JSON_TYPES = ["null", "boolean", "number", "string", "array", "object"] as const;

function typeOf(value: JsonValue): (typeof JSON_TYPES)[number] {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value as "boolean" | "number" | "string" | "object";
}

/**
 * The strings of a `not` that only excludes strings (`not: {enum: ["a", "b"]}` or `not: {const: "a"}`), or
 * undefined when `schema.not` is anything else. The compiler writes such a `not` directly under `type: "string"`
 * (a trie of the excluded strings), which is where the complements of string enums end.
 */
export function stringExclusion(schema: JsonObject): string[] | undefined {
  const values = schema.not === undefined ? undefined : listedValues(schema.not);
  return values?.every((value) => typeof value === "string") ? (values as string[]) : undefined;
}

/** Values that are not in `values` (a JSON Schema `enum`), by type: exact except for arrays and objects. */
function notIn(values: readonly JsonValue[]): Complement {
  const byType = new Map<string, JsonValue[]>();
  for (const value of values) {
    const type = typeOf(value);
    byType.set(type, [...(byType.get(type) ?? []), value]);
  }
  const alternatives: JsonValue[] = [];
  let exact = true;
  const untouched = JSON_TYPES.filter((type) => !byType.has(type));
  if (untouched.length > 0)
    alternatives.push({ type: untouched.length === 1 ? (untouched[0] as string) : [...untouched] });
  const booleans = byType.get("boolean");
  if (booleans !== undefined) {
    const rest = [true, false].filter((value) => !booleans.includes(value));
    if (rest.length > 0) alternatives.push({ enum: rest });
  }
  const numbers = byType.get("number");
  if (numbers !== undefined) {
    const sorted = [...new Set(numbers as number[])].sort((a, b) => a - b);
    alternatives.push({ type: "number", exclusiveMaximum: sorted[0] as number });
    alternatives.push({ type: "number", exclusiveMinimum: sorted.at(-1) as number });
    if (sorted.length <= 8) {
      for (let i = 0; i + 1 < sorted.length; i++) {
        alternatives.push({
          type: "number",
          exclusiveMinimum: sorted[i] as number,
          exclusiveMaximum: sorted[i + 1] as number,
        });
      }
    } else exact = false;
  }
  const strings = byType.get("string");
  if (strings !== undefined) alternatives.push({ type: "string", not: { enum: strings } });
  // One given array or object: the others differ in length or size, or at some index or key. More than one
  // would take the intersection of those unions: left out.
  for (const type of ["array", "object"] as const) {
    const listed = byType.get(type);
    if (listed === undefined) continue;
    const others = listed.length === 1 ? otherThan(listed[0] as JsonValue) : undefined;
    if (others === undefined) exact = false;
    else {
      alternatives.push(...others.alternatives);
      exact &&= others.exact;
    }
  }
  return { alternatives, exact };
}

/** The arrays (or objects) other than `value`, one: by length or size, or by an item or member. */
function otherThan(value: JsonValue): Complement | undefined {
  const differs = (item: JsonValue): { schema: JsonValue; exact: boolean } => {
    // A nested array or object stays a `not` of its own, complemented when the compiler reaches it (one level
    // at a time, reported where it is written), so a deep value costs one union per level reached.
    if (Array.isArray(item) || isObject(item)) return { schema: { not: { const: item } }, exact: true };
    const negated = notIn([item]);
    return { schema: { anyOf: [...negated.alternatives] }, exact: negated.exact };
  };
  const alternatives: JsonValue[] = [];
  let exact = true;
  if (Array.isArray(value)) {
    const n = value.length;
    if (n > MAX_ALTERNATIVES) return undefined;
    if (n > 0) alternatives.push({ type: "array", maxItems: n - 1 });
    alternatives.push({ type: "array", minItems: n + 1 });
    value.forEach((item, index) => {
      const other = differs(item);
      exact &&= other.exact;
      alternatives.push({
        type: "array",
        minItems: index + 1,
        prefixItems: [...Array.from({ length: index }, () => true), other.schema],
      });
    });
    return { alternatives, exact };
  }
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length > MAX_ALTERNATIVES) return undefined;
  // Every key there, and no more than those: the object itself.
  alternatives.push({ type: "object", minProperties: keys.length + 1 });
  for (const key of keys) {
    const other = differs(value[key] as JsonValue);
    exact &&= other.exact;
    alternatives.push(typed("object", { properties: { [key]: false } }));
    alternatives.push(typed("object", { required: [key], properties: { [key]: other.schema } }));
  }
  return { alternatives, exact };
}

/** A union of `parts`' unions (exact when each is). */
function union(parts: readonly (Complement | undefined)[]): Complement | undefined {
  const alternatives: JsonValue[] = [];
  let exact = true;
  for (const part of parts) {
    if (part === undefined) {
      exact = false;
      continue;
    }
    alternatives.push(...part.alternatives);
    exact &&= part.exact;
  }
  return alternatives.length > MAX_ALTERNATIVES ? undefined : { alternatives, exact };
}

/** The names of `{type: "object", required: [...]}` and nothing else; undefined for any other schema. */
function requiredOnly(schema: JsonValue): string[] | undefined {
  if (!isObject(schema) || schema.type !== "object" || !Array.isArray(schema.required)) return undefined;
  if (Object.keys(schema).length !== 2) return undefined;
  return schema.required.every((name) => typeof name === "string")
    ? (schema.required as string[])
    : undefined;
}

/**
 * Combinations whose members only require names are one object requiring them all; one that requires all a
 * smaller one does (and more) adds nothing to the union. Keeps "some key of each list" (the complement of
 * several `propertyNames`) at its minimal hitting sets.
 */
function absorb(combos: readonly JsonValue[][]): JsonValue[][] {
  const plain: Set<string>[] = [];
  const other: JsonValue[][] = [];
  for (const combo of combos) {
    const lists = combo.map(requiredOnly);
    if (lists.every((list) => list !== undefined)) plain.push(new Set(lists.flat() as string[]));
    else other.push(combo);
  }
  const minimal = plain.filter(
    (set, i) =>
      !plain.some(
        (smaller, j) =>
          j !== i && [...smaller].every((name) => set.has(name)) && (smaller.size < set.size || j < i),
      ),
  );
  return [...minimal.map((set) => [typed("object", { required: [...set].sort() }) as JsonValue]), ...other];
}

/** The intersection of unions: every combination of one alternative from each (while that stays small). */
function intersection(parts: readonly Complement[]): Complement | undefined {
  let combos: JsonValue[][] = [[]];
  for (const part of parts) {
    combos = absorb(
      combos.flatMap((combo) => part.alternatives.map((alternative) => [...combo, alternative])),
    );
    if (combos.length > MAX_ALTERNATIVES) return undefined;
  }
  return {
    alternatives: combos.map((combo) => (combo.length === 1 ? (combo[0] as JsonValue) : { allOf: combo })),
    exact: parts.every((part) => part.exact),
  };
}

/** Only of one type: `{type, ...rest}`. */
function typed(type: string, rest: JsonObject): JsonObject {
  return { type, ...rest };
}

/** The key `{type: "object", not: {patternProperties: {p: S}}}` asks for (p, and the S its value fails). */
function askedKey(alternative: JsonValue): { source: string; schema: JsonValue } | undefined {
  if (!isObject(alternative) || alternative.type !== "object" || Object.keys(alternative).length !== 2)
    return undefined;
  const not = alternative.not;
  if (!isObject(not) || Object.keys(not).length !== 1 || !isObject(not.patternProperties)) return undefined;
  const entries = Object.entries(not.patternProperties);
  if (entries.length !== 1) return undefined;
  const [source, schema] = entries[0] as [string, JsonValue];
  return { source, schema };
}

/**
 * What all of `parts` hold (the complements of a oneOf's other alternatives), as members of an allOf: one
 * `anyOf` per part; or, where two or more parts ask an object for a key (`not: {patternProperties}`), one
 * `anyOf` of their combinations, each combination also written a second way with a single key for all those
 * it asks for: a key matching all their patterns whose value all their schemas refuse. That second way holds
 * only values the first does (sound either way); the first alone writes one member per asked key, which an
 * object with few properties (`maxProperties`) may not have room for. Past {@link MAX_ALTERNATIVES}
 * combinations, the plain form.
 */
export function jointly(parts: readonly Complement[]): JsonValue[] {
  const plain = parts.map((part) => ({ anyOf: [...part.alternatives] }));
  if (parts.filter((part) => part.alternatives.some((item) => askedKey(item) !== undefined)).length < 2)
    return plain;
  let combos: JsonValue[][] = [[]];
  for (const part of parts) {
    combos = combos.flatMap((combo) => part.alternatives.map((alternative) => [...combo, alternative]));
    if (combos.length > MAX_ALTERNATIVES) return plain;
  }
  const alternatives: JsonValue[] = [];
  for (const combo of combos) {
    alternatives.push(combo.length === 1 ? (combo[0] as JsonValue) : { allOf: combo });
    const asked = combo.map(askedKey);
    const keys = asked.filter((key) => key !== undefined);
    if (keys.length < 2) continue;
    const pattern = allPatterns(keys.map((key) => key.source));
    if (pattern === undefined) continue;
    const shared = typed("object", {
      not: { patternProperties: { [pattern]: { anyOf: keys.map((key) => key.schema) } } },
    });
    const rest = combo.filter((_, index) => asked[index] === undefined);
    alternatives.push(rest.length === 0 ? shared : { allOf: [shared, ...rest] });
  }
  return [{ anyOf: alternatives }];
}

/**
 * The complement of `schema` (see the file comment), or undefined when nothing of it can be written (or it
 * would take more than {@link MAX_ALTERNATIVES} alternatives).
 */
export function complement(schema: JsonValue, resolve: RefResolver): Complement | undefined {
  const work = { visits: 0 };
  return complementOf(schema, resolve, 0, work);
}

interface Work {
  visits: number;
}

function complementOf(
  schema: JsonValue,
  resolve: RefResolver,
  depth: number,
  work: Work,
): Complement | undefined {
  if (schema === true) return { alternatives: [], exact: true };
  if (schema === false) return { alternatives: [true], exact: true };
  if (!isObject(schema) || depth > MAX_DEPTH || ++work.visits > MAX_VISITS) return undefined;
  // Only multipleOfs (under not, allOf, anyOf, oneOf): the numbers it refuses are one `not` the number's
  // automaton writes (residues.ts); the other values pass every multipleOf, so it refuses them all or none.
  const formula = multipleFormula(schema);
  if (formula !== undefined) {
    const alternatives: JsonValue[] = [{ type: "number", not: schema }];
    if (!formulaOnOthers(formula))
      alternatives.push({ type: JSON_TYPES.filter((type) => type !== "number") });
    return { alternatives, exact: true };
  }
  const parts: (Complement | undefined)[] = [];
  for (const [keyword, value] of Object.entries(schema)) {
    // A merge's further contains (merge.ts): arrays without an item matching one of them.
    if (keyword === MORE_CONTAINS) {
      const others = Array.isArray(value) ? value : [];
      parts.push(
        schema.minContains !== undefined || schema.maxContains !== undefined
          ? undefined
          : { alternatives: others.map((other) => typed("array", { items: { not: other } })), exact: true },
      );
      continue;
    }
    // Annotations and words that are not keywords constrain nothing: their complement is empty.
    if (isAnnotation(keyword) || (!GRAMMAR_KEYWORDS.has(keyword) && !VALIDATOR_KEYWORDS.has(keyword)))
      continue;
    if (keyword === "default") continue;
    parts.push(keywordComplement(keyword, value, schema, resolve, depth, work));
    if (work.visits > MAX_VISITS) return undefined;
  }
  const result = union(parts);
  // Nothing of a refusing schema could be written: better left to the validator than an empty grammar.
  if (result === undefined || (result.alternatives.length === 0 && !result.exact)) return undefined;
  return result;
}

function keywordComplement(
  keyword: string,
  value: JsonValue,
  schema: JsonObject,
  resolve: RefResolver,
  depth: number,
  work: Work,
): Complement | undefined {
  // Depth counts the `$ref`s followed (recursion); a schema's own nesting is finite, and visits bound it too.
  const inner = (member: JsonValue) => complementOf(member, resolve, depth, work);
  const exactly = (...alternatives: JsonValue[]): Complement => ({ alternatives, exact: true });
  switch (keyword) {
    case "$ref": {
      const target = typeof value === "string" ? resolve(value) : undefined;
      return target === undefined ? undefined : complementOf(target, resolve, depth + 1, work);
    }
    case "type": {
      const types = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
      const named = new Set(types.map(String));
      // A type list without "number" but with "integer": the numbers that are not integers cannot be written.
      const rest = JSON_TYPES.filter(
        (type) => !named.has(type) && !(type === "number" && named.has("integer")),
      );
      const alternatives: JsonValue[] =
        rest.length === 0 ? [] : [{ type: rest.length === 1 ? (rest[0] as string) : [...rest] }];
      return { alternatives, exact: !(named.has("integer") && !named.has("number")) };
    }
    case "const":
      return notIn([value]);
    case "enum":
      return Array.isArray(value) ? notIn(value) : undefined;
    case "required":
      return Array.isArray(value)
        ? exactly(
            ...value
              .filter((name): name is string => typeof name === "string")
              .map((name) => typed("object", { properties: { [name]: false } })),
          )
        : undefined;
    case "properties": {
      if (!isObject(value)) return undefined;
      return union(
        Object.entries(value).map(([name, member]) => {
          const negated = inner(member);
          if (negated === undefined || negated.alternatives.length === 0) return negated;
          const alternatives = negated.alternatives;
          return {
            alternatives: [
              typed("object", {
                required: [name],
                properties: {
                  [name]:
                    alternatives.length === 1 ? (alternatives[0] as JsonValue) : { anyOf: [...alternatives] },
                },
              }),
            ],
            exact: negated.exact,
          };
        }),
      );
    }
    case "dependentRequired": {
      if (!isObject(value)) return undefined;
      const alternatives: JsonValue[] = [];
      for (const [name, needed] of Object.entries(value)) {
        if (!Array.isArray(needed)) return undefined;
        for (const other of needed) {
          if (typeof other === "string")
            alternatives.push(typed("object", { required: [name], properties: { [other]: false } }));
        }
      }
      return alternatives.length > MAX_ALTERNATIVES ? undefined : { alternatives, exact: true };
    }
    case "dependentSchemas":
      return isObject(value)
        ? union(
            Object.entries(value).map(([name, member]) =>
              exactly(typed("object", { required: [name], not: member })),
            ),
          )
        : undefined;
    case "minLength":
    case "minItems":
    case "minProperties": {
      const n = count(value);
      if (n === undefined) return undefined;
      if (n === 0) return exactly();
      const [type, upper] =
        keyword === "minLength"
          ? ["string", "maxLength"]
          : keyword === "minItems"
            ? ["array", "maxItems"]
            : ["object", "maxProperties"];
      return exactly(typed(type as string, { [upper as string]: n - 1 }));
    }
    case "maxLength":
    case "maxItems":
    case "maxProperties": {
      const n = count(value);
      if (n === undefined) return undefined;
      const [type, lower] =
        keyword === "maxLength"
          ? ["string", "minLength"]
          : keyword === "maxItems"
            ? ["array", "minItems"]
            : ["object", "minProperties"];
      return exactly(typed(type as string, { [lower as string]: n + 1 }));
    }
    case "minimum":
      return typeof value === "number" ? exactly(typed("number", { exclusiveMaximum: value })) : undefined;
    case "maximum":
      return typeof value === "number" ? exactly(typed("number", { exclusiveMinimum: value })) : undefined;
    case "exclusiveMinimum":
      return typeof value === "number" ? exactly(typed("number", { maximum: value })) : undefined;
    case "exclusiveMaximum":
      return typeof value === "number" ? exactly(typed("number", { minimum: value })) : undefined;
    case "items": {
      // Some item (past the prefix) the item schema refuses.
      if (Array.isArray(schema.prefixItems)) return undefined;
      const negated = inner(value);
      if (negated === undefined || negated.alternatives.length === 0) return negated;
      return {
        alternatives: [typed("array", { contains: { anyOf: [...negated.alternatives] } })],
        exact: negated.exact,
      };
    }
    case "multipleOf":
      // The numbers that are not multiples: written by the number's automaton (residues.ts).
      return typeof value === "number" && value > 0
        ? exactly(typed("number", { not: { multipleOf: value } }))
        : undefined;
    case "contains":
      // Arrays none of whose items match (minContains and maxContains change what contains means: left out).
      if (schema.minContains !== undefined || schema.maxContains !== undefined) return undefined;
      return exactly(typed("array", { items: { not: value } }));
    case "propertyNames": {
      // Some key the names' schema refuses: a listed one is required; non-strings are no keys at all.
      const negated = inner(value);
      if (negated === undefined) return undefined;
      const alternatives: JsonValue[] = [];
      let exact = negated.exact;
      for (const alternative of negated.alternatives) {
        const listed = listedValues(alternative);
        const types = isObject(alternative) ? typeSet(alternative.type) : undefined;
        if (alternative === true) alternatives.push(typed("object", { minProperties: 1 }));
        else if (listed !== undefined) {
          for (const name of listed)
            if (typeof name === "string") alternatives.push(typed("object", { required: [name] }));
        } else if (types !== undefined && !types.includes("string")) {
          // No key is of these types: nothing to add.
        } else {
          // A key by pattern, or other than some names: not written (objects with more keys than excluded
          // names would do for the latter, a subset).
          const excluded =
            isObject(alternative) && alternative.type === "string" ? stringExclusion(alternative) : undefined;
          if (excluded !== undefined && Object.keys(alternative as JsonObject).length === 2)
            alternatives.push(typed("object", { minProperties: excluded.length + 1 }));
          exact = false;
        }
      }
      return union([{ alternatives, exact }]);
    }
    case "patternProperties":
      // A key matching a pattern whose value its schema refuses: a `not` objects.ts writes as a member.
      return isObject(value)
        ? union(
            Object.entries(value).map(([source, member]) =>
              exactly(typed("object", { not: { patternProperties: { [source]: member } } })),
            ),
          )
        : undefined;
    case "pattern": {
      // Strings the pattern does not match: patterns of their own (patterns.ts), written through automata.
      const parts = typeof value === "string" ? patternComplement(value) : undefined;
      return parts === undefined
        ? undefined
        : exactly(...parts.map((part) => typed("string", { pattern: part })));
    }
    case "not":
      return exactly(value);
    case "allOf":
      return Array.isArray(value) ? union(value.map(inner)) : undefined;
    case "anyOf": {
      if (!Array.isArray(value)) return undefined;
      const parts = value.map(inner);
      if (parts.some((part) => part === undefined)) return undefined;
      return intersection(parts as Complement[]);
    }
    default:
      // format, oneOf, if/then/else, patternProperties, propertyNames, uniqueItems, …
      return undefined;
  }
}

/**
 * Intersection of two schemas, for `allOf` and for combinators that sit next to other keywords (`{type: object,
 * properties: …, anyOf: [{required: [a]}, {required: [b]}]}` is the union of two merged schemas). A grammar has
 * no intersection, so the keywords are combined one by one: bounds take the tighter value, `properties` and
 * `required` unite, `type` and `enum` intersect, two `pattern`s become one (patterns.ts). Where two values
 * cannot be combined exactly (two different `format`s, say), the first one stays for the grammar and the
 * keyword is named in `inexact`: the validator, which always checks the original schema, enforces the rest.
 * Two members that both constrain undeclared keys (one with `patternProperties`) split the key space into
 * regions, each a pattern with the allOf of the value schemas that apply to it (regions.ts).
 */
import type { JsonObject, JsonValue } from "../../types.js";
import { isObject } from "../jsonShapes.js";
import { decimalLcm } from "../multipleOf.js";
import { allPatterns, mergedPatternMembers } from "./patterns.js";
import { constrainsKeys, type KeySpace, mergeKeySpaces } from "./regions.js";

/** A merged schema and the keywords the merge could not combine exactly. */
export interface Merged {
  readonly schema: JsonObject;
  readonly inexact: readonly string[];
}

const LOWER = ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"];
const UPPER = ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"];
/**
 * Further `contains` of a merged schema (each needs an item of its own, or one item matching several): the merge
 * keeps two different `contains` apart here, where `minContains`/`maxContains` do not count them, and arrays.ts
 * writes them. No JSON Schema keyword (it cannot clash with one); only merged schemas hold it.
 */
export const MORE_CONTAINS = "\u0000contains";

/** Keywords whose values become one `allOf` of both. */
const SCHEMA_VALUED = ["additionalProperties", "items", "propertyNames", "contains", "unevaluatedProperties"];

function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function bothOf(a: JsonValue, b: JsonValue): JsonValue {
  if (sameJson(a, b)) return a;
  if (a === true) return b;
  if (b === true) return a;
  if (a === false || b === false) return false;
  return { allOf: [a, b] };
}

/** The types a `type` keyword names (undefined when it is absent). */
export function typeSet(value: JsonValue | undefined): string[] | undefined {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((t): t is string => typeof t === "string") : undefined;
}

function intersectTypes(a: JsonValue | undefined, b: JsonValue | undefined): JsonValue | undefined {
  const left = typeSet(a);
  const right = typeSet(b);
  if (left === undefined) return b;
  if (right === undefined) return a;
  const out: string[] = [];
  for (const type of left) {
    if (right.includes(type)) out.push(type);
    else if (type === "integer" && right.includes("number")) out.push("integer");
    else if (type === "number" && right.includes("integer")) out.push("integer");
  }
  const unique = [...new Set(out)];
  return unique.length === 1 ? (unique[0] as string) : unique;
}

/**
 * `prefixItems` and `items` of two array schemas, merged position by position: item i must satisfy what each
 * schema says of position i — its `prefixItems[i]` where it has one, else its `items` (which in 2020-12 covers
 * only the positions after its own prefix). So `{items: X}` and `{prefixItems: [P]}` give `{prefixItems: [P and
 * X], items: X}`, never a prefix that escapes X.
 */
function mergeItems(a: JsonObject, b: JsonObject, out: JsonObject): void {
  const prefixA = Array.isArray(a.prefixItems) ? a.prefixItems : [];
  const prefixB = Array.isArray(b.prefixItems) ? b.prefixItems : [];
  const at = (prefix: readonly JsonValue[], rest: JsonValue | undefined, i: number): JsonValue | undefined =>
    i < prefix.length ? prefix[i] : rest;
  const length = Math.max(prefixA.length, prefixB.length);
  if (length > 0) {
    out.prefixItems = Array.from({ length }, (_, i) =>
      bothOf(at(prefixA, a.items, i) ?? true, at(prefixB, b.items, i) ?? true),
    );
  }
  if (a.items !== undefined && b.items !== undefined) out.items = bothOf(a.items, b.items);
  else if (b.items !== undefined) out.items = b.items;
}

/**
 * The intersection of `a` and `b` (see the file comment). Neither input is changed.
 *
 * @example
 * mergeSchemas({ type: "object", properties: { a: { type: "string" } } }, { required: ["a"], properties: { b: {} } });
 * // { schema: { type: "object", properties: { a: …, b: {} }, required: ["a"] }, inexact: [] }
 */
export function mergeSchemas(a: JsonObject, b: JsonObject): Merged {
  const out: JsonObject = { ...a };
  const inexact: string[] = [];
  mergeItems(a, b, out);
  for (const [key, value] of Object.entries(b)) {
    if (key === "items" || key === "prefixItems") continue; // mergeItems
    const mine = out[key];
    if (mine === undefined) {
      out[key] = value;
      continue;
    }
    if (sameJson(mine, value)) continue;
    if (LOWER.includes(key) && typeof mine === "number" && typeof value === "number") {
      out[key] = Math.max(mine, value);
    } else if (UPPER.includes(key) && typeof mine === "number" && typeof value === "number") {
      out[key] = Math.min(mine, value);
    } else if (key === "multipleOf" && typeof mine === "number" && typeof value === "number") {
      // A multiple of both is a multiple of their least common multiple (as exact decimals).
      const lcm = decimalLcm(mine, value);
      if (lcm === undefined) inexact.push(key);
      else out.multipleOf = lcm;
    } else if (key === "type") {
      const type = intersectTypes(mine, value);
      if (type !== undefined) out.type = type;
    } else if (key === "required" && Array.isArray(mine) && Array.isArray(value)) {
      out.required = [...new Set([...mine, ...value])];
    } else if (key === "enum" && Array.isArray(mine) && Array.isArray(value)) {
      out.enum = mine.filter((item) => value.some((other) => sameJson(item, other)));
    } else if (
      (key === "properties" || key === "patternProperties" || key === "$defs") &&
      isObject(mine) &&
      isObject(value)
    ) {
      const merged: JsonObject = { ...mine };
      for (const [name, schema] of Object.entries(value)) {
        // Own names only: a property called `constructor` is not Object.prototype's.
        merged[name] = Object.hasOwn(merged, name) ? bothOf(merged[name] as JsonValue, schema) : schema;
      }
      out[key] = merged;
    } else if (key === "dependentRequired" && isObject(mine) && isObject(value)) {
      const merged: JsonObject = { ...mine };
      for (const [name, list] of Object.entries(value)) {
        const before = Array.isArray(merged[name]) ? (merged[name] as JsonValue[]) : [];
        merged[name] = [...new Set([...before, ...(Array.isArray(list) ? list : [])])];
      }
      out[key] = merged;
    } else if (
      key === "contains" &&
      [a, b].every((side) => side.minContains === undefined && side.maxContains === undefined)
    ) {
      out[MORE_CONTAINS] = [...(Array.isArray(out[MORE_CONTAINS]) ? out[MORE_CONTAINS] : []), value];
    } else if (key === MORE_CONTAINS && Array.isArray(mine) && Array.isArray(value)) {
      out[key] = [...mine, ...value];
    } else if (SCHEMA_VALUED.includes(key)) {
      out[key] = bothOf(mine, value);
    } else if ((key === "anyOf" || key === "oneOf") && Array.isArray(mine) && Array.isArray(value)) {
      // (a1 | a2) & (b1 | b2) = a1&b1 | a1&b2 | …, while that stays small (an anyOf's members that are only a
      // pattern are one alternative: patterns.ts).
      const left = key === "anyOf" ? mergedPatternMembers(mine) : mine;
      const right = key === "anyOf" ? mergedPatternMembers(value) : value;
      if (left.length * right.length <= 64) {
        out[key] = left.flatMap((l) => right.map((r) => bothOf(l, r)));
      } else inexact.push(key);
    } else if (key === "not") {
      // Neither A nor B: not (A or B); two excluded value lists become one.
      const left = listedValues(mine);
      const right = listedValues(value);
      out.not =
        left !== undefined && right !== undefined ? { enum: [...left, ...right] } : { anyOf: [mine, value] };
    } else if (key === "dependentSchemas" && isObject(mine) && isObject(value)) {
      const merged: JsonObject = { ...mine };
      for (const [name, schema] of Object.entries(value)) {
        // Own names only: a property called `constructor` is not Object.prototype's.
        merged[name] = Object.hasOwn(merged, name) ? bothOf(merged[name] as JsonValue, schema) : schema;
      }
      out[key] = merged;
    } else if (key === "allOf" && Array.isArray(mine) && Array.isArray(value)) {
      out.allOf = [...mine, ...value];
    } else if (key === "const" || (key === "enum" && !Array.isArray(value))) {
      // Two different constants: nothing satisfies both.
      out.enum = [];
      delete out.const;
    } else if (isAnnotation(key)) {
      // Titles, descriptions and the like: keep the first.
    } else if (key === "pattern" && typeof mine === "string" && typeof value === "string") {
      // Both patterns: one pattern of two lookaheads (patterns.ts), which the automata write.
      const both = allPatterns([mine, value]);
      if (both === undefined) inexact.push(key);
      else out.pattern = both;
    } else {
      // pattern, format, not, if/then/else, …: the first stays; the validator checks both.
      inexact.push(key);
    }
  }
  // Both members say what keys they do not declare may hold, one with patterns: the key space splits into
  // regions, each a pattern of its own (regions.ts).
  const regions = keyRegions(a, b);
  if (regions !== undefined) {
    if (Object.keys(regions.properties).length > 0) out.properties = regions.properties;
    out.patternProperties = regions.patternProperties;
    out.additionalProperties = false;
  }
  // A member with `additionalProperties: false` allows only the keys it declares: a property the other member
  // declares stays when it is one of those names or matches one of its patterns. A pattern only the other
  // member has stays too, but its keys would need to match both members' patterns — an intersection the
  // grammar cannot write — so the validator checks that part.
  for (const side of regions === undefined ? [a, b] : []) {
    if (side.additionalProperties !== false) continue;
    const ownNames = isObject(side.properties) ? side.properties : {};
    const ownPatterns = isObject(side.patternProperties) ? Object.keys(side.patternProperties) : [];
    const allowed = (name: string) =>
      Object.hasOwn(ownNames, name) || ownPatterns.some((source) => patternMatches(source, name));
    if (isObject(out.properties)) {
      const kept: JsonObject = {};
      for (const [name, schema] of Object.entries(out.properties)) {
        if (allowed(name)) kept[name] = schema;
        else if (Array.isArray(out.required) && out.required.includes(name))
          inexact.push("additionalProperties");
      }
      out.properties = kept;
    }
    if (
      isObject(out.patternProperties) &&
      Object.keys(out.patternProperties).some((source) => !ownPatterns.includes(source))
    ) {
      inexact.push("additionalProperties");
    }
  }
  // A key only the other member declares is an additional one for a member whose `additionalProperties` is a
  // schema: that schema applies to it too.
  for (const [side, other] of regions === undefined
    ? ([
        [a, b],
        [b, a],
      ] as const)
    : []) {
    const extra = side.additionalProperties;
    if (extra === undefined || extra === true || extra === false) continue;
    const ownNames = isObject(side.properties) ? side.properties : {};
    const ownPatterns = isObject(side.patternProperties) ? side.patternProperties : {};
    const declaredByOtherOnly = (key: "properties" | "patternProperties", own: JsonObject) => {
      const merged = out[key];
      const theirs = other[key];
      if (!isObject(merged) || !isObject(theirs)) return;
      const next: JsonObject = { ...merged };
      for (const name of Object.keys(theirs)) {
        if (Object.hasOwn(own, name) || !Object.hasOwn(next, name)) continue;
        if (key === "properties" && Object.keys(ownPatterns).some((source) => patternMatches(source, name)))
          continue; // the side's pattern schema applies, and the merge already holds it only if declared
        next[name] = bothOf(next[name] as JsonValue, extra);
      }
      out[key] = next;
    };
    declaredByOtherOnly("properties", ownNames);
    declaredByOtherOnly("patternProperties", ownPatterns);
  }
  if (out.const !== undefined && Array.isArray(out.enum)) {
    const constant = out.const;
    out.enum = out.enum.filter((item) => sameJson(item, constant));
    delete out.const;
  }
  return { schema: out, inexact };
}

/** The merged key space of two members that both constrain undeclared keys, one with patterns (regions.ts). */
function keyRegions(a: JsonObject, b: JsonObject): KeySpace | undefined {
  const patterned = (side: JsonObject) =>
    isObject(side.patternProperties) && Object.keys(side.patternProperties).length > 0;
  if (!(patterned(a) || patterned(b)) || !constrainsKeys(a) || !constrainsKeys(b)) return undefined;
  // Which keys count as evaluated would change with the keywords' shape.
  if (a.unevaluatedProperties !== undefined || b.unevaluatedProperties !== undefined) return undefined;
  return mergeKeySpaces(a, b);
}

const ANNOTATIONS = new Set([
  "title",
  "description",
  "$comment",
  "examples",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
  "$id",
  "$anchor",
  "$schema",
  "definitions",
  "contentMediaType",
  "contentEncoding",
]);

/** The values of a schema that only lists them (`enum` or `const`, annotations aside), else undefined. */
export function listedValues(schema: JsonValue): JsonValue[] | undefined {
  if (!isObject(schema)) return undefined;
  const keys = Object.keys(schema).filter((key) => !isAnnotation(key));
  if (keys.length !== 1) return undefined;
  if (keys[0] === "const") return [schema.const as JsonValue];
  return keys[0] === "enum" && Array.isArray(schema.enum) ? schema.enum : undefined;
}

/** Whether `name` matches the ECMA-262 `pattern` (false for a pattern JavaScript cannot compile). */
export function patternMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return false;
  }
}

/** Keywords that carry no constraint. */
export function isAnnotation(keyword: string): boolean {
  return ANNOTATIONS.has(keyword);
}

// Canonical serialization of a test instance against its schema, for the completeness check of
// bench/schemas/run.mjs. The compiled grammar writes one spelling per value: JSON.stringify's (compact), each
// object's declared properties in the schema's order (then required-but-undeclared names in `required` order,
// then any others), enum/const values as the schema spells them. A valid instance in another key order is the
// same value, so it is re-serialized in that order before the grammar is asked about it.
//
// The walk follows the schema the way the compiler does (src/schema/grammar/compiler.ts): `$ref` resolved
// (keywords next to it merged in), `allOf` members merged, and for `anyOf`/`oneOf` the branch that fits the
// value best (the first branch ajv accepts, compiled with the root's `$defs`/`definitions` attached; else a
// structural score). The same walk lists the children of a value with the schema the compiler gives each
// (`children`), which the diagnosis of a rejected instance uses.
import { validatorEngine } from "../../dist/schema/compile.js";
import { isAnnotation, mergeSchemas } from "../../dist/schema/grammar/merge.js";
import { childPointer } from "../../dist/schema/grammar/refs.js";

const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** Keywords that constrain nothing (the compiler's `isAnnotation`, plus `$defs`). */
const isInert = (keyword) => keyword === "$defs" || isAnnotation(keyword);

/**
 * The product's ajv (src/schema/compile.ts), for choosing `anyOf`/`oneOf` branches and for the raw errors
 * (keyword and schema path) the product's formatted messages leave out.
 */
export const benchAjv = validatorEngine;

/** JSON equality that ignores key order (what ajv's `enum`/`const` use). */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
    );
  }
  return false;
}

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(value, types) {
  const actual = typeOf(value);
  return types.some((type) => type === actual || (type === "number" && actual === "integer"));
}

const declaredTypes = (schema) =>
  typeof schema.type === "string" ? [schema.type] : Array.isArray(schema.type) ? schema.type : undefined;

/**
 * The canonicalizer of one schema document. `normalized`: the schema in the 2020-12 spelling
 * (`normalizeSchema`); `index`: the compiler's `RefIndex` over it.
 */
export class SchemaWalker {
  #index;
  #root;
  /** Compiled branch checks by branch schema object (merged branches are new objects, so identity is exact). */
  #branchChecks = new WeakMap();

  constructor(normalized, index) {
    this.#root = normalized;
    this.#index = index;
  }

  /**
   * The schema that applies to `value` at `raw` (found at `pointer`), with `$ref`, `allOf` and the chosen
   * `anyOf`/`oneOf` branch folded in: `{ schema, pointer, notes }` (`schema` is an object, or `false`).
   */
  effective(raw, pointer, value) {
    let schema = raw;
    let where = pointer;
    const notes = [];
    for (let step = 0; step < 64; step++) {
      if (schema === false) return { schema: false, pointer: where, notes };
      if (!isObject(schema)) return { schema: {}, pointer: where, notes };
      if (typeof schema.$ref === "string") {
        const target = this.#index.resolve(schema.$ref, where);
        if ("error" in target) {
          notes.push(target.error);
          return { schema: {}, pointer: where, notes };
        }
        const siblings = Object.fromEntries(
          Object.entries(schema).filter(([key]) => key !== "$ref" && !isInert(key)),
        );
        if (Object.keys(siblings).length > 0) {
          if (target.schema === false) return { schema: false, pointer: where, notes };
          schema = mergeSchemas(isObject(target.schema) ? target.schema : {}, siblings).schema;
        } else {
          schema = target.schema;
          where = target.pointer;
        }
        continue;
      }
      if (Array.isArray(schema.allOf)) {
        const { allOf, ...rest } = schema;
        let merged = rest;
        for (const [i, member] of allOf.entries()) {
          const inlined = this.#inline(member, childPointer(where, "allOf", i), 0);
          if (inlined === undefined) return { schema: false, pointer: where, notes };
          merged = mergeSchemas(merged, inlined).schema;
        }
        schema = merged;
        continue;
      }
      const keyword = Array.isArray(schema.anyOf)
        ? "anyOf"
        : Array.isArray(schema.oneOf)
          ? "oneOf"
          : undefined;
      if (keyword !== undefined) {
        const { [keyword]: members, ...base } = schema;
        if (members.length === 0) return { schema: false, pointer: where, notes };
        const choice = this.#choose(members, where, value);
        if (choice.how !== "ajv") notes.push(`${keyword} branch ${choice.index} chosen by ${choice.how}`);
        const member = members[choice.index];
        const constrained = Object.keys(base).some((key) => !isInert(key));
        if (!constrained || !isObject(member)) {
          schema = constrained && member === true ? base : member;
          where = constrained ? where : childPointer(where, keyword, choice.index);
        } else schema = mergeSchemas(base, member).schema;
        continue;
      }
      return { schema, pointer: where, notes };
    }
    notes.push("schema resolution did not settle in 64 steps");
    return { schema: {}, pointer: where, notes };
  }

  /** An `allOf` member as an object schema (its `$ref`s followed), as the compiler's `#inline` does. */
  #inline(member, pointer, depth) {
    if (member === true) return {};
    if (!isObject(member) || depth > 32) return undefined;
    if (typeof member.$ref !== "string") return member;
    const target = this.#index.resolve(member.$ref, pointer);
    if ("error" in target) return {};
    const { $ref: _ref, ...siblings } = member;
    const inner = this.#inline(target.schema, target.pointer, depth + 1);
    return inner === undefined ? undefined : mergeSchemas(inner, siblings).schema;
  }

  /** The branch of a union for `value`: the first ajv accepts, else the best structural score. */
  #choose(members, pointer, value) {
    const accepted = [];
    let decided = true;
    for (const [i, member] of members.entries()) {
      const check = this.#branchCheck(member);
      if (check === undefined) decided = false;
      else if (check(value)) accepted.push(i);
    }
    if (accepted.length > 0) return { index: accepted[0], how: "ajv" };
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const [i, member] of members.entries()) {
      const score = this.#score(member, pointer, value);
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return { index: best, how: decided ? "structural score (no branch valid)" : "structural score" };
  }

  #branchCheck(member) {
    if (typeof member === "boolean") return () => member;
    if (!isObject(member)) return undefined;
    if (this.#branchChecks.has(member)) return this.#branchChecks.get(member);
    let check;
    try {
      const root = this.#root;
      const wrapped = {
        ...member,
        ...(isObject(root.$defs) ? { $defs: { ...root.$defs, ...(member.$defs ?? {}) } } : {}),
        ...(isObject(root.definitions)
          ? { definitions: { ...root.definitions, ...(member.definitions ?? {}) } }
          : {}),
      };
      const validate = benchAjv().compile(wrapped);
      check = (value) => validate(structuredClone(value)) === true;
    } catch {
      check = undefined;
    }
    this.#branchChecks.set(member, check);
    return check;
  }

  /** How well `value` fits a schema on the surface: type, enum/const, required and declared properties. */
  #score(raw, pointer, value) {
    let schema = raw;
    if (isObject(schema) && typeof schema.$ref === "string") {
      const target = this.#index.resolve(schema.$ref, pointer);
      schema = "error" in target ? {} : target.schema;
    }
    if (schema === true) return 0;
    if (!isObject(schema)) return -100;
    let score = 0;
    const types = declaredTypes(schema);
    if (types !== undefined) score += typeMatches(value, types) ? 2 : -10;
    if (schema.const !== undefined) score += deepEqual(schema.const, value) ? 5 : -10;
    if (Array.isArray(schema.enum)) score += schema.enum.some((item) => deepEqual(item, value)) ? 5 : -10;
    if (isObject(value)) {
      const properties = isObject(schema.properties) ? schema.properties : {};
      for (const name of Array.isArray(schema.required) ? schema.required : []) {
        score += Object.hasOwn(value, name) ? 1 : -3;
      }
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(properties, key)) score += 1;
        else if (schema.additionalProperties === false) score -= 2;
      }
    }
    return score;
  }

  /**
   * The children of `value` under the effective schema `schema` (at `pointer`): for an object each member
   * with the schema the compiler gives it, for an array each item. `[]` for scalars.
   */
  children(value, schema, pointer) {
    if (!isObject(schema)) return [];
    if (Array.isArray(value)) {
      const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
      return value.map((item, i) =>
        i < prefix.length
          ? { key: i, value: item, schema: prefix[i], pointer: childPointer(pointer, "prefixItems", i) }
          : { key: i, value: item, schema: schema.items, pointer: childPointer(pointer, "items") },
      );
    }
    if (!isObject(value)) return [];
    const properties = isObject(schema.properties) ? schema.properties : {};
    const patterns = isObject(schema.patternProperties) ? schema.patternProperties : {};
    return Object.keys(value).map((key) => {
      if (Object.hasOwn(properties, key)) {
        return {
          key,
          value: value[key],
          schema: properties[key],
          pointer: childPointer(pointer, "properties", key),
        };
      }
      const pattern = Object.keys(patterns).find((source) => safeTest(source, key));
      if (pattern !== undefined) {
        return {
          key,
          value: value[key],
          schema: patterns[pattern],
          pointer: childPointer(pointer, "patternProperties", pattern),
        };
      }
      // Undeclared names: the compiler gives them `additionalProperties` (or any value when it is absent).
      const additional = schema.additionalProperties;
      return {
        key,
        value: value[key],
        schema: additional === undefined ? true : additional,
        pointer: childPointer(pointer, "additionalProperties"),
      };
    });
  }

  /** `value` rebuilt in the grammar's spelling order (see the file comment); the notes of every choice made. */
  canonical(value, raw = this.#root, pointer = "#", notes = []) {
    const { schema, pointer: at, notes: own } = this.effective(raw, pointer, value);
    notes.push(...own);
    if (!isObject(schema)) return value;
    const literals =
      schema.const !== undefined ? [schema.const] : Array.isArray(schema.enum) ? schema.enum : [];
    const literal = literals.find((item) => deepEqual(item, value));
    if (literal !== undefined) return literal;
    const kids = this.children(value, schema, at);
    if (Array.isArray(value))
      return kids.map((kid) => this.canonical(kid.value, kid.schema, kid.pointer, notes));
    if (!isObject(value)) return value;
    const order = objectOrder(schema, Object.keys(value));
    const byKey = new Map(kids.map((kid) => [kid.key, kid]));
    // fromEntries defines own properties, so a key such as "__proto__" stays a member.
    return Object.fromEntries(
      order.map((key) => {
        const kid = byKey.get(key);
        return [key, this.canonical(kid.value, kid.schema, kid.pointer, notes)];
      }),
    );
  }
}

/** The order the grammar writes an object's keys in: declared, then required-only, then the rest as given. */
export function objectOrder(schema, keys) {
  const present = new Set(keys);
  const declared = isObject(schema.properties) ? Object.keys(schema.properties) : [];
  const required = Array.isArray(schema.required) ? schema.required.filter((n) => typeof n === "string") : [];
  const first = [...new Set([...declared, ...required])].filter((key) => present.has(key));
  const placed = new Set(first);
  return [...first, ...keys.filter((key) => !placed.has(key))];
}

function safeTest(source, name) {
  try {
    return new RegExp(source).test(name);
  } catch {
    return false;
  }
}

/** Whether `value`'s JSON type is one the schema's `type` allows (true when it declares none). */
export function typeAllowed(schema, value) {
  const types = isObject(schema) ? declaredTypes(schema) : undefined;
  return types === undefined || typeMatches(value, types);
}

/** The first `chars` characters of a value's JSON text. */
export function excerpt(value, chars = 120) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}

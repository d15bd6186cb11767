/**
 * The schema → grammar compiler: walks a (normalized) JSON Schema and builds the grammar of the JSON text its
 * instances are written as, recording for each keyword how it is enforced (report.ts). Objects and arrays
 * have modules of their own (objects.ts, arrays.ts); numbers, formats and patterns too (numbers.ts,
 * formats.ts, regex.ts).
 *
 * Soundness comes first: the grammar admits only text the schema accepts, except where the report says a
 * keyword is left to the validator. Where the schema leaves lengths open, the grammar bounds them (`Caps`), so
 * every generation can end; `index.ts` tightens those caps until the longest output fits a token budget.
 */
import type { JsonObject, JsonSchema, JsonValue } from "../../types.js";
import { type CompiledSchema, compileSchema } from "../compile.js";
import { count, isObject } from "../jsonShapes.js";
import { arrayExpr } from "./arrays.js";
import { type Complement, complement, jointly, type RefResolver, stringExclusion } from "./complement.js";
import { formatExpr, GRAMMAR_FORMATS } from "./formats.js";
import { alt, type GExpr, type GrammarBuilder, isNever, lit, NEVER, ref, seq } from "./ir.js";
import {
  boundedString,
  COLON,
  delimitedList,
  JsonStringEncoder,
  jsonLiteral,
  TEXT_CHARS,
} from "./jsonText.js";
import { isAnnotation, mergeSchemas, typeSet } from "./merge.js";
import {
  integerGrammar,
  MAX_DOCUMENT_MULTIPLE_STATES,
  type MultipleBudget,
  type MultipleVerdict,
  type NumberBounds,
  type NumberGrammar,
  numberGrammar,
} from "./numbers.js";
import { objectExpr, objectWitnesses } from "./objects.js";
import { allPatterns, literalsPattern, patternComplement } from "./patterns.js";
import { childPointer, type RefIndex } from "./refs.js";
import { regexToExpr } from "./regex.js";
import { GRAMMAR_KEYWORDS, type Report, VALIDATOR_KEYWORDS } from "./report.js";
import { type MultipleFormula, multipleFormula } from "./residues.js";
import { excludedStrings, patternContent } from "./strings.js";

/** The bounds the grammar puts where the schema leaves lengths open (and on declared ones above them). */
export interface Caps {
  /** Longest string (characters) where the schema declares no `maxLength`. */
  readonly stringMax: number;
  /** Longest string where the schema declares a larger `maxLength` (a grammar of a million characters helps no one). */
  readonly declaredStringMax: number;
  /** Most array items where the schema declares no `maxItems`. */
  readonly arrayMax: number;
  /** Most array items where the schema declares a larger `maxItems`. */
  readonly declaredArrayMax: number;
  /** Most properties an object may add beyond its declared ones (additional, pattern or free-form). */
  readonly propsMax: number;
  /** How many times a recursive `$ref` may be expanded inside itself. */
  readonly recursion: number;
  /** Nesting depth of arrays and objects in a value the schema leaves free (`{}` or `true`). */
  readonly anyDepth: number;
  /**
   * Whether optional properties are written. Leaving them all out is the last resort of budget fitting, for
   * schemas whose every optional property written at once cannot fit `maxTokens`.
   */
  readonly optional: boolean;
}

/** Where in the schema the compiler is: the pointer of the schema object, and the `$ref` targets entered. */
export interface Where {
  readonly pointer: string;
  readonly refs: readonly string[];
}

/** Keywords whose verdict the compiler gives where it meets them (written through complements, or validator). */
const CONDITIONAL_KEYWORDS = ["not", "if", "then", "else", "dependentSchemas"] as const;
/** Most conditionals rewritten inside one another (see #conditionals). */
const MAX_REWRITES = 8;
/** Most `if`s among one allOf's members that are written by the grammar (each doubles the alternatives). */
const MAX_MERGED_CONDITIONALS = 4;
/** Most conditionals rewritten in one document; past it they stay the validator's (bounds grammar growth). */
const MAX_DOCUMENT_REWRITES = 128;
/** Most expansions of a definition on one path where it is not recursive (see #refLimit). */
const MIN_REPEATED_DEFINITION = 2;
/** Deepest recursion root() tries when a shallower one leaves the schema nothing to write. */
const MAX_RECURSION = 64;
/**
 * Most schema nodes a deepened compilation (root() retrying with deeper recursion) visits. Recursion that branches
 * (each level requires several recursive members) grows as the branching to the power of the depth; past this
 * bound the deepening stops and the `$ref` is reported as what the grammar cannot write, so compiling never
 * hangs. The first compilation, at the caps' depth, has no such bound (the largest real-world schema of the
 * JSONSchemaBench sample visits about 64,000 nodes there).
 */
export const MAX_DEEPENED_VISITS = 20_000;

/** Thrown inside a deepened compilation that visited more than {@link MAX_DEEPENED_VISITS} schema nodes. */
class VisitLimit extends Error {}

const TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"] as const;
type TypeName = (typeof TYPES)[number];
const SCALAR_TYPES: readonly TypeName[] = ["null", "boolean", "number", "string"];

const OBJECT_KEYWORDS = [
  "properties",
  "additionalProperties",
  "patternProperties",
  "propertyNames",
  "required",
  "minProperties",
  "maxProperties",
  "dependentRequired",
];
const ARRAY_KEYWORDS = ["items", "prefixItems", "contains", "minItems", "maxItems"];
const STRING_KEYWORDS = ["minLength", "maxLength", "pattern", "format"];
const NUMBER_KEYWORDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
/** ajv-formats' formats the grammar does not write: the validator checks them. Others are unknown: ignored. */
const VALIDATOR_FORMATS = new Set([
  "regex",
  "float",
  "double",
  "password",
  "binary",
  "url",
  "iso-time",
  "iso-date-time",
  "json-pointer-uri-fragment",
]);

/** Whether the schema lists its values (`enum` or `const`). */
function hasLiterals(schema: JsonObject): boolean {
  return Array.isArray(schema.enum) || schema.const !== undefined;
}

function hasAny(schema: JsonObject, keywords: readonly string[]): boolean {
  return keywords.some((keyword) => schema[keyword] !== undefined);
}

/** The compiler for one schema document and one set of caps (see the file comment). */
export class SchemaCompiler {
  readonly builder: GrammarBuilder;
  readonly report: Report;
  readonly caps: Caps;
  readonly strings: JsonStringEncoder;
  readonly #index: RefIndex;
  readonly #refMemo = new Map<string, GExpr>();
  readonly #any = new Map<number, GExpr>();
  /** #passing's validators by schema text (undefined: ajv cannot use it alone); merged branches repeat them. */
  readonly #validators = new Map<string, CompiledSchema | undefined>();
  /** Conditionals rewritten so far in this document. */
  #documentRewrites = 0;
  /** Automaton states this document's `multipleOf` grammars may still take. */
  readonly #multipleBudget: MultipleBudget = { states: MAX_DOCUMENT_MULTIPLE_STATES };
  /** Conditionals being rewritten (nested) at this point of the walk. */
  #rewrites = 0;
  /** Whether a recursion was cut at its depth bound (see root()). */
  #cut = false;
  /** Schema nodes visited so far, and how many this compilation may visit (see MAX_DEEPENED_VISITS). */
  #visits = 0;
  #visitLimit = Number.POSITIVE_INFINITY;
  /** While #residues folds an anyOf/oneOf into `not`: the verdicts #number gives that `not`. */
  #folded: MultipleVerdict[] | undefined;
  /** While #residues folds: whether the schema had a `not` of its own (which then gets the verdict too). */
  #ownNot = false;
  /** Numeric exclusions (multipleOfs under not) left to the validator so far, which complements may rely on. */
  #numbersLeft = 0;
  /** oneOf alternatives written with the others' complements, nested, at this point of the walk (see exclusive). */
  #exclusive = 0;

  constructor(index: RefIndex, builder: GrammarBuilder, report: Report, caps: Caps) {
    this.#index = index;
    this.builder = builder;
    this.report = report;
    this.caps = caps;
    this.strings = new JsonStringEncoder(builder);
  }

  /**
   * Whether a oneOf's alternative is being written with the others' complements: a complement the grammar cannot
   * write must then make the alternative write nothing (the oneOf falls back to the plain union, exclusivity the
   * validator's, when every alternative does), not be left to the validator, which would let the alternative
   * write values of the other alternatives.
   */
  get exclusive(): boolean {
    return this.#exclusive > 0;
  }

  /** The grammar of the whole document. */
  root(): GExpr {
    let expr: GExpr;
    try {
      expr = this.value(this.#index.root, { pointer: "#", refs: [] });
    } catch (error) {
      if (!(error instanceof VisitLimit)) throw error;
      this.report.set(
        "#",
        "$ref",
        "unsupported",
        `values need recursion ${this.caps.recursion} levels deep, which expands past ${MAX_DEEPENED_VISITS} schemas`,
      );
      return NEVER;
    }
    if (!isNever(expr)) return expr;
    // Recursion cut at its depth bound left nothing (a schema whose smallest values are deep chains): deeper,
    // up to MAX_RECURSION; past it the `$ref` is reported as what the grammar cannot write.
    if (this.#cut && this.caps.recursion < MAX_RECURSION) {
      const recursion = Math.min(MAX_RECURSION, this.caps.recursion * 4);
      const deeper = new SchemaCompiler(this.#index, this.builder, this.report, { ...this.caps, recursion });
      deeper.#visitLimit = MAX_DEEPENED_VISITS;
      return deeper.root();
    }
    // What left nothing: a complement written only in part (its keyword), else the recursion's depth.
    const partial = this.report
      .entries()
      .filter((entry) => entry.enforcement === "grammar" && entry.note?.includes("part of its complement"));
    for (const entry of partial) {
      this.report.set(
        entry.pointer,
        entry.keyword,
        "unsupported",
        "the part of its complement the grammar writes leaves nothing",
      );
    }
    if (partial.length === 0 && this.#cut)
      this.report.set(
        "#",
        "$ref",
        "unsupported",
        `values need recursion deeper than ${MAX_RECURSION} levels`,
      );
    return expr;
  }

  /** The grammar of the JSON text of values valid against `schema`, found at `where`. */
  value(schema: JsonValue | undefined, where: Where): GExpr {
    if (++this.#visits > this.#visitLimit) throw new VisitLimit();
    if (schema === undefined || schema === true) return this.any();
    if (schema === false) return NEVER;
    if (!isObject(schema)) {
      this.report.set(where.pointer, "(schema)", "unsupported", "a schema must be an object or a boolean");
      return NEVER;
    }
    const rewritten = this.#rewrites < MAX_REWRITES ? this.#conditionals(schema, where) : undefined;
    if (rewritten !== undefined) {
      // Complements can hold conditionals of their own; the depth bound ends any cycle between them.
      const before = this.report.checkedLater();
      this.#rewrites++;
      try {
        return this.value(rewritten, where);
      } finally {
        this.#rewrites--;
        // A complement whose pieces the grammar could not all write (two patterns merged, say) leaves the
        // keyword to the validator after all: the report must not promise more than the grammar holds.
        if (this.report.checkedLater() > before) {
          for (const keyword of CONDITIONAL_KEYWORDS) {
            if (schema[keyword] !== undefined)
              this.report.set(
                where.pointer,
                keyword,
                "validator",
                "written through complements the validator checks in part",
              );
          }
        }
      }
    }
    this.report.classify(where.pointer, schema);
    for (const keyword of CONDITIONAL_KEYWORDS) {
      // A string exclusion under `type: "string"` gets its verdict from #string, a list's keywords from #literals.
      if (schema[keyword] === undefined || hasLiterals(schema)) continue;
      // A numeric exclusion (multipleOfs) gets its verdict from #number.
      // A `not` asking an object for keys gets its verdict from objects.ts.
      const witnessed =
        keyword === "not" && schema.type === "object" && objectWitnesses(schema.not) !== undefined;
      if (
        !witnessed &&
        !(keyword === "not" && (schema.type === "string" || numericExclusion(schema) !== undefined))
      )
        this.report.set(where.pointer, keyword, "validator");
    }
    if (typeof schema.$ref === "string") return this.#ref(schema, where);
    if (Array.isArray(schema.allOf)) return this.#allOf(schema, where);
    if (Array.isArray(schema.anyOf)) return this.#union(schema, "anyOf", where);
    if (Array.isArray(schema.oneOf)) return this.#union(schema, "oneOf", where);
    if (schema.const !== undefined || Array.isArray(schema.enum)) return this.#literals(schema, where);
    const types = this.#types(schema, where);
    const written = alt(...types.map((type) => this.#typed(schema, type, where)));
    if (!isNever(written) || schema.type !== undefined) return written;
    // The type the keywords suggest admits nothing (`{required: [a], properties: {a: false}}`): values of the
    // other scalar types pass those keywords, so they are the schema's values (oneOf's exclusivity makes these).
    const others = SCALAR_TYPES.filter((type) => !types.includes(type));
    return alt(...others.map((type) => this.#typed(schema, type, where)));
  }

  /** Any JSON value, bounded by the caps (for `{}`, `true` and unconstrained parts). */
  any(depth: number = this.caps.anyDepth): GExpr {
    const known = this.#any.get(depth);
    if (known !== undefined) return known;
    const name = this.builder.reserve(`any-${depth}`);
    this.#any.set(depth, ref(name));
    const scalars = [
      lit("null"),
      lit("true"),
      lit("false"),
      numberGrammar({}, this.builder).expr,
      boundedString(this.builder, 0, this.caps.stringMax),
    ];
    const nested: GExpr[] = [];
    if (depth > 0) {
      const inner = this.any(depth - 1);
      nested.push(delimitedList("[", inner, "]", 0, this.caps.arrayMax));
      const key = boundedString(this.builder, 0, Math.min(this.caps.stringMax, 64));
      nested.push(delimitedList("{", seq(key, COLON, inner), "}", 0, this.caps.propsMax));
    }
    return this.builder.define(name, alt(...scalars, ...nested));
  }

  #ref(schema: JsonObject, where: Where): GExpr {
    const reference = schema.$ref as string;
    const target = this.#index.resolve(reference, where.pointer);
    if ("error" in target) {
      this.report.set(where.pointer, "$ref", "unsupported", target.error);
      return this.any();
    }
    const depth = where.refs.filter((pointer) => pointer === target.pointer).length;
    if (depth >= this.#refLimit(target.pointer)) {
      this.#cut = true;
      this.report.set(
        where.pointer,
        "$ref",
        "grammar",
        `recursion expanded ${this.caps.recursion} levels deep`,
      );
      return NEVER;
    }
    const inner: Where = { pointer: target.pointer, refs: [...where.refs, target.pointer] };
    const siblings = Object.fromEntries(
      Object.entries(schema).filter(([key]) => key !== "$ref" && !isAnnotation(key) && key !== "$defs"),
    );
    if (Object.keys(siblings).length > 0) {
      // 2020-12: keywords next to `$ref` apply too, so the target and its siblings intersect.
      if (target.schema === false) return NEVER;
      if (isObject(target.schema)) this.report.classify(target.pointer, target.schema);
      const base = isObject(target.schema) ? target.schema : {};
      const merged = mergeSchemas(base, siblings);
      for (const keyword of merged.inexact)
        this.report.set(where.pointer, keyword, "validator", "next to $ref");
      return this.value(merged.schema, { pointer: where.pointer, refs: inner.refs });
    }
    const cycle = this.#index.cycleOf(target.pointer);
    const key =
      cycle.length === 0
        ? target.pointer
        : `${target.pointer}|${cycle.map((member) => inner.refs.filter((p) => p === member).length).join(",")}`;
    const known = this.#refMemo.get(key);
    if (known !== undefined) return known;
    const hint = `def-${target.pointer.split("/").at(-1) ?? "root"}`;
    if (cycle.length === 0) {
      const expr = this.builder.rule(hint, this.value(target.schema, inner));
      this.#refMemo.set(key, expr);
      return expr;
    }
    // A recursive definition: name the rule first so that the body can refer to it.
    const name = this.builder.reserve(hint);
    this.#refMemo.set(key, ref(name));
    const body = this.value(target.schema, inner);
    this.builder.define(name, body);
    if (isNever(body)) this.#refMemo.set(key, NEVER);
    return isNever(body) ? NEVER : ref(name);
  }

  /** A `$ref`'s target schema as seen from `where` (undefined when it points nowhere). */
  #resolver(where: Where): RefResolver {
    return (reference) => {
      const target = this.#index.resolve(reference, where.pointer);
      return "error" in target ? undefined : target.schema;
    };
  }

  /**
   * `not`, `if`/`then`/`else` and `dependentSchemas` rewritten as `anyOf`s of schemas the grammar writes, with
   * the complements of complement.ts: `{not: N}` is the union of N's complement, `if: I, then: T, else: E` is
   * `(I and T) or (not-I and E)`, `dependentSchemas: {a: D}` is `(a present and D) or (a absent)`. Undefined when
   * none of them is there or can be written (the validator then checks them).
   */
  #conditionals(schema: JsonObject, where: Where): JsonObject | undefined {
    if (this.#documentRewrites >= MAX_DOCUMENT_REWRITES) return undefined;
    // Listed values are filtered by the validator itself (#literals): exact, where a complement may be partial.
    if (hasLiterals(schema)) return undefined;
    const resolve = this.#resolver(where);
    const rest: JsonObject = { ...schema };
    const parts: JsonValue[] = [];
    let changed = false;
    const verdict = (keywords: readonly string[], exact: boolean) => {
      changed = true;
      for (const keyword of keywords) {
        if (schema[keyword] === undefined) continue;
        this.report.set(
          where.pointer,
          keyword,
          "grammar",
          exact
            ? "written through its complement"
            : "written through part of its complement: some valid values are left out",
        );
      }
    };
    const excluded = stringExclusion(schema);
    if (excluded !== undefined) {
      // Only strings are excluded: an enum loses them; other types are untouched; under `type: "string"` the
      // exclusion is written by #string (the end of every complement of a string enum).
      const types = typeSet(schema.type);
      if (Array.isArray(schema.enum) || schema.const !== undefined) {
        const values = schema.const !== undefined ? [schema.const] : (schema.enum as JsonValue[]);
        delete rest.not;
        delete rest.const;
        rest.enum = values.filter((value) => !(typeof value === "string" && excluded.includes(value)));
        verdict(["not"], true);
      } else if (types !== undefined && !types.includes("string")) {
        delete rest.not;
        verdict(["not"], true);
      } else if (types === undefined || types.length > 1) {
        delete rest.not;
        const others = (types ?? TYPES).filter((type) => type !== "string");
        parts.push({ anyOf: [{ type: others }, { type: "string", not: schema.not as JsonValue }] });
        verdict(["not"], true);
      }
    } else if (objectWitnesses(schema.not) !== undefined) {
      // Keys an object must have: objects.ts writes them as members. Only objects can have them.
      const types = typeSet(schema.type);
      if (types === undefined || types.length !== 1 || types[0] !== "object") {
        rest.type = types === undefined || types.includes("object") ? "object" : [];
        changed = true;
      }
    } else if (schema.not !== undefined && numericExclusion(schema) === undefined) {
      // (A `not` made of multipleOfs under a numeric type is written by the number's automaton: numbers.ts.)
      const negated = complement(schema.not, resolve);
      if (negated !== undefined) {
        delete rest.not;
        parts.push({ anyOf: [...negated.alternatives] });
        verdict(["not"], negated.exact);
      }
    }
    if (schema.if !== undefined) {
      const negated = complement(schema.if, resolve);
      if (negated !== undefined) {
        for (const keyword of ["if", "then", "else"]) delete rest[keyword];
        const then = schema.then ?? true;
        const otherwise = schema.else ?? true;
        parts.push({
          anyOf: [
            { allOf: [schema.if, then] },
            ...negated.alternatives.map((alternative) => ({ allOf: [alternative, otherwise] })),
          ],
        });
        verdict(["if", "then", "else"], negated.exact);
      }
    }
    const dependent = schema.dependentSchemas;
    if (isObject(dependent) && Object.keys(dependent).length <= 6) {
      delete rest.dependentSchemas;
      for (const [name, member] of Object.entries(dependent)) {
        parts.push({ anyOf: [{ required: [name], allOf: [member] }, { properties: { [name]: false } }] });
      }
      verdict(["dependentSchemas"], true);
    }
    if (!changed) return undefined;
    this.#documentRewrites++;
    return parts.length === 0 ? rest : { allOf: [rest, ...parts] };
  }

  #allOf(schema: JsonObject, where: Where): GExpr {
    const { allOf, ...rest } = schema;
    let merged: JsonObject = rest;
    let refs = where.refs;
    // Each rewritten conditional doubles the alternatives of the merge: a few are written, many stay the validator's.
    const conditionals = (allOf as JsonValue[]).filter(
      (member) => isObject(member) && member.if !== undefined,
    );
    // Where a member lists the values, #literals filters them with the validator instead (exact).
    const listed =
      hasLiterals(rest) || (allOf as JsonValue[]).some((member) => isObject(member) && hasLiterals(member));
    const rewriteMembers = conditionals.length <= MAX_MERGED_CONDITIONALS && !listed;
    const seen: { readonly pointer: string; readonly schema: JsonValue }[] = [];
    const complemented: { readonly pointer: string; readonly schema: JsonObject }[] = [];
    for (const [index, member] of (allOf as JsonValue[]).entries()) {
      const memberWhere = { pointer: childPointer(where.pointer, "allOf", index), refs };
      const resolved = this.#inline(member, memberWhere);
      if (resolved === undefined) return NEVER;
      refs = resolved.refs;
      if (isObject(resolved.schema)) this.report.classify(resolved.pointer, resolved.schema);
      // A member's conditionals become anyOfs before the merge, so that two members' `if`s do not collide.
      const rewritten =
        (rewriteMembers && this.#conditionals(resolved.schema, memberWhere)) || resolved.schema;
      const step = mergeSchemas(merged, rewritten);
      if (rewritten !== resolved.schema && isObject(resolved.schema))
        complemented.push({ pointer: memberWhere.pointer, schema: resolved.schema });
      seen.push({ pointer: resolved.pointer, schema: resolved.schema });
      for (const keyword of step.inexact) {
        this.report.set(where.pointer, "allOf", "validator", `members disagree on ${keyword}`);
        // The members' own verdicts on that keyword follow: the merge writes it only in part.
        for (const earlier of seen) {
          if (isObject(earlier.schema) && earlier.schema[keyword] !== undefined) {
            this.report.set(
              earlier.pointer,
              keyword,
              "validator",
              "merged with the other allOf members in part",
            );
          }
        }
      }
      merged = step.schema;
    }
    const numbersLeft = this.#numbersLeft;
    const expr = this.value(merged, { pointer: where.pointer, refs });
    // A member's conditional written through a complement whose numbers the automaton could not write (past
    // its caps): the validator's after all.
    if (this.#numbersLeft > numbersLeft) {
      for (const member of complemented) {
        for (const keyword of CONDITIONAL_KEYWORDS) {
          if (member.schema[keyword] !== undefined)
            this.report.set(
              member.pointer,
              keyword,
              "validator",
              "written through complements the validator checks in part",
            );
        }
      }
    }
    return expr;
  }

  /**
   * A member of `allOf` as an object schema to merge: `$ref`s followed (and counted as recursion), `true` as
   * `{}`; `undefined` when the member admits nothing (`false`, or recursion cut).
   */
  #inline(
    member: JsonValue,
    where: Where,
  ): { schema: JsonObject; pointer: string; refs: readonly string[] } | undefined {
    if (member === true) return { schema: {}, pointer: where.pointer, refs: where.refs };
    if (!isObject(member)) return undefined;
    if (typeof member.$ref !== "string") return { schema: member, pointer: where.pointer, refs: where.refs };
    const target = this.#index.resolve(member.$ref, where.pointer);
    if ("error" in target) {
      this.report.set(where.pointer, "$ref", "unsupported", target.error);
      return { schema: {}, pointer: where.pointer, refs: where.refs };
    }
    const depth = where.refs.filter((pointer) => pointer === target.pointer).length;
    if (depth >= this.#refLimit(target.pointer)) {
      this.#cut = true;
      return undefined;
    }
    const { $ref: _ref, ...siblings } = member;
    const refs = [...where.refs, target.pointer];
    const inner = this.#inline(target.schema, { pointer: target.pointer, refs });
    if (inner === undefined) return undefined;
    const merged = mergeSchemas(inner.schema, siblings);
    // The merge keeps the target's value where the two cannot be combined: the sibling's is the validator's.
    for (const keyword of merged.inexact)
      this.report.set(where.pointer, keyword, "validator", "next to $ref");
    return { schema: merged.schema, pointer: target.pointer, refs: inner.refs };
  }

  /**
   * How many times a `$ref` to `target` may be expanded inside itself: `Caps.recursion` for a reference cycle; a
   * definition used again on one path without a cycle (merged with a complement that names it, say) is no
   * recursion and ends by itself, but each use multiplies the work: it may be expanded at least
   * MIN_REPEATED_DEFINITION times.
   */
  #refLimit(target: string): number {
    return this.#index.cycleOf(target).length > 0
      ? this.caps.recursion
      : Math.max(this.caps.recursion, MIN_REPEATED_DEFINITION);
  }

  /** How many conditionals (`not`, `if`, …) the report leaves to the validator so far. */
  #conditionalsLeft(): number {
    return this.report
      .entries()
      .filter(
        (entry) =>
          entry.enforcement === "validator" &&
          (CONDITIONAL_KEYWORDS as readonly string[]).includes(entry.keyword),
      ).length;
  }

  #union(schema: JsonObject, keyword: "anyOf" | "oneOf", where: Where): GExpr {
    const { [keyword]: members, ...base } = schema;
    const list = members as JsonValue[];
    const folded = this.#residues(base, keyword, list, where);
    if (folded !== undefined) return folded;
    if (keyword === "oneOf" && list.length > 1 && list.length <= 6) {
      // Exactly one: each alternative also refuses the others (their complements), where those can be written.
      const resolve = this.#resolver(where);
      const negated = list.map((member) => complement(member, resolve));
      // Only exact complements: a partial one could leave an alternative (or all of them) with nothing to write.
      if (negated.every((item) => item?.exact === true)) {
        const exclusive = list.map((member, index) => ({
          allOf: [member, ...jointly(negated.filter((_, other) => other !== index) as Complement[])],
        }));
        // A merge narrower than the schema (two `contains` become one item that matches both) can leave every
        // alternative nothing to write: then the plain union below, with exclusivity the validator's.
        const numbersLeft = this.#numbersLeft;
        const conditionalsLeft = this.#conditionalsLeft();
        this.#exclusive++;
        let written: GExpr[];
        try {
          written = exclusive.map((member) => this.#union({ ...base, anyOf: [member] }, "anyOf", where));
        } finally {
          this.#exclusive--;
        }
        // A complement's numbers the automaton could not write (past its caps): exclusivity is the validator's.
        // So does a complement's own `not` (or conditional) the grammar left to the validator (past
        // MAX_DOCUMENT_REWRITES, say): the alternative then writes values the others' complements refuse.
        if (this.#numbersLeft > numbersLeft || this.#conditionalsLeft() > conditionalsLeft)
          this.report.set(where.pointer, "oneOf (exactly one)", "validator", "complements written in part");
        if (!written.every(isNever)) {
          this.report.set(
            where.pointer,
            "oneOf",
            "grammar",
            "each alternative written with the others' complements",
          );
          return alt(...written);
        }
      }
    }
    if (keyword === "oneOf" && list.length > 1) {
      this.report.set(
        where.pointer,
        "oneOf",
        "grammar",
        "exclusivity (exactly one) is checked by the validator",
      );
      this.report.set(where.pointer, "oneOf (exactly one)", "validator");
    }
    const constrained = Object.keys(base).some((key) => !isAnnotation(key) && key !== "$defs");
    return alt(
      ...list.map((member, index) => {
        const memberWhere = { pointer: childPointer(where.pointer, keyword, index), refs: where.refs };
        if (!constrained || !isObject(member)) {
          return constrained && member === true ? this.value(base, where) : this.value(member, memberWhere);
        }
        // Keywords next to the combinator apply to every alternative.
        if (typeof member.$ref !== "string") this.report.classify(memberWhere.pointer, member);
        const merged = mergeSchemas(base, member);
        for (const inexact of merged.inexact)
          this.report.set(where.pointer, inexact, "validator", `next to ${keyword}`);
        return this.value(merged.schema, { pointer: where.pointer, refs: where.refs });
      }),
    );
  }

  #literals(schema: JsonObject, where: Where): GExpr {
    const values = schema.const !== undefined ? [schema.const] : (schema.enum as JsonValue[]);
    const types =
      typeof schema.type === "string" ? [schema.type] : Array.isArray(schema.type) ? schema.type : undefined;
    let kept = values.filter(
      (value) => types === undefined || types.some((type) => matchesType(value, String(type))),
    );
    // Other keywords next to the list: the validator picks the values that pass them, once, here (a schema that
    // refers elsewhere cannot be checked on its own: those keywords stay the validator's).
    const { enum: _enum, const: _const, type: _type, ...others } = schema;
    const constraining = Object.keys(others).filter(
      (keyword) =>
        keyword !== "default" && (GRAMMAR_KEYWORDS.has(keyword) || VALIDATOR_KEYWORDS.has(keyword)),
    );
    if (constraining.length > 0) {
      const filtered = this.#passing(others, constraining, kept);
      for (const keyword of constraining) {
        if (filtered !== undefined)
          this.report.set(where.pointer, keyword, "grammar", "the listed values that pass it");
        else this.report.set(where.pointer, keyword, "validator", "next to enum/const");
      }
      if (filtered !== undefined) kept = filtered;
    }
    return alt(...kept.map(jsonLiteral));
  }

  /**
   * The values `schema` (whose constraining `keywords` are given) accepts, as ajv judges them; undefined when ajv
   * cannot use the schema on its own (it refers elsewhere, or ajv refuses it).
   */
  #passing(
    schema: JsonObject,
    keywords: readonly string[],
    values: readonly JsonValue[],
  ): JsonValue[] | undefined {
    if (keywords.length === 1 && keywords[0] === "pattern" && typeof schema.pattern === "string") {
      // A pattern alone (a common companion of enums): tested as ajv tests it (no `u` flag), without compiling.
      try {
        const pattern = new RegExp(schema.pattern);
        return values.filter((value) => typeof value !== "string" || pattern.test(value));
      } catch {
        return undefined;
      }
    }
    const key = JSON.stringify(schema);
    if (!this.#validators.has(key)) {
      let validator: CompiledSchema | undefined;
      try {
        validator = key.includes('"$ref"') ? undefined : compileSchema(schema as JsonSchema);
      } catch {
        validator = undefined;
      }
      this.#validators.set(key, validator);
    }
    const validator = this.#validators.get(key);
    return validator === undefined
      ? undefined
      : values.filter((value) => validator.validate(structuredClone(value)).ok);
  }

  #types(schema: JsonObject, where: Where): TypeName[] {
    const declared =
      typeof schema.type === "string" ? [schema.type] : Array.isArray(schema.type) ? schema.type : [];
    const known = declared.filter((type): type is TypeName => TYPES.includes(type as TypeName));
    for (const type of declared) {
      if (!known.includes(type as TypeName)) {
        this.report.set(where.pointer, "type", "unsupported", `unknown type ${JSON.stringify(type)}`);
      }
    }
    // An empty list (two disjoint `type`s merged) admits nothing.
    if (schema.type !== undefined) return [...new Set(known)];
    // No type: the keywords say what the value is meant to be; a subset of what the schema admits, so sound.
    if (hasAny(schema, OBJECT_KEYWORDS)) return ["object"];
    if (hasAny(schema, ARRAY_KEYWORDS)) return ["array"];
    if (hasAny(schema, STRING_KEYWORDS)) return ["string"];
    if (hasAny(schema, NUMBER_KEYWORDS)) return ["number"];
    return [...TYPES.filter((type) => type !== "integer")];
  }

  #typed(schema: JsonObject, type: TypeName, where: Where): GExpr {
    switch (type) {
      case "null":
        return lit("null");
      case "boolean":
        return alt(lit("true"), lit("false"));
      case "integer":
      case "number": {
        // ajv-formats' int32 and int64 are integers (int32 within 32 bits) even under `type: number`.
        const format = schema.format;
        const integral = type === "integer" || format === "int32" || format === "int64";
        const excluded = numericExclusion(schema);
        const limits = {
          ...(format === "int32" ? int32Bounds(bounds(schema)) : bounds(schema)),
          ...(excluded === undefined ? {} : { excluded }),
        };
        const grammar = integral
          ? integerGrammar(limits, this.builder, this.#multipleBudget)
          : numberGrammar(limits, this.builder, this.#multipleBudget);
        return this.#number(grammar, where);
      }
      case "string":
        return this.#string(schema, where);
      case "array":
        return arrayExpr(this, schema, where);
      case "object":
        return objectExpr(this, schema, where);
    }
  }

  /**
   * A pattern's grammar whose longest text respects `maxLength`: open repetitions are bounded by the largest
   * count that keeps it within (binary search), so the grammar stays sound where a regex alone would run long.
   */
  #pattern(
    pattern: string,
    cap: number,
    declaredMax: number | undefined,
  ): { ok: true; expr: GExpr; exact: boolean; repeat: number } | { ok: false; reason: string } {
    const attempt = (repeat: number) => regexToExpr(pattern, this.builder, { maxRepeat: repeat });
    const first = attempt(cap);
    if (!first.ok) return first;
    const fits = (expr: GExpr) => declaredMax === undefined || this.builder.maxLength(expr) <= declaredMax;
    if (fits(first.expr)) return { ...first, repeat: cap };
    let low = 0;
    let high = cap;
    let best: { expr: GExpr; exact: boolean; repeat: number } | undefined;
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      const result = attempt(middle);
      if (result.ok && fits(result.expr)) {
        best = { expr: result.expr, exact: false, repeat: middle };
        low = middle + 1;
      } else high = middle - 1;
    }
    // Even the fewest repetitions run past maxLength: the grammar writes the pattern, the validator the length.
    return best === undefined ? { ...first, repeat: cap } : { ok: true, ...best };
  }

  #number(grammar: NumberGrammar, where: Where): GExpr {
    for (const keyword of grammar.approximated) {
      this.report.set(where.pointer, keyword, "validator", "beyond the digits the grammar writes");
    }
    // multipleOf is the validator's by default (report.ts); written here, it becomes the grammar's at this place.
    const multiple = grammar.multipleOf;
    if (multiple?.enforcement === "grammar") this.report.upgrade(where.pointer, "multipleOf", multiple.note);
    else if (multiple !== undefined) this.report.set(where.pointer, "multipleOf", "validator", multiple.note);
    const excluded = grammar.excluded;
    if (excluded !== undefined) {
      this.#folded?.push(excluded);
      if (excluded.enforcement !== "grammar") this.#numbersLeft++;
      // A `not` of the schema itself (one folded in by #residues has no place of its own).
      if (this.#folded === undefined || this.#ownNot)
        this.report.set(
          where.pointer,
          "not",
          excluded.enforcement,
          excluded.note ?? "with the multipleOf automaton",
        );
    }
    return grammar.expr;
  }

  /**
   * An `anyOf` or `oneOf` of schemas made only of multipleOfs (residues.ts) next to a numeric `type`, folded
   * into the schema's `not` (`anyOf: [A, B]` is `not: {not: {anyOf: [A, B]}}`), so that one automaton writes
   * exactly the numbers the combination accepts, exclusivity included; undefined when that does not apply.
   */
  #residues(
    base: JsonObject,
    keyword: "anyOf" | "oneOf",
    list: readonly JsonValue[],
    where: Where,
  ): GExpr | undefined {
    if (list.length === 0 || numericExclusion({ ...base, not: { [keyword]: [...list] } }) === undefined)
      return undefined;
    const own = base.not;
    if (own !== undefined && multipleFormula(own) === undefined) return undefined;
    const negated: JsonValue = { not: { [keyword]: [...list] } };
    const verdicts: MultipleVerdict[] = [];
    const outer = { folded: this.#folded, ownNot: this.#ownNot };
    this.#folded = verdicts;
    this.#ownNot = own !== undefined;
    let expr: GExpr;
    try {
      expr = this.value({ ...base, not: own === undefined ? negated : { anyOf: [own, negated] } }, where);
    } finally {
      this.#folded = outer.folded;
      this.#ownNot = outer.ownNot;
    }
    const left = verdicts.find((verdict) => verdict.enforcement !== "grammar");
    const enforcement = left === undefined ? "grammar" : "validator";
    // A grammar's own note (a subset of the values, see numbers.ts) is the report's too.
    const note =
      (left ?? verdicts.find((verdict) => verdict.note !== undefined))?.note ??
      "written as one residue condition with the number's automaton";
    this.report.set(where.pointer, keyword, enforcement, note);
    list.forEach((member, index) => {
      this.#formulaReport(member, childPointer(where.pointer, keyword, index), enforcement);
    });
    return expr;
  }

  /** The verdict of every keyword of a schema made only of multipleOfs (residues.ts), nested ones included. */
  #formulaReport(schema: JsonValue, pointer: string, enforcement: "grammar" | "validator"): void {
    if (!isObject(schema)) return;
    for (const [keyword, value] of Object.entries(schema)) {
      if (isAnnotation(keyword)) {
        this.report.set(pointer, keyword, "annotation");
        continue;
      }
      this.report.set(pointer, keyword, enforcement);
      if (keyword === "not") this.#formulaReport(value, childPointer(pointer, "not"), enforcement);
      else if (Array.isArray(value))
        value.forEach((member, index) => {
          this.#formulaReport(member, childPointer(pointer, keyword, index), enforcement);
        });
    }
  }

  #string(schema: JsonObject, where: Where): GExpr {
    const minLength = count(schema.minLength) ?? 0;
    const declaredMax = count(schema.maxLength);
    // No string has both lengths (a product of anyOf members, minLength of one and maxLength of another).
    if (declaredMax !== undefined && declaredMax < minLength) return NEVER;
    const max = Math.max(
      minLength,
      declaredMax === undefined ? this.caps.stringMax : Math.min(declaredMax, this.caps.declaredStringMax),
    );
    if (declaredMax !== undefined && declaredMax > max) {
      this.report.set(where.pointer, "maxLength", "grammar", `capped to ${max} characters`);
    }
    const format = typeof schema.format === "string" ? schema.format : undefined;
    const pattern = typeof schema.pattern === "string" ? schema.pattern : undefined;
    const excluded = stringExclusion(schema);
    if (excluded !== undefined) {
      if (pattern === undefined && format === undefined && minLength === 0) {
        this.report.set(where.pointer, "not", "grammar", "every string but the excluded ones");
        return excludedStrings(this.builder, this.strings, excluded, TEXT_CHARS, max);
      }
      // Next to a pattern or minLength: the exclusion is one more pattern for the automaton.
      const combined =
        format === undefined
          ? allPatterns([
              ...(pattern === undefined ? [] : [pattern]),
              ...(patternComplement(literalsPattern(excluded)) ?? []),
            ])
          : undefined;
      const written =
        combined === undefined ? undefined : patternContent(this.builder, combined, minLength, max);
      if (written?.ok === true) {
        this.report.set(where.pointer, "not", "grammar", "every string but the excluded ones (automaton)");
        return this.strings.string(written.expr);
      }
      this.report.set(where.pointer, "not", "validator", "next to pattern, format or minLength");
    } else if (schema.not !== undefined) this.report.set(where.pointer, "not", "validator");
    let content: GExpr | undefined;
    if (pattern !== undefined) {
      const regex = this.#pattern(pattern, max, declaredMax);
      const fits =
        regex.ok &&
        this.builder.minLength(regex.expr) >= minLength &&
        (declaredMax === undefined || this.builder.maxLength(regex.expr) <= declaredMax);
      // Lookaheads, combined patterns, or lengths the pattern's grammar cannot meet: the pattern's automaton
      // writes them exactly (within its rule bound).
      const automaton = fits
        ? undefined
        : patternContent(this.builder, pattern, minLength, max, { witnesses: !regex.ok });
      // Nothing within the lengths: where the pattern alone can be written, the lengths stay the validator's
      // (they may be the caps' rather than the schema's: a key's 64 characters, shortened to fit a budget).
      if (automaton?.ok === true && (!isNever(automaton.expr) || !regex.ok)) {
        content = automaton.expr;
        this.report.set(
          where.pointer,
          "pattern",
          "grammar",
          // (No note for an empty branch: another branch's note, a subset's, then stands.)
          automaton.note ?? (isNever(automaton.expr) ? undefined : "written through its automaton"),
        );
      } else if (regex.ok) {
        content = regex.expr;
        if (!regex.exact)
          this.report.set(where.pointer, "pattern", "grammar", `open repetitions bounded to ${regex.repeat}`);
      } else {
        const reason = automaton !== undefined && !automaton.ok ? automaton.reason : regex.reason;
        this.report.set(where.pointer, "pattern", "validator", reason);
      }
      if (format !== undefined) this.report.set(where.pointer, "format", "validator", "next to pattern");
    } else if (format !== undefined) {
      if (GRAMMAR_FORMATS.has(format)) content = formatExpr(format, this.builder);
      else if (VALIDATOR_FORMATS.has(format)) this.report.set(where.pointer, "format", "validator");
      else this.report.set(where.pointer, "format", "annotation", `unknown format "${format}": not checked`);
    }
    if (content === undefined) return boundedString(this.builder, minLength, max);
    // An automaton found no string of these lengths that the patterns accept.
    if (isNever(content)) return NEVER;
    const shortest = this.builder.minLength(content);
    const longest = this.builder.maxLength(content);
    if (shortest < minLength || (declaredMax !== undefined && longest > declaredMax)) {
      for (const keyword of ["minLength", "maxLength"]) {
        if (schema[keyword] !== undefined) {
          this.report.set(
            where.pointer,
            keyword,
            "validator",
            `next to ${pattern !== undefined ? "pattern" : "format"}`,
          );
        }
      }
    }
    return this.strings.string(content);
  }
}

/**
 * The formula of a `not` made only of multipleOfs (residues.ts) under a numeric `type` (number or integer),
 * which the number's automaton writes with `multipleOf`; undefined otherwise.
 */
function numericExclusion(schema: JsonObject): MultipleFormula | undefined {
  const types = typeSet(schema.type);
  if (schema.not === undefined || types === undefined || types.length === 0) return undefined;
  if (!types.every((type) => type === "number" || type === "integer")) return undefined;
  return multipleFormula(schema.not);
}

function bounds(schema: JsonObject): NumberBounds {
  const out: { -readonly [K in keyof Omit<NumberBounds, "excluded">]: number } = {};
  for (const key of ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const) {
    const value = schema[key];
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
  }
  // A divisor that is not a number above 0 is refused by the validator's own schema check.
  const divisor = schema.multipleOf;
  if (typeof divisor === "number" && Number.isFinite(divisor) && divisor > 0) out.multipleOf = divisor;
  return out;
}

/** Bounds narrowed to a 32-bit signed integer's range (format int32). */
function int32Bounds(limits: NumberBounds): NumberBounds {
  const low = -(2 ** 31);
  const high = 2 ** 31 - 1;
  return {
    ...limits,
    minimum: Math.max(limits.minimum ?? low, low),
    maximum: Math.min(limits.maximum ?? high, high),
  };
}

function matchesType(value: JsonValue, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    default:
      return false;
  }
}

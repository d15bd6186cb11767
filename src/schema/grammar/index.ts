/**
 * edgecrew's JSON Schema → GBNF compiler (see docs/DECISIONS.md, "An own grammar compiler"). Pure functions
 * from a schema to grammar text for llama.cpp, a per-keyword report of how each keyword is enforced, and the
 * longest output the grammar admits in tokens, so that a generation under it can always close within its
 * `maxTokens`: where the schema leaves lengths open (or declares more than fits), the caps are tightened until
 * the longest output fits, and a schema whose smallest output cannot fit is refused with the number it needs.
 *
 * Nothing here loads a model; workers/ hands the text to node-llama-cpp.
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import type { JsonSchema } from "../../types.js";
import { normalizeSchema } from "../normalize.js";
import { type Caps, SchemaCompiler } from "./compiler.js";
import { type GExpr, GrammarBuilder, isNever } from "./ir.js";
import { RefIndex } from "./refs.js";
import { type KeywordReport, Report } from "./report.js";

export type { Caps } from "./compiler.js";
export type { Enforcement, KeywordReport } from "./report.js";

/** The caps a grammar starts from, before fitting a budget. Lengths in characters, counts in items. */
export const DEFAULT_CAPS: Caps = Object.freeze({
  stringMax: 256,
  declaredStringMax: 4096,
  arrayMax: 16,
  declaredArrayMax: 256,
  propsMax: 8,
  recursion: 3,
  anyDepth: 1,
  optional: true,
});

/** Options of {@link compileGrammar}. */
export interface GrammarOptions {
  /**
   * The token budget of a generation under the grammar. When given, caps are tightened until the longest
   * admitted output (one token per character, escapes counted) fits, or TOKEN_BUDGET_EXCEEDED is thrown.
   */
  readonly maxTokens?: number;
  /** Caps to start from (default {@link DEFAULT_CAPS}). */
  readonly caps?: Partial<Caps>;
}

/** A compiled grammar and what it guarantees. */
export interface SchemaGrammar {
  /** GBNF text for llama.cpp (`root` is the start rule). */
  readonly gbnf: string;
  /** How each keyword is enforced. */
  readonly report: readonly KeywordReport[];
  /** The longest output the grammar admits, in tokens (characters, escapes counted). */
  readonly maxTokens: number;
  /** The shortest output the grammar admits, in tokens. */
  readonly minTokens: number;
  /** The caps the grammar was built with. */
  readonly caps: Caps;
  /** Whether the caps were tightened to fit `maxTokens`. */
  readonly fitted: boolean;
  /** Number of rules in the grammar text. */
  readonly rules: number;
}

/** A grammar built once for a set of caps: the expression, its rules and its report. */
export interface BuiltGrammar {
  readonly builder: GrammarBuilder;
  readonly root: GExpr;
  readonly report: Report;
}

/**
 * Builds the grammar of one schema with given caps into a builder of its own. `normalized`: the schema is
 * already in the 2020-12 spelling (see `normalizeSchema`).
 */
export function buildSchemaGrammar(
  normalized: JsonSchema,
  caps: Caps,
  builder = new GrammarBuilder(),
): BuiltGrammar {
  const report = new Report();
  const compiler = new SchemaCompiler(new RefIndex(normalized), builder, report, caps);
  return { builder, root: compiler.root(), report };
}

/** Caps scaled by `factor` in [0, 1]: at 0, every open length is as small as the schema allows. */
export function scaleCaps(caps: Caps, factor: number): Caps {
  return {
    stringMax: Math.floor(caps.stringMax * factor),
    declaredStringMax: Math.floor(caps.declaredStringMax * factor),
    arrayMax: Math.floor(caps.arrayMax * factor),
    declaredArrayMax: Math.floor(caps.declaredArrayMax * factor),
    propsMax: Math.floor(caps.propsMax * factor),
    recursion: Math.max(1, Math.round(caps.recursion * factor)),
    anyDepth: factor >= 0.5 ? caps.anyDepth : 0,
    optional: caps.optional,
  };
}

/**
 * The largest scaling of `base` whose grammar's longest output fits `budget` tokens (binary search over the
 * factor; 12 steps). When even the smallest scaling does not fit, optional properties are left out and the
 * search runs again; TOKEN_BUDGET_EXCEEDED when that does not fit either, with the tokens the smallest needs.
 */
export function fitCaps<
  T extends { readonly builder: GrammarBuilder; readonly root: GExpr; readonly report?: Report },
>(
  build: (caps: Caps) => T,
  base: Caps,
  budget: number,
  what: string,
): { readonly built: T; readonly caps: Caps; readonly fitted: boolean } {
  const longest = (built: T) => built.builder.maxLength(built.root);
  const full = build(base);
  assertSatisfiable(full, what);
  if (longest(full) <= budget) return { built: full, caps: base, fitted: false };
  let start = base;
  let smallestCaps = scaleCaps(start, 0);
  let smallest = build(smallestCaps);
  if (longest(smallest) > budget && base.optional) {
    start = { ...base, optional: false };
    smallestCaps = scaleCaps(start, 0);
    smallest = build(smallestCaps);
  }
  const needed = longest(smallest);
  if (needed > budget) {
    throw new EdgecrewError(
      ErrorCodes.TOKEN_BUDGET_EXCEEDED,
      `${what} needs up to ${Number.isFinite(needed) ? needed : "unbounded"} tokens even at its shortest, more than maxTokens ${budget}; raise maxTokens or lower the schema's minimum lengths and counts`,
      { context: { tokensNeeded: needed, maxTokens: budget } },
    );
  }
  let best = { built: smallest, caps: smallestCaps };
  let low = 0;
  let high = 1;
  for (let step = 0; step < 12; step++) {
    const middle = (low + high) / 2;
    const caps = scaleCaps(start, middle);
    const built = build(caps);
    if (longest(built) <= budget) {
      best = { built, caps };
      low = middle;
    } else high = middle;
  }
  return { ...best, fitted: true };
}

/**
 * Compiles a JSON Schema (any draft spelling) into a grammar (see the file comment). Throws an EdgecrewError
 * SCHEMA_INVALID when no value can be written under the schema, and TOKEN_BUDGET_EXCEEDED when `maxTokens` is
 * given and cannot be met.
 *
 * @example
 * const grammar = compileGrammar({ type: "object", properties: { n: { type: "integer", minimum: 1, maximum: 10 } }, required: ["n"] }, { maxTokens: 64 });
 * grammar.gbnf;      // root ::= "{\"n\":" " "? ([1-9] | "10") "}" …
 * grammar.maxTokens; // 9
 */
export function compileGrammar(schema: JsonSchema, options: GrammarOptions = {}): SchemaGrammar {
  const normalized = normalizeSchema(schema);
  const base: Caps = { ...DEFAULT_CAPS, ...options.caps };
  const { built, caps, fitted } =
    options.maxTokens === undefined
      ? { built: buildSchemaGrammar(normalized, base), caps: base, fitted: false }
      : fitCaps((c) => buildSchemaGrammar(normalized, c), base, options.maxTokens, "the schema's output");
  return finishGrammar(built, caps, fitted);
}

/**
 * Throws SCHEMA_INVALID when a grammar admits no text at all. When the report has keywords the grammar cannot
 * express (a complement it could not write whole), the schema may well be satisfiable: the error names them.
 */
function assertSatisfiable(built: { readonly root: GExpr; readonly report?: Report }, what: string): void {
  if (!isNever(built.root)) return;
  const unsupported = (built.report?.entries() ?? [])
    .filter((entry) => entry.enforcement === "unsupported")
    .map((entry) => `${entry.keyword} at ${entry.pointer === "" ? "/" : entry.pointer}`);
  throw new EdgecrewError(
    ErrorCodes.SCHEMA_INVALID,
    unsupported.length === 0
      ? `nothing satisfies ${what} as the grammar writes it (contradictory keywords, or recursion with no end)`
      : `the grammar can write nothing that satisfies ${what}: it cannot express ${unsupported.join(", ")} (unsupported), and without ${unsupported.length === 1 ? "it" : "them"} nothing is left`,
    { context: { unsupported } },
  );
}

/** A built grammar as compileGrammar returns it: its GBNF, report and token bounds (throws when unsatisfiable). */
export function finishGrammar(built: BuiltGrammar, caps: Caps, fitted: boolean): SchemaGrammar {
  assertSatisfiable(built, "the schema");
  const gbnf = built.builder.toGbnf(built.root);
  return {
    gbnf,
    report: built.report.entries(),
    maxTokens: built.builder.maxLength(built.root),
    minTokens: built.builder.minLength(built.root),
    caps,
    fitted,
    rules: gbnf.split("\n").filter((line) => line.includes("::=")).length,
  };
}

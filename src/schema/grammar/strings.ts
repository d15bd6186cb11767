/**
 * String grammars that need more than a bounded run of characters: every string except a given few (the keys
 * an object may add beyond its declared ones must not repeat a declared name), built from a trie of the
 * excluded strings; and the strings a pattern's automaton accepts within exact length bounds (patterns
 * combined or negated, lookaheads, lengths a pattern's own grammar cannot meet).
 */
import { AutomatonLimitError, type Dfa, dfaToExpr, patternDfa, patternWitnesses } from "./automaton.js";
import {
  alt,
  type CodeRange,
  cls,
  EMPTY,
  type GExpr,
  type GrammarBuilder,
  lit,
  NEVER,
  rep,
  seq,
  subtractRanges,
} from "./ir.js";
import type { JsonStringEncoder } from "./jsonText.js";
import { contradictoryPattern } from "./patterns.js";
import { UnsupportedRegexError } from "./regexParser.js";

interface TrieNode {
  terminal: boolean;
  readonly children: Map<string, TrieNode>;
}

/**
 * A JSON string (quotes included) of up to `maxLength` characters from `chars` that is none of `excluded`.
 *
 * @example
 * excludedStrings(builder, encoder, ["id", "name"], TEXT_CHARS, 64); // any key but "id" and "name"
 */
export function excludedStrings(
  builder: GrammarBuilder,
  encoder: JsonStringEncoder,
  excluded: readonly string[],
  chars: readonly CodeRange[],
  maxLength: number,
): GExpr {
  const root: TrieNode = { terminal: false, children: new Map() };
  for (const name of excluded) {
    const codes = [...name];
    if (codes.length > maxLength) continue;
    let node = root;
    for (const char of codes) {
      let child = node.children.get(char);
      if (child === undefined) {
        child = { terminal: false, children: new Map() };
        node.children.set(char, child);
      }
      node = child;
    }
    node.terminal = true;
  }
  const anyChar = cls(chars);
  const suffix = (depth: number, node: TrieNode): GExpr => {
    const room = maxLength - depth;
    const parts: GExpr[] = [node.terminal ? NEVER : EMPTY];
    if (room > 0) {
      const childCodes = [...node.children.keys()].map((c) => {
        const code = c.codePointAt(0) as number;
        return [code, code] as const;
      });
      const others = cls(subtractRanges(chars, childCodes));
      parts.push(seq(others, rep(anyChar, 0, room - 1)));
      for (const [char, child] of node.children) {
        if (!inRanges(chars, char.codePointAt(0) as number)) continue;
        parts.push(seq(lit(char), suffix(depth + 1, child)));
      }
    }
    const body = alt(...parts);
    return depth === 0 ? body : builder.rule("key-rest", body);
  };
  return encoder.string(suffix(0, root));
}

function inRanges(ranges: readonly CodeRange[], code: number): boolean {
  return ranges.some(([lo, hi]) => code >= lo && code <= hi);
}

/** Most grammar rules one document's automata may take (each takes up to a few hundred): bounds compile time. */
const MAX_DOCUMENT_AUTOMATON_RULES = 6000;
/** Automaton rules written so far, by document (its builder). */
const automatonRules = new WeakMap<GrammarBuilder, number>();

/** Witness searches one document may run (each may take a second or two): bounds compile time. */
const MAX_DOCUMENT_WITNESS_SEARCHES = 4;
/** Witness searches run so far, by document (its builder). */
const witnessSearches = new WeakMap<GrammarBuilder, number>();

/**
 * The decoded content of the strings of `minLength` to `maxLength` characters that `pattern` matches, through
 * its automaton (see automaton.ts): exact within those bounds, except that past the automaton's rule bound
 * the longest strings are left out. NEVER when there is no such string; `ok: false` with a reason when the
 * pattern cannot be read or its automaton is too large. With `witnesses`, an automaton too large to build
 * gives way to a few strings the pattern matches, found by a bounded search (patternWitnesses): a subset,
 * which `note` then says.
 */
export function patternContent(
  builder: GrammarBuilder,
  pattern: string,
  minLength: number,
  maxLength: number,
  options: { readonly witnesses?: boolean } = {},
):
  | { readonly ok: true; readonly expr: GExpr; readonly note?: string }
  | { readonly ok: false; readonly reason: string } {
  if (contradictoryPattern(pattern)) return { ok: true, expr: NEVER };
  try {
    return dfaContent(builder, patternDfa(pattern), minLength, maxLength);
  } catch (error) {
    if (!(error instanceof UnsupportedRegexError)) throw error;
    const searches = witnessSearches.get(builder) ?? 0;
    if (
      !(error instanceof AutomatonLimitError) ||
      options.witnesses !== true ||
      searches >= MAX_DOCUMENT_WITNESS_SEARCHES
    )
      return { ok: false, reason: error.message };
    witnessSearches.set(builder, searches + 1);
    const found = patternWitnesses(pattern, minLength, maxLength);
    if (found === undefined) return { ok: false, reason: error.message };
    const note = `only ${found.length} strings a bounded search found (${error.message})`;
    return { ok: true, expr: alt(...found.map(lit)), note };
  }
}

/**
 * The decoded content of the strings of `minLength` to `maxLength` characters an automaton accepts (one built
 * from several patterns, say), within the document's bound on automaton rules; see {@link patternContent}.
 */
export function dfaContent(
  builder: GrammarBuilder,
  dfa: Dfa,
  minLength: number,
  maxLength: number,
): { readonly ok: true; readonly expr: GExpr } | { readonly ok: false; readonly reason: string } {
  const spent = automatonRules.get(builder) ?? 0;
  if (spent >= MAX_DOCUMENT_AUTOMATON_RULES) {
    return { ok: false, reason: `the document's patterns already took ${spent} automaton rules` };
  }
  const before = builder.rules.size;
  const expr = dfaToExpr(dfa, builder, minLength, maxLength);
  automatonRules.set(builder, spent + builder.rules.size - before);
  return expr === undefined
    ? { ok: false, reason: "the pattern's automaton is too large to write within the length bounds" }
    : { ok: true, expr };
}

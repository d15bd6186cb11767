/**
 * JSON Schema `pattern` → grammar expression. A pattern is an ECMA-262 regex without flags that matches when it
 * matches anywhere in the string, so the expression admits whole strings: what may come before and after an
 * unanchored match is written out (bounded), and `^` / `$` are tracked wherever they occur, not only at the ends.
 *
 * The expression is over decoded string content (the caller quotes and escapes it) and is sound: every text it
 * admits satisfies `new RegExp(pattern).test(text)`. It is a subset where it has to be: open quantifiers are
 * bounded by `maxRepeat`, and, because a regex without the `u` flag sees UTF-16 code units while the grammar sees
 * code points, `.`, negated classes, `\D`, `\W`, `\S` and any class holding surrogate code units admit only BMP
 * characters (no astral character, never a lone surrogate).
 */

import {
  alt,
  type CodeRange,
  cls,
  complementRanges,
  EMPTY,
  type GExpr,
  type GrammarBuilder,
  isNever,
  lit,
  NEVER,
  normalizeRanges,
  rep,
  seq,
} from "./ir.js";
import { parseRegex, type RegexNode, UnsupportedRegexError } from "./regexParser.js";

/** How far the grammar may stray from the regex to stay finite. */
export interface RegexOptions {
  /** Most repetitions an open quantifier (*, +, {n,}) may take in the grammar; the grammar is then stricter than the regex. */
  readonly maxRepeat: number;
}

/**
 * The outcome of {@link regexToExpr}: the expression, or why the pattern cannot be written as a grammar (the
 * caller then leaves the pattern to the validator alone).
 */
export type RegexResult =
  | {
      readonly ok: true;
      readonly expr: GExpr;
      /** true when the grammar admits exactly the regex's language (no open quantifier was bounded); false when it admits a subset */
      readonly exact: boolean;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Bounded quantifiers above this count are treated like open ones (bounded by `maxRepeat`): `\w{1,1000}` would
 * otherwise make the token bound of a field a thousand characters.
 */
export const LARGE_REPEAT = 256;

const SURROGATES: CodeRange = [0xd800, 0xdfff];

/**
 * Compiles a JSON Schema `pattern` into a grammar expression (see the module comment for what it admits).
 * Returns `ok: false` with a reason for what no grammar here expresses: lookaround, backreferences, word
 * boundaries, `\p{…}`, `\u{…}` (whose meaning depends on the `u` flag), an anchor the compiler cannot place, a
 * pattern that admits no writable string, or text that is not a valid regex.
 */
export function regexToExpr(pattern: string, builder: GrammarBuilder, options: RegexOptions): RegexResult {
  try {
    new RegExp(pattern);
  } catch (error) {
    return { ok: false, reason: `not a valid regular expression: ${(error as Error).message}` };
  }
  try {
    const compiler = new Compiler(builder, Math.max(0, Math.floor(options.maxRepeat)));
    const [plain, toEnd, fromStart, whole] = compiler.compile(parseRegex(pattern));
    // Any text may surround a match, except before one that used ^ and after one that used $.
    const anchored = isNever(plain) && isNever(toEnd) && isNever(fromStart);
    const any = anchored
      ? EMPTY
      : builder.rule("re-any", rep(cls([SURROGATES], true), 0, compiler.maxRepeat));
    const expr = alt(seq(any, plain, any), seq(any, toEnd), seq(fromStart, any), whole);
    if (isNever(expr)) return { ok: false, reason: "the pattern admits no string the grammar can write" };
    return { ok: true, expr, exact: compiler.exact && anchored };
  } catch (error) {
    if (error instanceof UnsupportedRegexError) return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * The texts a part of the pattern matches, split by the anchors the match relied on. Index: 2 if it used `^`
 * (so it must start at the start of the string), plus 1 if it used `$` (it must end at the end).
 */
type Variants = readonly [GExpr, GExpr, GExpr, GExpr];

const USES_START = 2;
const USES_END = 1;

function only(expr: GExpr, index = 0): Variants {
  const out: [GExpr, GExpr, GExpr, GExpr] = [NEVER, NEVER, NEVER, NEVER];
  out[index] = expr;
  return out;
}

class Compiler {
  exact = true;

  constructor(
    readonly builder: GrammarBuilder,
    readonly maxRepeat: number,
  ) {}

  compile(node: RegexNode): Variants {
    switch (node.type) {
      case "char":
        if (node.code >= SURROGATES[0] && node.code <= SURROGATES[1]) {
          this.exact = false; // a lone surrogate: no code point spells it
          return only(NEVER);
        }
        return only(lit(String.fromCharCode(node.code)));
      case "text":
        return only(lit(node.text));
      case "set":
        return only(this.#set(node.ranges));
      case "start":
        return only(EMPTY, USES_START);
      case "end":
        return only(EMPTY, USES_END);
      case "alt": {
        const parts = node.items.map((item) => this.compile(item));
        return [0, 1, 2, 3].map((i) => alt(...parts.map((part) => part[i] as GExpr))) as unknown as Variants;
      }
      case "seq":
        return node.items.reduce<Variants>((acc, item) => this.#concat(acc, this.compile(item)), only(EMPTY));
      case "repeat":
        return this.#repeat(node);
      case "look":
        // Written by the automata (automaton.ts), at the start of a pattern only.
        throw new UnsupportedRegexError("lookahead assertions are not supported here");
    }
  }

  /** A class over code units as a class over code points: surrogates dropped, the smaller spelling chosen. */
  #set(units: readonly CodeRange[]): GExpr {
    // units ∖ surrogates, as code points: the complement of (everything else ∪ surrogates ∪ astral).
    const positive = complementRanges([...complementRanges(units), SURROGATES]);
    const asked = normalizeRanges(units);
    if (
      positive.length !== asked.length ||
      positive.some((r, i) => r[0] !== asked[i]?.[0] || r[1] !== asked[i]?.[1])
    ) {
      this.exact = false;
    }
    const excluded = complementRanges(positive);
    return excluded.length < positive.length ? cls(excluded, true) : cls(positive);
  }

  /** A sequence: a `$` must end the text, so nothing non-empty may follow it; likewise before a `^`. */
  #concat(a: Variants, b: Variants): Variants {
    const out: GExpr[][] = [[], [], [], []];
    const nullable = (expr: GExpr) => this.builder.minLength(expr) === 0;
    a.forEach((left, i) => {
      if (isNever(left)) return;
      b.forEach((right, j) => {
        if (isNever(right)) return;
        const first = j & USES_START ? (nullable(left) ? EMPTY : NEVER) : left;
        const second = i & USES_END ? (nullable(right) ? EMPTY : NEVER) : right;
        out[i | j]?.push(seq(first, second));
      });
    });
    return out.map((items) => alt(...items)) as unknown as Variants;
  }

  #repeat(node: Extract<RegexNode, { type: "repeat" }>): Variants {
    let { item, min } = node;
    let max = node.max;
    // (x*)*, (x+)*, (x*)+ and (x+)+ are x* or x+: one bound instead of maxRepeat² characters.
    while (max === null && item.type === "repeat" && item.max === null && item.min <= 1) {
      min = item.min === 0 ? 0 : min;
      item = item.item;
    }
    const cap = Math.max(min, this.maxRepeat);
    if (min > Math.max(LARGE_REPEAT, this.maxRepeat)) {
      throw new UnsupportedRegexError(`a repetition of at least ${min} is too long for a grammar`);
    }
    if (max === null || (max > LARGE_REPEAT && max > cap)) {
      max = cap;
      this.exact = false;
    }
    if (max === 0) return only(EMPTY);
    const variants = this.compile(item);
    if (max === 1)
      return min === 1 ? variants : [alt(EMPTY, variants[0]), variants[1], variants[2], variants[3]];
    const [plainBody, toEnd, fromStart, whole] = variants;
    const plain = this.builder.rule("re-group", plainBody);
    const times = (lo: number, hi: number) => (hi < 0 ? NEVER : rep(plain, Math.max(lo, 0), hi));
    if (isNever(toEnd) && isNever(fromStart) && isNever(whole)) return only(times(min, max));
    // Anchors inside a repetition: the iteration that used ^ comes first, the one that used $ last. Iterations that
    // match nothing may stand before the first (if they can match at the start) or after the last, to reach `min`.
    this.exact = false;
    const nullable = (expr: GExpr) => this.builder.minLength(expr) === 0;
    const fillStart = nullable(plainBody) || nullable(fromStart);
    const fillEnd = nullable(plainBody) || nullable(toEnd);
    return [
      times(min, max),
      seq(times(fillEnd ? 0 : min - 1, max - 1), toEnd),
      seq(fromStart, times(fillStart ? 0 : min - 1, max - 1)),
      alt(
        min <= 1 || fillStart || fillEnd ? whole : nullable(whole) ? EMPTY : NEVER,
        seq(fromStart, times(fillStart || fillEnd ? 0 : min - 2, max - 2), toEnd),
      ),
    ];
  }
}

/**
 * Every string an anchored pattern (`^…$`, no anchor inside) matches, when there are at most `limit` of them
 * (`^[a-d]$` → a, b, c, d; `^(x|y)-[12]$` → x-1, x-2, y-1, y-2); undefined for an unanchored or larger language.
 * Object keys from such a pattern can be written as names, each at most once, instead of free keys that may
 * repeat.
 */
export function finiteMatches(pattern: string, limit: number): string[] | undefined {
  const items = topSequence(pattern);
  if (items === undefined || items.length < 2 || items[0]?.type !== "start" || items.at(-1)?.type !== "end") {
    return undefined;
  }
  const strings = (n: RegexNode): string[] | undefined => {
    switch (n.type) {
      case "char":
        return [String.fromCharCode(n.code)];
      case "text":
        return [n.text];
      case "set": {
        const size = n.ranges.reduce((sum, [lo, hi]) => sum + hi - lo + 1, 0);
        if (size > limit) return undefined;
        // Surrogate code units alone are not characters a key can hold.
        if (n.ranges.some(([lo, hi]) => hi >= 0xd800 && lo <= 0xdfff)) return undefined;
        return n.ranges.flatMap(([lo, hi]) =>
          Array.from({ length: hi - lo + 1 }, (_, i) => String.fromCharCode(lo + i)),
        );
      }
      case "seq":
        return product(n.items);
      case "alt": {
        const out: string[] = [];
        for (const item of n.items) {
          const part = strings(item);
          if (part === undefined) return undefined;
          out.push(...part);
          if (out.length > limit) return undefined;
        }
        return out;
      }
      case "repeat": {
        if (n.max === null || n.max > limit) return undefined;
        const out: string[] = [];
        for (let times = n.min; times <= n.max; times++) {
          const part = product(Array.from({ length: times }, () => n.item));
          if (part === undefined) return undefined;
          out.push(...part);
          if (out.length > limit) return undefined;
        }
        return out;
      }
      default:
        return undefined; // an anchor inside
    }
  };
  const product = (parts: readonly RegexNode[]): string[] | undefined => {
    let out = [""];
    for (const part of parts) {
      const options = strings(part);
      if (options === undefined) return undefined;
      out = out.flatMap((prefix) => options.map((option) => prefix + option));
      if (out.length > limit) return undefined;
    }
    return out;
  };
  const all = product(items.slice(1, -1));
  if (all === undefined) return undefined;
  // The regex itself decides (an alternation can repeat a string).
  const unique = [...new Set(all)].filter((text) => new RegExp(pattern).test(text));
  return unique.length <= limit ? unique : undefined;
}

/** The items of a pattern's top-level sequence, nested sequences flattened; undefined when it does not parse. */
function topSequence(pattern: string): RegexNode[] | undefined {
  let node: RegexNode;
  try {
    node = parseRegex(pattern);
  } catch {
    return undefined;
  }
  const items: RegexNode[] = [];
  const flatten = (n: RegexNode): void => {
    if (n.type === "seq") for (const item of n.items) flatten(item);
    else items.push(n);
  };
  flatten(node);
  return items;
}

/**
 * Whether two patterns provably match no common string: both anchored at the start (`^`) and their literal
 * beginnings differ within the shorter one (`^name:` and `^title_`). Anything else may overlap.
 */
export function disjointPatterns(left: string, right: string): boolean {
  const a = anchoredPrefix(left);
  const b = anchoredPrefix(right);
  if (a === undefined || b === undefined) return false;
  const length = Math.min(a.length, b.length);
  return a.slice(0, length) !== b.slice(0, length);
}

/** The literal text an anchored pattern must begin with (`^ab(c|d)` → "ab"), or undefined when unanchored. */
function anchoredPrefix(pattern: string): string | undefined {
  const items = topSequence(pattern);
  if (items?.[0]?.type !== "start") return undefined;
  let prefix = "";
  for (const item of items.slice(1)) {
    if (item.type === "char") prefix += String.fromCharCode(item.code);
    else if (item.type === "text") prefix += item.text;
    else break;
  }
  return prefix;
}

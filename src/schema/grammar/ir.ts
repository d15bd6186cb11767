/**
 * The grammar intermediate form: expressions over Unicode code points (literals, character classes, sequences,
 * alternatives, bounded repetitions, references to named rules). Every part of the schema compiler builds these;
 * `GrammarBuilder` names rules, writes GBNF text for llama.cpp, and answers the questions the compiler asks of a
 * grammar without a model: the shortest and longest text it admits (the token bound), whether it admits a given
 * text, and random texts it admits (for tests).
 *
 * Length is counted in code points. The token bound of a generation assumes at most one token per code point of
 * output: every token a grammar lets through spells at least one whole character, except byte-fallback tokens
 * for characters outside ASCII (see docs/DECISIONS.md, "Token bound").
 */

/** An inclusive range of code points. */
export type CodeRange = readonly [number, number];

/** A grammar expression. Build them with the constructors below, which keep them small and canonical. */
export type GExpr =
  | { readonly kind: "lit"; readonly text: string }
  | { readonly kind: "class"; readonly ranges: readonly CodeRange[]; readonly negated: boolean }
  | { readonly kind: "seq"; readonly items: readonly GExpr[] }
  | { readonly kind: "alt"; readonly items: readonly GExpr[] }
  | { readonly kind: "rep"; readonly item: GExpr; readonly min: number; readonly max: number | null }
  | { readonly kind: "ref"; readonly rule: string };

/** The empty text. */
export const EMPTY: GExpr = Object.freeze({ kind: "seq", items: Object.freeze([]) }) as GExpr;
/** No text at all (an alternative with no members); it vanishes from alternatives and poisons sequences. */
export const NEVER: GExpr = Object.freeze({ kind: "alt", items: Object.freeze([]) }) as GExpr;
/** The largest code point. */
export const MAX_CODE_POINT = 0x10ffff;

/** Whether an expression admits no text. */
export function isNever(expr: GExpr): boolean {
  return expr.kind === "alt" && expr.items.length === 0;
}

/** Whether an expression is exactly the empty text. */
export function isEmpty(expr: GExpr): boolean {
  return (expr.kind === "seq" && expr.items.length === 0) || (expr.kind === "lit" && expr.text === "");
}

/** A literal text. */
export function lit(text: string): GExpr {
  return text === "" ? EMPTY : { kind: "lit", text };
}

/** Sorts and merges ranges; drops empty ones. */
export function normalizeRanges(ranges: readonly CodeRange[]): CodeRange[] {
  const sorted = ranges.filter(([lo, hi]) => lo <= hi).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** The complement of a set of ranges within [0, MAX_CODE_POINT]. */
export function complementRanges(ranges: readonly CodeRange[]): CodeRange[] {
  const out: CodeRange[] = [];
  let next = 0;
  for (const [lo, hi] of normalizeRanges(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

/** The ranges of `ranges` without the code points of `remove`. */
export function subtractRanges(ranges: readonly CodeRange[], remove: readonly CodeRange[]): CodeRange[] {
  let out = normalizeRanges(ranges);
  for (const [lo, hi] of remove) {
    out = out.flatMap(([a, b]): [number, number][] => {
      if (hi < a || lo > b) return [[a, b]];
      const parts: [number, number][] = [];
      if (a < lo) parts.push([a, lo - 1]);
      if (hi < b) parts.push([hi + 1, b]);
      return parts;
    });
  }
  return out;
}

/** A set of ranges as the positive class it denotes (complemented when `negated`). */
export function classRanges(expr: Extract<GExpr, { kind: "class" }>): CodeRange[] {
  return expr.negated ? complementRanges(expr.ranges) : normalizeRanges(expr.ranges);
}

/**
 * One character from `ranges` (or, when `negated`, from outside them). Characters are code points; a range is
 * inclusive. A class that admits nothing is NEVER.
 *
 * @example
 * cls([[0x30, 0x39]]); // [0-9]
 * cls([[0x22, 0x22], [0x5c, 0x5c], [0, 0x1f]], true); // any character but ", \ and controls
 */
export function cls(ranges: readonly CodeRange[], negated = false): GExpr {
  const normalized = normalizeRanges(ranges);
  const expr: GExpr = { kind: "class", ranges: normalized, negated };
  return classRanges(expr).length === 0 ? NEVER : expr;
}

/** A class from the characters of a string, e.g. `chars("+-")`. */
export function chars(list: string, negated = false): GExpr {
  return cls(
    [...list].map((c) => {
      const code = c.codePointAt(0) as number;
      return [code, code] as const;
    }),
    negated,
  );
}

/** A sequence; nested sequences are flattened, adjacent literals joined, and any NEVER makes the whole NEVER. */
export function seq(...items: readonly GExpr[]): GExpr {
  const out: GExpr[] = [];
  for (const item of items) {
    if (isNever(item)) return NEVER;
    const parts = item.kind === "seq" ? item.items : [item];
    for (const part of parts) {
      if (isEmpty(part)) continue;
      const last = out.at(-1);
      if (last?.kind === "lit" && part.kind === "lit") out[out.length - 1] = lit(last.text + part.text);
      else out.push(part);
    }
  }
  if (out.length === 1) return out[0] as GExpr;
  return out.length === 0 ? EMPTY : { kind: "seq", items: out };
}

/** Alternatives; nested ones are flattened, NEVER dropped, duplicates removed. No items: NEVER. */
export function alt(...items: readonly GExpr[]): GExpr {
  const out: GExpr[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    for (const part of item.kind === "alt" ? item.items : [item]) {
      const key = JSON.stringify(part);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(part);
    }
  }
  return out.length === 1 ? (out[0] as GExpr) : { kind: "alt", items: out };
}

/**
 * `item` repeated from `min` to `max` times (`max` null: without bound). A repetition whose item admits no text
 * is EMPTY when `min` is 0 and NEVER otherwise.
 */
export function rep(item: GExpr, min: number, max: number | null): GExpr {
  if (!Number.isInteger(min) || min < 0 || (max !== null && (!Number.isInteger(max) || max < min))) {
    throw new RangeError(`rep: bad bounds {${min},${max}}`);
  }
  if (isNever(item)) return min === 0 ? EMPTY : NEVER;
  if (max === 0 || isEmpty(item)) return EMPTY;
  if (min === 1 && max === 1) return item;
  return { kind: "rep", item, min, max };
}

/** `item` or nothing. */
export function opt(item: GExpr): GExpr {
  return rep(item, 0, 1);
}

/** A reference to a named rule of the builder. */
export function ref(rule: string): GExpr {
  return { kind: "ref", rule };
}

// ─── GBNF text ────────────────────────────────────────────────────────────────────────────────────────────

function hex(code: number): string {
  if (code <= 0xff) return `\\x${code.toString(16).toUpperCase().padStart(2, "0")}`;
  if (code <= 0xffff) return `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `\\U${code.toString(16).toUpperCase().padStart(8, "0")}`;
}

const PLAIN = /[A-Za-z0-9 ]/;

/** A code point as llama.cpp's GBNF parser reads it inside a literal. */
function literalChar(char: string): string {
  if (char === '"') return '\\"';
  if (char === "\\") return "\\\\";
  const code = char.codePointAt(0) as number;
  return code < 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f) ? hex(code) : char;
}

/** A code point inside a GBNF character class: only letters and digits appear as themselves. */
function classChar(code: number): string {
  const char = String.fromCodePoint(code);
  return PLAIN.test(char) && char !== " " ? char : hex(code);
}

/** One expression as GBNF text (rules are referenced by name). */
export function toGbnf(expr: GExpr): string {
  switch (expr.kind) {
    case "lit":
      return `"${[...expr.text].map(literalChar).join("")}"`;
    case "class": {
      const body = expr.ranges
        .map(([lo, hi]) => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`))
        .join("");
      return `[${expr.negated ? "^" : ""}${body}]`;
    }
    case "seq":
      return expr.items.length === 0 ? '""' : expr.items.map((item) => wrap(item, "seq")).join(" ");
    case "alt":
      if (expr.items.length === 0) throw new Error("toGbnf: NEVER cannot be written as GBNF");
      return expr.items.map((item) => wrap(item, "alt")).join(" | ");
    case "rep": {
      const inner = wrap(expr.item, "rep");
      const { min, max } = expr;
      if (min === 0 && max === 1) return `${inner}?`;
      if (min === 0 && max === null) return `${inner}*`;
      if (min === 1 && max === null) return `${inner}+`;
      if (max === null) return `${inner}{${min},}`;
      return min === max ? `${inner}{${min}}` : `${inner}{${min},${max}}`;
    }
    case "ref":
      return expr.rule;
  }
}

function wrap(expr: GExpr, context: "seq" | "alt" | "rep"): string {
  const text = toGbnf(expr);
  const needsParens =
    (expr.kind === "alt" && context !== "alt") ||
    (expr.kind === "seq" && expr.items.length > 1 && context === "rep") ||
    (expr.kind === "rep" && context === "rep");
  return needsParens ? `(${text})` : text;
}

// ─── Rules ───────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Repetitions llama.cpp expands into rules, and refuses past about 2000 copies (measured with node-llama-cpp
 * 3.21.1: `[a]{0,1999}` parses, `[a]{0,2000}` does not). Longer ones are split into chunks of this size.
 */
export const MAX_GBNF_REPETITION = 1000;

/**
 * A set of named rules plus the questions asked of them. Rule names are made from hints (letters, digits and
 * dashes, as GBNF wants) and made unique; a body already defined under some name is reused.
 */
export class GrammarBuilder {
  readonly #rules = new Map<string, GExpr>();
  readonly #byBody = new Map<string, string>();
  readonly #maxMemo = new Map<string, number>();
  readonly #minMemo = new Map<string, number>();
  #cycleHits = 0;

  /** The rules defined so far, by name. */
  get rules(): ReadonlyMap<string, GExpr> {
    return this.#rules;
  }

  /** A fresh rule name from a hint; define its body later with {@link define} (for recursive rules). */
  reserve(hint: string): string {
    const base =
      hint
        .replace(/[^A-Za-z0-9-]+/g, "-")
        .replace(/-+/g, "-")
        .replace(/^-|-$/g, "")
        .slice(0, 48) || "r";
    let name = base;
    for (let n = 2; this.#rules.has(name) || name === "root"; n++) name = `${base}-${n}`;
    this.#rules.set(name, NEVER);
    return name;
  }

  /** Sets the body of a reserved rule. */
  define(name: string, body: GExpr): GExpr {
    if (!this.#rules.has(name)) throw new Error(`define: rule ${name} was not reserved`);
    this.#rules.set(name, body);
    this.#byBody.set(JSON.stringify(body), name);
    this.#maxMemo.clear();
    this.#minMemo.clear();
    return ref(name);
  }

  /**
   * A reference to a rule with this body: an existing one with the same body, or a new one named from `hint`.
   * Bodies that are plain literals or classes are returned as they are (a rule would only add a name).
   */
  rule(hint: string, body: GExpr): GExpr {
    if (body.kind === "lit" || body.kind === "class" || body.kind === "ref" || isNever(body) || isEmpty(body))
      return body;
    const existing = this.#byBody.get(JSON.stringify(body));
    if (existing !== undefined) return ref(existing);
    return this.define(this.reserve(hint), body);
  }

  /** The body of a named rule. */
  body(name: string): GExpr {
    const body = this.#rules.get(name);
    if (body === undefined) throw new Error(`unknown rule ${name}`);
    return body;
  }

  /**
   * The GBNF text of the grammar whose root is `root`: `root ::= …` followed by every rule reachable from it.
   * Repetitions are made acceptable to llama.cpp on the way (see {@link MAX_GBNF_REPETITION}).
   */
  toGbnf(root: GExpr): string {
    const readyRoot = this.#gbnfReady(root);
    if (isNever(readyRoot)) throw new Error("toGbnf: the grammar admits no text");
    const lines = [`root ::= ${toGbnf(readyRoot)}`];
    const written = new Set<string>();
    const queue = directRefs(readyRoot);
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      if (written.has(name)) continue;
      written.add(name);
      // Preparing a body may name new rules (for repeated items); they are queued like any other reference.
      const body = this.#gbnfReady(this.body(name));
      lines.push(`${name} ::= ${toGbnf(body)}`);
      queue.push(...directRefs(body));
    }
    return `${lines.join("\n")}\n`;
  }

  /**
   * An expression as llama.cpp can parse it. llama.cpp copies a repeated item once per repetition and refuses a
   * repetition whose copies pass about 2000 symbols, so a repeated item longer than one symbol becomes a rule,
   * and repetitions beyond {@link MAX_GBNF_REPETITION} are split into nested chunks.
   */
  #gbnfReady(expr: GExpr): GExpr {
    switch (expr.kind) {
      case "seq":
        return seq(...expr.items.map((item) => this.#gbnfReady(item)));
      case "alt":
        return alt(...expr.items.map((item) => this.#gbnfReady(item)));
      case "rep": {
        const ready = this.#gbnfReady(expr.item);
        if (isNever(ready) || isEmpty(ready)) return rep(ready, expr.min, expr.max);
        const atomic =
          ready.kind === "class" ||
          ready.kind === "ref" ||
          (ready.kind === "lit" && [...ready.text].length === 1);
        // An optional item stays inline unless it holds repetitions: llama.cpp counts the rules a group's
        // repetitions expand into against the repetition of the group, `?` included (a list of long strings).
        const inline = atomic || (expr.max !== null && expr.max <= 1 && !repeats(ready));
        const item = inline ? ready : this.rule("item", ready);
        return chunkRepetition(item, expr.min, expr.max);
      }
      case "ref":
        // A rule that can never finish (a recursion cut at its depth bound) is no alternative at all.
        return this.minLength(expr) === Number.POSITIVE_INFINITY ? NEVER : expr;
      default:
        return expr;
    }
  }

  /** Names of the rules reachable from `root`, in the order first met. */
  reachable(root: GExpr): string[] {
    const seen = new Set<string>();
    const visit = (expr: GExpr): void => {
      switch (expr.kind) {
        case "seq":
        case "alt":
          for (const item of expr.items) visit(item);
          return;
        case "rep":
          visit(expr.item);
          return;
        case "ref":
          if (seen.has(expr.rule)) return;
          seen.add(expr.rule);
          visit(this.body(expr.rule));
          return;
        default:
          return;
      }
    };
    visit(root);
    return [...seen];
  }

  /**
   * Whether some text `expr` admits cannot be finished with ASCII characters alone: a literal with a character
   * above U+007F, or a class with no ASCII character, is reachable. A sampler that bans non-ASCII tokens (as
   * edgecrew does for random-weight fixture models) would get stuck on such a grammar.
   */
  requiresNonAscii(expr: GExpr): boolean {
    const ascii = (code: number) => code <= 0x7f;
    const check = (node: GExpr): boolean => {
      switch (node.kind) {
        case "lit":
          return [...node.text].some((char) => !ascii(char.codePointAt(0) as number));
        case "class":
          return !classRanges(node).some(([lo]) => ascii(lo));
        case "seq":
        case "alt":
          return node.items.some(check);
        case "rep":
          return check(node.item);
        case "ref":
          return false;
      }
    };
    return check(expr) || this.reachable(expr).some((name) => check(this.body(name)));
  }

  /**
   * The longest text `expr` admits, in code points; Infinity when unbounded (an unbounded repetition, or a
   * cycle of rules that can grow the text).
   */
  maxLength(expr: GExpr): number {
    return this.#length(expr, "max", new Set());
  }

  /** The shortest text `expr` admits, in code points; Infinity when it admits none. */
  minLength(expr: GExpr): number {
    return this.#length(expr, "min", new Set());
  }

  #length(expr: GExpr, which: "min" | "max", visiting: Set<string>): number {
    switch (expr.kind) {
      case "lit":
        return [...expr.text].length;
      case "class":
        return 1;
      case "seq":
        return expr.items.reduce((sum, item) => sum + this.#length(item, which, visiting), 0);
      case "alt": {
        if (expr.items.length === 0) return Number.POSITIVE_INFINITY;
        const lengths = expr.items.map((item) => this.#length(item, which, visiting));
        return which === "max" ? Math.max(...lengths) : Math.min(...lengths);
      }
      case "rep": {
        const item = this.#length(expr.item, which, visiting);
        if (which === "min") return expr.min === 0 ? 0 : item * expr.min;
        if (item === 0) return 0;
        return expr.max === null ? Number.POSITIVE_INFINITY : item * expr.max;
      }
      case "ref": {
        const memo = which === "max" ? this.#maxMemo : this.#minMemo;
        const known = memo.get(expr.rule);
        if (known !== undefined) return known;
        // A rule met again while measuring itself: for the maximum, a cycle that can grow the text; for the
        // minimum, a path that never ends (another alternative must end it). A value found under such an
        // assumption holds only for this path, so it is not remembered.
        if (visiting.has(expr.rule)) {
          this.#cycleHits++;
          return Number.POSITIVE_INFINITY;
        }
        const hitsBefore = this.#cycleHits;
        visiting.add(expr.rule);
        const value = this.#length(this.body(expr.rule), which, visiting);
        visiting.delete(expr.rule);
        if (this.#cycleHits === hitsBefore) memo.set(expr.rule, value);
        return value;
      }
    }
  }

  /** Whether `expr` admits exactly `text` (a whole match). For tests and measurements, not for decoding. */
  matches(expr: GExpr, text: string): boolean {
    const codes = [...text];
    return this.#ends(expr, codes, 0, new Map()).has(codes.length);
  }

  /** The positions where a match of `expr` starting at `start` can end. */
  #ends(expr: GExpr, text: readonly string[], start: number, memo: Map<string, Set<number>>): Set<number> {
    switch (expr.kind) {
      case "lit": {
        const want = [...expr.text];
        for (let i = 0; i < want.length; i++) if (text[start + i] !== want[i]) return new Set();
        return new Set([start + want.length]);
      }
      case "class": {
        const char = text[start];
        if (char === undefined) return new Set();
        const code = char.codePointAt(0) as number;
        const inside = expr.ranges.some(([lo, hi]) => code >= lo && code <= hi);
        return inside !== expr.negated ? new Set([start + 1]) : new Set();
      }
      case "seq": {
        let positions = new Set([start]);
        for (const item of expr.items) {
          const next = new Set<number>();
          for (const position of positions) {
            for (const end of this.#ends(item, text, position, memo)) next.add(end);
          }
          positions = next;
          if (positions.size === 0) break;
        }
        return positions;
      }
      case "alt": {
        const out = new Set<number>();
        for (const item of expr.items) for (const end of this.#ends(item, text, start, memo)) out.add(end);
        return out;
      }
      case "rep": {
        const out = new Set<number>();
        if (expr.min === 0) out.add(start);
        let frontier = new Set([start]);
        const seen = new Set<number>();
        for (let count = 1; expr.max === null || count <= expr.max; count++) {
          const next = new Set<number>();
          for (const position of frontier) {
            for (const end of this.#ends(expr.item, text, position, memo)) {
              if (count >= expr.min) out.add(end);
              // Without a bound, a position reached before adds nothing new.
              if (expr.max === null && seen.has(end)) continue;
              seen.add(end);
              next.add(end);
            }
          }
          frontier = next;
          if (frontier.size === 0) break;
        }
        return out;
      }
      case "ref": {
        const key = `${expr.rule}@${start}`;
        const known = memo.get(key);
        if (known !== undefined) return known;
        memo.set(key, new Set()); // guards against left recursion, which the compiler never writes
        const ends = this.#ends(this.body(expr.rule), text, start, memo);
        memo.set(key, ends);
        return ends;
      }
    }
  }

  /**
   * A random text that `expr` admits, for tests: `random()` returns numbers in [0, 1); unbounded repetitions stop
   * after at most `openLimit` items. Characters of a class are drawn from its ranges, preferring printable ASCII
   * when the class has some.
   */
  sample(expr: GExpr, random: () => number, openLimit = 8, depth = 0): string {
    const pick = (n: number) => Math.min(n - 1, Math.floor(random() * n));
    switch (expr.kind) {
      case "lit":
        return expr.text;
      case "class": {
        const ranges = classRanges(expr);
        const ascii = ranges
          .map(([lo, hi]) => [Math.max(lo, 0x20), Math.min(hi, 0x7e)] as const)
          .filter(([lo, hi]) => lo <= hi);
        const from = ascii.length > 0 && random() < 0.8 ? ascii : ranges;
        const [lo, hi] = from[pick(from.length)] as CodeRange;
        let code = lo + pick(hi - lo + 1);
        if (code >= 0xd800 && code <= 0xdfff) code = lo < 0xd800 ? lo : 0xe000 <= hi ? 0xe000 : lo;
        return String.fromCodePoint(code);
      }
      case "seq":
        return expr.items.map((item) => this.sample(item, random, openLimit, depth)).join("");
      case "alt": {
        // Deep in recursive rules, prefer the shortest alternatives so that sampling ends.
        const items =
          depth > 12
            ? [...expr.items].sort((a, b) => this.minLength(a) - this.minLength(b)).slice(0, 1)
            : expr.items.filter((item) => this.minLength(item) < Number.POSITIVE_INFINITY);
        return this.sample(items[pick(items.length)] as GExpr, random, openLimit, depth);
      }
      case "rep": {
        const max = expr.max ?? expr.min + openLimit;
        const count = expr.min + pick(max - expr.min + 1);
        let out = "";
        for (let i = 0; i < count; i++) out += this.sample(expr.item, random, openLimit, depth);
        return out;
      }
      case "ref":
        return this.sample(this.body(expr.rule), random, openLimit, depth + 1);
    }
  }
}

/** The rule names an expression refers to directly (not through other rules). */
function directRefs(expr: GExpr): string[] {
  switch (expr.kind) {
    case "seq":
    case "alt":
      return expr.items.flatMap(directRefs);
    case "rep":
      return directRefs(expr.item);
    case "ref":
      return [expr.rule];
    default:
      return [];
  }
}

/** Whether `expr` repeats something more than once (through sequences and alternatives, not into rules). */
function repeats(expr: GExpr): boolean {
  switch (expr.kind) {
    case "rep":
      return expr.max === null || expr.max > 1 || repeats(expr.item);
    case "seq":
    case "alt":
      return expr.items.some(repeats);
    default:
      return false;
  }
}

/** `item{min,max}` split into repetitions of at most {@link MAX_GBNF_REPETITION} copies each. */
function chunkRepetition(item: GExpr, min: number, max: number | null): GExpr {
  const limit = MAX_GBNF_REPETITION;
  if (min <= limit && (max === null || max <= limit)) return { kind: "rep", item, min, max };
  const block: GExpr = { kind: "rep", item, min: limit, max: limit };
  // item{min,max} = item{limit} item{min-limit,max-limit} while min ≥ limit.
  if (min >= limit) return seq(block, chunkRepetition(item, min - limit, max === null ? null : max - limit));
  // min < limit < max: item{min,limit} | item{limit} item{0,max-limit}.
  const head: GExpr = { kind: "rep", item, min, max: limit };
  if (max === null) return seq(head, { kind: "rep", item, min: 0, max: null });
  return alt(head, seq(block, chunkRepetition(item, 0, max - limit)));
}

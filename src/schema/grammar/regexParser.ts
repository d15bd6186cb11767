/**
 * A parser for JSON Schema `pattern`s: ECMA-262 regular expressions without flags, read the way a JavaScript
 * engine reads them without the `u` flag (the web-compatibility grammar of Annex B: `{`, `}` and `]` may stand
 * for themselves, `\1` with no such group is an octal escape, `\u{3}` is `u` three times). Characters are UTF-16
 * code units, as such a regex sees them. Whatever the grammar compiler cannot express (lookbehind,
 * backreferences, word boundaries, `\p{…}`) is refused with a reason instead of being misread; lookaheads are
 * read (a `look` node) for the automata, which write them at the start of a pattern.
 */

import type { CodeRange } from "./ir.js";

/** A parsed pattern. Sets and characters are over UTF-16 code units; negation is already resolved. */
export type RegexNode =
  | { readonly type: "char"; readonly code: number }
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "set"; readonly ranges: readonly CodeRange[] }
  | { readonly type: "seq"; readonly items: readonly RegexNode[] }
  | { readonly type: "alt"; readonly items: readonly RegexNode[] }
  | { readonly type: "repeat"; readonly item: RegexNode; readonly min: number; readonly max: number | null }
  | { readonly type: "start" }
  | { readonly type: "end" }
  /** A lookahead `(?=…)` / `(?!…)`; only the automata (automaton.ts) read it, and only at a pattern's start. */
  | { readonly type: "look"; readonly negative: boolean; readonly item: RegexNode };

/** A pattern the grammar compiler cannot read; `message` says why, for the caller's report. */
export class UnsupportedRegexError extends Error {
  override readonly name = "UnsupportedRegexError";
}

const MAX_CODE_UNIT = 0xffff;

// The code units of \d, \w and \s (JavaScript's WhiteSpace and LineTerminator).
const DIGIT_UNITS: readonly CodeRange[] = [[0x30, 0x39]];
const WORD_UNITS: readonly CodeRange[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE_UNITS: readonly CodeRange[] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: readonly CodeRange[] = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];

/** The complement of code-unit ranges within [0, 0xFFFF]. */
function complementUnits(ranges: readonly CodeRange[]): CodeRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: CodeRange[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CODE_UNIT) out.push([next, MAX_CODE_UNIT]);
  return out;
}

const CLASS_ESCAPES: Readonly<Record<string, readonly CodeRange[]>> = {
  d: DIGIT_UNITS,
  D: complementUnits(DIGIT_UNITS),
  w: WORD_UNITS,
  W: complementUnits(WORD_UNITS),
  s: SPACE_UNITS,
  S: complementUnits(SPACE_UNITS),
};
const CONTROL_ESCAPES: Readonly<Record<string, number>> = { t: 9, n: 10, v: 11, f: 12, r: 13 };
const DOT: RegexNode = { type: "set", ranges: complementUnits(LINE_TERMINATORS) };

type ClassAtom = { readonly code: number } | { readonly ranges: readonly CodeRange[] };

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/**
 * Parses a pattern into a {@link RegexNode}. Throws {@link UnsupportedRegexError} for syntax errors and for
 * features the grammar cannot express; callers check `new RegExp(pattern)` first for the engine's own verdict.
 */
export function parseRegex(pattern: string): RegexNode {
  const parser = new Parser(pattern);
  const node = parser.disjunction();
  if (!parser.done) parser.fail(`unexpected "${pattern[parser.pos]}" at ${parser.pos}`);
  return node;
}

class Parser {
  pos = 0;
  readonly #groups: number;
  readonly #named: boolean;

  constructor(readonly src: string) {
    [this.#groups, this.#named] = countGroups(src);
  }

  get done(): boolean {
    return this.pos >= this.src.length;
  }

  fail(reason: string): never {
    throw new UnsupportedRegexError(reason);
  }

  #at(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  disjunction(): RegexNode {
    const items = [this.#alternative()];
    while (this.#at() === "|") {
      this.pos++;
      items.push(this.#alternative());
    }
    return items.length === 1 ? (items[0] as RegexNode) : { type: "alt", items };
  }

  #alternative(): RegexNode {
    const items: RegexNode[] = [];
    while (!this.done && this.#at() !== "|" && this.#at() !== ")") {
      const term = this.#term();
      const prev = items.at(-1);
      // Without the u flag a surrogate pair is two atoms; unquantified and adjacent, they spell one code point.
      if (term.type === "char" && isLow(term.code) && prev?.type === "char" && isHigh(prev.code)) {
        items[items.length - 1] = { type: "text", text: String.fromCharCode(prev.code, term.code) };
      } else items.push(term);
    }
    return items.length === 1 ? (items[0] as RegexNode) : { type: "seq", items };
  }

  #term(): RegexNode {
    const c = this.#at();
    if (c === "^" || c === "$") {
      this.pos++;
      return { type: c === "^" ? "start" : "end" };
    }
    if (c === "(" && this.#at(1) === "?") {
      const kind = this.#at(2) === "<" ? `<${this.#at(3) ?? ""}` : (this.#at(2) ?? "");
      if (kind === "<=" || kind === "<!") this.fail("lookbehind assertions are not supported");
      if (kind === "=" || kind === "!") {
        this.pos += 3;
        const item = this.disjunction();
        if (this.#at() !== ")") this.fail("unterminated group");
        this.pos++;
        // Annex B lets a lookahead be quantified; no pattern worth writing does.
        if (this.#quantified({ type: "seq", items: [] }).type === "repeat")
          this.fail("a quantified lookahead");
        return { type: "look", negative: kind === "!", item };
      }
    }
    return this.#quantified(this.#atom());
  }

  #atom(): RegexNode {
    const c = this.#at() as string;
    switch (c) {
      case ".":
        this.pos++;
        return DOT;
      case "(":
        return this.#group();
      case "[":
        return this.#class();
      case "\\":
        return this.#atomEscape();
      case "*":
      case "+":
      case "?":
        return this.fail(`nothing to repeat at ${this.pos}`);
      case "{":
        if (this.#braced() !== undefined) this.fail(`nothing to repeat at ${this.pos}`);
        break;
    }
    this.pos++;
    return { type: "char", code: c.charCodeAt(0) };
  }

  #group(): RegexNode {
    this.pos++;
    if (this.#at() === "?") {
      if (this.#at(1) === ":") this.pos += 2;
      else if (this.#at(1) === "<") {
        const close = this.src.indexOf(">", this.pos);
        if (close < 0) this.fail("unterminated group name");
        this.pos = close + 1;
      } else this.fail(`unsupported group "(?${this.#at(1) ?? ""}"`);
    }
    const body = this.disjunction();
    if (this.#at() !== ")") this.fail("unterminated group");
    this.pos++;
    return body;
  }

  /** A braced quantifier `{n}`, `{n,}` or `{n,m}` at the current position, if there is one. */
  #braced(): { min: number; max: number | null; length: number } | undefined {
    const match = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos, this.pos + 40));
    if (match === null) return undefined;
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : match[3] === "" ? null : Number(match[3]);
    if (max !== null && max < min) this.fail("numbers out of order in {} quantifier");
    return { min, max, length: match[0].length };
  }

  #quantified(atom: RegexNode): RegexNode {
    let min: number;
    let max: number | null;
    const c = this.#at();
    if (c === "*" || c === "+" || c === "?") {
      [min, max] = c === "*" ? [0, null] : c === "+" ? [1, null] : [0, 1];
      this.pos++;
    } else {
      const braced = c === "{" ? this.#braced() : undefined;
      if (braced === undefined) return atom;
      ({ min, max } = braced);
      this.pos += braced.length;
    }
    if (this.#at() === "?") this.pos++; // lazy: the same language
    return { type: "repeat", item: atom, min, max };
  }

  #atomEscape(): RegexNode {
    const e = this.#at(1);
    if (e === "b" || e === "B") this.fail("word boundaries (\\b, \\B) are not supported");
    if (e !== undefined && e >= "1" && e <= "9") {
      const digits = /^\d+/.exec(this.src.slice(this.pos + 1))?.[0] ?? e;
      if (Number(digits) <= this.#groups) this.fail("backreferences are not supported");
    }
    const atom = this.#escape(false);
    return "code" in atom ? { type: "char", code: atom.code } : { type: "set", ranges: atom.ranges };
  }

  #class(): RegexNode {
    this.pos++;
    const negated = this.#at() === "^";
    if (negated) this.pos++;
    const ranges: CodeRange[] = [];
    const add = (atom: ClassAtom) => {
      if ("code" in atom) ranges.push([atom.code, atom.code]);
      else ranges.push(...atom.ranges);
    };
    while (this.#at() !== "]") {
      if (this.done) this.fail("unterminated character class");
      const first = this.#classAtom();
      if (this.#at() === "-" && this.#at(1) !== "]" && this.#at(1) !== undefined) {
        this.pos++;
        const last = this.#classAtom();
        // Annex B: a range with a class escape at either end is just its parts and a dash.
        if (!("code" in first) || !("code" in last)) [first, { code: 0x2d }, last].forEach(add);
        else if (first.code > last.code) this.fail("range out of order in character class");
        else ranges.push([first.code, last.code]);
      } else add(first);
    }
    this.pos++;
    return { type: "set", ranges: negated ? complementUnits(ranges) : ranges };
  }

  #classAtom(): ClassAtom {
    if (this.#at() === "\\") return this.#escape(true);
    this.pos++;
    return { code: this.src.charCodeAt(this.pos - 1) };
  }

  /** An escape at the current backslash, in a class or not (backreferences are ruled out by the caller). */
  #escape(inClass: boolean): ClassAtom {
    const e = this.#at(1);
    if (e === undefined) this.fail("\\ at end of pattern");
    const set = CLASS_ESCAPES[e];
    const control = CONTROL_ESCAPES[e];
    const take = (length: number, code: number): ClassAtom => {
      this.pos += length;
      return { code };
    };
    if (set !== undefined) {
      this.pos += 2;
      return { ranges: set };
    }
    if (control !== undefined) return take(2, control);
    if (inClass && e === "b") return take(2, 0x08);
    if (e >= "0" && e <= "7") {
      // Annex B legacy octal: up to three digits, at most \377.
      const digits = /^[0-3][0-7]{0,2}|^[4-7][0-7]?/.exec(this.src.slice(this.pos + 1))?.[0] as string;
      return take(1 + digits.length, Number.parseInt(digits, 8));
    }
    const next = this.#at(2) ?? "";
    switch (e) {
      case "c": {
        const ok = inClass ? /[A-Za-z0-9_]/ : /[A-Za-z]/;
        // Not followed by a control letter, the backslash stands for itself and `c` is read next.
        return ok.test(next) ? take(3, next.charCodeAt(0) % 32) : take(1, 0x5c);
      }
      case "x": {
        const hex = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.pos + 2))?.[0];
        return hex === undefined ? take(2, 0x78) : take(4, Number.parseInt(hex, 16));
      }
      case "u": {
        const hex = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.pos + 2))?.[0];
        if (hex !== undefined) return take(6, Number.parseInt(hex, 16));
        if (next === "{") this.fail("\\u{…} means different things with and without the u flag");
        return take(2, 0x75);
      }
      case "k":
        if (this.#named) this.fail("backreferences are not supported");
        break;
      case "p":
      case "P":
        if (next === "{") this.fail("Unicode property escapes (\\p{…}) are not supported");
        break;
    }
    return take(2, e.charCodeAt(0));
  }
}

/** The number of capturing groups in a pattern and whether any is named (both decide how `\1`, `\k` read). */
function countGroups(src: string): [number, boolean] {
  let count = 0;
  let named = false;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") {
      if (src[i + 1] !== "?") count++;
      else if (src[i + 2] === "<" && src[i + 3] !== "=" && src[i + 3] !== "!") {
        count++;
        named = true;
      }
    }
  }
  return [count, named];
}

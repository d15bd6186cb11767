/**
 * The JSON text around values: separators, JSON strings built from grammars of their decoded content, literal
 * JSON for `enum`/`const` values. One spelling per value, JSON.stringify's: compact, with one optional space
 * after `:` and `,` (models like to write it), strings escaped canonically (`\"`, `\\`, `\b\f\n\r\t`,
 * `\u00XX` for other control characters; nothing else is escaped, so no character costs more than it must).
 */
import type { JsonValue } from "../../types.js";
import {
  alt,
  type CodeRange,
  cls,
  type GExpr,
  type GrammarBuilder,
  lit,
  NEVER,
  normalizeRanges,
  opt,
  ref,
  rep,
  seq,
  subtractRanges,
} from "./ir.js";

/** The optional space after `:` and `,`. */
export const WS: GExpr = opt(lit(" "));
/** `,` with its optional space. */
export const COMMA: GExpr = seq(lit(","), WS);
/** `:` with its optional space. */
export const COLON: GExpr = seq(lit(":"), WS);

const SURROGATES: CodeRange = [0xd800, 0xdfff];
const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x08, "\\b"],
  [0x09, "\\t"],
  [0x0a, "\\n"],
  [0x0c, "\\f"],
  [0x0d, "\\r"],
  [0x22, '\\"'],
  [0x5c, "\\\\"],
]);

/**
 * The characters a JSON string may hold when the schema says nothing about them: every character but the
 * control characters other than tab, newline and carriage return (a model never needs them, and each would
 * cost six characters of output as `\u00XX`). Lone surrogates are never valid.
 */
export const TEXT_CHARS: readonly CodeRange[] = normalizeRanges([
  [0x09, 0x0a],
  [0x0d, 0x0d],
  [0x20, 0xd7ff],
  [0xe000, 0x10ffff],
]);

/** A decoded character as JSON.stringify writes it inside a string. */
export function escapeJsonChar(char: string): string {
  return JSON.stringify(char).slice(1, -1);
}

/** The JSON spellings of a class of decoded characters: raw where JSON allows it, escaped otherwise. */
function encodeClass(ranges: readonly CodeRange[]): GExpr {
  const positive = subtractRanges(ranges, [SURROGATES]);
  const raw = subtractRanges(positive, [
    [0x00, 0x1f],
    [0x22, 0x22],
    [0x5c, 0x5c],
  ]);
  const parts: GExpr[] = raw.length > 0 ? [cls(raw)] : [];
  const inside = (code: number) => positive.some(([lo, hi]) => code >= lo && code <= hi);
  for (const [code, spelling] of SHORT_ESCAPES) if (inside(code)) parts.push(lit(spelling));
  for (let code = 0; code <= 0x1f; code++) {
    if (inside(code) && !SHORT_ESCAPES.has(code)) parts.push(lit(escapeJsonChar(String.fromCharCode(code))));
  }
  return alt(...parts);
}

/**
 * Maps a grammar of decoded string content (what `pattern` and `format` grammars describe) to the grammar of
 * its JSON spelling inside the quotes. Rules are mapped once each (`<name>-json`), so recursion and sharing
 * survive.
 */
export class JsonStringEncoder {
  readonly #builder: GrammarBuilder;
  readonly #rules = new Map<string, string>();

  constructor(builder: GrammarBuilder) {
    this.#builder = builder;
  }

  /** The JSON-escaped form of a decoded-content expression. */
  encode(expr: GExpr): GExpr {
    switch (expr.kind) {
      case "lit":
        return lit([...expr.text].map(escapeJsonChar).join(""));
      case "class":
        return encodeClass(expr.negated ? subtractRanges([[0, 0x10ffff]], expr.ranges) : expr.ranges);
      case "seq":
        return seq(...expr.items.map((item) => this.encode(item)));
      case "alt":
        return alt(...expr.items.map((item) => this.encode(item)));
      case "rep":
        return rep(this.encode(expr.item), expr.min, expr.max);
      case "ref": {
        const known = this.#rules.get(expr.rule);
        if (known !== undefined) return ref(known);
        const name = this.#builder.reserve(`${expr.rule}-json`);
        this.#rules.set(expr.rule, name);
        return this.#builder.define(name, this.encode(this.#builder.body(expr.rule)));
      }
    }
  }

  /** A whole JSON string (with its quotes) whose decoded content `content` describes. */
  string(content: GExpr): GExpr {
    return seq(lit('"'), this.encode(content), lit('"'));
  }
}

/** A JSON string of `min` to `max` characters from `chars` (decoded), e.g. a plain bounded string. */
export function boundedString(
  builder: GrammarBuilder,
  min: number,
  max: number,
  chars: readonly CodeRange[] = TEXT_CHARS,
): GExpr {
  const char = builder.rule("char", encodeClass(chars));
  return seq(lit('"'), rep(char, min, max), lit('"'));
}

/**
 * The JSON text of a value as the grammar writes it: JSON.stringify's spelling, objects with their keys in the
 * given order. A model's answer is compared after parsing, so one spelling per value is enough.
 */
export function jsonLiteral(value: JsonValue): GExpr {
  return lit(JSON.stringify(value));
}

/** `open item (sep item)* close` with between `min` and `max` items (`max` null: no bound). */
export function delimitedList(
  open: string,
  item: GExpr,
  close: string,
  min: number,
  max: number | null,
): GExpr {
  if (max === 0) return min === 0 ? lit(open + close) : NEVER;
  const rest = rep(seq(COMMA, item), Math.max(0, min - 1), max === null ? null : max - 1);
  const items = seq(item, rest);
  return seq(lit(open), min === 0 ? opt(items) : items, lit(close));
}

/**
 * Grammars of JSON numbers within JSON Schema bounds. A model that decodes under a loose number grammar writes
 * values the schema refuses (a `count` of 1–10 decoded as 0, -2.7, 246 or 2e+38) or values that overflow to
 * ±Infinity (a 16-digit exponent); both cost a retry on a small device. The grammars here admit only texts whose
 * value lies within the bounds, built digit-wise: the integer part by ranges of same-length digit strings (as
 * llama.cpp's json-schema-to-grammar does for integer ranges), the fraction by ranges of zero-padded digit
 * strings, so that `1.5`, `1.50` and `1.500` are one value.
 *
 * Bounds are compared as the exact decimals the schema spelled (the shortest text of each bound), and exclusive
 * bounds are also kept clear of the double rounding a JavaScript validator does after `JSON.parse` (see
 * {@link numberGrammar}). Every value is computed as a `bigint` scaled by 10^{@link MAX_FRACTION_DIGITS}.
 */

import { alt, chars, cls, EMPTY, type GExpr, type GrammarBuilder, lit, NEVER, opt, rep, seq } from "./ir.js";
import {
  bothFormulas,
  type MultipleFormula,
  offGridPart,
  type ResidueCondition,
  residueCondition,
} from "./residues.js";

/**
 * Numeric bounds of a JSON Schema (2020-12 spelling: exclusive bounds are numbers), and `multipleOf` (> 0). Any
 * may be absent.
 */
export interface NumberBounds {
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly multipleOf?: number;
  /**
   * A condition the value must not meet, made only of `multipleOf`s (a schema's `not`, see residues.ts):
   * written by the same automaton as `multipleOf`.
   */
  readonly excluded?: MultipleFormula;
}

/** How `multipleOf` came out: written by the grammar, or left to the validator (and why). */
export type MultipleVerdict =
  | { readonly enforcement: "grammar"; readonly note?: string }
  | { readonly enforcement: "validator"; readonly note: string };

/**
 * The automaton states one schema document may still spend on `multipleOf` grammars (shared by every number of
 * the document, and spent as they are built); past it, `multipleOf` is left to the validator.
 */
export interface MultipleBudget {
  states: number;
}

/** The states a schema document may spend on `multipleOf` grammars in all (see {@link MultipleBudget}). */
export const MAX_DOCUMENT_MULTIPLE_STATES = 1024;

/** What the grammar could not enforce exactly, for the compiler's report. */
export interface NumberGrammar {
  readonly expr: GExpr;
  /** Bounds (keyword names) the grammar enforces exactly. */
  readonly enforced: readonly string[];
  /** Bounds left to the validator (e.g. a bound with more fraction digits than the grammar writes). */
  readonly approximated: readonly string[];
  /** The verdict on `multipleOf`; absent when the bounds have none. */
  readonly multipleOf?: MultipleVerdict;
  /** The verdict on `excluded`; absent when the bounds have none. */
  readonly excluded?: MultipleVerdict;
}

/**
 * The most digits of an integer part: those of `Number.MAX_SAFE_INTEGER` (16). Integer grammars stop at
 * ±`Number.MAX_SAFE_INTEGER` itself, so every integer they admit parses exactly; number grammars admit 16 digits
 * (up to 9999999999999999.…), which keeps the largest value finite even with an exponent.
 */
export const MAX_INTEGER_DIGITS = 16;

/**
 * The most fraction digits a number grammar writes (15): a double holds 15 significant decimal digits faithfully,
 * and a bound written with more than 15 fraction digits is rare enough to be rounded (soundly) and reported.
 */
export const MAX_FRACTION_DIGITS = 15;

/**
 * The most exponent digits of an unbounded number (2): with at most 16 integer digits the largest value is below
 * 10^16 × 10^99 = 10^115 and the smallest non-zero one above 10^-114, far inside the finite doubles, so a decoded
 * value is never ±Infinity. Bounded numbers are written without an exponent.
 */
export const MAX_EXPONENT_DIGITS = 2;

/**
 * The most states of one `multipleOf` automaton (a state is a remaining digit count, a residue and the stretch of
 * the text, integer part or fraction, with the bounds' digits still binding or not; most become a GBNF rule of up
 * to ten alternatives). 7 on all the safe integers takes about 110, 11 on them about 180, 77 about 1 200. Past
 * it, the values are limited to {@link MULTIPLE_DIGIT_LIMITS} integer digits (sound: fewer values, each valid);
 * past it even then, the grammar lists the accepted values nearest zero (up to {@link MAX_LISTED_MULTIPLES}, and
 * at least 8 of them, reported); failing that, the validator keeps `multipleOf` and the grammar writes the bounds
 * alone.
 */
export const MAX_MULTIPLE_STATES = 200;

/** Integer digits a `multipleOf` grammar falls back to, in turn, when the whole range takes too many states. */
export const MULTIPLE_DIGIT_LIMITS: readonly number[] = [9, 6, 4];

/** The fewest multiples a range limited to {@link MULTIPLE_DIGIT_LIMITS} must keep (else: the validator's). */
const MIN_CAPPED_MULTIPLES = 100;

/**
 * The largest magnitude, in units of the divisor's last decimal place, of a number a `multipleOf` grammar writes:
 * 15 significant digits, which `JSON.parse` and the validator's shortest spelling read back as the very decimal
 * written (a longer text could round onto a non-multiple).
 */
const MULTIPLE_LIMIT = 10n ** 15n - 1n;

type Keyword = keyof NumberBounds;
/** A rational with a positive denominator. */
interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
}
/** One bound resolved to the grid: the scaled value it allows up to, and whether that is the bound itself. */
interface Resolved {
  readonly keyword: Keyword;
  readonly value: bigint;
  readonly exact: boolean;
}

const DIGIT = cls([[0x30, 0x39]]);
const NONZERO = cls([[0x31, 0x39]]);
const UNIT = 10n ** BigInt(MAX_FRACTION_DIGITS);
/** The largest scaled magnitude a bounded number grammar writes: 16 nines, a point, 15 nines. */
const NUMBER_LIMIT = 10n ** BigInt(MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS) - 1n;
const INTEGER_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The grammar of a JSON integer (`-?(0|[1-9][0-9]*)`, no fraction, no exponent) within `bounds`, clamped to
 * ±`Number.MAX_SAFE_INTEGER` so that every admitted text parses to exactly the integer it spells. Non-integer
 * bounds round inwards (minimum 1.5 admits 2 and up), exclusive bounds step past themselves. `-0` is admitted
 * exactly when 0 is in range (it is the value 0). When no integer is in range the expression is NEVER, which the
 * caller reports; a bound beyond ±`Number.MAX_SAFE_INTEGER` is listed in `approximated`.
 */
export function integerGrammar(
  bounds: NumberBounds,
  builder: GrammarBuilder,
  budget: MultipleBudget = { states: MAX_DOCUMENT_MULTIPLE_STATES },
): NumberGrammar {
  const lows: Resolved[] = [];
  const highs: Resolved[] = [];
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = checked(bounds);
  // Integers up to 2^53 are exact doubles, so comparing them with a bound's exact value is what a validator does.
  if (minimum !== undefined) lows.push(integerBound("minimum", BigInt(Math.ceil(minimum))));
  if (exclusiveMinimum !== undefined)
    lows.push(integerBound("exclusiveMinimum", BigInt(Math.floor(exclusiveMinimum)) + 1n));
  if (maximum !== undefined) highs.push(integerBound("maximum", BigInt(Math.floor(maximum))));
  if (exclusiveMaximum !== undefined)
    highs.push(integerBound("exclusiveMaximum", BigInt(Math.ceil(exclusiveMaximum)) - 1n));
  const lo = extreme("max", -INTEGER_LIMIT, ...lows.map((b) => b.value));
  const hi = extreme("min", INTEGER_LIMIT, ...highs.map((b) => b.value));
  const plain = () =>
    lo > hi
      ? NEVER
      : builder.rule(
          lows.length + highs.length > 0 ? "integer-range" : "integer",
          signed(lo, hi, 0, builder),
        );
  const residues = multipleGrammar(bounds, true, lo, hi, builder, budget, plain);
  return { ...report(residues?.expr ?? plain(), lows, highs), ...residues?.verdicts };
}

/**
 * The grammar of a JSON number within `bounds`. Without bounds: `-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,15})?
 * ([eE][-+]?[0-9]{1,2})?`, which never overflows to ±Infinity (see {@link MAX_EXPONENT_DIGITS}). With any bound:
 * no exponent, at most {@link MAX_INTEGER_DIGITS} integer and {@link MAX_FRACTION_DIGITS} fraction digits, and
 * the bounds enforced exactly, trailing zeros included (exclusiveMinimum 0 refuses `0`, `0.000` and `-0`).
 * Values that need an exponent to fit the digit limits (1e-20, 1e20) are therefore not admitted when bounded.
 *
 * `-0` (in any spelling) is admitted exactly when 0 is in range. An exclusive bound also refuses the texts that
 * lie past it by less than half a double's spacing, which `JSON.parse` would round onto the bound itself
 * (exclusiveMinimum 100 refuses 100.000000000000005): a validator comparing doubles refuses them too, and no
 * double's shortest spelling is among them. A bound with more than 15 fraction digits (1e-30) is rounded inwards
 * to the grid of 10^-15, one beyond the digit limits (1e300) is replaced by them; both are sound and are listed
 * in `approximated`. Bounds that leave no value give NEVER, which the caller reports.
 */
export function numberGrammar(
  bounds: NumberBounds,
  builder: GrammarBuilder,
  budget: MultipleBudget = { states: MAX_DOCUMENT_MULTIPLE_STATES },
): NumberGrammar {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = checked(bounds);
  const lows: Resolved[] = [];
  const highs: Resolved[] = [];
  if (minimum !== undefined) {
    const exact = shortestDecimal(minimum);
    lows.push(numberBound("minimum", ceilDiv(exact.num * UNIT, exact.den), exact));
  }
  if (maximum !== undefined) {
    const exact = shortestDecimal(maximum);
    highs.push(numberBound("maximum", floorDiv(exact.num * UNIT, exact.den), exact));
  }
  if (exclusiveMinimum !== undefined) {
    // Above the midpoint between the bound and the next double up, every text parses to a larger double.
    const next = nextUp(exclusiveMinimum);
    const value = Number.isFinite(next)
      ? floorDiv(...scaled(midpoint(exactDouble(exclusiveMinimum), exactDouble(next)))) + 1n
      : NUMBER_LIMIT + 1n;
    lows.push(numberBound("exclusiveMinimum", value, shortestDecimal(exclusiveMinimum)));
  }
  if (exclusiveMaximum !== undefined) {
    const next = -nextUp(-exclusiveMaximum);
    const value = Number.isFinite(next)
      ? ceilDiv(...scaled(midpoint(exactDouble(exclusiveMaximum), exactDouble(next)))) - 1n
      : -NUMBER_LIMIT - 1n;
    highs.push(numberBound("exclusiveMaximum", value, shortestDecimal(exclusiveMaximum)));
  }
  const lo = extreme("max", -NUMBER_LIMIT, ...lows.map((b) => b.value));
  const hi = extreme("min", NUMBER_LIMIT, ...highs.map((b) => b.value));
  const plain = (): GExpr => {
    if (lows.length + highs.length > 0)
      return lo > hi ? NEVER : builder.rule("number-range", signed(lo, hi, MAX_FRACTION_DIGITS, builder));
    const integerPart = alt(lit("0"), seq(NONZERO, rep(DIGIT, 0, MAX_INTEGER_DIGITS - 1)));
    const exponent = builder.rule(
      "exponent",
      seq(chars("eE"), opt(chars("+-")), rep(DIGIT, 1, MAX_EXPONENT_DIGITS)),
    );
    return builder.rule("number", seq(opt(lit("-")), integerPart, anyFraction(builder), opt(exponent)));
  };
  const residues = multipleGrammar(bounds, false, lo, hi, builder, budget, plain);
  if (residues === undefined && lows.length + highs.length === 0)
    return { expr: plain(), enforced: [], approximated: [] };
  return { ...report(residues?.expr ?? plain(), lows, highs), ...residues?.verdicts };
}

/**
 * `multipleOf` and the `excluded` formula as one residue condition (residues.ts), written by the automaton
 * within `lo`…`hi` (integers, or numbers scaled by 10^{@link MAX_FRACTION_DIGITS}); undefined when the bounds
 * have neither. Where the two together take too many states, `multipleOf` alone is tried (the exclusion is then
 * the validator's); where that fails too, `plain` (the bounds alone) is written and both are the validator's.
 */
function multipleGrammar(
  bounds: NumberBounds,
  integer: boolean,
  lo: bigint,
  hi: bigint,
  builder: GrammarBuilder,
  budget: MultipleBudget,
  plain: () => GExpr,
): { expr: GExpr; verdicts: Pick<NumberGrammar, "multipleOf" | "excluded"> } | undefined {
  const { multipleOf, excluded } = bounds;
  if (multipleOf === undefined && excluded === undefined) return undefined;
  const positive: MultipleFormula | undefined =
    multipleOf === undefined ? undefined : { kind: "multiple", of: multipleOf };
  const negative: MultipleFormula | undefined =
    excluded === undefined ? undefined : { kind: "not", of: excluded };
  const verdicts = (forMultiple: MultipleVerdict, forExcluded: MultipleVerdict) => ({
    ...(multipleOf === undefined ? {} : { multipleOf: forMultiple }),
    ...(excluded === undefined ? {} : { excluded: forExcluded }),
  });
  const attempts: { formula: MultipleFormula; alone: boolean }[] = [
    { formula: bothFormulas(positive, negative) as MultipleFormula, alone: false },
  ];
  if (positive !== undefined && negative !== undefined) attempts.push({ formula: positive, alone: true });
  let failed: MultipleVerdict = { enforcement: "validator", note: "" };
  for (const { formula, alone } of attempts) {
    const written = writeResidues(formula, integer, lo, hi, builder, budget, plain);
    if (!("expr" in written)) {
      if (!alone) failed = written.verdict;
      continue;
    }
    const left: MultipleVerdict = { enforcement: "validator", note: `next to multipleOf: ${failed.note}` };
    return { expr: written.expr, verdicts: verdicts(written.verdict, alone ? left : written.verdict) };
  }
  return { expr: plain(), verdicts: verdicts(failed, failed) };
}

/** The values within `lo`…`hi` that `formula` accepts (see {@link multipleGrammar}), or why not. */
function writeResidues(
  formula: MultipleFormula,
  integer: boolean,
  lo: bigint,
  hi: bigint,
  builder: GrammarBuilder,
  budget: MultipleBudget,
  plain: () => GExpr,
): { expr: GExpr; verdict: MultipleVerdict } | { verdict: MultipleVerdict } {
  const condition = residueCondition(formula, integer, MAX_FRACTION_DIGITS);
  if (condition === undefined) {
    const note = `more than ${MAX_FRACTION_DIGITS} fraction digits, which the grammar does not write`;
    return { verdict: { enforcement: "validator", note } };
  }
  const grammar: MultipleVerdict = { enforcement: "grammar" };
  // Every integer, or none: the bounds alone say it.
  if (integer && condition.modulus === 1n)
    return { expr: condition.accepts(0n) ? plain() : NEVER, verdict: grammar };
  // Within 15 digits (see MULTIPLE_LIMIT): every length is then whole, and shares one automaton. A number is
  // counted in units of the grid's last place (10^-digits).
  const step = integer ? 1n : 10n ** BigInt(MAX_FRACTION_DIGITS - condition.digits);
  const from = extreme("max", -MULTIPLE_LIMIT, ceilDiv(lo, step));
  const to = extreme("min", MULTIPLE_LIMIT, floorDiv(hi, step));
  if (from > to) return { expr: NEVER, verdict: grammar };
  const built = multiples(from, to, condition, !integer, builder, budget);
  if ("expr" in built) return { expr: built.expr, verdict: built.multipleOf };
  if (condition.offGrid) {
    // Values a digit finer than every divisor are multiples of none: a small automaton writes those alone.
    const part = multiples(from, to, offGridPart(condition), true, builder, budget);
    if ("expr" in part) {
      const note = `only values with ${condition.digits} fraction digits, the last not 0 (${built.verdict.note ?? ""})`;
      return { expr: part.expr, verdict: { enforcement: "grammar", note } };
    }
  }
  // The last resort before the validator: the accepted values nearest zero, listed (sound: fewer values).
  // A list takes the document's budget too (its search costs time): LISTED_STATES each.
  if (budget.states < LISTED_STATES) return built;
  const listed = listedValues(from, to, condition);
  if (listed.length < MIN_LISTED_MULTIPLES) return built;
  budget.states -= LISTED_STATES;
  const note = `only the ${listed.length} accepted values nearest zero within the bounds (${listed.slice(0, 3).join(", ")}, …): ${built.verdict.note}`;
  return {
    expr: builder.rule(`${condition.name}-list`, alt(...listed.map(lit))),
    verdict: { enforcement: "grammar", note },
  };
}

/** The most values {@link listedValues} lists. */
export const MAX_LISTED_MULTIPLES = 32;
/** The fewest values a list must hold (fewer: the validator's, rather than a grammar of a few constants). */
const MIN_LISTED_MULTIPLES = 8;
/** The most grid values {@link listedValues} tries. */
const MAX_LISTING_TRIES = 1 << 16;
/** What one list takes of the document's {@link MultipleBudget} (so that at most 64 lists are searched). */
const LISTED_STATES = 16;

/**
 * Texts of up to {@link MAX_LISTED_MULTIPLES} values N × 10^-digits, N from `from` to `to`, whose residue the
 * condition accepts, nearest zero first (of {@link MAX_LISTING_TRIES} grid values tried): what a `multipleOf`
 * formula falls back to where its automaton would take too many states (a union of residue classes modulo a
 * large lcm, such as `anyOf`/`not` of ten divisors). Empty when none is found.
 */
function listedValues(from: bigint, to: bigint, condition: ResidueCondition): string[] {
  const { modulus, digits, accepts } = condition;
  const out: string[] = [];
  const consider = (n: bigint) => {
    const magnitude = n < 0n ? -n : n;
    if (accepts(magnitude % modulus)) out.push(gridText(n, digits));
  };
  // Magnitudes from the one nearest zero outwards, both signs where the range spans zero.
  const start = from > 0n ? from : to < 0n ? -to : 0n;
  for (let k = 0n, tries = 0; out.length < MAX_LISTED_MULTIPLES && tries < MAX_LISTING_TRIES; k++) {
    const magnitude = start + k;
    const positive = magnitude >= from && magnitude <= to;
    const negative = magnitude > 0n && -magnitude >= from && -magnitude <= to;
    if (!positive && !negative) break;
    if (positive) consider(magnitude);
    if (negative && out.length < MAX_LISTED_MULTIPLES) consider(-magnitude);
    tries += (positive ? 1 : 0) + (negative ? 1 : 0);
  }
  return out;
}

/** `n` × 10^-`digits` as JSON text, without trailing fraction zeros (`-15`, 1 → `-1.5`). */
function gridText(n: bigint, digits: number): string {
  const sign = n < 0n ? "-" : "";
  const abs = (n < 0n ? -n : n).toString().padStart(digits + 1, "0");
  const fraction = abs.slice(abs.length - digits).replace(/0+$/, "");
  return `${sign}${abs.slice(0, abs.length - digits)}${fraction === "" ? "" : `.${fraction}`}`;
}

// ─── Bounds ──────────────────────────────────────────────────────────────────────────────────────────────

/** The four bounds, refusing values no JSON text can carry (other keys of `bounds` are ignored). */
function checked(bounds: NumberBounds): NumberBounds {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = bounds;
  const picked = { minimum, maximum, exclusiveMinimum, exclusiveMaximum };
  for (const [keyword, value] of Object.entries(picked)) {
    if (value !== undefined && !Number.isFinite(value))
      throw new RangeError(`${keyword} must be a finite number`);
  }
  if (multipleOf !== undefined && !(Number.isFinite(multipleOf) && multipleOf > 0))
    throw new RangeError("multipleOf must be a finite number above 0");
  return picked;
}

function gcd(a: bigint, b: bigint): bigint {
  let [p, q] = [a < 0n ? -a : a, b < 0n ? -b : b];
  while (q !== 0n) [p, q] = [q, p % q];
  return p;
}

/** An integer bound is exact when the grammar can write the integer it resolves to. */
function integerBound(keyword: Keyword, value: bigint): Resolved {
  return { keyword, value, exact: value >= -INTEGER_LIMIT && value <= INTEGER_LIMIT };
}

/** A bound is exact when its decimal has at most 15 fraction digits and fits the integer digits. */
function numberBound(keyword: Keyword, value: bigint, decimal: Ratio): Resolved {
  const onGrid = (decimal.num * UNIT) % decimal.den === 0n;
  const scaledBound = (decimal.num * UNIT) / decimal.den;
  return { keyword, value, exact: onGrid && scaledBound >= -NUMBER_LIMIT && scaledBound <= NUMBER_LIMIT };
}

/**
 * Enforced and approximated keywords. A bound counts as approximated only when it is inexact and binding (the
 * tightest on its side): an inexact bound that another bound overrides costs nothing.
 */
function report(expr: GExpr, lows: Resolved[], highs: Resolved[]): NumberGrammar {
  const enforced: string[] = [];
  const approximated: string[] = [];
  for (const [list, which] of [
    [lows, "max"],
    [highs, "min"],
  ] as const) {
    const tightest =
      list.length === 0 ? 0n : extreme(which, ...(list.map((b) => b.value) as [bigint, ...bigint[]]));
    for (const bound of list)
      (bound.exact || bound.value !== tightest ? enforced : approximated).push(bound.keyword);
  }
  return { expr, enforced, approximated };
}

/** The decimal a double stands for in a schema: its shortest spelling, as JSON would have carried it. */
function shortestDecimal(x: number): Ratio {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([-+]\d+))?$/.exec(String(x));
  if (match === null) throw new RangeError(`not a finite number: ${x}`);
  const fraction = match[3] ?? "";
  const exponent = Number(match[4] ?? 0) - fraction.length;
  const num = BigInt(`${match[1]}${match[2]}${fraction}`);
  return exponent >= 0
    ? { num: num * 10n ** BigInt(exponent), den: 1n }
    : { num, den: 10n ** BigInt(-exponent) };
}

/** The exact value of a finite double (its denominator a power of two). */
function exactDouble(x: number): Ratio {
  const bits = doubleBits(x);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const num = bits >> 63n === 1n ? -mantissa : mantissa;
  const shift = (biased === 0 ? 1 : biased) - 1075;
  return shift >= 0 ? { num: num << BigInt(shift), den: 1n } : { num, den: 1n << BigInt(-shift) };
}

/** The next double above `x` (Infinity above the largest). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, x > 0 ? doubleBits(x) + 1n : doubleBits(x) - 1n);
  return view.getFloat64(0);
}

function doubleBits(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0);
}

function midpoint(a: Ratio, b: Ratio): Ratio {
  const den = extreme("max", a.den, b.den); // both powers of two
  return { num: a.num * (den / a.den) + b.num * (den / b.den), den: 2n * den };
}

/** A ratio scaled to the grid, as the numerator and denominator of a division. */
function scaled(r: Ratio): [bigint, bigint] {
  return [r.num * UNIT, r.den];
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}

/** The largest or smallest of some bigints (`Math.max` and `Math.min` take numbers only). */
function extreme(which: "max" | "min", first: bigint, ...rest: bigint[]): bigint {
  let out = first;
  for (const value of rest) if (which === "max" ? value > out : value < out) out = value;
  return out;
}

// ─── Digit-wise ranges ───────────────────────────────────────────────────────────────────────────────────

/**
 * Texts of the values from `lo` to `hi` (scaled by 10^`scale`; 0: integers). Negative values are `-` and a
 * magnitude; when 0 is in range both `0` and `-0` are (a symmetric range shares one magnitude under `-?`).
 */
function signed(lo: bigint, hi: bigint, scale: number, builder: GrammarBuilder): GExpr {
  if (lo <= 0n && hi >= 0n && lo === -hi) return seq(opt(lit("-")), magnitude(0n, hi, scale, builder));
  return alt(
    hi >= 0n ? magnitude(lo > 0n ? lo : 0n, hi, scale, builder) : NEVER,
    lo <= 0n ? seq(lit("-"), magnitude(hi < 0n ? -hi : 0n, -lo, scale, builder)) : NEVER,
  );
}

/** Unsigned texts of the values from `a` to `b` (0 ≤ a ≤ b, scaled by 10^`scale`). */
function magnitude(a: bigint, b: bigint, scale: number, builder: GrammarBuilder): GExpr {
  if (scale === 0) return naturalRange(a, b);
  const unit = 10n ** BigInt(scale);
  const pad = (f: bigint) => f.toString().padStart(scale, "0");
  const [aWhole, aPart, bWhole, bPart] = [a / unit, a % unit, b / unit, b % unit];
  if (aWhole === bWhole) return seq(lit(aWhole.toString()), fractionRange(pad(aPart), pad(bPart), builder));
  // The whole part of each bound constrains the fraction; the whole parts between them take any fraction.
  let midLo = aWhole + 1n;
  let midHi = bWhole - 1n;
  const items: GExpr[] = [];
  if (aPart === 0n) midLo = aWhole;
  else items.push(seq(lit(aWhole.toString()), fractionRange(pad(aPart), "9".repeat(scale), builder)));
  if (bPart === unit - 1n) midHi = bWhole;
  else items.push(seq(lit(bWhole.toString()), fractionRange("0".repeat(scale), pad(bPart), builder)));
  if (midLo <= midHi) items.push(seq(naturalRange(midLo, midHi), anyFraction(builder)));
  return alt(...items);
}

/** Integer texts without leading zeros from `p` to `q` (0 ≤ p ≤ q), one digit-wise range per length. */
function naturalRange(p: bigint, q: bigint): GExpr {
  const items: GExpr[] = [];
  let from = p;
  if (from === 0n) {
    items.push(lit("0"));
    from = 1n;
  }
  // Lengths whose every value is in range merge into one `[1-9][0-9]{m,n}`.
  let run: [number, number] | null = null;
  const flush = () => {
    if (run !== null) items.push(seq(NONZERO, rep(DIGIT, run[0] - 1, run[1] - 1)));
    run = null;
  };
  for (let n = from.toString().length; from <= q && n <= q.toString().length; n++) {
    const first = 10n ** BigInt(n - 1);
    const last = 10n * first - 1n;
    const lo = from > first ? from : first;
    const hi = q < last ? q : last;
    if (lo === first && hi === last) run = run === null ? [n, n] : [run[0], n];
    else {
      flush();
      items.push(digitRange(lo.toString(), hi.toString()));
    }
  }
  flush();
  return alt(...items);
}

/** Digit strings of one length from `lo` to `hi` (numeric order is text order). */
function digitRange(lo: string, hi: string): GExpr {
  if (lo.length === 0) return EMPTY;
  const [a, b, restLo, restHi] = [Number(lo[0]), Number(hi[0]), lo.slice(1), hi.slice(1)];
  if (a === b) return seq(lit(String(a)), digitRange(restLo, restHi));
  const n = restLo.length;
  return split(a, b, restLo, restHi, rep(DIGIT, n, n), digitRange);
}

/**
 * The first digit of a range from `a` to `b` (a < b), the rest of the text from `restLo`/`restHi`: the bounds'
 * own first digits constrain the rest (unless the rest is unconstrained anyway), the digits between take `any`.
 */
function split(
  a: number,
  b: number,
  restLo: string,
  restHi: string,
  any: GExpr,
  rest: (lo: string, hi: string) => GExpr,
): GExpr {
  const n = restLo.length;
  const loOpen = /^0*$/.test(restLo);
  const hiOpen = /^9*$/.test(restHi);
  const first = loOpen ? a : a + 1;
  const last = hiOpen ? b : b - 1;
  return alt(
    loOpen ? NEVER : seq(lit(String(a)), rest(restLo, "9".repeat(n))),
    first <= last
      ? seq(first === last ? lit(String(first)) : cls([[0x30 + first, 0x30 + last]]), any)
      : NEVER,
    hiOpen ? NEVER : seq(lit(String(b)), rest("0".repeat(n), restHi)),
  );
}

/** An optional fraction of 1 to 15 digits, any value; a shared rule. */
function anyFraction(builder: GrammarBuilder): GExpr {
  return builder.rule("fraction", opt(seq(lit("."), rep(DIGIT, 1, MAX_FRACTION_DIGITS))));
}

/**
 * An optional fraction (`.` and 1 to 15 digits) whose value, zero-padded to 15 digits, lies from `lo` to `hi`
 * (15-digit strings); no fraction at all is the value 0. Trailing zeros thus never change a value.
 */
function fractionRange(lo: string, hi: string, builder: GrammarBuilder): GExpr {
  if (/^0*$/.test(lo) && /^9*$/.test(hi)) return anyFraction(builder);
  const some = seq(lit("."), paddedDigits(lo, hi));
  return /^0*$/.test(lo) ? opt(some) : some;
}

/** Digit strings of 1 to `lo.length` digits whose zero-padded value lies from `lo` to `hi`. */
function paddedDigits(lo: string, hi: string): GExpr {
  // Only zeros (trailing zeros after a bound's last digit): a plain run.
  if (/^0*$/.test(hi)) return rep(lit("0"), 1, lo.length);
  const [a, b, restLo, restHi] = [Number(lo[0]), Number(hi[0]), lo.slice(1), hi.slice(1)];
  // After the first digit, the rest may be absent (zeros) when zeros are in its range.
  const rest = (l: string, h: string): GExpr => {
    if (l.length === 0) return EMPTY;
    return /^0*$/.test(l) ? opt(paddedDigits(l, h)) : paddedDigits(l, h);
  };
  if (a === b) return seq(lit(String(a)), rest(restLo, restHi));
  return split(a, b, restLo, restHi, rep(DIGIT, 0, restLo.length), rest);
}

// ─── Multiples ───────────────────────────────────────────────────────────────────────────────────────────

/** A `multipleOf` automaton past its limit of states. */
class TooManyStates extends Error {}

/** Where a state of the automaton is in the text: the integer part, or a fraction with or without a digit yet. */
type Stretch = "int" | "first" | "frac";

/**
 * The grammar of the values `condition` accepts (see {@link automaton}) within `lo`…`hi`, or, when that takes
 * more states than one automaton or the document's `budget` allows, within {@link MULTIPLE_DIGIT_LIMITS} integer
 * digits; a verdict for the validator when neither fits. The states used are taken from the budget.
 */
function multiples(
  lo: bigint,
  hi: bigint,
  condition: ResidueCondition,
  number: boolean,
  builder: GrammarBuilder,
  budget: MultipleBudget,
): { expr: GExpr; multipleOf: MultipleVerdict } | { verdict: MultipleVerdict } {
  // The same values within the same bounds (a schema's merged branches repeat them) are written once.
  let written = built.get(builder);
  if (written === undefined) {
    written = new Map();
    built.set(builder, written);
  }
  const key = `${condition.key}|${lo}|${hi}|${number}`;
  const known = written.get(key);
  if (known !== undefined) return known;
  const result = multiplesOnce(lo, hi, condition, number, builder, budget);
  // A verdict for the validator may depend on the budget left: only grammars are kept.
  if ("expr" in result) written.set(key, result);
  return result;
}

/** The grammars {@link multiples} wrote, by builder and by values. */
const built = new WeakMap<GrammarBuilder, Map<string, { expr: GExpr; multipleOf: MultipleVerdict }>>();

function multiplesOnce(
  lo: bigint,
  hi: bigint,
  condition: ResidueCondition,
  number: boolean,
  builder: GrammarBuilder,
  budget: MultipleBudget,
): { expr: GExpr; multipleOf: MultipleVerdict } | { verdict: MultipleVerdict } {
  const limit = Math.min(MAX_MULTIPLE_STATES, budget.states);
  const { digits } = condition;
  const attempt = (from: bigint, to: bigint) => automaton(from, to, condition, number, builder, limit);
  const full = attempt(lo, hi);
  if (full !== undefined) {
    budget.states -= full.states;
    return { expr: full.expr, multipleOf: { enforcement: "grammar" } };
  }
  for (const whole of MULTIPLE_DIGIT_LIMITS) {
    const edge = 10n ** BigInt(whole + digits) - 1n;
    const from = lo > -edge ? lo : -edge;
    const to = hi < edge ? hi : edge;
    // Only a limit that takes some of the range away and leaves a fair choice of values.
    if (from > to || (from === lo && to === hi)) continue;
    if (Number(to - from + 1n) * condition.share < MIN_CAPPED_MULTIPLES) continue;
    const capped = attempt(from, to);
    if (capped === undefined) continue;
    budget.states -= capped.states;
    const note = `values of up to ${whole} integer digits (the whole range would take more than ${limit} grammar states)`;
    return { expr: capped.expr, multipleOf: { enforcement: "grammar", note } };
  }
  const note =
    limit < MAX_MULTIPLE_STATES
      ? `the document's multipleOf grammars already use ${MAX_DOCUMENT_MULTIPLE_STATES - budget.states} states`
      : `its grammar would need more than ${limit} states within these bounds`;
  return { verdict: { enforcement: "validator", note } };
}

/**
 * Texts of the values N × 10^-`digits` with N from `lo` to `hi` whose residue modulo the condition's `modulus`
 * it accepts (`digits` is the condition's: 0 for integers; with `number`, a number's spellings: a fraction may
 * stop early where the rest would be zeros, and may run on with zeros up to {@link MAX_FRACTION_DIGITS} digits,
 * as in `1.5`, `1.50` and `1.500`), and the states it took. Undefined when the automaton would pass `limit`
 * states. A negative value's residue is its magnitude's: N and -N are multiples of the same divisors.
 *
 * The value's digits are read left to right, zero-padded to a fixed width per length of the integer part; a
 * state keeps the remaining digit count, the bounds' digits while they still bind (as {@link digitRange} does),
 * and the residue the digits read so far leave: t = prefix × 10^remaining mod `modulus`, so that the whole is
 * accepted exactly when t plus the rest leaves an accepted residue. States are shared across lengths and signs.
 */
function automaton(
  lo: bigint,
  hi: bigint,
  condition: ResidueCondition,
  number: boolean,
  builder: GrammarBuilder,
  limit: number,
): { expr: GExpr; states: number } | undefined {
  const { modulus, digits, accepts, alive } = condition;
  const memo = new Map<string, GExpr>();
  const powers: bigint[] = [];
  const power = (n: number): bigint => {
    for (let i = powers.length; i <= n; i++)
      powers.push(i === 0 ? 1n % modulus : (powers[i - 1] as bigint) * 10n);
    return (powers[n] as bigint) % modulus;
  };
  const hint = `${condition.name}${digits > 0 ? `e-${digits}` : ""}`;
  const zeros = (text: string) => /^0*$/.test(text);

  /** Digit strings of `lo.length` digits from `lo` to `hi` completing residue `t` to a multiple. */
  const state = (lo: string, hi: string, t: bigint, stretch: Stretch): GExpr => {
    const n = lo.length;
    // A free state (any digits) none of whose completions is accepted: cut before it costs a state. Free states
    // whose residues have the same completions are one state.
    const free = zeros(lo) && /^9*$/.test(hi);
    if (free && !alive(t, n)) return NEVER;
    const key = `${lo}|${hi}|${(free && condition.future(t, n)) || t}|${stretch}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (memo.size >= limit) throw new TooManyStates();
    memo.set(key, NEVER); // placeholder: the automaton has no cycles
    const body = compact(stateBody(lo, hi, t, stretch, n));
    const expr =
      body.kind === "alt" || (body.kind === "seq" && body.items.length > 3) ? builder.rule(hint, body) : body;
    memo.set(key, expr);
    return expr;
  };

  const stateBody = (lo: string, hi: string, t: bigint, stretch: Stretch, n: number): GExpr => {
    const stop = zeros(lo) && accepts(t); // the rest all zeros: accepted, and within the bounds
    if (number && stretch === "int" && n === digits) {
      // The decimal point: no fraction (when the rest may be zeros), or a point and at least one digit.
      return alt(stop ? EMPTY : NEVER, seq(lit("."), state(lo, hi, t, "first")));
    }
    if (n === 0) {
      if (!accepts(t)) return NEVER;
      // Past the divisor's last place, a number may run on with zeros.
      return number ? rep(lit("0"), stretch === "first" ? 1 : 0, MAX_FRACTION_DIGITS - digits) : EMPTY;
    }
    const next: Stretch = stretch === "int" ? "int" : "frac";
    const place = power(n - 1);
    const after = (d: number) => (t + BigInt(d) * place) % modulus;
    const [a, b, restLo, restHi] = [Number(lo[0]), Number(hi[0]), lo.slice(1), hi.slice(1)];
    const items: GExpr[] = [stretch === "frac" && stop ? EMPTY : NEVER];
    if (a === b) {
      items.push(seq(lit(String(a)), state(restLo, restHi, after(a), next)));
      return alt(...items);
    }
    const loOpen = zeros(restLo);
    const hiOpen = /^9*$/.test(restHi);
    if (!loOpen) items.push(seq(lit(String(a)), state(restLo, "9".repeat(n - 1), after(a), next)));
    if (!hiOpen) items.push(seq(lit(String(b)), state("0".repeat(n - 1), restHi, after(b), next)));
    // The digits between the bounds' own lead to free states: one alternative per residue they leave.
    const groups = new Map<bigint, number[]>();
    for (let d = loOpen ? a : a + 1; d <= (hiOpen ? b : b - 1); d++) {
      const residue = after(d);
      groups.set(residue, [...(groups.get(residue) ?? []), d]);
    }
    for (const [residue, group] of groups) {
      const rest = state("0".repeat(n - 1), "9".repeat(n - 1), residue, next);
      items.push(seq(digitClass(group), rest));
    }
    return alt(...items);
  };

  /**
   * Integer parts of `shortest` to `longest` digits, any digits (the lengths the bounds leave whole), read left
   * to right with the residue r of the digits so far (r → 10r + d): one state per digit count and residue,
   * shared by every length, so that llama.cpp follows one path through a number rather than one per length. At
   * the end of the integer part, the residue becomes the fraction's scaled one (r × 10^digits).
   */
  const lengths = (shortest: number, longest: number): GExpr => {
    // Whether some completion of `count` digits with residue r is accepted: r × 10^j + s with s < 10^j.
    const reachable = (count: number, r: bigint): boolean => {
      for (let more = Math.max(0, shortest - count); more <= longest - count; more++) {
        const j = more + digits;
        if (alive((r * power(j)) % modulus, j)) return true;
      }
      return false;
    };
    const read = (count: number, r: bigint): GExpr => {
      if (!reachable(count, r)) return NEVER;
      const key = `lengths|${shortest}|${longest}|${count}|${r}`;
      const known = memo.get(key);
      if (known !== undefined) return known;
      if (memo.size >= limit) throw new TooManyStates();
      memo.set(key, NEVER);
      const fraction = (r * power(digits)) % modulus;
      const end = count >= shortest ? state("0".repeat(digits), "9".repeat(digits), fraction, "int") : NEVER;
      const more =
        count < longest ? digitsThen(0, (d) => read(count + 1, (r * 10n + BigInt(d)) % modulus)) : NEVER;
      const body = alt(end, more);
      const expr = body.kind === "alt" ? builder.rule(hint, body) : body;
      memo.set(key, expr);
      return expr;
    };
    return digitsThen(1, (d) => read(1, BigInt(d) % modulus));
  };

  /** Digits `from`…9, grouped by the state each leads to (one alternative per distinct state). */
  const digitsThen = (from: number, next: (d: number) => GExpr): GExpr => {
    const groups = new Map<string, { expr: GExpr; digits: number[] }>();
    for (let d = from; d <= 9; d++) {
      const expr = next(d);
      const key = JSON.stringify(expr);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { expr, digits: [d] });
      else group.digits.push(d);
    }
    return alt(...[...groups.values()].map((group) => seq(digitClass(group.digits), group.expr)));
  };

  /**
   * Whether whole lengths share one left-to-right automaton ({@link lengths}): for a modulus prime to 10, whose
   * residues all matter either way. A modulus with factors 2 or 5 is read right-aligned at fixed widths, where
   * the scaled residue forgets what those factors no longer need (the multiples of 100 take one state per width).
   */
  const shared = gcd(modulus, 10n) === 1n;

  /**
   * Unsigned texts of the multiples from `a` to `b` (0 ≤ a ≤ b): the integer-part lengths of more than one digit
   * that the bounds leave whole through {@link lengths} (when {@link shared}), each other length at its fixed
   * width.
   */
  const magnitude = (a: bigint, b: bigint): GExpr => {
    const items: GExpr[] = [];
    let run: [number, number] | undefined;
    const flush = () => {
      if (run !== undefined) items.push(lengths(run[0], run[1]));
      run = undefined;
    };
    for (let whole = 1; ; whole++) {
      const width = whole + digits;
      const first = whole === 1 ? 0n : 10n ** BigInt(width - 1);
      if (first > b) break;
      const last = 10n ** BigInt(width) - 1n;
      const from = a > first ? a : first;
      const to = b < last ? b : last;
      if (from > to) continue;
      if (shared && whole > 1 && from === first && to === last) {
        run = run === undefined ? [whole, whole] : [run[0], whole];
        continue;
      }
      flush();
      items.push(state(from.toString().padStart(width, "0"), to.toString().padStart(width, "0"), 0n, "int"));
    }
    flush();
    return alt(...items);
  };

  try {
    const expr =
      lo <= 0n && hi >= 0n && lo === -hi
        ? seq(opt(lit("-")), magnitude(0n, hi))
        : alt(
            hi >= 0n ? magnitude(lo > 0n ? lo : 0n, hi) : NEVER,
            lo <= 0n ? seq(lit("-"), magnitude(hi < 0n ? -hi : 0n, -lo)) : NEVER,
          );
    return { expr, states: memo.size };
  } catch (error) {
    if (error instanceof TooManyStates) return undefined;
    throw error;
  }
}

/** A class of digits (a literal for one). */
function digitClass(group: readonly number[]): GExpr {
  if (group.length === 1) return lit(String(group[0]));
  return cls(group.map((d) => [0x30 + d, 0x30 + d] as const));
}

/** A sequence with runs of one repeated item written as a repetition (`[0-9] [0-9] [0-9]` as `[0-9]{3}`). */
function compact(expr: GExpr): GExpr {
  if (expr.kind !== "seq") return expr;
  const out: GExpr[] = [];
  let run: { item: GExpr; count: number } | undefined;
  const flush = () => {
    if (run !== undefined) out.push(rep(run.item, run.count, run.count));
    run = undefined;
  };
  for (const item of expr.items) {
    if (run !== undefined && JSON.stringify(run.item) === JSON.stringify(item)) run.count++;
    else {
      flush();
      run = { item, count: 1 };
    }
  }
  flush();
  return seq(...out);
}

/**
 * `multipleOf` conditions combined by `not`, `allOf`, `anyOf` and `oneOf`, as one set of residues. A number's
 * value N × 10^-k (k fraction digits) is a multiple of c × 10^-k exactly when c divides N, so any boolean
 * combination of such conditions depends only on N modulo the least common multiple of the divisors: it is a set
 * of accepted residues, which numbers.ts writes as one automaton over the digits (within the bounds). `not
 * {multipleOf: 2}`, `anyOf: [{multipleOf: 3}, {multipleOf: 5}]` and `not {anyOf: [...]}` are all such sets.
 *
 * A value with more fraction digits than any divisor is a multiple of none of them. Where the combination
 * accepts such values (`not {multipleOf: 2}` accepts 1.5), the residues are taken one decimal place further,
 * so that values with one more fraction digit are written too (values with still more digits are not: fewer
 * values, each valid).
 */
import type { JsonValue } from "../../types.js";
import { isObject } from "../jsonShapes.js";
import { isAnnotation } from "./merge.js";

/**
 * What a schema made only of `multipleOf`, `not`, `allOf`, `anyOf`, `oneOf` and a numeric `type` says of a
 * value: `numeric` is the `type` (false on anything but a number; on a number, whether it is an integer when
 * only `integer` is named, which is being a multiple of 1).
 */
export type MultipleFormula =
  | { readonly kind: "multiple"; readonly of: number }
  | { readonly kind: "numeric"; readonly integer: boolean }
  | { readonly kind: "not"; readonly of: MultipleFormula }
  | { readonly kind: "all" | "any" | "one"; readonly of: readonly MultipleFormula[] }
  | { readonly kind: "const"; readonly value: boolean };

/** Most distinct divisors one formula may hold (each is a factor of the residues' lcm). */
const MAX_DIVISORS = 16;
/** Most conditions and combinators one formula may hold (each residue evaluates all of them). */
const MAX_NODES = 256;
/** Deepest nesting of a formula's schemas. */
const MAX_NESTING = 8;
const FORMULA_KEYWORDS = new Set(["multipleOf", "not", "allOf", "anyOf", "oneOf", "type"]);

/**
 * The formula of `schema` when it is made only of `multipleOf`, `not`, `allOf`, `anyOf`, `oneOf`, a `type`
 * naming only number or integer (and annotations), with at least one `multipleOf`; otherwise undefined. On a
 * value that is not a number every `multipleOf` holds and every such `type` fails, so the formula then has the
 * value {@link formulaOnOthers} gives.
 *
 * @example
 * multipleFormula({ not: { anyOf: [{ multipleOf: 2 }, { multipleOf: 3 }] } });
 * // { kind: "not", of: { kind: "any", of: [{ kind: "multiple", of: 2 }, { kind: "multiple", of: 3 }] } }
 */
export function multipleFormula(schema: JsonValue): MultipleFormula | undefined {
  const atoms: Atoms = { nodes: 0, divisors: new Set() };
  const formula = parse(schema, 0, atoms);
  return formula === undefined || atoms.divisors.size === 0 ? undefined : formula;
}

interface Atoms {
  nodes: number;
  readonly divisors: Set<number>;
}

function parse(schema: JsonValue, depth: number, atoms: Atoms): MultipleFormula | undefined {
  if (++atoms.nodes > MAX_NODES) return undefined;
  if (typeof schema === "boolean") return { kind: "const", value: schema };
  if (!isObject(schema) || depth > MAX_NESTING) return undefined;
  const parts: MultipleFormula[] = [];
  for (const [keyword, value] of Object.entries(schema)) {
    if (isAnnotation(keyword) || keyword === "$defs") continue;
    if (!FORMULA_KEYWORDS.has(keyword)) return undefined;
    if (keyword === "type") {
      const types = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
      if (types.length === 0 || !types.every((type) => type === "number" || type === "integer"))
        return undefined;
      parts.push({ kind: "numeric", integer: !types.includes("number") });
    } else if (keyword === "multipleOf") {
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
      atoms.divisors.add(value);
      if (atoms.divisors.size > MAX_DIVISORS) return undefined;
      parts.push({ kind: "multiple", of: value });
    } else if (keyword === "not") {
      const inner = parse(value, depth + 1, atoms);
      if (inner === undefined) return undefined;
      parts.push({ kind: "not", of: inner });
    } else {
      if (!Array.isArray(value) || value.length === 0) return undefined;
      const members: MultipleFormula[] = [];
      for (const member of value) {
        const inner = parse(member, depth + 1, atoms);
        if (inner === undefined) return undefined;
        members.push(inner);
      }
      parts.push({ kind: keyword === "allOf" ? "all" : keyword === "anyOf" ? "any" : "one", of: members });
    }
  }
  if (parts.length === 0) return { kind: "const", value: true };
  return parts.length === 1 ? (parts[0] as MultipleFormula) : { kind: "all", of: parts };
}

/** The formula's value on anything but a number (every `multipleOf` holds there, a numeric `type` fails). */
export function formulaOnOthers(formula: MultipleFormula): boolean {
  return evaluate(formula, () => true, false);
}

/**
 * The value of `formula` on a number (`number`) where `multiple(of)` tells whether each `multipleOf` holds, or
 * on anything else (`multiple` then says true).
 */
function evaluate(formula: MultipleFormula, multiple: (of: number) => boolean, number = true): boolean {
  switch (formula.kind) {
    case "const":
      return formula.value;
    case "multiple":
      return multiple(formula.of);
    case "numeric":
      return number && (!formula.integer || multiple(1));
    case "not":
      return !evaluate(formula.of, multiple, number);
    case "all":
      return formula.of.every((member) => evaluate(member, multiple, number));
    case "any":
      return formula.of.some((member) => evaluate(member, multiple, number));
    case "one":
      return formula.of.filter((member) => evaluate(member, multiple, number)).length === 1;
  }
}

function divisors(formula: MultipleFormula, out: number[] = []): number[] {
  if (formula.kind === "multiple") out.push(formula.of);
  else if (formula.kind === "numeric") {
    if (formula.integer) out.push(1);
  } else if (formula.kind === "not") divisors(formula.of, out);
  else if (formula.kind !== "const") for (const member of formula.of) divisors(member, out);
  return out;
}

/**
 * Which values N × 10^-`digits` are accepted, by N's residue modulo `modulus` (a set of residues): what the
 * digit automaton of numbers.ts writes. `alive` may say yes where no completion is accepted (it is a shortcut
 * that saves states; the automaton checks `accepts` at the end of every text), never the reverse.
 */
export interface ResidueCondition {
  readonly modulus: bigint;
  /** Fraction digits of the grid (0 for integers). */
  readonly digits: number;
  /**
   * Whether values with more fraction digits than any divisor are accepted (then `digits` is one more than
   * the divisors need, see the file comment).
   */
  readonly offGrid: boolean;
  /** Whether a value whose scaled integer leaves residue `r` (0 ≤ r < modulus) is accepted. */
  accepts(r: bigint): boolean;
  /** Whether some s in [0, 10^`places`) makes `t` + s an accepted residue. */
  alive(t: bigint, places: number): boolean;
  /**
   * The s in [0, 10^`places`) that make `t` + s accepted, as a key (undefined where that would be long): two
   * residues with the same key have the same completions, so the automaton writes one state for both.
   */
  future(t: bigint, places: number): string | undefined;
  /** The share of residues accepted (estimated where the modulus is large). */
  readonly share: number;
  /** A short name for grammar rules. */
  readonly name: string;
  /** Equal for two conditions that accept the same residues on the same grid (so one grammar serves both). */
  readonly key: string;
}

/** The decimal a double stands for in a schema (its shortest spelling): `num` × 10^-`scale`. */
function decimal(x: number): { num: bigint; scale: number } {
  const match = /^(\d+)(?:\.(\d+))?(?:e([-+]\d+))?$/.exec(String(x));
  if (match === null) throw new RangeError(`not a positive finite number: ${x}`);
  const fraction = match[2] ?? "";
  const scale = fraction.length - Number(match[3] ?? 0);
  const num = BigInt(`${match[1]}${fraction}`);
  return scale >= 0 ? { num, scale } : { num: num * 10n ** BigInt(-scale), scale: 0 };
}

function gcd(a: bigint, b: bigint): bigint {
  let [p, q] = [a, b];
  while (q !== 0n) [p, q] = [q, p % q];
  return p;
}

const lcm = (a: bigint, b: bigint): bigint => (a / gcd(a, b)) * b;

/** Residues tried one by one when `alive` or `share` look for accepted ones (past it: assumed alive). */
const MAX_CANDIDATES = 256;

/**
 * The residue condition of `formula` on integers (`integer`) or on numbers with at most `maxDigits` fraction
 * digits; undefined when the grid would need more fraction digits than that.
 */
export function residueCondition(
  formula: MultipleFormula,
  integer: boolean,
  maxDigits: number,
): ResidueCondition | undefined {
  const atoms = [...new Set(divisors(formula))].map((of) => ({ of, ...decimal(of) }));
  const offGrid = !integer && evaluate(formula, () => false);
  const digits = integer ? 0 : Math.max(0, ...atoms.map((atom) => atom.scale)) + (offGrid ? 1 : 0);
  if (digits > maxDigits) return undefined;
  // On the grid of 10^-digits, each divisor is an integer c; an integer n is a multiple of c × 10^-k exactly
  // when n × 10^k is one of c, i.e. when n is one of c / gcd(c, 10^k).
  const moduli = new Map<number, bigint>();
  for (const atom of atoms) {
    const scaled = integer
      ? atom.num / gcd(atom.num, 10n ** BigInt(atom.scale))
      : atom.num * 10n ** BigInt(digits - atom.scale);
    moduli.set(atom.of, scaled);
  }
  const full = [...moduli.values()].reduce(lcm, 1n);
  const accepts = (r: bigint): boolean => evaluate(formula, (of) => r % (moduli.get(of) as bigint) === 0n);
  const offName = offGrid || atoms.length > 1 || !accepts(0n) ? "res" : "mult";
  if (full <= BigInt(MAX_TABLE)) {
    const table = residueTable(formula, moduli, Number(full));
    const name = `${offName}-${table.modulus}`;
    return { ...table, digits, offGrid, name, key: `${digits}|${table.modulus}|${table.key}` };
  }
  const modulus = full;
  // Accepted residues are looked for among the multiples of the divisors every accepted value needs (those of
  // the top-level conjunction), so that a sparse set is searched in steps.
  const needed = requiredDivisors(formula).reduce((acc, of) => lcm(acc, moduli.get(of) as bigint), 1n);
  let accepted = 0;
  let tried = 0;
  for (let r = 0n; r < modulus && tried < 4 * MAX_CANDIDATES; r += needed, tried++)
    if (accepts(r)) accepted++;
  const share = tried === 0 ? 0 : accepted / tried / Number(needed);
  // When all of the residues were tried and none was accepted, nothing is; otherwise assumed some is.
  const anyAccepted = accepted > 0 || modulus / needed > BigInt(tried);
  const memo = new Map<string, boolean>();
  const alive = (t: bigint, places: number): boolean => {
    const window = 10n ** BigInt(places);
    if (window >= modulus) return anyAccepted;
    const key = `${t}|${places}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    // The first s with t + s a multiple of `needed`, then every `needed` after it.
    let found = false;
    let tries = 0;
    for (let s = (needed - (t % needed)) % needed; !found && s < window; s += needed) {
      // Too many to try: assumed alive (the end of every text checks `accepts`).
      if (++tries > MAX_CANDIDATES) found = true;
      else found = accepts((t + s) % modulus);
    }
    memo.set(key, found);
    return found;
  };
  const future = () => undefined;
  const name = `${offName}-${modulus}`;
  const key = `${digits}|${modulus}|${integer}|${JSON.stringify(formula)}`;
  return { modulus, digits, offGrid, accepts, alive, future, share, name, key };
}

/**
 * Part of an `offGrid` condition: the values of its grid whose last digit is not 0, a multiple of none of the
 * divisors (so accepted), written with a modulus of 10 where the whole condition would take too many states.
 */
export function offGridPart(condition: ResidueCondition): ResidueCondition {
  const modulus = 10n;
  return {
    modulus,
    digits: condition.digits,
    offGrid: true,
    accepts: (r) => r % modulus !== 0n,
    alive: (t, places) => places > 0 || t % modulus !== 0n,
    future: (t, places) => (places > 0 ? "any" : String(t % modulus !== 0n)),
    share: 0.9,
    name: "offgrid",
    key: `${condition.digits}|offgrid`,
  };
}

/** The widest window of completions {@link ResidueCondition.future} spells out. */
const MAX_FUTURE = 1000;

/** Moduli up to this size get a table of their accepted residues (and the smallest period of that table). */
const MAX_TABLE = 1 << 18;

/**
 * The accepted residues of `formula` modulo `full` (≤ {@link MAX_TABLE}) as a table, reduced to its smallest
 * period: `anyOf: [{multipleOf: 3}, {allOf: [{multipleOf: 3}, {multipleOf: 11}]}]` depends on the residue mod 3
 * only, and every state of the automaton counts. Windows of residues are counted with prefix sums, so `alive`
 * is exact.
 */
function residueTable(
  formula: MultipleFormula,
  moduli: ReadonlyMap<number, bigint>,
  full: number,
): Pick<ResidueCondition, "modulus" | "alive" | "future" | "share" | "accepts"> & { key: string } {
  const divisorOf = new Map([...moduli].map(([of, modulus]) => [of, Number(modulus)]));
  let bits = new Uint8Array(full);
  for (let r = 0; r < full; r++)
    bits[r] = evaluate(formula, (of) => r % (divisorOf.get(of) as number) === 0) ? 1 : 0;
  let period = full;
  for (const prime of primeFactors(full)) {
    while (period % prime === 0) {
      const shorter = period / prime;
      let periodic = true;
      for (let r = shorter; r < period && periodic; r++) periodic = bits[r] === bits[r - shorter];
      if (!periodic) break;
      period = shorter;
    }
  }
  bits = bits.slice(0, period);
  const before = new Int32Array(period + 1);
  for (let r = 0; r < period; r++) before[r + 1] = (before[r] as number) + (bits[r] as number);
  const total = before[period] as number;
  // The accepted residues, hashed (FNV-1a over the table) with their count, as the condition's key.
  let hash = 0x811c9dc5;
  for (let r = 0; r < period; r++) hash = Math.imul(hash ^ (bits[r] as number), 0x01000193) >>> 0;
  const modulus = BigInt(period);
  /** Accepted residues among the `count` from `from` on (count ≤ period). */
  const within = (from: number, count: number): number => {
    const end = from + count;
    if (end <= period) return (before[end] as number) - (before[from] as number);
    return total - (before[from] as number) + (before[end - period] as number);
  };
  return {
    modulus,
    accepts: (r) => bits[Number(r % modulus)] === 1,
    alive: (t, places) => {
      const window = 10n ** BigInt(places);
      if (window >= modulus) return total > 0;
      return within(Number(t % modulus), Number(window)) > 0;
    },
    future: (t, places) => {
      const window = 10 ** places;
      if (window > MAX_FUTURE) return undefined;
      const from = Number(t % modulus);
      // Accepted s as a string of 0s and 1s (the window may wrap around the period).
      let key = "";
      for (let s = 0; s < window; s++) key += bits[(from + s) % period] === 1 ? "1" : "0";
      return key;
    },
    share: total / period,
    key: `${total}|${hash.toString(16)}`,
  };
}

/** The distinct prime factors of `n` (≥ 1). */
function primeFactors(n: number): number[] {
  const out: number[] = [];
  let rest = n;
  for (let p = 2; p * p <= rest; p++) {
    if (rest % p !== 0) continue;
    out.push(p);
    while (rest % p === 0) rest /= p;
  }
  if (rest > 1) out.push(rest);
  return out;
}

/** The divisors every accepted value must be a multiple of: the positive `multipleOf`s of a top-level allOf. */
function requiredDivisors(formula: MultipleFormula): number[] {
  if (formula.kind === "multiple") return [formula.of];
  if (formula.kind === "numeric") return formula.integer ? [1] : [];
  if (formula.kind === "all") return formula.of.flatMap(requiredDivisors);
  return [];
}

/** `formula` and also `other` (either may be absent). */
export function bothFormulas(
  formula: MultipleFormula | undefined,
  other: MultipleFormula | undefined,
): MultipleFormula | undefined {
  if (formula === undefined) return other;
  if (other === undefined) return formula;
  return { kind: "all", of: [formula, other] };
}

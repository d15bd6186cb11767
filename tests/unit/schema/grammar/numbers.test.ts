import type { Llama } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { GrammarBuilder, isNever } from "../../../../src/schema/grammar/ir.js";
import {
  integerGrammar,
  MAX_EXPONENT_DIGITS,
  MAX_FRACTION_DIGITS,
  MAX_INTEGER_DIGITS,
  type NumberBounds,
  type NumberGrammar,
  numberGrammar,
} from "../../../../src/schema/grammar/numbers.js";
import { gbnfAccepts, gbnfParses, llamaBackend } from "./llamaGrammar.js";
import { seededRandom } from "./seeded.js";

// ─── Helpers ─────────────────────────────────────────────────────────────────────────────────────────────

const int = (rng: () => number, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pickOne = <T>(rng: () => number, items: readonly T[]): T => items[int(rng, 0, items.length - 1)] as T;

/** A JSON number text (or a bound's `String()`) as an exact decimal num × 10^exp. */
function decimal(text: string): { num: bigint; exp: number } {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (match === null) throw new Error(`not a number text: ${text}`);
  const fraction = match[3] ?? "";
  return { num: BigInt(`${match[1]}${match[2]}${fraction}`), exp: Number(match[4] ?? 0) - fraction.length };
}

/** Exact comparison of two number texts: -1, 0 or 1. */
function compare(a: string, b: string): number {
  const x = decimal(a);
  const y = decimal(b);
  const exp = Math.min(x.exp, y.exp);
  const diff = x.num * 10n ** BigInt(x.exp - exp) - y.num * 10n ** BigInt(y.exp - exp);
  return diff > 0n ? 1 : diff < 0n ? -1 : 0;
}

/** Whether a text is within the bounds, both as exact decimals and as the doubles a validator compares. */
function within(text: string, b: NumberBounds): boolean {
  const v = JSON.parse(text) as number;
  const c = (bound: number) => compare(text, String(bound));
  return (
    (b.minimum === undefined || (c(b.minimum) >= 0 && v >= b.minimum)) &&
    (b.exclusiveMinimum === undefined || (c(b.exclusiveMinimum) > 0 && v > b.exclusiveMinimum)) &&
    (b.maximum === undefined || (c(b.maximum) <= 0 && v <= b.maximum)) &&
    (b.exclusiveMaximum === undefined || (c(b.exclusiveMaximum) < 0 && v < b.exclusiveMaximum))
  );
}

/** The canonical text of `scaled` / 10^digits (no trailing zeros), as JSON.stringify writes such values. */
function textOf(scaled: bigint, digits: number): string {
  const sign = scaled < 0n ? "-" : "";
  const abs = (scaled < 0n ? -scaled : scaled).toString().padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits);
  const fraction = abs.slice(abs.length - digits).replace(/0+$/, "");
  return `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}`;
}

/** A decimal bound with `digits` fraction digits and magnitude up to `range`. */
function randomBound(rng: () => number, range: number, digits: number): number {
  const scale = 10 ** digits;
  return Number(`${int(rng, -range * scale, range * scale)}e-${digits}`);
}

/** Random bounds: one- or two-sided, inclusive, exclusive or both, sometimes equal, sometimes crossed. */
function randomBounds(rng: () => number, range: number, digits: number): NumberBounds {
  let [a, b] = [randomBound(rng, range, digits), randomBound(rng, range, digits)].sort((x, y) => x - y) as [
    number,
    number,
  ];
  if (rng() < 0.1) b = a;
  if (rng() < 0.05) [a, b] = [Number((b + 1).toFixed(digits)), a];
  const out: { -readonly [K in keyof Omit<NumberBounds, "excluded">]: number } = {};
  const lower = int(rng, 0, 3); // none, minimum, exclusiveMinimum, both
  const upper = int(rng, 0, 3);
  // The second bound on a side, near the first (rounded: the sum of two decimals is not always one).
  const near = (v: number) => Number((v + randomBound(rng, 2, digits)).toFixed(digits));
  if (lower === 1 || lower === 3) out.minimum = a;
  if (lower === 2) out.exclusiveMinimum = a;
  if (lower === 3) out.exclusiveMinimum = near(a);
  if (upper === 1 || upper === 3) out.maximum = b;
  if (upper === 2) out.exclusiveMaximum = b;
  if (upper === 3) out.exclusiveMaximum = near(b);
  return out;
}

/** Bounds beyond what the grammar can write exactly: many fraction digits, huge, tiny, near 2^53. */
const WILD = [
  1e-30,
  -1e-30,
  1e300,
  -1e300,
  5e-324,
  0.1234567890123456,
  -123456789.12345679,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 53,
  1e16,
  -1e16,
  9999999999999998,
  1e15 + 0.5,
  100,
  -4.5,
  0,
  1e-7,
];

function randomWildBounds(rng: () => number): NumberBounds {
  const [a, b] = [pickOne(rng, WILD), pickOne(rng, WILD)].sort((x, y) => x - y) as [number, number];
  const keys = [rng() < 0.5 ? "minimum" : "exclusiveMinimum", rng() < 0.5 ? "maximum" : "exclusiveMaximum"];
  const which = int(rng, 0, 2);
  return Object.fromEntries(
    [
      [keys[0], a],
      [keys[1], b],
    ].filter((_, i) => which === 2 || which === i),
  );
}

/** The effective integer range of bounds (for test bounds below 2^53, where doubles are exact). */
function integerRange(b: NumberBounds): [number, number] {
  const lows = [-Number.MAX_SAFE_INTEGER];
  const highs = [Number.MAX_SAFE_INTEGER];
  if (b.minimum !== undefined) lows.push(Math.ceil(b.minimum));
  if (b.exclusiveMinimum !== undefined) lows.push(Math.floor(b.exclusiveMinimum) + 1);
  if (b.maximum !== undefined) highs.push(Math.floor(b.maximum));
  if (b.exclusiveMaximum !== undefined) highs.push(Math.ceil(b.exclusiveMaximum) - 1);
  return [Math.max(...lows), Math.min(...highs)];
}

/** Whether bounds (with at most `digits` fraction digits) leave some number: checked on the grid 10^-(digits+1). */
function numberRangeEmpty(b: NumberBounds, digits: number): boolean {
  const step = 10n ** BigInt(digits + 1);
  const scaled = (v: number) => BigInt(Math.round(v * Number(step)));
  const lows = [
    b.minimum,
    b.exclusiveMinimum === undefined ? undefined : b.exclusiveMinimum + 10 ** -(digits + 1),
  ];
  const highs = [
    b.maximum,
    b.exclusiveMaximum === undefined ? undefined : b.exclusiveMaximum - 10 ** -(digits + 1),
  ];
  const lo = lows.filter((v) => v !== undefined).map(scaled);
  const hi = highs.filter((v) => v !== undefined).map(scaled);
  return lo.some((l) => hi.some((h) => l > h));
}

function build(
  kind: "integer" | "number",
  bounds: NumberBounds,
): NumberGrammar & { builder: GrammarBuilder } {
  const builder = new GrammarBuilder();
  return { ...(kind === "integer" ? integerGrammar : numberGrammar)(bounds, builder), builder };
}

const INTEGER_TEXT = /^-?(0|[1-9][0-9]*)$/;

/**
 * Collects failed checks, asserted once at the end: tens of thousands of `expect` calls cost seconds, and one
 * list of the failing cases reads better than the first failure alone.
 */
function checker(): { check: (ok: boolean, what: string) => void; done: () => void } {
  const failed: string[] = [];
  return {
    check: (ok, what) => {
      if (!ok) failed.push(what);
    },
    done: () => expect(failed.slice(0, 20)).toEqual([]),
  };
}

// ─── Soundness ───────────────────────────────────────────────────────────────────────────────────────────

describe("soundness: every sampled text is a finite number within the bounds", () => {
  for (const kind of ["integer", "number"] as const) {
    it(`${kind}: 300 random bound sets × 200 samples`, () => {
      const rng = seededRandom(kind === "integer" ? 1 : 2);
      const { check, done } = checker();
      let nonEmpty = 0;
      for (let round = 0; round < 300; round++) {
        const bounds =
          round % 10 === 9
            ? randomWildBounds(rng)
            : randomBounds(rng, pickOne(rng, [3, 50, 300, 1e4, 1e9]), int(rng, 0, 3));
        const { expr, builder } = build(kind, bounds);
        const context = JSON.stringify(bounds);
        if (isNever(expr)) {
          if (round % 10 !== 9) {
            const [lo, hi] = integerRange(bounds);
            check(kind === "integer" ? lo > hi : numberRangeEmpty(bounds, 3), `NEVER: ${context}`);
          }
          continue;
        }
        nonEmpty++;
        for (let i = 0; i < 200; i++) {
          const text = builder.sample(expr, rng);
          const value = JSON.parse(text) as number;
          check(Number.isFinite(value) && within(text, bounds), `${context} ${text}`);
          if (kind === "integer") {
            check(
              INTEGER_TEXT.test(text) && Number.isSafeInteger(value),
              `not an integer: ${context} ${text}`,
            );
          }
        }
      }
      expect(nonEmpty).toBeGreaterThan(200);
      done();
    });
  }
});

// ─── Completeness ────────────────────────────────────────────────────────────────────────────────────────

describe("completeness: values in range are admitted, values outside refused", () => {
  it("number: random values with up to 4 fraction digits, bounds with trailing zeros, values just outside", () => {
    const rng = seededRandom(3);
    const { check, done } = checker();
    for (let round = 0; round < 300; round++) {
      const digits = int(rng, 0, 3);
      const bounds = randomBounds(rng, pickOne(rng, [3, 50, 300, 1e4, 1e9]), digits);
      const { expr, builder } = build("number", bounds);
      const context = JSON.stringify(bounds);
      const ok = (text: string) => builder.matches(expr, text);
      // Candidates on a grid finer than the bounds': near each bound and anywhere between.
      const anchors = Object.values(bounds) as number[];
      const candidates: string[] = [];
      for (const anchor of anchors) {
        const at = BigInt(Math.round(anchor * 1e4));
        for (const d of [-10n, -1n, 0n, 1n, 10n, 10000n, -10000n]) candidates.push(textOf(at + d, 4));
      }
      const [lo, hi] = [Math.min(...anchors, -1e9), Math.max(...anchors, 1e9)];
      for (let i = 0; i < 40; i++)
        candidates.push(textOf(BigInt(Math.round((lo + rng() * (hi - lo)) * 1e4)), 4));
      for (let i = 0; i < 40; i++) {
        const v = lo + rng() * (hi - lo); // a double: its shortest spelling
        if (Math.abs(v) < 1e16) candidates.push(JSON.stringify(v));
      }
      for (const text of candidates) {
        const fraction = text.split(".")[1] ?? "";
        if (fraction.length > MAX_FRACTION_DIGITS || text.includes("e")) continue; // beyond bounded spellings
        check(ok(text) === within(text, bounds), `${context} ${text}`);
        const padded = fraction === "" ? `${text}.00` : `${text}0`; // same value, trailing zeros
        check(ok(padded) === within(text, bounds), `${context} ${padded}`);
        if (text === "0") check((ok("-0") && ok("-0.000")) === within("0", bounds), `${context} -0`);
      }
    }
    done();
  });

  it("integer: every integer of small random ranges, and just outside", () => {
    const rng = seededRandom(4);
    const { check, done } = checker();
    for (let round = 0; round < 200; round++) {
      const bounds = randomBounds(rng, pickOne(rng, [20, 1e4, 1e9, 1e15]), int(rng, 0, 2));
      const { expr, builder } = build("integer", bounds);
      const [lo, hi] = integerRange(bounds);
      const context = JSON.stringify(bounds);
      if (lo > hi) {
        check(isNever(expr), `not NEVER: ${context}`);
        continue;
      }
      const low = Math.max(lo, -1e15);
      const high = Math.min(hi, 1e15);
      const values = new Set([low - 1, high + 1]);
      if (high - low <= 60) for (let v = low; v <= high; v++) values.add(v);
      else for (let i = 0; i < 60; i++) values.add(low + Math.floor(rng() * (high - low + 1)));
      for (const v of [low, low + 1, high - 1, high]) values.add(v);
      for (const v of values)
        check(builder.matches(expr, String(v)) === (v >= lo && v <= hi), `${context} ${v}`);
    }
    done();
  });

  it("spellings: leading zeros, plus signs, exponents and bare points are refused", () => {
    const number = build("number", { minimum: -100, maximum: 100 });
    const integer = build("integer", { minimum: -100, maximum: 100 });
    for (const text of [
      "01",
      "-01",
      "00",
      "+1",
      "1.",
      ".5",
      "1e2",
      "1E2",
      "1.5e0",
      " 1",
      "1 ",
      "",
      "-",
      "0x10",
    ]) {
      expect(number.builder.matches(number.expr, text), text).toBe(false);
      expect(integer.builder.matches(integer.expr, text), text).toBe(false);
    }
    for (const text of ["1.50", "1.500000000000000", "-99.999999999999999", "0.0", "-0.0", "100.000"]) {
      expect(number.builder.matches(number.expr, text), text).toBe(true);
    }
    expect(number.builder.matches(number.expr, `1.${"0".repeat(MAX_FRACTION_DIGITS + 1)}`)).toBe(false);
    for (const text of ["1.0", "1.5", "-0.0"])
      expect(integer.builder.matches(integer.expr, text), text).toBe(false);
  });
});

// ─── Exhaustive small ranges ─────────────────────────────────────────────────────────────────────────────

describe("exhaustive small ranges", () => {
  it("integer bounds within ±300: every integer text from -400 to 400 is admitted iff in range", () => {
    const rng = seededRandom(5);
    const { check, done } = checker();
    for (let round = 0; round < 150; round++) {
      const bounds = randomBounds(rng, 300, int(rng, 0, 2));
      const { expr, builder } = build("integer", bounds);
      const [lo, hi] = integerRange(bounds);
      for (let v = -400; v <= 400; v++) {
        check(builder.matches(expr, String(v)) === (v >= lo && v <= hi), `${JSON.stringify(bounds)} ${v}`);
      }
      check(builder.matches(expr, "-0") === (lo <= 0 && hi >= 0), `${JSON.stringify(bounds)} -0`);
      check(!builder.matches(expr, "007"), `${JSON.stringify(bounds)} 007`);
    }
    done();
  });

  it("number bounds with one fraction digit within ±30: every tenth from -40 to 40, two spellings", () => {
    const rng = seededRandom(6);
    const { check, done } = checker();
    for (let round = 0; round < 60; round++) {
      const bounds = randomBounds(rng, 30, 1);
      const { expr, builder } = build("number", bounds);
      for (let t = -400; t <= 400; t++) {
        for (const text of [textOf(BigInt(t), 1), `${textOf(BigInt(t), 1)}${t % 10 === 0 ? ".0" : "00"}`]) {
          check(builder.matches(expr, text) === within(text, bounds), `${JSON.stringify(bounds)} ${text}`);
        }
      }
    }
    done();
  });
});

// ─── The issue's cases, the report, the limits ───────────────────────────────────────────────────────────

describe("the issue's cases", () => {
  it("a count of 1–10 admits exactly 1..10", () => {
    const { expr, builder, enforced, approximated } = build("integer", { minimum: 1, maximum: 10 });
    expect({ enforced, approximated }).toEqual({ enforced: ["minimum", "maximum"], approximated: [] });
    const admitted: string[] = [];
    for (let v = -1000; v <= 1000; v++) if (builder.matches(expr, String(v))) admitted.push(String(v));
    expect(admitted).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    for (const text of ["0", "-2.7", "246", "2e+38", "1.0", "10.5"])
      expect(builder.matches(expr, text)).toBe(false);
    const rng = seededRandom(7);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(builder.sample(expr, rng));
    expect([...seen].sort((a, b) => Number(a) - Number(b))).toEqual(admitted);
  });

  it("an unbounded number never decodes to ±Infinity and has a finite length", () => {
    const { expr, builder, enforced, approximated } = build("number", {});
    expect({ enforced, approximated }).toEqual({ enforced: [], approximated: [] });
    const rng = seededRandom(8);
    for (let i = 0; i < 2000; i++) {
      const text = builder.sample(expr, rng);
      expect(Number.isFinite(JSON.parse(text)), text).toBe(true);
    }
    const largest = `-${"9".repeat(MAX_INTEGER_DIGITS)}.${"9".repeat(MAX_FRACTION_DIGITS)}e+${"9".repeat(MAX_EXPONENT_DIGITS)}`;
    expect(builder.matches(expr, largest)).toBe(true);
    expect(Number.isFinite(JSON.parse(largest))).toBe(true);
    expect(builder.maxLength(expr)).toBe(largest.length); // 37
    for (const text of ["1e100", "1e999", "1e0000000000000308", "12345678901234567", "1.0000000000000001"]) {
      expect(builder.matches(expr, text), text).toBe(false);
    }
    for (const text of ["0", "-0", "1E-5", "3.25e+12", "0.5", "-12"])
      expect(builder.matches(expr, text), text).toBe(true);
  });

  it("an unbounded integer is ±Number.MAX_SAFE_INTEGER, 17 characters at most", () => {
    const { expr, builder } = build("integer", {});
    const max = String(Number.MAX_SAFE_INTEGER);
    expect(builder.maxLength(expr)).toBe(17);
    expect([max, `-${max}`, "0", "-0"].every((t) => builder.matches(expr, t))).toBe(true);
    expect([String(2 ** 53), `-${2 ** 53}`, "1.5", "1e3"].some((t) => builder.matches(expr, t))).toBe(false);
  });
});

describe("the report and edge bounds", () => {
  it("lists bounds beyond the digit limits as approximated, and stays sound", () => {
    const tiny = build("number", { minimum: 1e-30, maximum: 1e300 });
    expect(tiny.approximated).toEqual(["minimum", "maximum"]);
    expect(tiny.builder.matches(tiny.expr, "0.000000000000001")).toBe(true);
    expect(tiny.builder.matches(tiny.expr, "0")).toBe(false);
    const long = build("number", { maximum: 0.1234567890123456 });
    expect(long.approximated).toEqual(["maximum"]);
    expect(long.builder.matches(long.expr, "0.123456789012345")).toBe(true);
    expect(long.builder.matches(long.expr, "0.123456789012346")).toBe(false);
    const big = build("integer", { minimum: -1e20, maximum: 5 });
    expect(big).toMatchObject({ enforced: ["maximum"], approximated: ["minimum"] });
    expect(build("integer", { minimum: 1.5 })).toMatchObject({ enforced: ["minimum"], approximated: [] });
    // An inexact bound that another overrides costs nothing.
    expect(build("number", { minimum: 1e-30, exclusiveMinimum: 1 }).approximated).toEqual([]);
  });

  it("empty ranges are NEVER", () => {
    for (const bounds of [
      { minimum: 5, maximum: 3 },
      { exclusiveMinimum: 2, maximum: 2 },
      { minimum: 1e20 },
    ]) {
      expect(isNever(build("number", bounds).expr), JSON.stringify(bounds)).toBe(true);
    }
    for (const bounds of [
      { exclusiveMinimum: 1, exclusiveMaximum: 2 },
      { minimum: 1.2, maximum: 1.8 },
    ]) {
      expect(isNever(build("integer", bounds).expr), JSON.stringify(bounds)).toBe(true);
    }
    expect(isNever(build("number", { minimum: 2, maximum: 2 }).expr)).toBe(false);
  });

  it("exclusive bounds refuse every spelling of the bound and what JSON.parse rounds onto it", () => {
    const positive = build("number", { exclusiveMinimum: 0 });
    for (const text of ["0", "0.0", "0.000", "-0", "-0.0", "-0.001"]) {
      expect(positive.builder.matches(positive.expr, text), text).toBe(false);
    }
    expect(positive.builder.matches(positive.expr, "0.001")).toBe(true);
    expect(positive.builder.matches(positive.expr, "0.000000000000001")).toBe(true);
    const above = build("number", { exclusiveMinimum: 100 });
    expect(JSON.parse("100.000000000000005")).toBe(100);
    expect(above.builder.matches(above.expr, "100.000000000000005")).toBe(false);
    expect(above.builder.matches(above.expr, JSON.stringify(100 + 2 ** -46))).toBe(true); // the next double
    expect(above.enforced).toEqual(["exclusiveMinimum"]);
  });

  it("refuses bounds no JSON text carries", () => {
    expect(() => build("number", { minimum: Number.NaN })).toThrow(RangeError);
    expect(() => build("integer", { maximum: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });

  it("keeps bounded grammars small", () => {
    const rng = seededRandom(9);
    for (let round = 0; round < 100; round++) {
      const bounds = randomBounds(rng, pickOne(rng, [3, 1e4, 1e12]), int(rng, 0, 3));
      for (const kind of ["integer", "number"] as const) {
        const { expr, builder } = build(kind, bounds);
        if (!isNever(expr)) expect(builder.toGbnf(expr).length, JSON.stringify(bounds)).toBeLessThan(2000);
      }
    }
  });
});

// ─── llama.cpp ───────────────────────────────────────────────────────────────────────────────────────────

describe("llama.cpp parses the GBNF and agrees with matches()", () => {
  let llama: Llama;
  beforeAll(async () => {
    llama = await llamaBackend();
  }, 60_000);

  const cases: [string, "integer" | "number", NumberBounds][] = [
    ["unbounded integer", "integer", {}],
    ["count 1–10", "integer", { minimum: 1, maximum: 10 }],
    ["[15, 220]", "integer", { minimum: 15, maximum: 220 }],
    ["(-7.5, 3]", "integer", { exclusiveMinimum: -7.5, maximum: 3 }],
    ["unbounded number", "number", {}],
    ["[1.5, 10.25]", "number", { minimum: 1.5, maximum: 10.25 }],
    ["> 0", "number", { exclusiveMinimum: 0 }],
    ["[-3, 3)", "number", { minimum: -3, exclusiveMaximum: 3 }],
    ["[1e-30, 1e300]", "number", { minimum: 1e-30, maximum: 1e300 }],
    ["< -7.25", "number", { exclusiveMaximum: -7.25 }],
  ];
  // Texts around the cases' bounds, in range and out, and malformed ones.
  const probes = [
    ..."0 -0 1 10 11 -1 15 220 221 1.5 1.50 1.49 10.25 10.250 10.251 3 2.999 -3 -3.0 -7.25 -7.26".split(" "),
    ..."0.0 0.001 0.000000000000001 1e5 -1E-5 01 - 1. .5 +1".split(" "),
    "",
  ];

  it.each(cases)("%s", (_name, kind, bounds) => {
    const { expr, builder } = build(kind, bounds);
    const gbnf = builder.toGbnf(expr);
    expect(gbnfParses(llama, gbnf), gbnf).toBe(true);
    const rng = seededRandom(10);
    const texts = [...probes, ...Array.from({ length: 12 }, () => builder.sample(expr, rng))];
    const disagreements = texts.filter(
      (text) => gbnfAccepts(llama, gbnf, text) !== builder.matches(expr, text),
    );
    expect(disagreements, gbnf).toEqual([]);
    expect(texts.filter((text) => builder.matches(expr, text)).length).toBeGreaterThan(12);
  });
});

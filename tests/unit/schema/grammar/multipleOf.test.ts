/**
 * `multipleOf` in the grammar: integers and decimals whose text is a multiple of the divisor, within the bounds,
 * written by a residue automaton over the digits (numbers.ts). Every case is checked exhaustively over a window
 * of values with the compiler's own matcher (admitted exactly when in range and a multiple, as the validator's
 * exact decimal check says), on llama.cpp's parser for a sample of texts, and by drawing random texts from the
 * grammar, each of which the validator must accept. Divisors the grammar cannot write (too many states, more
 * fraction digits than it writes) stay the validator's, and the report says so.
 */
import type { Llama } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSchema } from "../../../../src/schema/compile.js";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { GrammarBuilder } from "../../../../src/schema/grammar/ir.js";
import { integerGrammar, type NumberBounds, numberGrammar } from "../../../../src/schema/grammar/numbers.js";
import { decimalLcm, isMultipleOf } from "../../../../src/schema/multipleOf.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { gbnfAccepts, gbnfParses, llamaBackend } from "./llamaGrammar.js";
import { seededRandom } from "./seeded.js";

let llama: Llama;
beforeAll(async () => {
  llama = await llamaBackend();
});

/** The schema's grammar with the compiler's matcher, its GBNF and the validator. */
function compiled(schema: JsonSchema) {
  const built = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
  const { gbnf, report, rules } = compileGrammar(schema);
  const validator = compileSchema(schema);
  return {
    admits: (text: string) => built.builder.matches(built.root, text),
    valid: (text: string) => validator.validate(JSON.parse(text) as unknown).ok,
    sample: (random: () => number) => built.builder.sample(built.root, random),
    gbnf,
    rules,
    verdict: (keyword: string, pointer = "#") =>
      report.find((entry) => entry.keyword === keyword && entry.pointer === pointer),
  };
}

/** `n` × 10^-digits as JSON.stringify writes it (no trailing zeros). */
function textOf(n: bigint, digits: number): string {
  const sign = n < 0n ? "-" : "";
  const abs = (n < 0n ? -n : n).toString().padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits);
  const fraction = abs.slice(abs.length - digits).replace(/0+$/, "");
  return `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}`;
}

/**
 * Every value from `from` to `to` on the grid 10^-digits (given as scaled integers): the grammar admits its text
 * exactly when the validator accepts it (in range and a multiple); llama.cpp agrees on every `llamaEvery`-th.
 */
function expectExactly(schema: JsonSchema, from: number, to: number, digits = 0, llamaEvery = 7): number {
  const grammar = compiled(schema);
  const mismatches: string[] = [];
  let admitted = 0;
  for (let n = from; n <= to; n++) {
    const text = textOf(BigInt(n), digits);
    const want = grammar.valid(text);
    const got = grammar.admits(text);
    if (got !== want) mismatches.push(`${text}: grammar ${got}, validator ${want}`);
    if (got) admitted++;
    if ((n - from) % llamaEvery === 0 && gbnfAccepts(llama, grammar.gbnf, text) !== want)
      mismatches.push(`${text}: llama.cpp disagrees (validator ${want})`);
  }
  expect(mismatches).toEqual([]);
  expect(grammar.verdict("multipleOf")?.enforcement).toBe("grammar");
  return admitted;
}

/** Random texts drawn from the grammar: each is valid JSON the validator accepts. */
function expectSound(schema: JsonSchema, count = 300, seed = 7): string[] {
  const grammar = compiled(schema);
  const random = seededRandom(seed);
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const text = grammar.sample(random);
    expect(grammar.valid(text), `sampled ${text}`).toBe(true);
    texts.push(text);
  }
  return texts;
}

describe("integers: exactly the multiples in range", () => {
  it("m = 3 within [-20, 40]", () => {
    const schema: JsonSchema = { type: "integer", multipleOf: 3, minimum: -20, maximum: 40 };
    // -18 … 39: 6 + 1 + 13 multiples.
    expect(expectExactly(schema, -60, 80)).toBe(20);
    expectSound(schema);
  });

  it("m = 7 within [-50, 500] (the model test's schema)", () => {
    const schema: JsonSchema = { type: "integer", multipleOf: 7, minimum: -50, maximum: 500 };
    expect(expectExactly(schema, -120, 620)).toBe(7 + 1 + 71);
    expectSound(schema);
  });

  it("m = 12 with exclusive bounds (-100, 1000)", () => {
    const schema: JsonSchema = {
      type: "integer",
      multipleOf: 12,
      exclusiveMinimum: -100,
      exclusiveMaximum: 1000,
    };
    expect(expectExactly(schema, -150, 1100, 0, 11)).toBe(8 + 1 + 83);
    expectSound(schema);
  });

  it("m = 100 within [-1000, 12345] and unbounded", () => {
    const schema: JsonSchema = { type: "integer", multipleOf: 100, minimum: -1000, maximum: 12345 };
    expect(expectExactly(schema, -1300, 12600, 0, 13)).toBe(10 + 1 + 123);
    expectSound(schema);
    const open = compiled({ type: "integer", multipleOf: 100 });
    for (const text of ["0", "-0", "100", "-999999999999900", "999999999999900", "123456789000"])
      expect(open.admits(text), text).toBe(true);
    for (const text of ["50", "101", "-1", "1000000000000000", "9007199254740900", "1e2", "100.0"])
      expect(open.admits(text), text).toBe(false);
  });

  it("m = 7 without bounds: large multiples up to 15 digits admitted, neighbours refused", () => {
    const grammar = compiled({ type: "integer", multipleOf: 7 });
    const random = seededRandom(3);
    for (let i = 0; i < 300; i++) {
      const magnitude = BigInt(Math.floor(random() * 1e15)) / 7n;
      const multiple = magnitude * 7n * (random() < 0.5 ? -1n : 1n);
      expect(grammar.admits(String(multiple)), String(multiple)).toBe(true);
      expect(grammar.admits(String(multiple + 1n)), String(multiple + 1n)).toBe(false);
      expect(grammar.admits(String(multiple - 3n)), String(multiple - 3n)).toBe(false);
    }
    // Multiples are written with up to 15 digits: the largest is 999999999999994, the next has 16.
    expect(grammar.admits("999999999999994")).toBe(true);
    expect(grammar.admits("1000000000000001")).toBe(false);
    expect(gbnfParses(llama, grammar.gbnf)).toBe(true);
    expect(gbnfAccepts(llama, grammar.gbnf, "-999999999999994")).toBe(true);
    expect(gbnfAccepts(llama, grammar.gbnf, "-999999999999995")).toBe(false);
    expect(gbnfAccepts(llama, grammar.gbnf, "700000000000001")).toBe(false);
    const texts = expectSound({ type: "integer", multipleOf: 7 }, 300);
    expect(texts.some((text) => text.length >= 12)).toBe(true);
  });

  it("a decimal divisor on integers: multipleOf 2.5 admits the multiples of 5", () => {
    const schema: JsonSchema = { type: "integer", multipleOf: 2.5, minimum: 2 };
    expect(expectExactly(schema, -30, 300)).toBeGreaterThan(0);
    const grammar = compiled(schema);
    expect(grammar.admits("5")).toBe(true);
    expect(grammar.admits("7")).toBe(false);
    expect(grammar.admits("2.5")).toBe(false);
  });
});

describe("numbers: decimal divisors", () => {
  it("m = 0.01 within [-5, 5]: at most two significant fraction digits, any trailing zeros", () => {
    const schema: JsonSchema = { type: "number", multipleOf: 0.01, minimum: -5, maximum: 5 };
    // Every thousandth from -6 to 6: admitted exactly when it is a hundredth within [-5, 5].
    expect(expectExactly(schema, -6000, 6000, 3, 97)).toBe(1001);
    const grammar = compiled(schema);
    for (const text of ["1.23", "1.230", "1.2", "1", "1.0", "-0.05", "1.2300000", "0", "-0", "0.00", "5.00"])
      expect(grammar.admits(text), text).toBe(true);
    for (const text of ["1.234", "5.01", "-5.001", "1e0", "1.", ".5", "01.2", "1.2300001"])
      expect(grammar.admits(text), text).toBe(false);
    for (const text of ["1.230", "-0.05"]) expect(gbnfAccepts(llama, grammar.gbnf, text), text).toBe(true);
    for (const text of ["1.234", "1e0"]) expect(gbnfAccepts(llama, grammar.gbnf, text), text).toBe(false);
    expectSound(schema);
  });

  it("m = 0.25 within [0, 10): quarters only", () => {
    const schema: JsonSchema = { type: "number", multipleOf: 0.25, minimum: 0, exclusiveMaximum: 10 };
    // Every hundredth from -2 to 12: admitted exactly when it is a quarter in [0, 10).
    expect(expectExactly(schema, -200, 1200, 2, 13)).toBe(40);
    const grammar = compiled(schema);
    for (const text of ["0.25", "0.5", "0.50", "0.750", "9.75", "3"])
      expect(grammar.admits(text), text).toBe(true);
    for (const text of ["0.2", "0.05", "10", "10.0", "9.8", "-0.25"])
      expect(grammar.admits(text), text).toBe(false);
    expectSound(schema);
  });

  it("m = 0.5 and m = 5 on numbers; unbounded m = 0.01", () => {
    expect(expectExactly({ type: "number", multipleOf: 0.5, minimum: -3, maximum: 3 }, -50, 50, 1, 3)).toBe(
      13,
    );
    const five = compiled({ type: "number", multipleOf: 5, exclusiveMinimum: -20, maximum: 20 });
    for (const text of ["10", "10.0", "-15", "20.000", "0"]) expect(five.admits(text), text).toBe(true);
    for (const text of ["10.5", "-20", "25", "12"]) expect(five.admits(text), text).toBe(false);
    const cents = compiled({ type: "number", multipleOf: 0.01 });
    for (const text of ["123456.78", "-0.01", "1234567890123.45"])
      expect(cents.admits(text), text).toBe(true);
    for (const text of ["0.001", "1e5", "1.005"]) expect(cents.admits(text), text).toBe(false);
    expect(gbnfParses(llama, cents.gbnf)).toBe(true);
    expectSound({ type: "number", multipleOf: 0.01 });
    expectSound({ type: ["number", "null"], multipleOf: 0.1 });
  });
});

describe("combinations and the report", () => {
  it("allOf of multipleOf 3 and 5 is the multiples of 15, written by the grammar", () => {
    const schema: JsonSchema = {
      type: "integer",
      minimum: 0,
      maximum: 200,
      allOf: [{ multipleOf: 3 }, { multipleOf: 5 }],
    };
    const grammar = compiled(schema);
    for (let n = -10; n <= 220; n++)
      expect(grammar.admits(String(n)), String(n)).toBe(grammar.valid(String(n)));
    expect(grammar.verdict("allOf")?.enforcement).toBe("grammar");
    expectSound(schema);
  });

  it("the report never claims more than the grammar holds: merged divisors it cannot write stay the validator's", () => {
    // lcm(1009, 1013) = 1022117: too many states, too few multiples within 6 digits, none to list near zero.
    const grammar = compiled({ type: "integer", allOf: [{ multipleOf: 1009 }, { multipleOf: 1013 }] });
    expect(grammar.verdict("multipleOf")?.enforcement).toBe("validator");
    for (const pointer of ["#/allOf/0", "#/allOf/1"])
      expect(grammar.verdict("multipleOf", pointer)?.enforcement, pointer).toBe("validator");
    expect(grammar.admits("78")).toBe(true); // the plain integer grammar: the validator refuses it
  });

  it("merged divisors with too many states but multiples near zero are listed, and the report says so", () => {
    // lcm(77, 13) = 1001: too many states on all the safe integers, and too few multiples within 6 digits.
    const grammar = compiled({ type: "integer", allOf: [{ multipleOf: 77 }, { multipleOf: 13 }] });
    expect(grammar.verdict("multipleOf")).toMatchObject({ enforcement: "grammar", note: /nearest zero/ });
    for (const text of ["0", "1001", "-1001", "16016", "-15015"])
      expect(grammar.admits(text), text).toBe(true);
    for (const text of ["78", "77", "13", "17017", "-16016"]) expect(grammar.admits(text), text).toBe(false);
    expectSound({ type: "integer", allOf: [{ multipleOf: 77 }, { multipleOf: 13 }] }, 100);
  });

  it("merging divisors takes their exact decimal least common multiple", () => {
    expect(decimalLcm(3, 5)).toBe(15);
    expect(decimalLcm(0.25, 0.1)).toBe(0.5);
    expect(decimalLcm(0.1, 0.3)).toBe(0.3);
    expect(decimalLcm(6.75, 9.5)).toBe(256.5);
    // An lcm with more digits than a double spells exactly: both stay the validator's.
    expect(decimalLcm(123456789.123457, 987654321.987654)).toBeUndefined();
    expect(decimalLcm(0, 3)).toBeUndefined();
    const merged = compiled({ type: "number", allOf: [{ multipleOf: 0.25 }, { multipleOf: 0.1 }] });
    expect(merged.admits("1.5")).toBe(true);
    expect(merged.admits("1.25")).toBe(false);
    expect(merged.admits("0.3")).toBe(false);
  });

  it("a divisor with more fraction digits than the grammar writes, or too many states, stays the validator's", () => {
    const tiny = compiled({ type: "number", multipleOf: 1e-20 });
    expect(tiny.verdict("multipleOf")?.enforcement).toBe("validator");
    expect(tiny.verdict("multipleOf")?.note).toMatch(/fraction digits/);
    const prime = compiled({ type: "integer", multipleOf: 1000003 });
    expect(prime.verdict("multipleOf")?.enforcement).toBe("validator");
    expect(prime.verdict("multipleOf")?.note).toMatch(/states/);
    // …and the grammar still admits every multiple (it is the plain integer grammar).
    expect(prime.admits("2000006")).toBe(true);
  });

  it("a range too large for one automaton is limited to 9 integer digits, and says so", () => {
    const grammar = compiled({ type: "integer", multipleOf: 19 });
    expect(grammar.verdict("multipleOf")).toMatchObject({
      enforcement: "grammar",
      note: /up to 9 integer digits/,
    });
    for (const text of ["0", "19", "-19", "999999982", "-190000000"])
      expect(grammar.admits(text), text).toBe(true);
    // 1000000001 is a multiple of 19 with 10 digits.
    for (const text of ["20", "1000000001", "-1000000001"]) expect(grammar.admits(text), text).toBe(false);
    expectSound({ type: "integer", multipleOf: 19 });
  });

  it("a document's multipleOf grammars share one budget of states; past it, the validator", () => {
    const primes = [11, 13, 17, 19, 23, 29, 31, 37, 41, 43];
    const schema: JsonSchema = {
      type: "object",
      properties: Object.fromEntries(primes.map((p) => [`p${p}`, { type: "number", multipleOf: p }])),
      required: primes.map((p) => `p${p}`),
    };
    const grammar = compiled(schema);
    const verdicts = primes.map((p) => grammar.verdict("multipleOf", `#/properties/p${p}`));
    expect(verdicts[0]?.enforcement).toBe("grammar");
    expect(verdicts.at(-1)).toMatchObject({ enforcement: "validator", note: /already use/ });
    expect(grammar.rules).toBeLessThan(1300);
    // Where the grammar writes multipleOf, every sampled value is a multiple (the others are the validator's).
    const random = seededRandom(5);
    for (let i = 0; i < 100; i++) {
      const value = JSON.parse(grammar.sample(random)) as Record<string, number>;
      primes.forEach((p, index) => {
        if (verdicts[index]?.enforcement === "grammar")
          expect(isMultipleOf(value[`p${p}`] as number, p), `p${p}: ${value[`p${p}`]}`).toBe(true);
      });
    }
  });

  it("a residue set too large for any automaton is written as the accepted values nearest zero, and says so", () => {
    // The lcm is 17 × 19 × 23 × 29 × 4: neither the whole range nor 9, 6 or 4 integer digits fit the automaton.
    const schema: JsonSchema = {
      type: "number",
      maximum: -5000,
      allOf: [
        { anyOf: [{ multipleOf: 17 }, { multipleOf: 19 }] },
        { anyOf: [{ multipleOf: 23 }, { multipleOf: 29 }] },
      ],
      not: { multipleOf: 4 },
    };
    const grammar = compiled(schema);
    expect(grammar.verdict("anyOf") ?? grammar.verdict("allOf")).toMatchObject({
      enforcement: "grammar",
      note: /only the 32 accepted values nearest zero/,
    });
    expect(grammar.rules).toBeLessThanOrEqual(3);
    // Every admitted value is valid; the first valid values below the bound are admitted, later ones not.
    const valid: string[] = [];
    for (let n = -5000; valid.length < 40; n--) if (grammar.valid(String(n))) valid.push(String(n));
    valid.forEach((text, index) => {
      expect(grammar.admits(text), text).toBe(index < 32);
    });
    for (let n = -5000; n > -12000; n--)
      if (grammar.admits(String(n))) expect(grammar.valid(String(n)), String(n)).toBe(true);
    for (const text of valid.slice(0, 5)) expect(gbnfAccepts(llama, grammar.gbnf, text), text).toBe(true);
    expect(new Set(expectSound(schema, 100)).size).toBeGreaterThan(8);
  });

  it("a huge divisor leaves only zero, written exactly", () => {
    const grammar = compiled({ type: "number", multipleOf: 1e20 });
    expect(grammar.verdict("multipleOf")?.enforcement).toBe("grammar");
    for (const text of ["0", "-0", "0.0"]) expect(grammar.admits(text), text).toBe(true);
    for (const text of ["1", "100000000000000000000", "1e20"]) expect(grammar.admits(text), text).toBe(false);
  });

  it("keeps the grammar small: rules per divisor", () => {
    const size = (schema: JsonSchema) => compiled(schema).rules;
    const plain = size({ type: "integer", minimum: -50, maximum: 500 });
    expect(size({ type: "integer", minimum: -50, maximum: 500, multipleOf: 100 })).toBeLessThanOrEqual(
      plain + 4,
    );
    expect(size({ type: "integer", minimum: -50, maximum: 500, multipleOf: 7 })).toBeLessThanOrEqual(
      plain + 30,
    );
    expect(size({ type: "integer", multipleOf: 7 })).toBeLessThanOrEqual(16 * 7 + 20);
    expect(size({ type: "number", multipleOf: 0.01 })).toBeLessThanOrEqual(40);
  });

  it("the number functions report multipleOf themselves", () => {
    const builder = new GrammarBuilder();
    const bounds: NumberBounds = { minimum: 0, maximum: 100, multipleOf: 7 };
    expect(integerGrammar(bounds, builder).multipleOf).toEqual({ enforcement: "grammar" });
    expect(numberGrammar({ multipleOf: 0.25 }, builder).multipleOf).toEqual({ enforcement: "grammar" });
    expect(integerGrammar({ minimum: 0 }, builder).multipleOf).toBeUndefined();
    expect(() => integerGrammar({ multipleOf: 0 }, builder)).toThrow(RangeError);
    expect(() => numberGrammar({ multipleOf: -1 }, builder)).toThrow(RangeError);
  });
});

describe("random divisors and bounds", () => {
  const DIVISORS = [
    2, 3, 6, 7, 9, 11, 12, 25, 40, 64, 125, 1000, 0.1, 0.2, 0.25, 0.3, 0.05, 0.125, 0.01, 1.5, 2.5,
  ];
  const pick = <T>(random: () => number, items: readonly T[]): T =>
    items[Math.floor(random() * items.length)] as T;

  it("every grid value of a window around the bounds is admitted iff the validator accepts it; samples are valid", () => {
    const random = seededRandom(11);
    for (let round = 0; round < 60; round++) {
      const integer = random() < 0.5;
      const multipleOf = pick(random, DIVISORS);
      const scale = integer ? 0 : 3; // the window's grid: 10^-3 holds every divisor above
      const a = Math.round((random() - 0.5) * 4000) / 10;
      const b = a + Math.round(random() * 3000) / 10;
      const schema: JsonSchema = { type: integer ? "integer" : "number", multipleOf };
      if (random() < 0.7) schema[random() < 0.5 ? "minimum" : "exclusiveMinimum"] = a;
      if (random() < 0.7) schema[random() < 0.5 ? "maximum" : "exclusiveMaximum"] = b;
      const grammar = compiled(schema);
      const unit = 10 ** scale;
      const from = Math.floor((a - 20) * unit);
      const to = Math.ceil((b + 20) * unit);
      const step = Math.max(1, Math.floor((to - from) / 3000));
      const wrong: string[] = [];
      for (let n = from; n <= to; n += step) {
        const text = textOf(BigInt(n), scale);
        if (grammar.admits(text) !== grammar.valid(text)) wrong.push(text);
      }
      expect(wrong, JSON.stringify(schema)).toEqual([]);
      expect(grammar.verdict("multipleOf")?.enforcement, JSON.stringify(schema)).toBe("grammar");
      const draw = seededRandom(round);
      for (let i = 0; i < 40; i++) {
        const text = grammar.sample(draw);
        expect(grammar.valid(text), `${text} under ${JSON.stringify(schema)}`).toBe(true);
      }
    }
  });
});

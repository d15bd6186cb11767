/**
 * `multipleOf`s combined by `not`, `anyOf`, `oneOf` and `allOf` (residues.ts): one set of accepted residues,
 * written by the number automaton of numbers.ts within the bounds. Each case is checked exhaustively over a
 * window of values with the compiler's matcher (admitted exactly when the validator accepts), and by drawing
 * random texts from the grammar, each of which the validator must accept. Where the automaton would pass its
 * caps, the report leaves the keyword to the validator.
 */
import { describe, expect, it } from "vitest";
import { compileSchema } from "../../../../src/schema/compile.js";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";

function compiled(schema: JsonSchema) {
  const built = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
  const { report } = compileGrammar(schema);
  const validator = compileSchema(schema);
  return {
    admits: (text: string) => built.builder.matches(built.root, text),
    valid: (text: string) => validator.validate(JSON.parse(text) as unknown).ok,
    sample: (random: () => number) => built.builder.sample(built.root, random),
    verdict: (keyword: string, pointer = "#") =>
      report.find((entry) => entry.keyword === keyword && entry.pointer === pointer),
  };
}

/** `n` × 10^-digits as JSON.stringify writes it. */
function textOf(n: number, digits: number): string {
  return String(Number((n / 10 ** digits).toFixed(digits)));
}

/** Every value from `from` to `to` on the grid 10^-digits: admitted exactly when valid. Returns the count admitted. */
function expectExactly(schema: JsonSchema, from: number, to: number, digits = 0): number {
  const grammar = compiled(schema);
  const mismatches: string[] = [];
  let admitted = 0;
  for (let n = from; n <= to; n++) {
    const text = textOf(n, digits);
    const want = grammar.valid(text);
    const got = grammar.admits(text);
    if (got !== want) mismatches.push(`${text}: grammar ${got}, validator ${want}`);
    if (got) admitted++;
  }
  expect(mismatches).toEqual([]);
  return admitted;
}

/** Random texts drawn from the grammar: each is valid. */
function expectSound(schema: JsonSchema, count = 100, seed = 7): string[] {
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

describe("not over multipleOf", () => {
  it("integers that are not multiples of 3, within [-40, 40]", () => {
    const schema: JsonSchema = { type: "integer", minimum: -40, maximum: 40, not: { multipleOf: 3 } };
    expect(expectExactly(schema, -60, 60)).toBe(81 - 27);
    expect(compiled(schema).verdict("not")?.enforcement).toBe("grammar");
    expectSound(schema, 50);
  });

  it("a multipleOf, a not of an anyOf of multipleOfs, exclusive bounds and an excluded constant", () => {
    // Multiples of 7 in (10, 500) that are multiples of none of 2, 3, 5, and not 77.
    const schema: JsonSchema = {
      type: "integer",
      multipleOf: 7,
      exclusiveMinimum: 10,
      exclusiveMaximum: 500,
      not: { anyOf: [{ multipleOf: 2 }, { multipleOf: 3 }, { multipleOf: 5 }] },
      allOf: [{ not: { const: 77 } }],
    };
    const admitted = expectExactly(schema, 0, 520);
    expect(admitted).toBeGreaterThan(10);
    const grammar = compiled(schema);
    for (const text of ["49", "91", "497"]) expect(grammar.admits(text), text).toBe(true);
    for (const text of ["7", "77", "14", "21", "35", "504"]) expect(grammar.admits(text), text).toBe(false);
    expectSound(schema, 50);
  });

  it("numbers: the values a digit finer than the divisor are written too", () => {
    const schema: JsonSchema = { type: "number", minimum: 0, maximum: 3, not: { multipleOf: 0.5 } };
    // Every value of two fraction digits from -0.5 to 3.5: exactly the non-multiples of 0.5 within [0, 3].
    expect(expectExactly(schema, -50, 350, 2)).toBe(301 - 7);
    const grammar = compiled(schema);
    for (const text of ["0.1", "1.25", "2.70", "2.99"]) expect(grammar.admits(text), text).toBe(true);
    for (const text of ["0", "0.5", "1.50", "3", "3.1", "-0.1"])
      expect(grammar.admits(text), text).toBe(false);
    expectSound(schema, 50);
  });

  it("an untyped not of multipleOfs refuses every other type (JSONSchemaBench num5's b)", () => {
    const schema: JsonSchema = { not: { anyOf: [{ multipleOf: 2 }, { multipleOf: 6.5 }] } };
    const grammar = compiled(schema);
    for (const text of ["3", "1.25", "-7.1", "13.01"]) expect(grammar.admits(text), text).toBe(true);
    for (const text of ["4", "13", "19.5", '"x"', "null", "[]"])
      expect(grammar.admits(text), text).toBe(false);
    expectSound(schema, 50);
  });
});

describe("anyOf and oneOf of multipleOfs next to a numeric type", () => {
  it("anyOf: multiples of 4 or of 6 within [0, 100], one automaton", () => {
    const schema: JsonSchema = {
      type: "integer",
      minimum: 0,
      maximum: 100,
      anyOf: [{ multipleOf: 4 }, { multipleOf: 6 }],
    };
    // 26 multiples of 4, 17 of 6, 9 of 12.
    expect(expectExactly(schema, -20, 120)).toBe(26 + 17 - 9);
    expect(compiled(schema).verdict("anyOf")?.enforcement).toBe("grammar");
  });

  it("oneOf: exactly one of them (the multiples of 12 refused)", () => {
    const schema: JsonSchema = {
      type: "integer",
      minimum: 0,
      maximum: 100,
      oneOf: [{ multipleOf: 4 }, { multipleOf: 6 }],
    };
    expect(expectExactly(schema, -20, 120)).toBe(26 + 17 - 2 * 9);
    const grammar = compiled(schema);
    expect(grammar.verdict("oneOf")?.enforcement).toBe("grammar");
    expect(grammar.verdict("oneOf (exactly one)")).toBeUndefined();
  });

  it("allOf of anyOfs and nots (JSONSchemaBench allany4's kind): every sample valid, nothing left over", () => {
    const schema: JsonSchema = {
      type: "number",
      allOf: [
        { minimum: 1 },
        { anyOf: [{ multipleOf: 3 }, { multipleOf: 5 }, { multipleOf: 7 }] },
        { anyOf: [{ allOf: [{ not: { multipleOf: 5 } }, { not: { multipleOf: 7 } }] }, { multipleOf: 24 }] },
        { not: { multipleOf: 8 } },
      ],
    };
    const texts = expectSound(schema, 60);
    expect(new Set(texts).size).toBeGreaterThan(30);
    const left = compileGrammar(schema).report.filter(
      (entry) => entry.enforcement === "validator" && ["not", "anyOf", "multipleOf"].includes(entry.keyword),
    );
    expect(left.filter((entry) => entry.pointer === "#")).toEqual([]);
  });

  it("a oneOf of typed members: their complements (a multipleOf's included) make exclusivity the grammar's", () => {
    const schema: JsonSchema = {
      oneOf: [
        { type: "number", multipleOf: 2, minimum: 0, maximum: 30 },
        { type: "number", multipleOf: 3, minimum: 0, maximum: 30 },
      ],
    };
    expect(compiled(schema).verdict("oneOf (exactly one)")).toBeUndefined();
    expect(expectExactly(schema, -10, 40)).toBe(16 + 11 - 2 * 6);
  });
});

describe("beyond the caps", () => {
  it("a condition the automaton cannot write within its states is a list of accepted values near zero, as the report says", () => {
    const schema: JsonSchema = {
      type: "integer",
      not: { anyOf: [{ multipleOf: 7919 }, { multipleOf: 7907 }] },
    };
    const grammar = compiled(schema);
    expect(grammar.verdict("not")).toMatchObject({
      enforcement: "grammar",
      note: /32 accepted values nearest zero/,
    });
    for (const text of ["1", "-1", "16", "-15"]) expect(grammar.admits(text), text).toBe(true);
    for (const text of ["0", "7919", "17", "100"]) expect(grammar.admits(text), text).toBe(false);
  });

  it("past the lists too (fewer than 8 accepted values found), the condition stays the validator's", () => {
    const schema: JsonSchema = {
      type: "integer",
      anyOf: [{ multipleOf: 1000003 }, { multipleOf: 1000033 }],
    };
    const grammar = compiled(schema);
    expect(grammar.verdict("anyOf")).toMatchObject({ enforcement: "validator", note: /states/ });
    // The plain integer grammar: the validator refuses this one.
    expect(grammar.admits("7919")).toBe(true);
  });

  it("an allOf of anyOfs of multipleOfs past the caps is written as the values nearest zero it accepts", () => {
    // Residues modulo 24024 on every position of an unbounded number: past the automaton's caps.
    const schema: JsonSchema = {
      type: "number",
      allOf: [
        { anyOf: [{ multipleOf: 39 }, { multipleOf: 12 }, { multipleOf: 91 }] },
        { anyOf: [{ allOf: [{ not: { multipleOf: 6 } }, { not: { multipleOf: 7 } }] }, { multipleOf: 52 }] },
        { anyOf: [{ not: { multipleOf: 13 } }, { multipleOf: 11 }] },
        { not: { multipleOf: 8 } },
      ],
    };
    const grammar = compiled(schema);
    expect(grammar.verdict("anyOf")).toMatchObject({ enforcement: "grammar", note: /nearest zero/ });
    expect(grammar.verdict("not", "#/allOf/3")?.enforcement).toBe("grammar");
    expect(grammar.admits("8")).toBe(false);
    // Every value of a window is admitted only if valid; the smallest valid ones are admitted.
    let admitted = 0;
    for (let n = -3000; n <= 3000; n++) {
      const text = String(n);
      if (!grammar.admits(text)) continue;
      admitted++;
      expect(grammar.valid(text), text).toBe(true);
    }
    expect(admitted).toBeGreaterThanOrEqual(8);
  });
});

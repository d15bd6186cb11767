/**
 * Keys an object must have (objects.ts, keyGroups.ts): `not: {propertyNames: {not: …}}` and `not:
 * {patternProperties: {p: false}}` ask for a key matching a pattern; under `maxProperties` several of those asks
 * must share keys. The grammar distributes them over the keys it may write (groups of asks, each group one key
 * from the intersection of its patterns), so that the validator has nothing left to check. Every text drawn from
 * a grammar must pass the validator (ajv).
 */
import { describe, expect, it } from "vitest";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";
import { expectSound } from "./sound.js";

function samples(schema: JsonSchema, count = 60, seed = 3): Record<string, unknown>[] {
  return expectSound<Record<string, unknown>>(schema, count, seed);
}

function validatorKeywords(schema: JsonSchema): string[] {
  return compileGrammar(schema)
    .report.filter((entry) => entry.enforcement === "validator")
    .map((entry) => `${entry.pointer} ${entry.keyword}`);
}

const someKey = (pattern: string) => ({ not: { propertyNames: { not: { pattern } } } });

describe("keys an object must have, shared under maxProperties", () => {
  it("three asked-for patterns, one key: a key matching all three", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        someKey("x9"),
        someKey("9y"),
        someKey("^y"),
        { propertyNames: { pattern: "^.{4}$" } },
        { maxProperties: 1 },
      ],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    expect(values.every((value) => Object.keys(value).length === 1)).toBe(true);
  });

  it("four asked-for letters over two keys of two characters", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        someKey("p"),
        someKey("q"),
        someKey("r"),
        someKey("s"),
        { propertyNames: { pattern: "^..$" } },
        { maxProperties: 2 },
        { minProperties: 1 },
      ],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    expect(values.every((value) => Object.keys(value).length === 2)).toBe(true);
  });

  it("a required name covers the asks it matches; a key whose pattern's value is false is never written", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        someKey("p"),
        someKey("q"),
        someKey("r"),
        someKey("s"),
        { anyOf: [{ required: ["sp"] }, { required: ["sq"] }] },
        { propertyNames: { pattern: "^..$" } },
        { maxProperties: 2 },
        { patternProperties: { "(q|r){2}": false } },
      ],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    // Only the `sq` branch can be written: `sp` leaves q and r to one key, which the false pattern refuses.
    expect(values.every((value) => "sq" in value)).toBe(true);
  });

  it("keys of two groups never repeat one another", () => {
    // Groups {p} and {^[pq]} could both write "p": one key in the parsed object, below minProperties.
    const schema: JsonSchema = {
      type: "object",
      properties: { y: { type: "integer" }, z: { type: "integer" } },
      allOf: [
        someKey("p"),
        someKey("^[pq]"),
        { propertyNames: { pattern: "^[pqyz]$" } },
        { maxProperties: 2 },
        { minProperties: 2 },
      ],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema, 200);
    expect(values.some((value) => "p" in value && "q" in value)).toBe(true);
  });

  it("asks no key can share within maxProperties: no object at all, said as much", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [someKey("^p"), someKey("^q"), { maxProperties: 1 }],
    };
    expect(() => compileGrammar(schema)).toThrow(/nothing satisfies/);
    // Inside a union, the branch admits nothing and the other branch is written whole.
    const union: JsonSchema = { anyOf: [schema, { type: "object", required: ["r"], maxProperties: 1 }] };
    expect(validatorKeywords(union)).toEqual([]);
    expect(samples(union).every((value) => Object.keys(value).join() === "r")).toBe(true);
  });

  it("asks for a key longer than the caps: written at the shortest length that answers", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [someKey("^p.{80}"), { maxProperties: 1 }],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    samples(schema, 10);
  });

  it("asks for a key the automata cannot read: the validator's, not nothing", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [someKey("(p)\\1"), { maxProperties: 1 }],
    };
    expect(validatorKeywords(schema)).toContain("# not");
  });
});

describe("allOf of objects whose patterns and additionalProperties constrain the same keys", () => {
  it("keys every member allows: the intersection of their patterns, minus a refused region", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        { patternProperties: { "^.{1,2}$": false }, additionalProperties: true },
        { patternProperties: { x: true }, additionalProperties: false },
        { patternProperties: { y: true }, additionalProperties: false },
      ],
      minProperties: 2,
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    for (const value of values) {
      for (const key of Object.keys(value)) expect(key).toMatch(/^(?=.*x)(?=.*y).{3,}$/s);
    }
    // Fitted to a small budget, the keys shrink to the shortest the regions allow, not to none.
    expect(compileGrammar(schema, { maxTokens: 128 }).fitted).toBe(true);
  });

  it("a key matching two members' patterns holds what both patterns' schemas allow", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        {
          additionalProperties: { type: "array", minItems: 1 },
          patternProperties: { p: { type: "array", items: { type: "integer", minimum: 3 } } },
        },
        { patternProperties: { q: { type: "array", items: { type: "integer", maximum: 5 } }, z: false } },
      ],
      required: ["pq", "qr"],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    for (const value of values) {
      for (const [key, item] of Object.entries(value)) {
        expect(key).not.toMatch(/z/);
        if (/p/.test(key) && /q/.test(key)) {
          for (const n of item as number[]) expect(n >= 3 && n <= 5).toBe(true);
        }
      }
    }
  });

  it("a declared name gets what each member gives it, not the regions' values", () => {
    const schema: JsonSchema = {
      allOf: [
        {
          type: "object",
          properties: { ab: { type: "integer" } },
          patternProperties: { "^a": { minimum: 10 } },
          additionalProperties: false,
        },
        {
          type: "object",
          patternProperties: { b: { maximum: 20 } },
          additionalProperties: { type: "string" },
        },
      ],
      required: ["ab"],
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    for (const value of values) {
      expect(value.ab as number).toBeGreaterThanOrEqual(10);
      expect(value.ab as number).toBeLessThanOrEqual(20);
    }
  });

  it("a member with unevaluatedProperties keeps its keywords as they are (its evaluated keys would change)", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        { patternProperties: { "^a": true }, unevaluatedProperties: false },
        { patternProperties: { b: true }, additionalProperties: false },
      ],
      minProperties: 1,
    };
    // Regions would write only keys containing b; the plain merge (its keys the validator checks) writes `^a` too.
    expect(validatorKeywords(schema)).toContain("#/allOf/0 unevaluatedProperties");
    const built = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
    const random = seededRandom(5);
    const keys = Array.from({ length: 100 }, () =>
      Object.keys(JSON.parse(built.builder.sample(built.root, random)) as object),
    ).flat();
    expect(keys.some((key) => !key.includes("b"))).toBe(true);
  });

  it("anyOf branches of key regions, each with a key asked for, under maxProperties", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [
        {
          anyOf: [
            { patternProperties: { "^.{1,2}$": true }, additionalProperties: false },
            { patternProperties: { q$: { type: "integer", minimum: 2 } }, additionalProperties: false },
          ],
        },
        {
          anyOf: [
            { not: { patternProperties: { "^x": false } } },
            { not: { patternProperties: { "^yz": false } } },
          ],
        },
      ],
      maxProperties: 1,
    };
    expect(validatorKeywords(schema)).toEqual([]);
    const values = samples(schema);
    expect(values.every((value) => Object.keys(value).length === 1)).toBe(true);
  });
});

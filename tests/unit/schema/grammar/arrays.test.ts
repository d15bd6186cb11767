/**
 * Arrays in the grammar (arrays.ts): the item that satisfies `contains` must satisfy `items` too, whatever the two
 * are spelled as (`$ref`s to different definitions included). Checked with the compiler's own matcher and by
 * drawing random texts, each of which the validator must accept.
 */
import { describe, expect, it } from "vitest";
import { compileSchema } from "../../../../src/schema/compile.js";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";

function compiled(schema: JsonSchema) {
  const built = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
  const validator = compileSchema(schema);
  return {
    admits: (text: string) => built.builder.matches(built.root, text),
    valid: (text: string) => validator.validate(JSON.parse(text) as unknown).ok,
    sample: (random: () => number) => built.builder.sample(built.root, random),
  };
}

function expectSound(schema: JsonSchema, count = 150, seed = 1): void {
  const grammar = compiled(schema);
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const text = grammar.sample(random);
    expect(grammar.valid(text), `sampled ${text}`).toBe(true);
  }
}

describe("contains next to items", () => {
  it("an item cap of 0 (budget fitting) does not make a contains impossible (JSONSchemaBench test)", () => {
    const nested: JsonSchema = {
      type: "array",
      items: { type: "array" },
      contains: { contains: { const: 42 } },
    };
    expect(() => compileGrammar(nested, { maxTokens: 1024 })).not.toThrow();
  });

  // Items are arrays holding a multiple of 11 (≥ 100); one item must also hold only multiples of 4.
  const schema: JsonSchema = {
    type: "array",
    allOf: [{ items: { $ref: "#/$defs/some11" } }, { contains: { $ref: "#/$defs/all4" } }],
    $defs: {
      some11: { type: "array", contains: { type: "number", multipleOf: 11, minimum: 100 } },
      all4: { type: "array", items: { type: "number", multipleOf: 4 } },
    },
  };

  it("the matching item satisfies both $refs (not only the first)", () => {
    const grammar = compiled(schema);
    // [121, 3] holds a multiple of 11 but 3 is not a multiple of 4: no item matches contains.
    expect(grammar.valid("[[121,3]]")).toBe(false);
    expect(grammar.admits("[[121,3]]")).toBe(false);
    expect(grammar.valid("[[132,8]]")).toBe(true);
    expect(grammar.admits("[[132,8]]")).toBe(true);
    expectSound(schema, 40);
  });

  it("contains is the grammar's only where the item schemas merged exactly", () => {
    const verdict = (of: JsonSchema) =>
      compileGrammar(of).report.find((entry) => entry.keyword === "contains" && entry.pointer === "#")
        ?.enforcement;
    expect(verdict(schema)).toBe("grammar");
    // Two formats the merge cannot combine: the matching item is written as an email alone, so the validator
    // keeps contains (it was called the grammar's while the grammar wrote no URI at all).
    const loose: JsonSchema = {
      type: "array",
      items: { type: "string", format: "email" },
      contains: { type: "string", format: "uri" },
    };
    expect(verdict(loose)).toBe("validator");
  });

  it("oneOf over items/contains of two definitions (JSONSchemaBench oneofitemscontains1)", () => {
    const oneOf: JsonSchema = {
      type: "array",
      oneOf: [
        { allOf: [{ items: { $ref: "#/$defs/some11" } }, { contains: { $ref: "#/$defs/all4" } }] },
        { allOf: [{ items: { $ref: "#/$defs/all4" } }, { contains: { $ref: "#/$defs/some11" } }] },
      ],
      $defs: (schema as { $defs: JsonSchema }).$defs,
    };
    const grammar = compiled(oneOf);
    // A random model's output under the old grammar: no item holds only multiples of 4, and not every item
    // holds only multiples of 4.
    const decoded = "[[81e93,-538e12,355117155550069]]";
    expect(grammar.valid(decoded)).toBe(false);
    expect(grammar.admits(decoded)).toBe(false);
    // [[132,8]] matches both alternatives; with [121] (not a multiple of 4) only the first.
    expect(grammar.valid("[[132,8]]")).toBe(false);
    expect(grammar.valid("[[132,8],[121]]")).toBe(true);
    expect(grammar.admits("[[132,8],[121]]")).toBe(true);
  });
});

describe("several contains (allOf members, a oneOf's complements)", () => {
  it("two contains merged: an item for each, or one item for both", () => {
    const schema: JsonSchema = {
      type: "array",
      items: { type: "integer" },
      allOf: [{ contains: { const: 1 } }, { contains: { const: 2 } }],
    };
    const grammar = compiled(schema);
    for (const text of ["[1,2]", "[2,1]", "[0,2,5,1]", "[1,1,2]"])
      expect(grammar.admits(text), text).toBe(true);
    for (const text of ["[]", "[1]", "[2,2]", "[0,3]"]) expect(grammar.admits(text), text).toBe(false);
    expectSound(schema);
  });

  it("room for one item only: that item matches both", () => {
    const schema: JsonSchema = {
      type: "array",
      maxItems: 1,
      items: { type: "integer" },
      allOf: [{ contains: { minimum: 0 } }, { contains: { maximum: 5 } }],
    };
    const grammar = compiled(schema);
    for (const text of ["[0]", "[3]", "[5]"]) expect(grammar.admits(text), text).toBe(true);
    for (const text of ["[]", "[7]", "[-1]", "[1,2]"]) expect(grammar.admits(text), text).toBe(false);
    expectSound(schema);
  });

  it("oneOf of items and contains over nested arrays: exactly one alternative, written by the grammar", () => {
    // Each alternative's complement is a contains (of an item the other's items refuse) or an items (of items the
    // other's contains refuses): written with the alternative, an array needs two contains, nested two deep.
    const schema: JsonSchema = {
      type: "array",
      oneOf: [
        { allOf: [{ items: { $ref: "#/$defs/some" } }, { contains: { $ref: "#/$defs/every" } }] },
        { allOf: [{ items: { $ref: "#/$defs/every" } }, { contains: { $ref: "#/$defs/some" } }] },
      ],
      $defs: {
        some: { type: "array", items: { $ref: "#/$defs/hasBig" } },
        every: { type: "array", items: { $ref: "#/$defs/allBig" } },
        hasBig: { type: "array", contains: { type: "number", minimum: 100 } },
        allBig: { type: "array", items: { type: "number", minimum: 100 } },
      },
    };
    const report = compileGrammar(schema).report;
    expect(report.find((entry) => entry.keyword === "oneOf (exactly one)")).toBeUndefined();
    expect(report.find((entry) => entry.pointer === "#" && entry.keyword === "oneOf")?.note).toContain(
      "complements",
    );
    for (const seed of [1, 2, 3]) expectSound(schema, 100, seed);
  });
});

/**
 * oneOf's "exactly one" written by the grammar: each alternative with the other alternatives' complements
 * (complement.ts). Texts drawn from the grammar must pass the validator, and the report must call exclusivity
 * the grammar's.
 */
import { describe, expect, it } from "vitest";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { expectSound } from "./sound.js";

/** Texts the grammar admits and rejects (the JS matcher). */
function expectTexts(schema: JsonSchema, admitted: readonly string[], rejected: readonly string[]): void {
  const built = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
  for (const text of admitted) expect(built.builder.matches(built.root, text), `admits ${text}`).toBe(true);
  for (const text of rejected) expect(built.builder.matches(built.root, text), `rejects ${text}`).toBe(false);
}

function verdicts(schema: JsonSchema): Map<string, string> {
  return new Map(
    compileGrammar(schema)
      .report.filter((entry) => entry.pointer === "#")
      .map((entry) => [entry.keyword, entry.enforcement]),
  );
}

describe("oneOf of objects whose alternatives differ by patternProperties", () => {
  const bounded = { multipleOf: 10, maximum: 35 };

  it("an alternative the others' complements leave empty writes nothing, not every object", () => {
    // Every key matching "a" matches "a|b": the first alternative holds wherever the second does, so only values
    // of the second alone are valid (a key matching b, not a, whose value the first refuses).
    const schema: JsonSchema = {
      type: "object",
      oneOf: [{ patternProperties: { "a|b": bounded } }, { patternProperties: { a: bounded } }],
    };
    expectTexts(schema, ['{"b":7}', '{"b":40,"ab":30}'], ["{}", '{"a":7}', '{"b":20}', '{"x":1}']);
    expectSound(schema);
    expect(verdicts(schema).get("oneOf (exactly one)")).toBeUndefined();
    expect(verdicts(schema).get("not")).not.toBe("validator");
  });

  it("three alternatives, one key for two complements where maxProperties leaves room for one", () => {
    // x1 ⊂ x2 and x3 ⊂ x2: only x2 alone, a key matching a with a multiple of 5 in (60, 80].
    const schema: JsonSchema = {
      type: "object",
      maxProperties: 1,
      oneOf: [{ $ref: "#/$defs/x1" }, { $ref: "#/$defs/x2" }, { $ref: "#/$defs/x3" }],
      $defs: {
        x1: { patternProperties: { a: { multipleOf: 10, maximum: 20 } } },
        x2: { patternProperties: { a: { multipleOf: 5, maximum: 80 } } },
        x3: { patternProperties: { a: { multipleOf: 5, maximum: 60 } } },
      },
    };
    expectTexts(schema, ['{"a":65}', '{"ba":80}'], ["{}", '{"a":60}', '{"a":85}', '{"a":66}', '{"b":65}']);
    const values = expectSound(schema);
    expect(values.every((value) => Object.keys(value as object).length === 1)).toBe(true);
    expect(verdicts(schema).get("oneOf (exactly one)")).toBeUndefined();
  });

  it("overlapping multipleOfs, three alternatives", () => {
    const schema: JsonSchema = {
      type: "object",
      oneOf: [
        { patternProperties: { a: { multipleOf: 10, maximum: 20 } } },
        { patternProperties: { a: { multipleOf: 5, maximum: 100 } } },
        { patternProperties: { a: { multipleOf: 10, maximum: 80 } } },
      ],
    };
    expectTexts(schema, [], ["{}", '{"x":1}']);
    expectSound(schema);
    expect(verdicts(schema).get("oneOf (exactly one)")).toBeUndefined();
  });
});

describe("a definition used twice on one path is no recursion", () => {
  it("is expanded again under the smallest recursion cap (only reference cycles are cut)", () => {
    const schema: JsonSchema = {
      type: "object",
      allOf: [{ $ref: "#/$defs/named" }],
      properties: { child: { $ref: "#/$defs/named" } },
      required: ["child"],
      $defs: { named: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
    };
    const built = buildSchemaGrammar(normalizeSchema(schema), { ...DEFAULT_CAPS, recursion: 1 });
    const cut = built.report.entries().filter((entry) => entry.note?.includes("recursion expanded"));
    expect(cut).toEqual([]);
    // A reference cycle still is.
    const tree: JsonSchema = {
      type: "object",
      properties: { kids: { type: "array", items: { $ref: "#" } } },
    };
    const cyclic = buildSchemaGrammar(normalizeSchema(tree), { ...DEFAULT_CAPS, recursion: 1 });
    expect(cyclic.report.entries().some((entry) => entry.note?.includes("recursion expanded"))).toBe(true);
  });

  it("oneOf whose alternatives' complements name the same definitions, at the caps a token budget gives", () => {
    // Each alternative: keys matching a pattern hold a definition, and some such key holds it (not (all keys
    // refuse it)); its complement names the definition again, inside the definition's own expansion.
    const schema: JsonSchema = {
      type: "object",
      oneOf: [
        {
          allOf: [
            { patternProperties: { a: { $ref: "#/$defs/left" } } },
            { not: { patternProperties: { a: { not: { $ref: "#/$defs/left" } } } } },
          ],
        },
        {
          allOf: [
            { patternProperties: { b: { $ref: "#/$defs/right" } } },
            { not: { patternProperties: { b: { not: { $ref: "#/$defs/right" } } } } },
          ],
        },
      ],
      $defs: {
        left: { type: "object", not: { properties: { c: { not: { type: "string", pattern: "99" } } } } },
        right: { type: "object", properties: { c: { type: "string", pattern: "99" } } },
      },
    };
    const fitted = compileGrammar(schema, { maxTokens: 1024 });
    expect(fitted.caps.recursion).toBe(1);
    expect(fitted.report.find((entry) => entry.keyword === "oneOf (exactly one)")).toBeUndefined();
    expectSound(schema, 100, 1, fitted.caps);
  });
});

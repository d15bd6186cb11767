import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isEdgecrewError } from "../../../src/errors.js";
import type { JsonSchema } from "../../../src/types.js";
import { toGrammarSchema } from "../../../src/workers/grammarSchema.js";

// The converted schema as a plain record, so tests can look inside it.
function convert(
  schema: JsonSchema,
  options = {},
): { schema: Record<string, unknown>; dropped: readonly string[] } {
  const result = toGrammarSchema(schema, options);
  return { schema: result.schema as unknown as Record<string, unknown>, dropped: result.dropped };
}

function schemaInvalid(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isEdgecrewError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("SCHEMA_INVALID");
    return (error as Error).message;
  }
  throw new Error("expected SCHEMA_INVALID");
}

describe("toGrammarSchema: unions", () => {
  it("turns anyOf into oneOf (node-llama-cpp compiles anyOf to null only)", () => {
    const { schema } = convert({ anyOf: [{ type: "string", maxLength: 5 }, { type: "null" }] });
    expect(schema).toEqual({ oneOf: [{ type: "string", maxLength: 5 }, { type: "null" }] });
    expect(schema.anyOf).toBeUndefined();
  });

  it("converts nested anyOf inside properties, as zod's .nullable() emits it", () => {
    const json = z.toJSONSchema(z.object({ note: z.string().max(10).nullable() })) as JsonSchema;
    const { schema } = convert(json);
    expect(schema.properties).toEqual({
      note: { oneOf: [{ type: "string", maxLength: 10 }, { type: "null" }] },
    });
  });

  it("splits type: [a, null] into oneOf and still bounds the string", () => {
    const { schema } = convert({ type: ["string", "null"] });
    expect(schema).toEqual({ oneOf: [{ type: "string", maxLength: 256 }, { type: "null" }] });
  });

  it("splits type lists with several concrete types", () => {
    const { schema } = convert({ type: ["integer", "boolean"], minimum: 0, maximum: 2 });
    expect(schema).toEqual({ oneOf: [{ enum: [0, 1, 2] }, { type: "boolean" }] });
  });

  it("honours OpenAPI nullable: true", () => {
    const { schema } = convert({ type: "boolean", nullable: true } as JsonSchema);
    expect(schema).toEqual({ oneOf: [{ type: "boolean" }, { type: "null" }] });
  });

  it("keeps oneOf and reports that exclusivity is left to zod", () => {
    const { schema, dropped } = convert({ oneOf: [{ type: "integer" }, { type: "number" }] });
    expect(schema).toEqual({ oneOf: [{ type: "integer" }, { type: "number" }] });
    expect(dropped).toContain("(root): oneOf exclusivity");
  });

  it("drops a combinator that sits next to a type (it only adds constraints)", () => {
    const { schema, dropped } = convert({
      type: "object",
      properties: { a: { type: "boolean" } },
      anyOf: [{ required: ["a"] }],
    });
    expect(schema).toEqual({
      type: "object",
      properties: { a: { type: "boolean" } },
      additionalProperties: false,
    });
    expect(dropped).toContain("(root): anyOf");
  });
});

describe("toGrammarSchema: integers", () => {
  it("turns a small integer range into an enum", () => {
    const { schema, dropped } = convert({ type: "integer", minimum: 1, maximum: 5 });
    expect(schema).toEqual({ enum: [1, 2, 3, 4, 5] });
    expect(dropped).toEqual([]);
  });

  it("accepts exactly 64 values, not 65", () => {
    expect(convert({ type: "integer", minimum: 0, maximum: 63 }).schema.enum).toHaveLength(64);
    const wide = convert({ type: "integer", minimum: 0, maximum: 64 });
    expect(wide.schema).toEqual({ type: "integer" });
    expect(wide.dropped).toEqual(["(root): minimum", "(root): maximum"]);
  });

  it("uses exclusive bounds and multipleOf", () => {
    const { schema } = convert({ type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 10, multipleOf: 3 });
    expect(schema).toEqual({ enum: [3, 6, 9] });
  });

  it("honours a configurable range limit", () => {
    expect(convert({ type: "integer", minimum: 0, maximum: 9 }, { maxEnumRange: 5 }).schema).toEqual({
      type: "integer",
    });
  });

  it("leaves one-sided and zod's safe-integer ranges to zod", () => {
    expect(convert({ type: "integer", minimum: 0 }).schema).toEqual({ type: "integer" });
    const json = z.toJSONSchema(z.object({ n: z.int() })) as JsonSchema;
    const { schema, dropped } = convert(json);
    expect(schema.properties).toEqual({ n: { type: "integer" } });
    expect(dropped).toEqual(["n: minimum", "n: maximum"]);
  });

  it("drops number bounds (the grammar ignores them) and reports them", () => {
    const { schema, dropped } = convert({ type: "number", minimum: 0.5, maximum: 2 });
    expect(schema).toEqual({ type: "number" });
    expect(dropped).toEqual(["(root): minimum", "(root): maximum"]);
  });
});

describe("toGrammarSchema: strings", () => {
  it("gives an unbounded string the default maxLength", () => {
    expect(convert({ type: "string" }).schema).toEqual({ type: "string", maxLength: 256 });
  });

  it("makes the default configurable and never below minLength", () => {
    expect(convert({ type: "string" }, { defaultMaxLength: 40 }).schema).toEqual({
      type: "string",
      maxLength: 40,
    });
    expect(convert({ type: "string", minLength: 50 }, { defaultMaxLength: 40 }).schema).toEqual({
      type: "string",
      minLength: 50,
      maxLength: 50,
    });
  });

  it("keeps declared minLength and maxLength", () => {
    expect(convert({ type: "string", minLength: 2, maxLength: 8 }).schema).toEqual({
      type: "string",
      minLength: 2,
      maxLength: 8,
    });
  });

  it("caps lengths at what llama.cpp's grammar parser accepts (1999) and reports it", () => {
    const { schema, dropped } = convert({ type: "string", minLength: 2500, maxLength: 3000 });
    expect(schema).toEqual({ type: "string", minLength: 1999, maxLength: 1999 });
    expect(dropped).toEqual(["(root): minLength (capped to 1999)", "(root): maxLength (capped to 1999)"]);
    expect(convert({ type: "string" }, { defaultMaxLength: 5000 }).schema).toEqual({
      type: "string",
      maxLength: 1999,
    });
    expect(convert({ type: "string", maxLength: 1999 }).dropped).toEqual([]);
  });

  it("drops pattern and unsupported formats, keeping the string bounded", () => {
    const { schema, dropped } = convert({ type: "string", pattern: "^[a-z]+$", format: "email" });
    expect(schema).toEqual({ type: "string", maxLength: 256 });
    expect(dropped).toEqual(["(root): pattern", "(root): format"]);
  });

  it("keeps the date, time and date-time formats, leaving calendar validity (2023-02-30) to zod", () => {
    for (const format of ["date", "time", "date-time"]) {
      const { schema, dropped } = convert({ type: "string", format });
      expect(schema).toEqual({ type: "string", format });
      expect(dropped).toEqual(format === "time" ? [] : ["(root): format (calendar validity)"]);
    }
  });

  it("keeps enums and consts of primitives and drops their type", () => {
    expect(convert({ type: "string", enum: ["a", "b"] }).schema).toEqual({ enum: ["a", "b"] });
    expect(convert({ const: 3 }).schema).toEqual({ const: 3 });
    expect(convert({ enum: [null, 1, "x", true] }).schema).toEqual({ enum: [null, 1, "x", true] });
  });

  it("rejects enum and const values the grammar cannot write", () => {
    schemaInvalid(() => convert({ enum: [{ a: 1 }] }));
    schemaInvalid(() => convert({ const: [1] }));
  });
});

describe("toGrammarSchema: objects and arrays", () => {
  it("closes objects with additionalProperties: false unless given", () => {
    expect(convert({ type: "object", properties: { a: { type: "boolean" } } }).schema).toEqual({
      type: "object",
      properties: { a: { type: "boolean" } },
      additionalProperties: false,
    });
    expect(convert({ type: "object", additionalProperties: true }).schema).toEqual({
      type: "object",
      properties: {},
      additionalProperties: true,
    });
    expect(
      convert({ type: "object", additionalProperties: { type: "string" }, maxProperties: 3 }).schema,
    ).toEqual({
      type: "object",
      properties: {},
      additionalProperties: { type: "string", maxLength: 256 },
      maxProperties: 3,
    });
  });

  it("infers object and array types from their keywords", () => {
    expect(convert({ properties: { a: { type: "null" } } }).schema.type).toBe("object");
    expect(convert({ items: { type: "null" } }).schema.type).toBe("array");
  });

  it("converts nested objects recursively", () => {
    const { schema } = convert({
      type: "object",
      properties: {
        inner: { type: "object", properties: { n: { type: "integer", minimum: 0, maximum: 2 } } },
      },
    });
    expect(schema.properties).toEqual({
      inner: { type: "object", properties: { n: { enum: [0, 1, 2] } }, additionalProperties: false },
    });
  });

  it("keeps minItems and maxItems and converts items", () => {
    expect(convert({ type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 }).schema).toEqual({
      type: "array",
      items: { type: "string", maxLength: 256 },
      minItems: 1,
      maxItems: 3,
    });
  });

  it("caps item and property counts above the repetition limit", () => {
    const { schema, dropped } = convert({
      type: "array",
      items: { type: "null" },
      minItems: 1000,
      maxItems: 9000,
    });
    expect(schema).toEqual({ type: "array", items: { type: "null" }, minItems: 999, maxItems: 999 });
    expect(dropped).toEqual(["(root): maxItems (capped to 999)", "(root): minItems (capped to 999)"]);
    expect(
      convert({ type: "object", additionalProperties: { type: "null" }, maxProperties: 1000 }).schema
        .maxProperties,
    ).toBe(999);
  });

  it("bounds arrays only when asked to", () => {
    expect(convert({ type: "array", items: { type: "boolean" } }).schema).toEqual({
      type: "array",
      items: { type: "boolean" },
    });
    expect(convert({ type: "array", items: { type: "boolean" } }, { defaultMaxItems: 4 }).schema).toEqual({
      type: "array",
      items: { type: "boolean" },
      maxItems: 4,
    });
  });

  it("converts prefixItems and closes a tuple with items: false", () => {
    expect(
      convert({
        type: "array",
        prefixItems: [{ type: "boolean" }, { anyOf: [{ const: 1 }, { const: 2 }] }],
        items: false,
      }).schema,
    ).toEqual({
      type: "array",
      prefixItems: [{ type: "boolean" }, { oneOf: [{ const: 1 }, { const: 2 }] }],
      maxItems: 2,
    });
  });

  it("reports array and object keywords the grammar cannot enforce", () => {
    const { dropped } = convert({
      type: "object",
      properties: { list: { type: "array", items: { type: "integer" }, uniqueItems: true } },
      propertyNames: { maxLength: 3 },
    });
    expect(dropped).toEqual(["list: uniqueItems", "(root): propertyNames"]);
  });

  it("merges allOf into its parent", () => {
    const { schema, dropped } = convert({
      allOf: [
        { type: "object", properties: { a: { type: "boolean" } }, required: ["a"] },
        { properties: { b: { type: "null" } } },
      ],
    });
    expect(schema).toEqual({
      type: "object",
      properties: { a: { type: "boolean" }, b: { type: "null" } },
      additionalProperties: false,
    });
    expect(dropped).toContain("(root): allOf (merged)");
  });
});

describe("toGrammarSchema: references and edge cases", () => {
  it("rewrites $defs and definitions references to safe names under the root's $defs", () => {
    const { schema } = convert({
      type: "object",
      properties: { a: { $ref: "#/$defs/my-item" }, b: { $ref: "#/definitions/Other" } },
      $defs: { "my-item": { type: "string" } },
      definitions: { Other: { type: "integer", minimum: 1, maximum: 2 } },
    });
    const defs = schema.$defs as Record<string, unknown>;
    const props = schema.properties as Record<string, { $ref: string }>;
    const aName = props.a?.$ref.replace("#/$defs/", "") ?? "";
    const bName = props.b?.$ref.replace("#/$defs/", "") ?? "";
    expect(aName).toMatch(/^[A-Za-z0-9_]+$/);
    expect(defs[aName]).toEqual({ type: "string", maxLength: 256 });
    expect(defs[bName]).toEqual({ enum: [1, 2] });
  });

  it("supports recursive definitions", () => {
    const { schema } = convert({
      $ref: "#/$defs/node",
      $defs: {
        node: {
          type: "object",
          properties: { children: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 } },
        },
      },
    });
    expect(typeof schema.$ref).toBe("string");
    expect(Object.keys(schema.$defs as object)).toHaveLength(1);
  });

  it("wraps a root that cannot carry $defs in a oneOf", () => {
    const { schema } = convert({ type: "string", $defs: { unused: { type: "null" } } });
    expect(schema.oneOf).toEqual([{ type: "string", maxLength: 256 }]);
    expect(schema.$defs).toBeDefined();
  });

  it("rejects references it cannot resolve", () => {
    expect(schemaInvalid(() => convert({ $ref: "#/$defs/missing" }))).toMatch(/missing/);
    schemaInvalid(() => convert({ $ref: "https://example.com/schema.json" }));
    schemaInvalid(() => convert({ properties: { a: { $ref: "#/properties/b" } } }));
  });

  it("narrows an empty schema to bounded primitives instead of null only", () => {
    expect(convert({}).schema).toEqual({
      oneOf: [{ type: "string", maxLength: 256 }, { type: "number" }, { type: "boolean" }, { type: "null" }],
    });
  });

  it("rejects false schemas and unknown types", () => {
    schemaInvalid(() => convert({ type: "object", properties: { a: false } }));
    expect(schemaInvalid(() => convert({ type: "date" }))).toMatch(/unknown type/);
  });

  it("drops annotations and reports not/if/then/else", () => {
    const { schema, dropped } = convert({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "T",
      type: "boolean",
      not: { const: false },
    });
    expect(schema).toEqual({ type: "boolean" });
    expect(dropped).toEqual(["(root): not"]);
  });

  it("keeps descriptions", () => {
    expect(convert({ type: "integer", minimum: 0, maximum: 1, description: "flag" }).schema).toEqual({
      enum: [0, 1],
      description: "flag",
    });
  });
});

import { describe, expect, it } from "vitest";
import { isEdgecrewError } from "../../../src/errors.js";
import { compileGrammar } from "../../../src/schema/grammar/index.js";
import { compileSchema, describeSchema, parseJsonAgainst } from "../../../src/schema/index.js";

const trip = {
  type: "object",
  properties: {
    title: { type: "string", maxLength: 40, description: "a short title" },
    days: { type: "integer", minimum: 1, maximum: 7 },
    tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 },
    mode: { enum: ["car", "train"] },
    note: { anyOf: [{ type: "string" }, { type: "null" }] },
    stop: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
  required: ["title", "days", "stop"],
  additionalProperties: false,
};

describe("compileSchema", () => {
  it("resolves $ref to the root (recursive schemas), also from definitions", () => {
    const tree = compileSchema({
      type: "object",
      properties: { n: { type: "integer" }, child: { $ref: "#" }, more: { $ref: "#/definitions/more" } },
      definitions: { more: { type: "array", items: { $ref: "#" } } },
    });
    expect(tree.validate({ n: 1, child: { n: 2, more: [{ n: 3 }] } }).ok).toBe(true);
    expect(tree.validate({ child: { more: [{ n: "x" }] } })).toMatchObject({ ok: false });
  });

  it("a draft-04 schema's $id (not a keyword there) does not move its $refs' base (JSON Schema Store cryproj)", () => {
    const schema = {
      $schema: "http://json-schema.org/draft-04/schema#",
      id: "https://json.schemastore.org/example.json",
      definitions: { cvars: { $id: "/definitions/cvars", enum: ["sys_a", "sys_b"] } },
      type: "object",
      properties: { name: { $id: "/properties/name", $ref: "#/definitions/cvars" } },
      required: ["name"],
    };
    const compiled = compileSchema(schema);
    expect(compiled.validate({ name: "sys_a" }).ok).toBe(true);
    expect(compiled.validate({ name: "other" })).toMatchObject({ ok: false });
    const grammar = compileGrammar(schema);
    expect(grammar.report.filter((item) => item.enforcement === "unsupported")).toEqual([]);
    expect(grammar.gbnf).toContain("sys_b");
  });

  it("judges a value's own properties only: an object without toString or constructor is not refused", () => {
    const compiled = compileSchema({
      type: "object",
      properties: { toString: { type: "string" }, constructor: { type: "string" } },
    });
    expect(compiled.validate({}).ok).toBe(true);
    expect(compiled.validate({ constructor: 1 })).toMatchObject({ ok: false });
  });

  it("accepts a valid value and returns it", () => {
    const value = {
      title: "Alps",
      days: 3,
      tags: ["hike"],
      mode: "train",
      note: null,
      stop: { city: "Bern" },
    };
    expect(compileSchema(trip).validate(value)).toEqual({ ok: true, value });
  });

  it("lists every problem with its path", () => {
    const result = compileSchema(trip).validate({
      title: "x".repeat(41),
      days: 9,
      tags: [],
      extra: 1,
      stop: {},
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const joined = result.errors.join("\n");
    expect(joined).toMatch(/^title: /m);
    expect(joined).toMatch(/^days: .*<= ?7/m);
    expect(joined).toMatch(/^tags: /m);
    expect(joined).toMatch(/^stop\.city: /m);
    expect(joined).toMatch(/extra/);
  });

  it("checks contains afresh for each array of a loop (ajv 8.20 let an empty array after a matching one pass)", () => {
    const nested = compileSchema({ type: "array", items: { type: "array", contains: { const: 1 } } });
    expect(nested.validate([[1], []])).toEqual({
      ok: false,
      errors: ["[1]: must contain at least 1 valid item(s)"],
    });
    expect(nested.validate([[1], [2, 1]]).ok).toBe(true);
    expect(nested.validate([]).ok).toBe(true);
    const counted = compileSchema({
      type: "array",
      items: { type: "array", contains: { const: 1 }, minContains: 2 },
    });
    expect(counted.validate([[1, 1], [1]])).toEqual({
      ok: false,
      errors: ["[1]: must contain at least 2 valid item(s)"],
    });
    // Data is not rewritten: a const that looks like a schema with contains stays as it is.
    const data = compileSchema({ const: { contains: 1 } });
    expect(data.validate({ contains: 1 }).ok).toBe(true);
    expect(data.validate({ contains: 1, maxContains: Number.MAX_SAFE_INTEGER }).ok).toBe(false);
  });

  it("judges a value ajv's all-errors code throws on, with its first-error code (never throws)", () => {
    // ajv 8.20 throws "Cannot set properties of undefined" here (JSONSchemaBench Handwritten allOfPProp9).
    const schema = compileSchema({
      allOf: [
        {
          anyOf: [
            { patternProperties: { "^.$": true }, additionalProperties: false },
            { patternProperties: { a$: true }, additionalProperties: false },
          ],
        },
      ],
      patternProperties: { a: {} },
    });
    expect(schema.validate({ b: 1, eXa: 1 })).toMatchObject({ ok: false });
    expect(schema.validate({ b: 1, c: 2 }).ok).toBe(true);
    expect(schema.validate({ xa: 1, yya: 2 }).ok).toBe(true);
  });

  it("caches per schema object", () => {
    expect(compileSchema(trip)).toBe(compileSchema(trip));
  });

  it("throws SCHEMA_INVALID for an unusable schema", () => {
    try {
      compileSchema({ type: "object", properties: { a: { $ref: "#/$defs/missing" } } });
      expect.unreachable("should have thrown");
    } catch (error) {
      expect(isEdgecrewError(error) && error.code).toBe("SCHEMA_INVALID");
    }
  });

  it("parse throws a ValidationError carrying the errors", () => {
    expect(() => compileSchema(trip).parse({})).toThrow(/title/);
  });

  it("parseJsonAgainst reports text that is not JSON", () => {
    const result = parseJsonAgainst(compileSchema(trip), "{ nope");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatch(/^\(root\): not valid JSON/);
  });
});

describe("describeSchema", () => {
  it("names every field with its type, bounds and whether it is required", () => {
    const text = describeSchema(trip);
    expect(text).toContain('- "title" (string at most 40 characters, required): a short title');
    expect(text).toContain('- "days" (integer from 1 to 7, required)');
    expect(text).toContain('- "tags" (array of string, 1 to 3 items, optional)');
    expect(text).toContain('- "mode" (one of "car", "train", optional)');
    expect(text).toContain('- "note" (string or null, optional)');
    expect(text).toContain('  - "city" (string, required)');
  });
});

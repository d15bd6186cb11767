/**
 * The schema → grammar compiler, keyword family by keyword family: what the emitted GBNF admits and rejects,
 * checked with llama.cpp's own parser, and random texts drawn from the grammar, each of which the validator
 * (ajv) must accept. A grammar that admitted one invalid text would break the product's promise.
 */
import type { Llama } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { isEdgecrewError } from "../../../../src/errors.js";
import { compileSchema } from "../../../../src/schema/compile.js";
import { compileGrammar } from "../../../../src/schema/grammar/index.js";
import type { JsonSchema } from "../../../../src/types.js";
import { gbnfAccepts, gbnfParses, llamaBackend } from "./llamaGrammar.js";
import { expectSound } from "./sound.js";

let llama: Llama;
beforeAll(async () => {
  llama = await llamaBackend();
});

/** Texts the grammar of `schema` admits (llama.cpp's matcher) and rejects. */
function expectTexts(schema: JsonSchema, admitted: readonly string[], rejected: readonly string[]): void {
  const { gbnf } = compileGrammar(schema);
  for (const text of admitted) expect(gbnfAccepts(llama, gbnf, text), `admits ${text}`).toBe(true);
  for (const text of rejected) expect(gbnfAccepts(llama, gbnf, text), `rejects ${text}`).toBe(false);
}

function enforcement(schema: JsonSchema, keyword: string, pointer = "#"): string | undefined {
  return compileGrammar(schema).report.find((entry) => entry.keyword === keyword && entry.pointer === pointer)
    ?.enforcement;
}

describe("objects", () => {
  const person: JsonSchema = {
    type: "object",
    properties: {
      name: { type: "string", maxLength: 10 },
      age: { type: "integer", minimum: 0, maximum: 150 },
      email: { type: "string", format: "email" },
    },
    required: ["name"],
    additionalProperties: false,
  };

  it("writes required properties and any subset of optional ones, in order", () => {
    expectTexts(
      person,
      [
        '{"name":"Ada"}',
        '{"name":"Ada","age":36}',
        '{"name": "Ada", "email": "a@b.co"}',
        '{"name":"A","age":1,"email":"x@y.io"}',
      ],
      ['{"age":36}', '{"name":"Ada","age":200}', '{"name":"Ada","extra":1}', '{"name":"Ada",}', "{}"],
    );
    const values = expectSound(person, 200) as Record<string, unknown>[];
    // Optional properties are really left out sometimes, and written sometimes.
    expect(values.some((value) => value.age === undefined)).toBe(true);
    expect(values.some((value) => value.age !== undefined)).toBe(true);
  });

  it("additionalProperties: a schema admits extra keys (not declared names) with valid values", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: { id: { type: "integer" } },
      required: ["id"],
      additionalProperties: { type: "boolean" },
    };
    expectTexts(
      schema,
      ['{"id":1}', '{"id":1,"x":true}', '{"id":1,"a":false,"b":true}'],
      ['{"id":1,"x":3}', '{"id":1,"id":true}'],
    );
    expectSound(schema);
  });

  it("a free-form object admits members; absent additionalProperties next to declared ones writes only those", () => {
    expectTexts({ type: "object" }, ["{}", '{"a":1}', '{"a":"x","b":[1,2]}'], ["[]"]);
    const declared: JsonSchema = { type: "object", properties: { a: { type: "integer" } } };
    expectTexts(declared, ["{}", '{"a":1}'], ['{"b":1}']);
    expect(compileGrammar(declared).report).toContainEqual({
      pointer: "#",
      keyword: "properties",
      enforcement: "grammar",
      note: "only declared properties are written",
    });
  });

  it("patternProperties and propertyNames shape the added keys", () => {
    const schema: JsonSchema = {
      type: "object",
      patternProperties: { "^x-[a-z]+$": { type: "string", maxLength: 3 } },
      additionalProperties: false,
    };
    expectTexts(
      schema,
      ["{}", '{"x-ab":"v"}', '{"x-a":"1","x-b":"2"}'],
      ['{"y":"v"}', '{"x-1":"v"}', '{"x-a":1}'],
    );
    expectSound(schema);
    const names: JsonSchema = {
      type: "object",
      propertyNames: { pattern: "^[A-Z]{2}$" },
      additionalProperties: { type: "integer" },
    };
    expectTexts(names, ['{"NO":47}', "{}"], ['{"no":47}', '{"NOR":47}']);
    expectSound(names);
  });

  it("a declared name matching patternProperties satisfies their schemas; overlapping patterns are the validator's", () => {
    // JSONSchemaBench Handwritten allOfPProp1/2: keys were written for one pattern while another forbade them,
    // and the report said the grammar enforced it.
    const named: JsonSchema = {
      type: "object",
      properties: { ab: { type: "string" } },
      patternProperties: { "^a": { type: "string", maxLength: 2 }, "^z": { type: "string" } },
      additionalProperties: false,
    };
    expectTexts(named, ['{"ab":"xy"}', '{"zz":"q"}'], ['{"ab":"xyz"}']);
    expectSound(named);
    expect(enforcement(named, "patternProperties")).not.toBe("validator");
    // Patterns that may share keys (here "a" and "^.{1,3}$"): the grammar writes each pattern's keys with its
    // own schema and says the others' are checked after decoding.
    const overlapping: JsonSchema = {
      type: "object",
      patternProperties: { a: { type: "string" }, "^.{1,3}$": false },
      additionalProperties: false,
    };
    expectTexts(overlapping, ['{"zzzza":"q"}'], ['{"zzzza":1}', '{"b":1}']);
    expect(enforcement(overlapping, "patternProperties")).toBe("validator");
    // Patterns anchored on different literal beginnings share no key: each keeps its own schema, all in grammar.
    const disjoint: JsonSchema = {
      type: "object",
      patternProperties: { "^x-": { type: "integer" }, "^name:": { type: "string" } },
      additionalProperties: false,
    };
    expectTexts(disjoint, ['{"x-a":1,"name:en":"n"}'], ['{"x-a":"n"}', '{"name:en":1}']);
    expectSound(disjoint);
    expect(enforcement(disjoint, "patternProperties")).not.toBe("validator");
  });

  it("keys of a pattern with a few matches are written as names, each once (no duplicate defeats minProperties)", () => {
    // JSONSchemaBench Handwritten dep5: {"d":1,"d":2,"c":3} has two properties once parsed.
    const schema: JsonSchema = {
      type: "object",
      patternProperties: { "^[a-d]$": { type: "integer" } },
      additionalProperties: false,
      minProperties: 3,
    };
    expectTexts(
      schema,
      ['{"a":1,"b":2,"c":3}', '{"a":1,"b":2,"c":3,"d":4}'],
      ['{"d":1,"d":2,"c":3}', '{"a":1,"b":2}'],
    );
    expectSound(schema);
    expect(enforcement(schema, "minProperties")).toBe("grammar");
  });

  it("allOf members with additionalProperties: false allow only keys every member declares", () => {
    // A pattern of one member and the other's additionalProperties: false need an intersection of patterns:
    // the merge writes it as a region of keys matching both (regions.ts).
    const patterns: JsonSchema = {
      type: "object",
      allOf: [
        { patternProperties: { a: true }, additionalProperties: false },
        { patternProperties: { b: true }, additionalProperties: false },
      ],
    };
    expect(enforcement(patterns, "allOf")).toBe("grammar");
    expect(enforcement(patterns, "additionalProperties", "#/allOf/0")).toBe("grammar");
    expect(enforcement(patterns, "additionalProperties", "#/allOf/1")).toBe("grammar");
    expectTexts(patterns, ['{"ab":1}', '{"xbya":null}', "{}"], ['{"a":1}', '{"b":1}']);
    expectSound(patterns);
    // Declared names are exact: a name the other member forbids is not written, a matching pattern's schema
    // applies to a declared name, and the other member's additionalProperties schema to its names.
    const named: JsonSchema = {
      type: "object",
      allOf: [
        {
          properties: { id: { type: "integer" }, extra: {} },
          patternProperties: { "^i": { minimum: 3 } },
          additionalProperties: false,
        },
        { properties: { name: { type: "string" } } },
      ],
    };
    expectTexts(named, ['{"id":3}', "{}"], ['{"id":1}', '{"name":"n"}']);
    expectSound(named);
    const typed: JsonSchema = {
      type: "object",
      allOf: [
        { properties: { id: {} }, additionalProperties: { type: "string" } },
        { properties: { n: { maxLength: 2 } } },
      ],
    };
    expectTexts(typed, ['{"n":"ab"}', '{"id":3}'], ['{"n":1}', '{"n":"abc"}']);
    expectSound(typed);
  });

  it("minProperties, maxProperties and dependentRequired are enforced by the grammar", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: { a: { const: 1 }, b: { const: 2 }, c: { const: 3 } },
      minProperties: 1,
      maxProperties: 2,
      dependentRequired: { a: ["c"] },
      additionalProperties: false,
    };
    expectTexts(
      schema,
      ['{"b":2}', '{"a":1,"c":3}', '{"b":2,"c":3}'],
      ["{}", '{"a":1}', '{"a":1,"b":2,"c":3}', '{"a":1,"b":2}'],
    );
    expectSound(schema, 300);
    expect(enforcement(schema, "dependentRequired")).toBe("grammar");
    expect(enforcement(schema, "maxProperties")).toBe("grammar");
  });

  it("a required property that is not declared is written with the additional schema", () => {
    const schema: JsonSchema = {
      type: "object",
      required: ["id"],
      additionalProperties: { type: "integer" },
    };
    expectTexts(schema, ['{"id":3}', '{"id":3,"x":1}'], ["{}", '{"id":"3"}']);
    expectSound(schema);
  });
});

describe("arrays", () => {
  it("items, minItems and maxItems", () => {
    const schema: JsonSchema = {
      type: "array",
      items: { type: "integer", minimum: 1, maximum: 9 },
      minItems: 1,
      maxItems: 3,
    };
    expectTexts(schema, ["[1]", "[1,2,3]", "[1, 2]"], ["[]", "[1,2,3,4]", "[0]", "[1,]"]);
    expectSound(schema);
  });

  it("prefixItems as a closed or open tuple, draft-07 items arrays too", () => {
    const closed: JsonSchema = {
      type: "array",
      prefixItems: [{ type: "string", maxLength: 2 }, { type: "boolean" }],
      items: false,
    };
    expectTexts(closed, ['["a",true]', '["a"]', "[]"], ['["a",true,1]', "[true]"]);
    expectSound(closed);
    const draft7: JsonSchema = {
      type: "array",
      items: [{ const: "x" }],
      additionalItems: { type: "integer" },
      minItems: 2,
    };
    expectTexts(draft7, ['["x",1]', '["x",1,2]'], ['["x"]', '["x","y"]', "[1,1]"]);
    expectSound(draft7);
  });

  it("contains: at least one item matches", () => {
    const schema: JsonSchema = {
      type: "array",
      items: { type: "integer" },
      contains: { const: 7 },
      maxItems: 4,
    };
    expectTexts(schema, ["[7]", "[1,7]", "[7,1,2]"], ["[]", "[1,2]"]);
    const values = expectSound(schema) as number[][];
    expect(values.every((value) => value.includes(7))).toBe(true);
  });

  it("uniqueItems is the validator's", () => {
    expect(enforcement({ type: "array", uniqueItems: true }, "uniqueItems")).toBe("validator");
  });
});

describe("scalars", () => {
  it("a string with minLength above maxLength admits nothing (an anyOf alternative of them is dropped)", () => {
    expectTexts(
      {
        anyOf: [
          { type: "string", minLength: 11, maxLength: 5 },
          { type: "integer", minimum: 0, maximum: 9 },
        ],
      },
      ["3"],
      ['"abcdefghijk"', '"abcde"'],
    );
    const schema: JsonSchema = {
      type: "string",
      allOf: [
        { anyOf: [{ pattern: "^p" }, { minLength: 11 }] },
        { anyOf: [{ pattern: "55" }, { maxLength: 5 }] },
      ],
    };
    expectTexts(schema, ['"p55"', '"p"', '"abcdefgh55k"'], ['"abcdefghijk"']);
    expectSound(schema, 200);
  });

  it("numbers stay finite and within minimum/maximum", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        count: { type: "integer", minimum: 1, maximum: 10 },
        ratio: { type: "number", exclusiveMinimum: 0, maximum: 1 },
      },
      required: ["count", "ratio"],
      additionalProperties: false,
    };
    expectTexts(
      schema,
      ['{"count":1,"ratio":0.5}', '{"count":10,"ratio":1}'],
      [
        '{"count":0,"ratio":0.5}',
        '{"count":11,"ratio":1}',
        '{"count":2,"ratio":0}',
        '{"count":2,"ratio":1e400}',
        '{"count":2,"ratio":1.5}',
      ],
    );
    const values = expectSound(schema, 300) as { ratio: number }[];
    expect(values.every((value) => Number.isFinite(value.ratio))).toBe(true);
    expect(enforcement(schema, "minimum", "#/properties/count")).toBe("grammar");
    // multipleOf is a remainder automaton in the grammar; where that automaton would be too large, a list of the
    // multiples nearest zero; where fewer than 8 of those are found, the validator's.
    expect(enforcement({ type: "number", multipleOf: 0.5 }, "multipleOf")).toBe("grammar");
    const listed = { type: "integer", minimum: 1, maximum: 99999, multipleOf: 1009 } as const;
    expect(compileGrammar(listed).report.find((entry) => entry.keyword === "multipleOf")?.note).toMatch(
      /nearest zero/,
    );
    expectTexts(listed, ["1009", "32288"], ["0", "1010", "33297"]);
    expect(
      enforcement({ type: "integer", minimum: 1, maximum: 99999999, multipleOf: 1000003 }, "multipleOf"),
    ).toBe("validator");
  });

  it("unbounded numbers never overflow to Infinity", () => {
    const values = expectSound({ type: "array", items: { type: "number" }, minItems: 8 }, 100) as number[][];
    expect(values.flat().every(Number.isFinite)).toBe(true);
  });

  it("strings: lengths count characters, escapes are canonical JSON", () => {
    const schema: JsonSchema = { type: "string", minLength: 2, maxLength: 3 };
    expectTexts(
      schema,
      ['"ab"', '"abc"', '"a\\"b"', '"🙂🙂"', '"a\\nb"'],
      ['"a"', '"abcd"', '"a\nb"', '"\\u0041b"'],
    );
    expectSound(schema);
  });

  it("format and pattern", () => {
    expectTexts({ type: "string", format: "date" }, ['"2024-02-29"'], ['"2023-02-29"', '"yesterday"']);
    expectTexts({ type: "string", pattern: "^[A-Z]{3}-\\d{2}$" }, ['"ABC-12"'], ['"AB-12"', '"abc-12"']);
    expectSound({ type: "string", format: "uri" });
    expectSound({ type: "string", pattern: "^[a-z]+@[a-z]+\\.com$", maxLength: 30 });
  });

  it("enum, const, type lists and OpenAPI nullable", () => {
    expectTexts({ enum: ["a", 1, null, { x: [true] }] }, ['"a"', "1", "null", '{"x":[true]}'], ['"b"', "2"]);
    expectTexts({ const: "on" }, ['"on"'], ['"off"']);
    expectTexts({ type: ["integer", "null"] }, ["3", "null"], ['"3"', "3.5"]);
    expectTexts({ type: "string", maxLength: 2, nullable: true }, ['"ab"', "null"], ["1"]);
  });
});

describe("defaults", () => {
  it("always writes an optional property whose schema refuses its own default, so no invalid default is filled in", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        path: { type: "string", maxLength: 8, default: 5 },
        level: { type: "integer", minimum: 1, maximum: 3, default: 2 },
      },
      additionalProperties: false,
    };
    expectTexts(schema, ['{"path":"a"}', '{"path":"a","level":3}'], ["{}", '{"level":1}']);
    expectSound(schema);
    // A valid default stays optional, even one the grammar's format would not write (the validator decides).
    expectTexts(
      {
        type: "object",
        properties: {
          data: {
            type: "string",
            format: "uri",
            default:
              "https://raw.githubusercontent.com/modelcontextprotocol/servers/refs/heads/main/README.md",
          },
        },
      },
      ["{}", '{"data":"https://example.com/a"}'],
      [],
    );
    expect(compileGrammar(schema).report).toContainEqual({
      pointer: "#/properties/path",
      keyword: "default",
      enforcement: "validator",
      note: "its schema refuses it: the property is always written",
    });
  });
});

describe("numeric formats", () => {
  it("int32 and int64 write integers, int32 within 32 bits, also under type number", () => {
    expectTexts(
      { type: "integer", format: "int32" },
      ["2147483647", "-2147483648", "0"],
      ["2147483648", "-2147483649", "1.5"],
    );
    expectTexts(
      { type: "number", format: "int32", minimum: 0 },
      ["7", "2147483647"],
      ["1.5", "-1", "2147483648"],
    );
    expectTexts({ type: "number", format: "int64" }, ["12", "-9007199254740991"], ["0.5", "1e3"]);
    expectSound({ type: "object", properties: { n: { type: "number", format: "int32" } }, required: ["n"] });
    expect(enforcement({ type: "integer", format: "int32" }, "format")).toBe("grammar");
  });
});

describe("combinators and references", () => {
  it("anyOf and oneOf alternatives, with sibling keywords applied to each", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: { a: { type: "integer" }, b: { type: "integer" } },
      additionalProperties: false,
      anyOf: [{ required: ["a"] }, { required: ["b"] }],
    };
    expectTexts(schema, ['{"a":1}', '{"b":2}', '{"a":1,"b":2}'], ["{}"]);
    expectSound(schema);
    const one: JsonSchema = { oneOf: [{ type: "string", maxLength: 2 }, { type: "integer" }] };
    expectTexts(one, ['"ab"', "3"], ["true"]);
    // A oneOf whose members' complements cannot be written: exclusivity is the validator's.
    const patterned: JsonSchema = {
      oneOf: [
        { type: "string", format: "email" },
        { type: "string", format: "uri" },
      ],
    };
    expect(enforcement(patterned, "oneOf (exactly one)")).toBe("validator");
  });

  it("oneOf exclusivity through the other members' complements", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: { a: { type: "integer" }, b: { type: "integer" } },
      additionalProperties: false,
      oneOf: [{ required: ["a"] }, { required: ["b"] }],
    };
    expectTexts(schema, ['{"a":1}', '{"b":2}'], ["{}", '{"a":1,"b":2}']);
    expect(enforcement(schema, "oneOf")).toBe("grammar");
    expectSound(schema);
    // Overlapping ranges: only the parts where exactly one holds.
    const ranges: JsonSchema = { type: "integer", oneOf: [{ maximum: 20 }, { minimum: 10, maximum: 30 }] };
    expectTexts(ranges, ["5", "9", "21", "30"], ["10", "15", "20", "31"]);
    expectSound(ranges);
  });

  it("a property named like an Object.prototype member merges as itself (JSONSchemaBench Github_ultra o19184)", () => {
    const schema: JsonSchema = {
      allOf: [
        { type: "object", properties: { constructor: { type: "string" }, toString: { type: "string" } } },
        { properties: { constructor: { maxLength: 3 } }, required: ["constructor"] },
      ],
    };
    expectTexts(schema, ['{"constructor":"abc"}'], ['{"constructor":1}', '{"constructor":"abcd"}']);
    expectSound(schema);
  });

  it("allOf is merged: properties united, bounds tightened", () => {
    const schema: JsonSchema = {
      allOf: [
        { type: "object", properties: { a: { type: "integer", minimum: 0 } }, required: ["a"] },
        { properties: { a: { maximum: 5 }, b: { type: "boolean" } }, required: ["b"] },
      ],
    };
    expectTexts(schema, ['{"a":3,"b":true}'], ['{"a":6,"b":true}', '{"a":3}', '{"b":true}']);
    expectSound(schema);
  });

  it("allOf merges items with another member's prefixItems position by position", () => {
    const schema: JsonSchema = {
      allOf: [
        { type: "array", items: { type: "integer" } },
        { prefixItems: [{ minimum: 5 }], items: { maximum: 9 } },
      ],
    };
    expectTexts(schema, ["[]", "[5]", "[5,9]", "[7,1]"], ["[5.5]", "[4]", "[5,10]", '["x"]', "[5,1.5]"]);
    expectSound(schema);
  });

  it("$ref to $defs, definitions and nested pointers; recursion bounded", () => {
    const tree: JsonSchema = {
      $defs: {
        node: {
          type: "object",
          properties: {
            v: { type: "integer", minimum: 0, maximum: 9 },
            kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 },
          },
          required: ["v"],
          additionalProperties: false,
        },
      },
      $ref: "#/$defs/node",
    };
    expectTexts(tree, ['{"v":1}', '{"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]}'], ['{"v":1,"kids":[{}]}']);
    const grammar = compileGrammar(tree);
    expect(Number.isFinite(grammar.maxTokens)).toBe(true);
    expectSound(tree, 100);
    const draft4: JsonSchema = {
      $schema: "http://json-schema.org/draft-04/schema#",
      definitions: { pos: { type: "integer", minimum: 1, exclusiveMinimum: true } },
      properties: { n: { $ref: "#/definitions/pos" }, m: { $ref: "#/properties/n" } },
      required: ["n", "m"],
      additionalProperties: false,
    };
    expectTexts(draft4, ['{"n":2,"m":3}'], ['{"n":1,"m":3}']);
  });

  it("not is written through its complement: strings, enums, required, bounds, nested not", () => {
    const word: JsonSchema = { type: "string", maxLength: 4, not: { enum: ["ab", "x"] } };
    expectTexts(word, ['"a"', '"abc"', '"xy"', '""'], ['"ab"', '"x"']);
    expect(enforcement(word, "not")).toBe("grammar");
    expectSound(word);
    const mixed: JsonSchema = { not: { enum: ["x", 1, true, null] } };
    expectTexts(mixed, ['"y"', "0", "1.5", "false", "[]", "{}"], ['"x"', "1", "true", "null"]);
    expectSound(mixed);
    const absent: JsonSchema = {
      type: "object",
      properties: { a: { type: "integer" }, b: { type: "integer" } },
      not: { required: ["a", "b"] },
    };
    expectTexts(absent, ["{}", '{"a":1}', '{"b":1}'], ['{"a":1,"b":2}']);
    expectSound(absent);
    const range: JsonSchema = { type: "integer", minimum: 0, maximum: 20, not: { minimum: 5, maximum: 15 } };
    expectTexts(range, ["0", "4", "16", "20"], ["5", "10", "15", "21"]);
    expectSound(range);
    const property: JsonSchema = {
      type: "object",
      properties: { kind: { enum: ["a", "b", "c"] } },
      required: ["kind"],
      additionalProperties: false,
      not: { properties: { kind: { const: "b" } } },
    };
    expectTexts(property, ['{"kind":"a"}', '{"kind":"c"}'], ['{"kind":"b"}']);
    expectSound(property);
    expectSound({ type: "array", maxItems: 4, not: { contains: { const: 3 } }, items: { enum: [1, 2, 3] } });
    expectSound({ not: { not: { type: "string", maxLength: 3 } } });
    // A nested const: its members' complements are written as the compiler reaches them, level by level.
    const nested: JsonSchema = {
      type: "object",
      properties: {
        a: {
          type: "array",
          maxItems: 4,
          items: { type: "object", properties: { b: { type: "integer" } }, additionalProperties: false },
        },
      },
      additionalProperties: false,
      not: { const: { a: [{ b: 1 }, { b: 2 }, { b: 3 }, { b: 4 }] } },
    };
    expectTexts(
      nested,
      [
        "{}",
        '{"a":[]}',
        '{"a":[{"b":1},{"b":2},{"b":3}]}',
        '{"a":[{"b":1},{"b":2},{"b":3},{"b":5}]}',
        '{"a":[{"b":1},{"b":2},{"b":3},{}]}',
      ],
      ['{"a":[{"b":1},{"b":2},{"b":3},{"b":4}]}'],
    );
    expect(enforcement(nested, "not")).toBe("grammar");
    expectSound(nested);
  });

  it("listed values next to not are filtered by the validator, not through a partial complement (Synthesized)", () => {
    const schema: JsonSchema = {
      allOf: [
        { enum: [{ quux: "foo" }, { quux: 1 }] },
        { not: { additionalProperties: { type: "integer" }, properties: { bar: { type: "array" } } } },
      ],
    };
    expectTexts(schema, ['{"quux":"foo"}'], ['{"quux":1}']);
    expect(enforcement(schema, "not")).toBe("grammar");
  });

  it("a not whose complement cannot be written is the validator's, and so is a remote $ref", () => {
    expect(enforcement({ type: "string", not: { format: "email" } }, "not")).toBe("validator");
    // (A not of multipleOfs whose automaton is too large is written as the accepted values nearest zero.)
    const coprime: JsonSchema = {
      type: "integer",
      not: { anyOf: [{ multipleOf: 7919 }, { multipleOf: 7907 }] },
    };
    expect(compileGrammar(coprime).report.find((entry) => entry.keyword === "not")).toMatchObject({
      enforcement: "grammar",
      note: /nearest zero/,
    });
    expectSound(coprime, 50);
    expect(enforcement({ $ref: "https://example.com/schema.json" }, "$ref")).toBe("unsupported");
  });

  it("allOf of anyOfs of patterns: an anyOf's pattern-only members are one alternative in the product", () => {
    // 6 × 5 × 5 alternatives would pass the merge's product bound; as 2 × 2 × 2 they are written exactly.
    const schema: JsonSchema = {
      type: "string",
      minLength: 4,
      maxLength: 12,
      allOf: [
        {
          anyOf: [
            { pattern: "^p" },
            { pattern: "^q" },
            { pattern: "^r" },
            { pattern: "^s" },
            { pattern: "^t" },
            { minLength: 11 },
          ],
        },
        {
          anyOf: [
            { pattern: "k$" },
            { pattern: "m$" },
            { pattern: "n$" },
            { pattern: "w$" },
            { not: { pattern: "^[pq]" } },
          ],
        },
        {
          anyOf: [
            { pattern: "55" },
            { pattern: "66" },
            { pattern: "77" },
            { pattern: "88" },
            { maxLength: 5 },
          ],
        },
      ],
    };
    for (const keyword of ["allOf", "anyOf"]) {
      for (const entry of compileGrammar(schema).report.filter((e) => e.keyword === keyword))
        expect(entry.enforcement, `${entry.pointer} ${keyword}`).toBe("grammar");
    }
    expectTexts(schema, ['"p55k"', '"t6677k"', '"r12k"', '"abcdefgh55k"'], ['"p55x"', '"p1234k"', '"a55k"']);
    expectSound(schema, 100);
  });

  it("if/then/else: (if and then) or (not-if and else)", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        kind: { enum: ["file", "url"] },
        path: { type: "string", maxLength: 8 },
        href: { type: "string", maxLength: 8 },
      },
      required: ["kind"],
      additionalProperties: false,
      if: { properties: { kind: { const: "file" } } },
      // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword under test.
      then: { required: ["path"] },
      else: { required: ["href"] },
    };
    expectTexts(
      schema,
      ['{"kind":"file","path":"a"}', '{"kind":"url","href":"b"}'],
      ['{"kind":"file"}', '{"kind":"url","path":"a"}'],
    );
    expect(enforcement(schema, "if")).toBe("grammar");
    expectSound(schema);
    // Two conditionals in one allOf (JSON Schema Store's openrewrite has four).
    const two: JsonSchema = {
      type: "object",
      required: ["type"],
      allOf: [
        // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword under test.
        { if: { properties: { type: { const: "a" } } }, then: { required: ["x"] } },
        // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword under test.
        { if: { properties: { type: { const: "b" } } }, then: { required: ["y"] } },
      ],
    };
    expectTexts(
      two,
      ['{"type":"a","x":1}', '{"type":"b","y":2}', '{"type":"c"}'],
      ['{"type":"a"}', '{"type":"b","x":1}'],
    );
    expectSound(two);
  });

  it("dependentSchemas and dependentRequired on names the schema does not declare", () => {
    const schema: JsonSchema = {
      type: "object",
      required: ["a"],
      dependentRequired: { b: ["d"] },
      dependentSchemas: { a: { required: ["b", "c"] } },
    };
    expectTexts(schema, ['{"a":1,"b":2,"c":4,"d":3}'], ['{"a":1}', '{"a":1,"b":2,"c":4}']);
    expect(enforcement(schema, "dependentSchemas")).toBe("grammar");
    expectSound(schema);
  });

  it("a schema no value satisfies is SCHEMA_INVALID", () => {
    const contradictions: JsonSchema[] = [
      { type: "object", properties: { a: false }, required: ["a"] },
      // A minimum count above the maximum: never written as the minimum alone.
      { type: "array", minItems: 5, maxItems: 4 },
      { type: "string", minLength: 2, maxLength: 1 },
      { type: "object", minProperties: 2, maxProperties: 1 },
    ];
    for (const schema of contradictions) {
      try {
        compileGrammar(schema);
        expect.unreachable(JSON.stringify(schema));
      } catch (error) {
        expect(isEdgecrewError(error) && error.code, JSON.stringify(schema)).toBe("SCHEMA_INVALID");
        expect(String(error)).toContain("contradictory keywords");
      }
    }
  });

  it("the complement of a deep const is written one level at a time (JSONSchemaBench Handwritten mod303)", () => {
    // Chains of "a" whose depth is a multiple of 2, 3 and 5, but not the 30-deep one: the smallest value is 60 deep.
    const chain = (depth: number): JsonSchema => {
      let value: JsonSchema = {};
      for (let i = 0; i < depth; i++) value = { a: value };
      return value;
    };
    const cycle = (name: string, length: number): Record<string, JsonSchema> =>
      Object.fromEntries(
        Array.from({ length }, (_, i) => [
          `${name}${i}`,
          {
            additionalProperties: { $ref: `#/definitions/${name}${(i + 1) % length}` },
            ...(i === 0 ? {} : { minProperties: 1 }),
          },
        ]),
      );
    const schema: JsonSchema = {
      allOf: [
        { $ref: "#/definitions/word" },
        { $ref: "#/definitions/x0" },
        { $ref: "#/definitions/y0" },
        { $ref: "#/definitions/z0" },
        { minProperties: 1 },
        { not: { $ref: "#/definitions/witness" } },
      ],
      definitions: {
        word: {
          type: "object",
          properties: { a: { $ref: "#/definitions/word" } },
          additionalProperties: false,
        },
        ...cycle("x", 2),
        ...cycle("y", 3),
        ...cycle("z", 5),
        witness: { const: chain(30) },
      },
    };
    const { gbnf, report } = compileGrammar(schema);
    expect(
      report.find((entry) => entry.pointer === "#/allOf/5" && entry.keyword === "not")?.enforcement,
    ).toBe("grammar");
    const text = (depth: number) => JSON.stringify(chain(depth));
    expect(gbnfAccepts(llama, gbnf, text(60))).toBe(true);
    for (const depth of [0, 1, 2, 6, 10, 15, 30, 59])
      expect(gbnfAccepts(llama, gbnf, text(depth)), `${depth}`).toBe(false);
    const validator = compileSchema(schema);
    expect(validator.validate(chain(60)).ok).toBe(true);
    expect(validator.validate(chain(30)).ok).toBe(false);
  });

  it("a recursion that branches without end is refused within bounded work, naming the $ref", () => {
    // Every object needs two children, each an allOf the compiler merges anew: no finite value exists, and
    // deepening the recursion would visit 2^depth schemas. Without the bound on deepened compilations this hangs.
    const child = (extra: JsonSchema): JsonSchema => ({ allOf: [{ $ref: "#/$defs/t" }, extra] });
    const schema: JsonSchema = {
      $ref: "#/$defs/t",
      $defs: {
        t: {
          type: "object",
          required: ["a", "b"],
          additionalProperties: false,
          properties: { a: child({ minProperties: 1 }), b: child({ maxProperties: 3 }) },
        },
      },
    };
    try {
      compileGrammar(schema);
      expect.unreachable();
    } catch (error) {
      expect(isEdgecrewError(error) && error.code).toBe("SCHEMA_INVALID");
      expect(String(error)).toContain("cannot express $ref at # (unsupported)");
    }
  });
});

describe("GBNF llama.cpp parses", () => {
  it("an optional group holding long repetitions is its own rule (JSONSchemaBench Snowplow sp_265)", () => {
    // llama.cpp refuses a repetition (`?` included) of a group whose expansion makes over ~2000 rules; strings of up
    // to 4096 characters expand into thousands, so the optional list of them must repeat one rule, not the group.
    const schema: JsonSchema = {
      type: "object",
      properties: { tags: { type: "array", maxItems: 16, items: { type: "string", maxLength: 4096 } } },
      required: ["tags"],
      additionalProperties: false,
    };
    const { gbnf } = compileGrammar(schema);
    expect(gbnfParses(llama, gbnf), gbnf).toBe(true);
    expect(gbnfAccepts(llama, gbnf, '{"tags":["a","b"]}')).toBe(true);
    expect(gbnfAccepts(llama, gbnf, '{"tags":[]}')).toBe(true);
  });
});

describe("token budget", () => {
  const answer: JsonSchema = {
    type: "object",
    properties: { summary: { type: "string" }, tags: { type: "array", items: { type: "string" } } },
    required: ["summary", "tags"],
    additionalProperties: false,
  };

  it("the longest output counts every character, escapes included", () => {
    const grammar = compileGrammar({ type: "string", maxLength: 10 });
    // Two quotes and ten characters each written as a two-character escape.
    expect(grammar.maxTokens).toBe(22);
  });

  it("open lengths shrink until the longest output fits maxTokens", () => {
    const free = compileGrammar(answer);
    expect(free.maxTokens).toBeGreaterThan(512);
    const fitted = compileGrammar(answer, { maxTokens: 512 });
    expect(fitted.maxTokens).toBeLessThanOrEqual(512);
    expect(fitted.fitted).toBe(true);
    expect(fitted.caps.stringMax).toBeGreaterThan(8);
  });

  it("fitting never caps added properties below minProperties (JSONSchemaBench Handwritten object1)", () => {
    // At the smallest caps no added property was allowed, so the schema looked unsatisfiable and its need
    // "unbounded": TOKEN_BUDGET_EXCEEDED for a schema whose shortest output is a dozen characters.
    const schema: JsonSchema = {
      type: "object",
      propertyNames: { pattern: "^....$" },
      minProperties: 5,
      additionalProperties: { type: "boolean" },
    };
    const fitted = compileGrammar(schema, { maxTokens: 256 });
    expect(fitted.maxTokens).toBeLessThanOrEqual(256);
    expect(
      gbnfAccepts(llama, fitted.gbnf, '{"aaaa":true,"bbbb":false,"cccc":true,"dddd":true,"eeee":false}'),
    ).toBe(true);
    expect(gbnfAccepts(llama, fitted.gbnf, '{"aaaa":true,"bbbb":false,"cccc":true,"dddd":true}')).toBe(false);
  });

  it("a schema whose shortest output cannot fit is TOKEN_BUDGET_EXCEEDED with the tokens it needs", () => {
    try {
      compileGrammar({ type: "string", minLength: 300 }, { maxTokens: 256 });
      expect.unreachable();
    } catch (error) {
      expect(isEdgecrewError(error) && error.code).toBe("TOKEN_BUDGET_EXCEEDED");
      expect(isEdgecrewError(error) && error.context.tokensNeeded).toBe(602);
    }
  });
});

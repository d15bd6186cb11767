/**
 * Patterns as automata (automaton.ts), their combinations as patterns (patterns.ts), and the compiler writing
 * them: intersections and complements of patterns, lookaheads at a pattern's start, patterns with exact
 * lengths. Every language is checked against JavaScript's own RegExp on random and chosen strings, and every
 * text drawn from a compiled grammar against the validator.
 */
import { describe, expect, it } from "vitest";
import {
  complementDfa,
  dfaAccepts,
  dfaToExpr,
  intersectDfa,
  patternDfa,
  patternWitnesses,
} from "../../../../src/schema/grammar/automaton.js";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { GrammarBuilder } from "../../../../src/schema/grammar/ir.js";
import {
  allPatterns,
  contradictoryPattern,
  patternComplement,
} from "../../../../src/schema/grammar/patterns.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";
import { expectSound as sampledSound } from "./sound.js";

/** Random strings over a small alphabet that patterns below care about. */
function strings(count: number, seed: number, alphabet = "ab12xyzA_ -\n"): string[] {
  const random = seededRandom(seed);
  const out = ["", "a", "ab1", "ab12", "a1b2", "xyz", "aaaa", "1111"];
  for (let i = 0; i < count; i++) {
    const length = Math.floor(random() * 9);
    let text = "";
    for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
    out.push(text);
  }
  return out;
}

const PATTERNS = [
  "abc",
  "^a",
  "b$",
  "^a|b$",
  "^(?:a|b)+$",
  "^....$",
  "ab1",
  "\\d\\d",
  "^[\\w]*$",
  "[a|b]",
  "1.*2",
  "^[\\w]+",
  "(t|8){3}..$",
  "^([a-z][0-9])+$",
  "x{2,}",
  "^(a$|b)",
  "[^a]",
  "^$",
  "a?",
  "^(?=.*\\d)(?!.*x)[a-z0-9]{2,}$",
  "^(?=a)",
  "^(?!ab)..",
];

describe("patternDfa", () => {
  it("accepts exactly what RegExp matches", () => {
    const texts = strings(400, 7);
    for (const pattern of PATTERNS) {
      const dfa = patternDfa(pattern);
      const regex = new RegExp(pattern);
      for (const text of texts)
        expect(dfaAccepts(dfa, text), `${pattern} on ${JSON.stringify(text)}`).toBe(regex.test(text));
    }
  });

  it("complements and intersects", () => {
    const texts = strings(300, 11);
    const a = patternDfa("ab");
    const b = patternDfa("^[ab]+$");
    const both = intersectDfa(a, b);
    const neither = complementDfa(a);
    for (const text of texts) {
      expect(dfaAccepts(both, text)).toBe(/ab/.test(text) && /^[ab]+$/.test(text));
      expect(dfaAccepts(neither, text)).toBe(!/ab/.test(text));
    }
  });

  it("refuses a lookahead that is not at the start, and gives up past its state bound", () => {
    expect(() => patternDfa("a(?=b)")).toThrow(/start of a pattern/);
    expect(() => patternDfa("(a|b)*a(a|b){14}")).toThrow(/automaton states/);
  });
});

describe("allPatterns and patternComplement", () => {
  it("mean what they say, as JavaScript regexes and as automata", () => {
    const texts = strings(300, 3);
    const pairs: [string, string][] = [
      ["^a", "b$"],
      ["ab1", "^....$"],
      ["^(?=.*\\d)", "x"],
      ["\\d\\d", "^[\\w]*$"],
    ];
    for (const [left, right] of pairs) {
      const both = allPatterns([left, right]) as string;
      expect(both).toBeDefined();
      const regex = new RegExp(both);
      const dfa = patternDfa(both);
      for (const text of texts) {
        const expected = new RegExp(left).test(text) && new RegExp(right).test(text);
        expect(regex.test(text), `${both} on ${JSON.stringify(text)}`).toBe(expected);
        expect(dfaAccepts(dfa, text)).toBe(expected);
      }
      // The complement of the conjunction: a union of patterns, together exactly the strings it refuses.
      const parts = patternComplement(both) as string[];
      for (const text of texts) {
        expect(
          parts.some((part) => new RegExp(part).test(text)),
          `not ${both} on ${JSON.stringify(text)}`,
        ).toBe(!regex.test(text));
      }
    }
  });

  it("refuses to put together patterns whose escapes would change meaning", () => {
    expect(allPatterns(["\\1", "(a)"])).toBeUndefined();
    expect(allPatterns(["(?<x>a)", "(?<x>b)"])).toBeUndefined();
  });
});

describe("dfaToExpr", () => {
  it("writes the strings of a length range and no other", () => {
    const builder = new GrammarBuilder();
    const expr = dfaToExpr(patternDfa("[aA][12].*[zZ]"), builder, 10, 20);
    expect(expr).toBeDefined();
    if (expr === undefined) return;
    expect(builder.minLength(expr)).toBe(10);
    expect(builder.maxLength(expr)).toBe(20);
    expect(builder.matches(expr, "xxa1yyyyyz")).toBe(true);
    expect(builder.matches(expr, "a1z")).toBe(false);
    expect(builder.matches(expr, "xxa1yyyyyy")).toBe(false);
    const random = seededRandom(5);
    for (let i = 0; i < 100; i++) {
      const text = builder.sample(expr, random);
      expect(/[aA][12].*[zZ]/.test(text) && text.length >= 10 && text.length <= 20, text).toBe(true);
    }
  });
});

describe("the compiler writes combined and negated patterns", () => {
  const expectSound = (schema: JsonSchema, count = 60) => sampledSound(schema, count, 2);
  const grammarOf = (schema: JsonSchema, keyword: string) =>
    compileGrammar(schema).report.filter(
      (entry) => entry.keyword === keyword && entry.enforcement === "validator",
    );

  it("not pattern", () => {
    const schema: JsonSchema = { type: "string", not: { pattern: "^a" }, maxLength: 8 };
    expect(grammarOf(schema, "not")).toEqual([]);
    const { builder, root } = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
    expect(builder.matches(root, '"ba"')).toBe(true);
    expect(builder.matches(root, '"abc"')).toBe(false);
    expectSound(schema);
  });

  it("allOf of patterns, with lengths", () => {
    const schema: JsonSchema = {
      type: "string",
      allOf: [{ pattern: "^[ab]" }, { pattern: "\\d$" }, { not: { pattern: "x" } }],
      minLength: 5,
      maxLength: 9,
    };
    expect(grammarOf(schema, "pattern")).toEqual([]);
    expect(grammarOf(schema, "minLength")).toEqual([]);
    expectSound(schema);
  });

  it("anyOf of nots of allOfs of patterns", () => {
    const schema: JsonSchema = {
      type: "string",
      anyOf: [
        { not: { allOf: [{ pattern: "^....$" }, { pattern: "ab1" }] } },
        { not: { allOf: [{ pattern: "^[\\w]*$" }, { pattern: "\\d\\d" }] } },
      ],
    };
    expect(grammarOf(schema, "not")).toEqual([]);
    expectSound(schema);
  });

  it("a lookahead pattern and a pattern next to a string exclusion", () => {
    expectSound({ type: "string", pattern: "^(?=.*\\d)(?=.*[A-Z]).{8,12}$" });
    const excluded: JsonSchema = { type: "string", pattern: "^[a-c]{1,2}$", not: { enum: ["a", "b", "ab"] } };
    expect(grammarOf(excluded, "not")).toEqual([]);
    expectSound(excluded);
  });
});

describe("complements of object keywords and of listed values", () => {
  const samples = (schema: JsonSchema, count = 40) => sampledSound<unknown>(schema, count, 4);
  const validatorKeywords = (schema: JsonSchema) =>
    compileGrammar(schema)
      .report.filter((entry) => entry.enforcement !== "grammar" && entry.enforcement !== "annotation")
      .map((entry) => entry.keyword);

  it("oneOf whose only values are of a type no keyword names (the non-objects)", () => {
    const schema: JsonSchema = { oneOf: [{ not: { required: ["id"] } }, { properties: { id: false } }] };
    const values = samples(schema);
    expect(values.every((value) => value === null || typeof value !== "object")).toBe(true);
  });

  it("not propertyNames: some key the names' schema refuses, as required names", () => {
    const schema: JsonSchema = {
      type: "object",
      not: {
        anyOf: [
          { propertyNames: { not: { enum: ["1", "3"] } } },
          { propertyNames: { not: { enum: ["2", "3", "7"] } } },
          { propertyNames: { not: { enum: ["1", "2", "5"] } } },
          { propertyNames: { not: { enum: ["4", "5", "6"] } } },
        ],
      },
      patternProperties: { "^[0-9]$": { type: "integer" } },
      additionalProperties: false,
      maxProperties: 3,
    };
    expect(validatorKeywords(schema)).toEqual([]);
    samples(schema);
  });

  it("patternProperties keys pass propertyNames", () => {
    const schema: JsonSchema = {
      type: "object",
      propertyNames: { pattern: "^(\\w\\d)+$" },
      patternProperties: { "3": { type: "boolean" } },
      required: ["a4"],
    };
    const values = samples(schema) as Record<string, unknown>[];
    expect(values.some((value) => Object.keys(value).length > 1)).toBe(true);
  });

  it("not const of an object: the objects that differ", () => {
    const schema: JsonSchema = {
      type: "object",
      not: { const: { a: 1 } },
      properties: { a: { type: "integer" } },
    };
    expect(validatorKeywords(schema)).toEqual([]);
    samples(schema);
  });
});

describe("keys an object must have (not of patternProperties, not of propertyNames)", () => {
  const samples = (schema: JsonSchema, count = 40) => sampledSound<Record<string, unknown>>(schema, count, 6);
  const notVerdict = (schema: JsonSchema) =>
    compileGrammar(schema).report.find((entry) => entry.keyword === "not" && entry.pointer === "#")
      ?.enforcement;

  it("a key matching a pattern whose value the pattern's schema refuses", () => {
    const schema: JsonSchema = {
      type: "object",
      not: { patternProperties: { a: { not: { type: "string", pattern: "A" } } } },
      propertyNames: { pattern: "^....$" },
      patternProperties: { "^b": { type: "integer" } },
    };
    expect(notVerdict(schema)).toBe("grammar");
    const values = samples(schema);
    expect(values.every((value) => Object.keys(value).some((key) => /a/.test(key)))).toBe(true);
  });

  it("a key propertyNames refuses, several of them", () => {
    const schema: JsonSchema = {
      allOf: [
        { not: { propertyNames: { not: { pattern: "a1" } } } },
        { not: { propertyNames: { not: { pattern: "b2" } } } },
      ],
      propertyNames: { pattern: "^....$" },
    };
    samples(schema);
  });
});

describe("patterns whose automaton is too large", () => {
  // Blocks of "k5m7" with gaps of 4 to 8 characters, anywhere: the search automaton alone passes MAX_DFA_STATES.
  const blocks = "((k5m7).{4,8}){6,6}";
  const combined = allPatterns(["^([a-z][0-9])+$", blocks, "^q8(.{10}){8}q8$"]) as string;

  it("a bounded search finds strings the combined pattern matches; each is matched", () => {
    expect(() => patternDfa(combined)).toThrow(/automaton states/);
    const found = patternWitnesses(combined, 0, 256) ?? [];
    expect(found.length).toBeGreaterThan(0);
    for (const text of found) expect(new RegExp(combined).test(text), text).toBe(true);
    // Within length bounds, or none.
    expect(patternWitnesses(combined, 0, 50)).toBeUndefined();
  });

  it("the compiler writes those strings as a reported subset; a part and its negation is nothing", () => {
    const schema: JsonSchema = {
      type: "string",
      allOf: [{ pattern: "^([a-z][0-9])+$" }, { pattern: blocks }, { pattern: "^q8(.{10}){8}q8$" }],
    };
    const { report } = compileGrammar(schema);
    expect(report.find((entry) => entry.keyword === "pattern" && entry.pointer === "#")).toMatchObject({
      enforcement: "grammar",
      note: /strings a bounded search found/,
    });
    sampledSound(schema, 20, 3);
    expect(contradictoryPattern(`${combined}(?![\\s\\S]*?(?:${blocks}))`)).toBe(true);
    expect(contradictoryPattern(combined)).toBe(false);
  });
});

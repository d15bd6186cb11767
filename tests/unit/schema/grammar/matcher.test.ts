/**
 * The incremental matcher agrees with the grammar: every text drawn from a compiled schema's grammar is accepted
 * whole, every prefix of it can continue, and random edits are accepted exactly when the grammar's whole-text
 * matcher accepts them. The bias that speeds up grammar decoding (workers/grammarBias.ts) is only neutral if it is.
 */
import { describe, expect, it } from "vitest";
import { buildSchemaGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { GrammarMatcher } from "../../../../src/schema/grammar/matcher.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";

const SCHEMAS: Record<string, JsonSchema> = {
  object: {
    type: "object",
    properties: {
      name: { type: "string", maxLength: 8 },
      age: { type: "integer", minimum: 0, maximum: 120 },
      tags: { type: "array", items: { enum: ["a", "b", "c"] }, maxItems: 3 },
      when: { type: "string", format: "date" },
    },
    required: ["name"],
    additionalProperties: false,
  },
  union: {
    anyOf: [{ type: "number", minimum: -5, exclusiveMaximum: 5 }, { type: "boolean" }, { type: "null" }],
  },
  recursive: {
    $defs: {
      node: {
        type: "object",
        properties: {
          v: { const: 1 },
          kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 },
        },
        required: ["v"],
        additionalProperties: false,
      },
    },
    $ref: "#/$defs/node",
  },
  pattern: { type: "string", pattern: "^[A-Z]{2}-\\d{1,3}$" },
};

describe("GrammarMatcher", () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(`${name}: accepts what the grammar writes, and agrees with the whole-text matcher on edits`, () => {
      const { builder, root } = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
      const matcher = new GrammarMatcher(builder);
      const start = matcher.start(root);
      const random = seededRandom(7);
      const mismatches: string[] = [];
      for (let i = 0; i < 200; i++) {
        const text = builder.sample(root, random);
        const whole = matcher.feed(start, text);
        if (whole?.accepting !== true) mismatches.push(`rejects its own ${text}`);
        // A prefix can always continue: the characters that came next were among those the matcher offered.
        let state = start;
        for (const char of text) {
          const code = char.codePointAt(0) as number;
          if (!matcher.nextChars(state).some(([lo, hi]) => code >= lo && code <= hi)) {
            mismatches.push(`did not offer ${JSON.stringify(char)} in ${text}`);
            break;
          }
          state = matcher.advance(state, char);
        }
        // An edit: drop, double or replace one character.
        const chars = [...text];
        const at = Math.floor(random() * chars.length);
        const edits = [
          [...chars.slice(0, at), ...chars.slice(at + 1)].join(""),
          [...chars.slice(0, at), chars[at] ?? "", ...chars.slice(at)].join(""),
          [
            ...chars.slice(0, at),
            String.fromCharCode(32 + Math.floor(random() * 95)),
            ...chars.slice(at + 1),
          ].join(""),
        ];
        for (const edit of edits) {
          const incremental = matcher.feed(start, edit)?.accepting === true;
          if (incremental !== builder.matches(root, edit)) mismatches.push(`disagrees on ${edit}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it("gives equal states equal keys, so a cache can find them again", () => {
    const { builder, root } = buildSchemaGrammar(normalizeSchema(SCHEMAS.object as JsonSchema), DEFAULT_CAPS);
    const matcher = new GrammarMatcher(builder);
    const a = matcher.feed(matcher.start(root), '{"name":"ab"');
    const b = matcher.feed(matcher.start(root), '{"name": "xy"');
    expect(a?.key).toBeDefined();
    expect(a?.key).toBe(b?.key);
    expect(matcher.feed(matcher.start(root), '{"nome"')).toBeUndefined();
  });

  it("inside a string every plain character moves alike; in a pattern's class they do not", () => {
    const plain: [number, number][] = [
      [0x20, 0x21],
      [0x23, 0x5b],
      [0x5d, 0xd7ff],
      [0xe000, 0x10ffff],
    ];
    const object = buildSchemaGrammar(normalizeSchema(SCHEMAS.object as JsonSchema), DEFAULT_CAPS);
    const m = new GrammarMatcher(object.builder);
    const inName = m.feed(m.start(object.root), '{"name":"ab') as NonNullable<ReturnType<typeof m.feed>>;
    expect(inName.complete).toBe(true);
    expect(m.movesAlike(inName, plain)).toBe(true);
    // One expansion serves every plain character: "é", "x" and "字" lead to the very same state.
    expect(m.advance(inName, "é")).toBe(m.advance(inName, "x"));
    expect(m.advance(inName, "字")).toBe(m.advance(inName, "x"));
    // maxLength 8: six more characters die, the quote does not.
    expect(m.feed(inName, "cdefgh")).toBeDefined();
    expect(m.feed(inName, "cdefghi")).toBeUndefined();
    expect(m.feed(inName, '"')).toBeDefined();
    const pattern = buildSchemaGrammar(normalizeSchema(SCHEMAS.pattern as JsonSchema), DEFAULT_CAPS);
    const p = new GrammarMatcher(pattern.builder);
    const start = p.feed(p.start(pattern.root), '"') as NonNullable<ReturnType<typeof p.feed>>;
    expect(p.movesAlike(start, plain)).toBe(false);
    expect(p.movesAlike(start, [[0x41, 0x5a]])).toBe(true);
  });
});

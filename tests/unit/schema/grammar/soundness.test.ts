/**
 * Merges that cannot keep both sides: where the compiler writes one side only, the report must hand the other to
 * the validator, never call it the grammar's (every text drawn from the grammar is checked against the validator
 * where the report says the keyword is the grammar's).
 */
import { describe, expect, it } from "vitest";
import { compileSchema } from "../../../../src/schema/compile.js";
import { buildSchemaGrammar, compileGrammar, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";

describe("an allOf member's $ref and its siblings", () => {
  it("two formats the merge cannot combine: the sibling's is the validator's", () => {
    const schema: JsonSchema = {
      allOf: [{ $ref: "#/$defs/mail", format: "uri" }],
      $defs: { mail: { type: "string", format: "email" } },
    };
    const built = buildSchemaGrammar(normalizeSchema(schema), DEFAULT_CAPS);
    const validator = compileSchema(schema);
    const random = seededRandom(1);
    const invalid = Array.from({ length: 10 }, () => built.builder.sample(built.root, random)).filter(
      (text) => !validator.validate(JSON.parse(text) as unknown).ok,
    );
    // The grammar writes emails, which are no URIs: the report must not say the grammar enforces that format.
    expect(invalid.length).toBeGreaterThan(0);
    const report = compileGrammar(schema).report;
    expect(report.find((entry) => entry.pointer === "#/allOf/0" && entry.keyword === "format")).toMatchObject(
      {
        enforcement: "validator",
      },
    );
  });
});

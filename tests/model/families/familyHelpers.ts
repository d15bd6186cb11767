// What the family tests share: the reference of a family fixture, and the nested answer a worker is asked for
// (the bench's, bench/familyWorkload.mjs, without its steps).
import type { FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import type { JsonSchema, LocalModelRef } from "../../../src/types.js";

/** The tiny fixture of a family (real tokenizer and template, random weights). */
export function familyRef(family: FixtureFamily): LocalModelRef {
  return {
    kind: "fixture",
    raw: `fixture:fam?family=${family}&seed=1&size=tiny`,
    name: "fam",
    seed: 1,
    size: "tiny",
    family,
  };
}

/** A nested answer, as a worker is asked for: bounded strings, an enum, a boolean, an array. */
export const NOTE_ANSWER = {
  type: "object",
  properties: {
    title: { type: "string", minLength: 8, maxLength: 40 },
    meta: {
      type: "object",
      properties: {
        done: { type: "boolean" },
        kind: { enum: ["todo", "note", "event"] },
        tags: { type: "array", items: { type: "string", minLength: 3, maxLength: 12 }, maxItems: 3 },
      },
      required: ["done", "kind", "tags"],
      additionalProperties: false,
    },
  },
  required: ["title", "meta"],
  additionalProperties: false,
} as const satisfies JsonSchema;

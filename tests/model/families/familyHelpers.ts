// What the family tests share: the reference of a family fixture, and the nested answer a worker is asked for
// (tests/fixtures/familyAnswer.json, which bench/familyWorkload.mjs asks for too).
import type { FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import type { JsonSchema, LocalModelRef } from "../../../src/types.js";
import familyAnswer from "../../fixtures/familyAnswer.json" with { type: "json" };

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

/**
 * A nested answer, as a worker is asked for (the families bench's too): bounded strings, an enum, a boolean, an
 * integer range, arrays of strings and of objects.
 */
export const FAMILY_ANSWER: JsonSchema = familyAnswer;

import { expect } from "vitest";
import { compileSchema } from "../../../../src/schema/compile.js";
import { buildSchemaGrammar, type Caps, DEFAULT_CAPS } from "../../../../src/schema/grammar/index.js";
import { normalizeSchema } from "../../../../src/schema/normalize.js";
import type { JsonSchema } from "../../../../src/types.js";
import { seededRandom } from "./seeded.js";

/**
 * Draws `count` texts from the grammar of `schema` (built with `caps`, seeded), each of which must be JSON the
 * schema's validator (ajv) accepts: the grammar's soundness, sampled. Returns the parsed values.
 */
export function expectSound<T = unknown>(
  schema: JsonSchema,
  count = 150,
  seed = 1,
  caps: Caps = DEFAULT_CAPS,
): T[] {
  const built = buildSchemaGrammar(normalizeSchema(schema), caps);
  const validator = compileSchema(schema);
  const random = seededRandom(seed);
  const values: T[] = [];
  for (let i = 0; i < count; i++) {
    const text = built.builder.sample(built.root, random);
    const value = JSON.parse(text) as T;
    const result = validator.validate(value);
    expect(result.ok ? [] : result.errors, `sample ${text}`).toEqual([]);
    values.push(value);
  }
  return values;
}

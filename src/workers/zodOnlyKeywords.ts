/**
 * The JSON Schema keywords a node-llama-cpp grammar cannot enforce. The grammar schema converter drops them and
 * reports them, so that a caller (or a test) can see which rules only zod checks after decoding.
 */
import type { JsonObject } from "../types.js";

/**
 * String formats whose *shape* node-llama-cpp's grammar writes; any other `format` is checked by zod only. The
 * grammar's date rule allows days 29–31 in every month, so calendar validity of `date` and `date-time` is
 * zod's job too (reported as `format (calendar validity)`).
 */
export const GRAMMAR_STRING_FORMATS: ReadonlySet<string> = new Set(["date", "time", "date-time"]);
const CALENDAR_FORMATS: ReadonlySet<string> = new Set(["date", "date-time"]);

// Keywords that restrict values beyond what the grammar expresses, by the kind of value they apply to.
const ZOD_ONLY: Readonly<Record<string, readonly string[]>> = {
  string: ["pattern", "format", "contentSchema"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  array: ["uniqueItems", "contains", "minContains", "maxContains", "unevaluatedItems"],
  object: [
    "propertyNames",
    "patternProperties",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
  ],
  any: ["not", "if", "then", "else"],
};

/**
 * The keywords of one schema node that the grammar leaves to zod. `integerEnum`: the node's integer bounds
 * became an `enum`, so its numeric bounds *are* enforced.
 */
export function zodOnlyKeywords(schema: JsonObject, options: { readonly integerEnum: boolean }): string[] {
  const found: string[] = [];
  for (const [family, keywords] of Object.entries(ZOD_ONLY)) {
    for (const keyword of keywords) {
      if (schema[keyword] === undefined) continue;
      if (keyword === "format" && GRAMMAR_STRING_FORMATS.has(String(schema.format))) {
        if (CALENDAR_FORMATS.has(String(schema.format))) found.push("format (calendar validity)");
        continue;
      }
      if (family === "number" && options.integerEnum) continue;
      found.push(keyword);
    }
  }
  return found;
}

/**
 * How each keyword of a schema is enforced. Every keyword the compiler meets gets exactly one verdict, so that
 * nothing is silently dropped: `grammar` (generation cannot break it), `validator` (generation may break it;
 * the validator catches it after decoding and the worker is asked to repair), `unsupported` (neither can: the
 * schema cannot be used as it stands), or `annotation` (no constraint: titles, descriptions, unknown keywords).
 */

/** The verdict for one keyword. */
export type Enforcement = "grammar" | "validator" | "unsupported" | "annotation";

/** One keyword at one place of the schema. */
export interface KeywordReport {
  /** JSON pointer of the schema object holding the keyword (`#/properties/count`). */
  readonly pointer: string;
  readonly keyword: string;
  readonly enforcement: Enforcement;
  /** Why, when it is not plain (a cap, an approximation, a reason for `unsupported`). */
  readonly note?: string;
}

const STRENGTH: Readonly<Record<Enforcement, number>> = {
  annotation: 0,
  grammar: 1,
  validator: 2,
  unsupported: 3,
};

/** Keywords that only ajv checks: no grammar can say them (or not at a cost worth paying). */
export const VALIDATOR_KEYWORDS: ReadonlySet<string> = new Set([
  "not",
  "if",
  "then",
  "else",
  "dependentSchemas",
  "uniqueItems",
  "multipleOf",
  "unevaluatedProperties",
  "unevaluatedItems",
  "minContains",
  "maxContains",
  "contentSchema",
  "$dynamicRef",
  "$recursiveRef",
]);

const COMPILER_DECIDES: ReadonlySet<string> = new Set([
  "not",
  "if",
  "then",
  "else",
  "dependentSchemas",
  // A merge's further `contains` (merge.ts MORE_CONTAINS): the `contains` it came from has its verdict.
  "\u0000contains",
]);

/** Keywords that constrain nothing, or only hold other schemas for `$ref`s. */
export const ANNOTATION_KEYWORDS: ReadonlySet<string> = new Set([
  "title",
  "description",
  "$comment",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "$schema",
  "$id",
  "$anchor",
  "$dynamicAnchor",
  "$recursiveAnchor",
  "$vocabulary",
  "$defs",
  "definitions",
  "contentMediaType",
  "contentEncoding",
]);

/** Keywords the grammar enforces (unless the compiler notes otherwise at a given place). */
export const GRAMMAR_KEYWORDS: ReadonlySet<string> = new Set([
  "type",
  "enum",
  "const",
  "properties",
  "required",
  "additionalProperties",
  "patternProperties",
  "propertyNames",
  "minProperties",
  "maxProperties",
  "dependentRequired",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "contains",
  "minLength",
  "maxLength",
  "pattern",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "allOf",
  "anyOf",
  "oneOf",
  "$ref",
  "default",
]);

/** Collects verdicts; a keyword reported twice at one place keeps the weaker verdict (and its note). */
export class Report {
  readonly #entries = new Map<string, KeywordReport>();

  /** Records a verdict. */
  set(pointer: string, keyword: string, enforcement: Enforcement, note?: string): void {
    const key = `${pointer}\u0000${keyword}`;
    const before = this.#entries.get(key);
    if (before !== undefined) {
      const stronger = STRENGTH[before.enforcement] - STRENGTH[enforcement];
      // A verdict that says more (a note) replaces a plain one of the same strength.
      if (stronger > 0 || (stronger === 0 && (before.note !== undefined || note === undefined))) return;
    }
    this.#entries.set(
      key,
      note === undefined ? { pointer, keyword, enforcement } : { pointer, keyword, enforcement, note },
    );
  }

  /**
   * Raises a keyword's default verdict (`validator`, without a note) to `grammar` where the compiler wrote the
   * keyword into the grammar (`multipleOf`: see numbers.ts). A verdict given for a reason (a note) stays, and so
   * does a keyword the compiler met only inside a merged schema elsewhere: the report may say less than the
   * grammar holds, never more.
   */
  upgrade(pointer: string, keyword: string, note?: string): void {
    const key = `${pointer}\u0000${keyword}`;
    const before = this.#entries.get(key);
    if (before === undefined || before.enforcement !== "validator" || before.note !== undefined) return;
    this.#entries.set(
      key,
      note === undefined
        ? { pointer, keyword, enforcement: "grammar" }
        : { pointer, keyword, enforcement: "grammar", note },
    );
  }

  /** The default verdict of every keyword of one schema object; the compiler overrides where it must. */
  classify(pointer: string, schema: Readonly<Record<string, unknown>>): void {
    for (const keyword of Object.keys(schema)) {
      // The compiler gives these their verdict where it meets them: written through complements, or not.
      if (COMPILER_DECIDES.has(keyword)) continue;
      if (GRAMMAR_KEYWORDS.has(keyword)) {
        // `default` is applied by the validator to the value handed on.
        this.set(pointer, keyword, keyword === "default" ? "validator" : "grammar");
      } else if (VALIDATOR_KEYWORDS.has(keyword)) this.set(pointer, keyword, "validator");
      else if (ANNOTATION_KEYWORDS.has(keyword)) this.set(pointer, keyword, "annotation");
      else this.set(pointer, keyword, "annotation", "not a JSON Schema keyword: ignored");
    }
  }

  /** How many verdicts leave a keyword to the validator (or call it unsupported) so far. */
  checkedLater(): number {
    let count = 0;
    for (const entry of this.#entries.values())
      if (STRENGTH[entry.enforcement] >= STRENGTH.validator) count++;
    return count;
  }

  /** Every verdict, in the order first reported. */
  entries(): KeywordReport[] {
    return [...this.#entries.values()];
  }

  /** The verdicts that make the schema unusable. */
  unsupported(): KeywordReport[] {
    return this.entries().filter((entry) => entry.enforcement === "unsupported");
  }
}

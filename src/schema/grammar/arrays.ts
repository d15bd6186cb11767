/**
 * The grammar of arrays: `prefixItems` in place, then `items` up to the count bounds (`maxItems` up to
 * `Caps.declaredArrayMax`, or `Caps.arrayMax` where the schema leaves the count open). `contains` is enforced by a chain that
 * remembers whether a matching item was written (the item must then match `items` and `contains` both);
 * `minContains`, `maxContains` and `uniqueItems` are the validator's.
 */
import type { JsonObject, JsonValue } from "../../types.js";
import { count } from "../jsonShapes.js";
import type { SchemaCompiler, Where } from "./compiler.js";
import { alt, EMPTY, type GExpr, isNever, lit, NEVER, opt, rep, seq } from "./ir.js";
import { COMMA } from "./jsonText.js";
import { childPointer } from "./refs.js";

/** The grammar of an array schema (see the file comment). */
export function arrayExpr(compiler: SchemaCompiler, schema: JsonObject, where: Where): GExpr {
  const prefixSchemas = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
  const prefix = prefixSchemas.map((item, index) =>
    compiler.value(item, { pointer: childPointer(where.pointer, "prefixItems", index), refs: where.refs }),
  );
  const minItems = count(schema.minItems) ?? 0;
  const declaredMax = count(schema.maxItems);
  if (declaredMax !== undefined && declaredMax < minItems) return NEVER; // (caps never go below minItems)
  let max = Math.max(
    minItems,
    declaredMax === undefined
      ? compiler.caps.arrayMax
      : Math.min(declaredMax, compiler.caps.declaredArrayMax),
  );
  if (declaredMax !== undefined && declaredMax > max) {
    compiler.report.set(where.pointer, "maxItems", "grammar", `capped to ${max} items`);
  }
  // An item that admits nothing ends the array before it.
  const firstNever = prefix.findIndex(isNever);
  if (firstNever >= 0) max = Math.min(max, firstNever);
  const itemSchema = schema.items;
  const item =
    itemSchema === false
      ? NEVER
      : compiler.value(itemSchema, { pointer: childPointer(where.pointer, "items"), refs: where.refs });
  if (isNever(item)) max = Math.min(max, prefix.length);
  if (minItems > max) return NEVER;

  const containsSchema = schema.contains;
  const needsMatch = containsSchema !== undefined && count(schema.minContains) !== 0;
  let matching: GExpr | undefined;
  if (needsMatch) {
    // The matching item is an item too: both schemas, as one allOf, so that the compiler follows `$ref`s and
    // reports what the merge cannot combine (a bare merge keeps the first of two `$ref`s or `format`s).
    const both: JsonValue =
      itemSchema === undefined || itemSchema === true
        ? containsSchema
        : itemSchema === false
          ? false
          : { allOf: [itemSchema, containsSchema] };
    const pointer = childPointer(where.pointer, "contains");
    matching = compiler.value(both, { pointer, refs: where.refs });
    const disagree = compiler.report
      .entries()
      .some(
        (entry) => entry.pointer === pointer && entry.keyword === "allOf" && entry.enforcement !== "grammar",
      );
    if (disagree)
      compiler.report.set(where.pointer, "contains", "validator", "items and contains merged in part");
    if (isNever(matching) || max <= prefix.length) {
      // No item at all (the schema allows none, not a cap): no array holds a match.
      if (prefix.length === 0 && (isNever(item) || declaredMax === 0)) return NEVER;
      if (max <= prefix.length) {
        compiler.report.set(where.pointer, "contains", "validator", "only the prefix items could match it");
        matching = undefined;
      } else return NEVER;
    }
  }

  // Items from position `index` on, after `index` items were written.
  const restFrom = (index: number, found: boolean): GExpr => {
    if (index < prefix.length) {
      const next = seq(index === 0 ? EMPTY : COMMA, prefix[index] as GExpr, restFrom(index + 1, found));
      return index >= minItems && (found || matching === undefined) ? alt(EMPTY, next) : next;
    }
    const low = Math.max(0, minItems - index);
    const high = max - index;
    if (matching === undefined || found) return list(item, index === 0, low, high);
    return compiler.builder.rule("contains", containsChain(item, matching, index === 0, low, high));
  };
  return seq(lit("["), restFrom(0, false), lit("]"));
}

/** `low` to `high` more items; `first`: no item was written before (no leading comma). */
function list(item: GExpr, first: boolean, low: number, high: number): GExpr {
  if (high <= 0) return low > 0 ? NEVER : EMPTY;
  if (!first) return rep(seq(COMMA, item), low, high);
  const items = seq(item, rep(seq(COMMA, item), Math.max(0, low - 1), high - 1));
  return low === 0 ? opt(items) : items;
}

/**
 * Between `low` and `high` more items of which at least one is `matching`: items before the first match,
 * the match, then any items.
 */
function containsChain(item: GExpr, matching: GExpr, first: boolean, low: number, high: number): GExpr {
  if (high <= 0) return NEVER;
  const options: GExpr[] = [];
  for (let before = 0; before < high; before++) {
    const lead = before === 0 ? EMPTY : list(item, first, before, before);
    const sep = first && before === 0 ? EMPTY : COMMA;
    const after = list(item, false, Math.max(0, low - before - 1), high - before - 1);
    options.push(seq(lead, sep, matching, after));
    // Bounded: more than a handful of leading items adds grammar size for little.
    if (before >= 4) break;
  }
  return alt(...options);
}

/**
 * The grammar of arrays: `prefixItems` in place, then `items` up to the count bounds (`maxItems` up to
 * `Caps.declaredArrayMax`, or `Caps.arrayMax` where the schema leaves the count open). `contains` is enforced by a chain that
 * remembers whether a matching item was written (the item must then match `items` and `contains` both). A merged
 * schema can hold several `contains` (merge.ts `MORE_CONTAINS`: allOf members, a oneOf's complements): the chain
 * then remembers which of them (up to MAX_CONTAINS) were matched, an item matching one of the others at a time or,
 * before any, one item matching them all. `minContains`, `maxContains` and `uniqueItems` are the validator's.
 */
import type { JsonObject, JsonValue } from "../../types.js";
import { count } from "../jsonShapes.js";
import type { SchemaCompiler, Where } from "./compiler.js";
import { alt, EMPTY, type GExpr, isNever, lit, NEVER, opt, rep, seq } from "./ir.js";
import { COMMA } from "./jsonText.js";
import { MORE_CONTAINS } from "./merge.js";
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
  // A merged schema's further contains (merge.ts): each needs a matching item; past MAX_CONTAINS, the last one
  // takes the rest too (one item matching them all, a subset).
  const more = Array.isArray(schema[MORE_CONTAINS]) ? (schema[MORE_CONTAINS] as JsonValue[]) : [];
  const all = containsSchema === undefined ? [] : [containsSchema, ...more];
  const wanted =
    all.length <= MAX_CONTAINS
      ? all
      : [...all.slice(0, MAX_CONTAINS - 1), { allOf: all.slice(MAX_CONTAINS - 1) }];
  let matching: GExpr[] | undefined;
  if (needsMatch) {
    const pointer = childPointer(where.pointer, "contains");
    // The matching item is an item too: both schemas, as one allOf, so that the compiler follows `$ref`s and
    // reports what the merge cannot combine (a bare merge keeps the first of two `$ref`s or `format`s).
    const matchOf = (contained: readonly JsonValue[]): GExpr => {
      const both: JsonValue =
        itemSchema === false
          ? false
          : itemSchema === undefined || itemSchema === true
            ? contained.length === 1
              ? (contained[0] as JsonValue)
              : { allOf: [...contained] }
            : { allOf: [itemSchema, ...contained] };
      return compiler.value(both, { pointer, refs: where.refs });
    };
    matching = wanted.map((contained) => matchOf([contained]));
    // One item for all of several contains (where the array has no room for an item each, say).
    if (wanted.length > 1) matching.push(matchOf(wanted));
    const disagree = compiler.report
      .entries()
      .some(
        (entry) => entry.pointer === pointer && entry.keyword === "allOf" && entry.enforcement !== "grammar",
      );
    if (disagree)
      compiler.report.set(where.pointer, "contains", "validator", "items and contains merged in part");
    const never = matching.slice(0, wanted.length).some(isNever);
    if (never || max <= prefix.length) {
      // No item at all (the schema allows none, not a cap): no array holds a match.
      if (prefix.length === 0 && (isNever(item) || declaredMax === 0)) return NEVER;
      if (max <= prefix.length) {
        compiler.report.set(where.pointer, "contains", "validator", "only the prefix items could match it");
        matching = undefined;
      } else return NEVER;
    }
  }
  const full = matching === undefined ? 0 : (1 << wanted.length) - 1;

  // Items from position `index` on, after `index` items were written; `found`: the contains matched so far.
  const restFrom = (index: number, found: number): GExpr => {
    if (index < prefix.length) {
      const next = seq(index === 0 ? EMPTY : COMMA, prefix[index] as GExpr, restFrom(index + 1, found));
      return index >= minItems && found === full ? alt(EMPTY, next) : next;
    }
    const low = Math.max(0, minItems - index);
    const high = max - index;
    if (matching === undefined || found === full) return list(item, index === 0, low, high);
    return compiler.builder.rule(
      "contains",
      containsChain(compiler, item, matching, wanted.length, found, index === 0, low, high),
    );
  };
  return seq(lit("["), restFrom(0, 0), lit("]"));
}

/** Most `contains` of one array written apart (see arrayExpr). */
const MAX_CONTAINS = 3;

/** `low` to `high` more items; `first`: no item was written before (no leading comma). */
function list(item: GExpr, first: boolean, low: number, high: number): GExpr {
  if (high <= 0) return low > 0 ? NEVER : EMPTY;
  if (!first) return rep(seq(COMMA, item), low, high);
  const items = seq(item, rep(seq(COMMA, item), Math.max(0, low - 1), high - 1));
  return low === 0 ? opt(items) : items;
}

/**
 * Between `low` and `high` more items among which, for each of the `wanted` contains not in `found` (a bit
 * set), one that matches it: items before the next match, the match, then the rest. `matching` holds an item
 * for each contains, then (where there are several) one item matching them all, written while none is found.
 */
function containsChain(
  compiler: SchemaCompiler,
  item: GExpr,
  matching: readonly GExpr[],
  wanted: number,
  found: number,
  first: boolean,
  low: number,
  high: number,
): GExpr {
  if (high <= 0) return NEVER;
  const full = (1 << wanted) - 1;
  const rest = (now: number, after: number, afterHigh: number): GExpr =>
    now === full
      ? list(item, false, after, afterHigh)
      : compiler.builder.rule(
          "contains",
          containsChain(compiler, item, matching, wanted, now, false, after, afterHigh),
        );
  const options: GExpr[] = [];
  // Bounded: more than a handful of leading items adds grammar size for little (fewer with several contains).
  const leading = wanted === 1 ? 4 : 2;
  for (let before = 0; before < high; before++) {
    const lead = before === 0 ? EMPTY : list(item, first, before, before);
    const sep = first && before === 0 ? EMPTY : COMMA;
    const after = Math.max(0, low - before - 1);
    const afterHigh = high - before - 1;
    for (let index = 0; index < wanted; index++) {
      if ((found & (1 << index)) !== 0) continue;
      options.push(seq(lead, sep, matching[index] as GExpr, rest(found | (1 << index), after, afterHigh)));
    }
    if (wanted > 1 && found === 0 && matching[wanted] !== undefined)
      options.push(seq(lead, sep, matching[wanted] as GExpr, list(item, false, after, afterHigh)));
    if (before >= leading) break;
  }
  return alt(...options);
}

/**
 * The grammar of objects. Declared properties come in the schema's order; each optional one may be left out
 * (any subset), each required one must be there; `dependentRequired`, `minProperties` and `maxProperties` are
 * tracked by naming one rule per state of a small automaton (position, properties written so far, properties
 * still owed), built lazily. After the declared properties come the others the schema allows:
 * `patternProperties` (keys from the pattern), `additionalProperties` (keys that are not declared names) and,
 * for an object that declares nothing, free-form members — never more than `Caps.propsMax` of them.
 *
 * When `additionalProperties` is absent but properties are declared, the grammar writes only the declared ones
 * (a subset of what the schema allows: a model should not invent keys); the report says so.
 *
 * Keys a `not` asks for (`not: {propertyNames: {not: …}}`, `not: {patternProperties: {p: S}}`) are required
 * members whose keys come from automata: one per ask, or, under `maxProperties`, the asks grouped so that one key
 * answers several (keyGroups.ts); a required name answers the asks it matches. Patterns of merged allOf members
 * (regions.ts) are lookahead patterns, written through automata too.
 */
import type { JsonObject, JsonSchema, JsonValue } from "../../types.js";
import { compileSchema } from "../compile.js";
import { count, isObject } from "../jsonShapes.js";
import { complementDfa, type Dfa, patternDfa } from "./automaton.js";
import type { SchemaCompiler, Where } from "./compiler.js";
import { complement } from "./complement.js";
import { alt, EMPTY, type GExpr, isNever, lit, NEVER, opt, rep, seq } from "./ir.js";
import { COLON, COMMA, TEXT_CHARS } from "./jsonText.js";
import {
  acceptsNothing,
  allDfa,
  anyDfa,
  keyGroupings,
  MAX_KEY_GROUPINGS,
  shortestAccepted,
  unionDfa,
} from "./keyGroups.js";
import { isAnnotation, patternMatches, typeSet } from "./merge.js";
import { allPatterns, literalsPattern, patternParts } from "./patterns.js";
import { childPointer } from "./refs.js";
import { disjointPatterns, finiteMatches, regexToExpr } from "./regex.js";
import { UnsupportedRegexError } from "./regexParser.js";
import { patternsDisjoint } from "./regions.js";
import { dfaContent, excludedStrings } from "./strings.js";

/** Beyond this many automaton states the counting and dependency keywords are left to the validator. */
const MAX_STATES = 2000;
/**
 * Longest key written from a product of automata (a merged region's lookahead pattern, a group of asked-for
 * keys), unless a key must be longer: each length costs a rule per automaton state.
 */
const MAX_REGION_KEY = 32;
/** A pattern matching at most this many keys has them written as names (see planObject). */
const MAX_PATTERN_NAMES = 16;

interface Member {
  readonly name: string;
  readonly expr: GExpr;
  readonly required: boolean;
}

interface Plan {
  readonly members: readonly Member[];
  /** Dependencies by member index: the indexes that must be present when it is. */
  readonly depends: ReadonlyMap<number, readonly number[]>;
  readonly minProperties: number;
  readonly maxProperties: number | undefined;
  /** One member beyond the declared ones, or undefined when none may be added. */
  readonly extra: GExpr | undefined;
  readonly extraMax: number;
}

/** The grammar of an object schema (see the file comment). */
export function objectExpr(compiler: SchemaCompiler, schema: JsonObject, where: Where): GExpr {
  const plan = planObject(compiler, schema, where);
  if (plan === undefined) return NEVER;
  const asked = objectWitnesses(schema.not);
  if (asked === undefined) return objectFrom(compiler, schema, where, plan);
  const written = witnessed(compiler, schema, where, plan, asked);
  if (written !== undefined && (!isNever(written.expr) || written.proved)) return written.expr;
  // Inside a oneOf's exclusive alternative the keys are a complement's: nothing written is the sound answer there.
  if (compiler.exclusive) return written?.expr ?? NEVER;
  // The keys it asks for cannot be written within the object's counts (or at all): they are the validator's,
  // not a reason to write nothing.
  compiler.report.set(
    where.pointer,
    "not",
    "validator",
    written === undefined
      ? "a key it asks for cannot be written"
      : "the keys it asks for leave nothing to write within maxProperties",
  );
  return objectFrom(compiler, schema, where, plan);
}

/** The object of a plan: `{`, its members within the counts (or, past MAX_STATES, without them), `}`. */
function objectFrom(compiler: SchemaCompiler, schema: JsonObject, where: Where, plan: Plan): GExpr {
  const built = buildStates(compiler, plan, true);
  if (built !== undefined) return seq(lit("{"), built, lit("}"));
  for (const keyword of ["dependentRequired", "minProperties", "maxProperties"]) {
    if (schema[keyword] !== undefined) {
      compiler.report.set(where.pointer, keyword, "validator", "too many combinations for the grammar");
    }
  }
  const simple = buildStates(
    compiler,
    { ...plan, depends: new Map(), minProperties: 0, maxProperties: undefined },
    false,
  );
  return simple === undefined ? NEVER : seq(lit("{"), simple, lit("}"));
}

/**
 * The object with the keys `asked` for (keyGroups.ts): an ask with no value of its own that a required name
 * matches is answered by that name; the others are grouped, each group one key matching all of its patterns,
 * every grouping into as many keys as `maxProperties` leaves (one key per ask when it sets no bound) one
 * alternative. Undefined when a key cannot be written (propertyNames or a pattern the automata cannot read);
 * NEVER when no grouping leaves anything to write, `proved` when that is because no object has the keys.
 */
function witnessed(
  compiler: SchemaCompiler,
  schema: JsonObject,
  where: Where,
  plan: Plan,
  asked: readonly Witness[],
): { expr: GExpr; proved: boolean } | undefined {
  const required = plan.members.filter((member) => member.required);
  const open = asked.filter(
    (witness) =>
      witness.value !== true ||
      !required.some((member) => witness.keys.some((source) => patternMatches(source, member.name))),
  );
  if (open.length === 0) {
    compiler.report.set(where.pointer, "not", "grammar", "required names have the keys it asks for");
    return { expr: objectFrom(compiler, schema, where, plan), proved: false };
  }
  const room = plan.maxProperties === undefined ? open.length : plan.maxProperties - required.length;
  const { groupings, truncated } =
    plan.maxProperties === undefined
      ? { groupings: [open.map((_, index) => [index])], truncated: false }
      : keyGroupings(open.length, room);
  const declared = isObject(schema.properties) ? Object.keys(schema.properties) : [];
  const taken = [...new Set([...declared, ...plan.members.map((member) => member.name)])];
  // Nothing to write is the schema's own answer (no object has the keys asked for) when every grouping was
  // tried, no name the grammar leaves out of the keys could answer an ask, and each grouping has a group no
  // key at all may answer (see groupMember's `empty`).
  let proved =
    !truncated && !taken.some((name) => open.some((w) => w.keys.some((k) => patternMatches(k, name))));
  const written: GExpr[] = [];
  for (const grouping of groupings) {
    const members: Member[] = [];
    const earlier: Dfa[] = [];
    let empty = false;
    for (const group of grouping) {
      const key = groupMember(
        compiler,
        schema,
        where,
        group.map((index) => open[index] as Witness),
        taken,
        earlier,
      );
      if (key === undefined) return undefined;
      if (isNever(key.expr)) {
        empty = key.empty;
        break;
      }
      earlier.push(key.keys);
      members.push({ name: `\u0000witness-${members.length}`, expr: key.expr, required: true });
    }
    if (!empty) proved = false;
    if (members.length < grouping.length) continue;
    const object = objectFrom(compiler, schema, where, { ...plan, members: [...plan.members, ...members] });
    if (!isNever(object)) written.push(object);
  }
  if (written.length === 0 && proved) {
    compiler.report.set(where.pointer, "not", "grammar", "no object has the keys it asks for");
    return { expr: NEVER, proved: true };
  }
  if (written.length > 0) {
    compiler.report.set(
      where.pointer,
      "not",
      "grammar",
      plan.maxProperties === undefined
        ? "a member for each key it asks for"
        : `the keys it asks for, shared among the keys maxProperties allows${
            truncated ? ` (the first ${MAX_KEY_GROUPINGS} groupings only)` : ""
          }`,
    );
  }
  return { expr: alt(...written), proved: false };
}

/**
 * Whether a property's own schema refuses its default: ajv decides where the property's schema stands alone (the
 * grammar can be narrower than the validator, e.g. on `format: uri`), the property's grammar where it refers
 * elsewhere (`$ref`).
 */
function refusesDefault(compiler: SchemaCompiler, property: JsonObject, expr: GExpr): boolean {
  const value = property.default as JsonValue;
  if (!JSON.stringify(property).includes('"$ref"')) {
    try {
      return !compileSchema(property as JsonSchema).validate(structuredClone(value)).ok;
    } catch {
      // A schema ajv cannot use on its own: the grammar decides.
    }
  }
  return !compiler.builder.matches(expr, JSON.stringify(value));
}

function planObject(compiler: SchemaCompiler, schema: JsonObject, where: Where): Plan | undefined {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(
    Array.isArray(schema.required) ? schema.required.filter((n) => typeof n === "string") : [],
  );
  const patterns = isObject(schema.patternProperties) ? schema.patternProperties : {};
  const additional = schema.additionalProperties;
  const names = Object.keys(properties);
  const members: Member[] = [];
  const matching = (name: string) =>
    Object.entries(patterns).flatMap(([source, schema]) => (patternMatches(source, name) ? [schema] : []));
  const withMatching = (own: JsonValue, name: string): JsonValue => {
    const more = matching(name);
    return more.length === 0 ? own : { allOf: [own, ...more] };
  };

  for (const name of names) {
    const property = properties[name];
    const defaulted = !required.has(name) && isObject(property) && property.default !== undefined;
    if (!required.has(name) && !compiler.caps.optional && !defaulted) continue;
    const pointer = childPointer(where.pointer, "properties", name);
    // A declared property matching patternProperties must satisfy their schemas too.
    const expr = compiler.value(withMatching(property as JsonValue, name), { pointer, refs: where.refs });
    // An omitted property takes its default in the validated answer; where the property's own grammar refuses
    // that default (real schemas have defaults of the wrong type), leaving it out would fail the answer, so it
    // is always written.
    const badDefault = defaulted && refusesDefault(compiler, property as JsonObject, expr);
    if (badDefault) {
      compiler.report.set(
        pointer,
        "default",
        "validator",
        "its schema refuses it: the property is always written",
      );
    }
    const mustWrite = required.has(name) || badDefault;
    if (!mustWrite && !compiler.caps.optional) continue;
    if (isNever(expr) && !mustWrite) continue;
    members.push({ name, expr: seq(lit(JSON.stringify(name)), COLON, expr), required: mustWrite });
  }
  // A name the schema does not declare takes the schema its patternProperties or additionalProperties give it
  // (undefined: it may not be written at all).
  const undeclared = (name: string): GExpr | undefined => {
    const schemas = matching(name);
    const valueSchema =
      schemas.length === 0 ? additional : schemas.length === 1 ? schemas[0] : { allOf: schemas };
    if (valueSchema === false) return undefined;
    return seq(
      lit(JSON.stringify(name)),
      COLON,
      compiler.value(valueSchema, { pointer: where.pointer, refs: where.refs }),
    );
  };
  for (const name of required) {
    if (names.includes(name as string)) continue;
    const expr = undeclared(name as string);
    if (expr === undefined) return undefined;
    members.push({ name: name as string, expr, required: true });
  }
  // Names that dependentRequired mentions but the schema does not declare: optional members too, so that a
  // source is never written as a free key without its targets, and a target can be written when owed.
  const mentioned = isObject(schema.dependentRequired)
    ? Object.entries(schema.dependentRequired).flatMap(([source, targets]) => [
        source,
        ...(Array.isArray(targets)
          ? targets.filter((target): target is string => typeof target === "string")
          : []),
      ])
    : [];
  for (const name of new Set(mentioned)) {
    if (names.includes(name) || members.some((member) => member.name === name)) continue;
    const expr = undeclared(name);
    if (expr !== undefined && !isNever(expr)) members.push({ name, expr, required: false });
  }
  // A pattern with a few keys only (`^[a-d]$`) gives named members, each written at most once: free keys from
  // it could repeat, and a repeated key counts once in the parsed object (minProperties) while JSON.parse keeps
  // the last value.
  const finite = new Set<string>();
  for (const source of Object.keys(patterns)) {
    const keys = finiteMatches(source, MAX_PATTERN_NAMES);
    if (keys === undefined) continue;
    finite.add(source);
    for (const name of keys) {
      if (names.includes(name) || members.some((member) => member.name === name)) continue;
      const expr = undeclared(name);
      if (expr !== undefined && !isNever(expr)) members.push({ name, expr, required: false });
    }
  }
  if (members.some((member) => member.required && isNever(member.expr))) return undefined;

  const indexOf = new Map(members.map((member, index) => [member.name, index]));
  const depends = new Map<number, number[]>();
  if (isObject(schema.dependentRequired)) {
    for (const [source, targets] of Object.entries(schema.dependentRequired)) {
      const from = indexOf.get(source);
      if (from === undefined || !Array.isArray(targets)) continue;
      const list: number[] = [];
      for (const target of targets) {
        const to = typeof target === "string" ? indexOf.get(target) : undefined;
        if (to === undefined) {
          // Owed a property that cannot be written: the source may not appear.
          list.push(-1);
          continue;
        }
        if (to !== from) list.push(to);
      }
      depends.set(from, list);
    }
  }

  const declaredNothing = names.length === 0 && Object.keys(patterns).length === 0;
  const minProperties = count(schema.minProperties) ?? 0;
  const maxProperties = count(schema.maxProperties);
  const extras: GExpr[] = [];
  const keyFor = (content: GExpr) => compiler.strings.string(content);
  for (const [source, valueSchema] of Object.entries(patterns)) {
    if (finite.has(source)) continue;
    const limit = Math.min(64, compiler.caps.stringMax);
    // Keys must pass propertyNames too: a pattern (and lengths) there meets this one in an automaton.
    const names = namePattern(schema.propertyNames);
    const both = names === undefined ? undefined : allPatterns([source, names.pattern]);
    // A region of merged members' keys (regions.ts) is a lookahead pattern, which only automata write.
    const regex =
      schema.propertyNames === undefined && patternParts(source) === undefined
        ? regexToExpr(source, compiler.builder, { maxRepeat: limit })
        : both !== undefined && names !== undefined
          ? (() => {
              // Keys of merged regions (lookaheads) are written up to MAX_REGION_KEY characters: their automata
              // are products, each length a rule per state.
              const longest = patternParts(source) === undefined ? 64 : MAX_REGION_KEY;
              const written = keyContent(compiler, both, names.minLength, names.maxLength, longest);
              return written.ok ? { ...written, exact: true } : written;
            })()
          : { ok: false as const, reason: "its keys must also pass propertyNames" };
    const pointer = childPointer(where.pointer, "patternProperties", source);
    if (!regex.ok) {
      compiler.report.set(
        where.pointer,
        "patternProperties",
        "validator",
        `pattern ${JSON.stringify(source)}: ${regex.reason}`,
      );
      continue;
    }
    // A key written for this pattern may match another pattern too, whose schema then applies as well: the
    // grammar cannot tell which keys do (that needs the patterns' intersection), so unless the patterns
    // provably share no key, or the other schema adds nothing, the validator checks it.
    const overlapping = Object.entries(patterns).some(
      ([other, schema]) =>
        other !== source &&
        schema !== true &&
        !(isObject(schema) && Object.keys(schema).length === 0) &&
        JSON.stringify(schema) !== JSON.stringify(valueSchema) &&
        !disjointPatterns(source, other) &&
        !(
          patternParts(source) !== undefined &&
          patternParts(other) !== undefined &&
          patternsDisjoint(source, other)
        ),
    );
    if (overlapping) {
      compiler.report.set(
        where.pointer,
        "patternProperties",
        "validator",
        "a key may match several patterns: the other patterns' schemas are checked after decoding",
      );
    }
    const value = compiler.value(valueSchema, { pointer, refs: where.refs });
    if (!isNever(value)) extras.push(seq(keyFor(regex.expr), COLON, value));
  }
  const freeKeys = additional !== false && additional !== undefined;
  if (freeKeys || (additional === undefined && (declaredNothing || minProperties > members.length))) {
    const value = compiler.value(additional === undefined ? true : additional, {
      pointer: childPointer(where.pointer, "additionalProperties"),
      refs: where.refs,
    });
    const key = propertyKey(
      compiler,
      schema,
      where,
      members.map((member) => member.name),
    );
    if (!isNever(value) && !isNever(key)) extras.push(seq(key, COLON, value));
    if (Object.keys(patterns).length > 0) {
      compiler.report.set(
        where.pointer,
        "additionalProperties",
        "validator",
        "keys that match patternProperties",
      );
    }
  }
  const notes: string[] = [];
  if (!freeKeys && additional === undefined && names.length > 0 && extras.length === 0) {
    notes.push("only declared properties are written");
  }
  if (!compiler.caps.optional && names.some((name) => !required.has(name))) {
    notes.push("optional properties are left out to fit maxTokens");
  }
  if (notes.length > 0) compiler.report.set(where.pointer, "properties", "grammar", notes.join("; "));
  const extra = extras.length === 0 ? undefined : compiler.builder.rule("member", alt(...extras));
  return {
    members,
    depends,
    minProperties,
    maxProperties,
    extra,
    extraMax: compiler.caps.propsMax,
  };
}

/** A key the object must have (`not` of patternProperties or propertyNames): its patterns and its value. */
export interface Witness {
  /** The key matches one of these (a union). */
  readonly keys: readonly string[];
  readonly value: JsonValue;
}

/**
 * The keys a `not` asks an object for, when it only does that: `{patternProperties: {p: S}}` (a key matching p
 * whose value S refuses), `{propertyNames: N}` where N's complement is patterns (a key N refuses), or an
 * `anyOf` of those (each one asked for: not (A or B) is not A and not B). Undefined for any other `not`.
 */
export function objectWitnesses(not: JsonValue | undefined): Witness[] | undefined {
  if (!isObject(not)) return undefined;
  const keys = Object.keys(not).filter((key) => !isAnnotation(key));
  if (keys.length !== 1) return undefined;
  if (Array.isArray(not.anyOf)) {
    const all = not.anyOf.map(objectWitnesses);
    return all.every((item) => item !== undefined) && all.length > 0
      ? (all as Witness[][]).flat()
      : undefined;
  }
  if (isObject(not.patternProperties)) {
    const entries = Object.entries(not.patternProperties);
    if (entries.length !== 1) return undefined;
    const [source, member] = entries[0] as [string, JsonValue];
    if (!validPattern(source)) return undefined;
    return [{ keys: [source], value: member === true ? false : member === false ? true : { not: member } }];
  }
  if (not.propertyNames !== undefined) {
    const names = not.propertyNames;
    const refused = complement(names, () => undefined);
    if (refused === undefined || !refused.exact) return undefined;
    const patterns: string[] = [];
    for (const alternative of refused.alternatives) {
      if (!isObject(alternative)) return undefined;
      const types = typeSet(alternative.type);
      if (types !== undefined && !types.includes("string")) continue; // no key is of these types
      const own = Object.keys(alternative).filter((key) => key !== "type");
      if (own.length !== 1 || own[0] !== "pattern" || typeof alternative.pattern !== "string")
        return undefined;
      patterns.push(alternative.pattern);
    }
    return patterns.length === 0 ? undefined : [{ keys: patterns, value: true }];
  }
  return undefined;
}

function validPattern(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/**
 * One member for a group of witnesses: a key all of them ask for that is none of `taken`, none of the keys
 * `earlier` groups may write, and passes propertyNames, with a value each witness asks for and the schema gives
 * that key (its patternProperties' schema, or additionalProperties where no pattern matches); `expr` NEVER when
 * there is none, undefined when the key's automaton cannot be built or written. `keys`: the keys it may write;
 * `empty`: whether no key the schema allows (lengths, values and the other groups aside) answers the group.
 */
function groupMember(
  compiler: SchemaCompiler,
  schema: JsonObject,
  where: Where,
  group: readonly Witness[],
  taken: readonly string[],
  earlier: readonly Dfa[],
): { expr: GExpr; keys: Dfa; empty: boolean } | undefined {
  const names = namePattern(schema.propertyNames);
  if (names === undefined) return undefined;
  const patterns = isObject(schema.patternProperties) ? Object.entries(schema.patternProperties) : [];
  try {
    const own = patterns.map(([source]) => patternDfa(source));
    const base = allDfa([
      ...group.map((witness) => unionDfa(witness.keys)),
      patternDfa(names.pattern),
      ...(taken.length === 0 ? [] : [complementDfa(patternDfa(literalsPattern(taken)))]),
      ...earlier.map(complementDfa),
    ]);
    // Which schema the key gets: none of the patterns (additionalProperties), or pattern j alone.
    const placements: { dfa: Dfa; schema: JsonValue }[] = [
      {
        dfa: allDfa([base, ...own.map(complementDfa)]),
        schema: schema.additionalProperties ?? true,
      },
      ...patterns.map(([, valueSchema], j) => ({
        dfa: allDfa([base, ...own.map((dfa, i) => (i === j ? dfa : complementDfa(dfa)))]),
        schema: valueSchema as JsonValue,
      })),
    ];
    // Every key the schema allows that answers the group's asks, lengths and values aside: when there is none,
    // no object has such a key.
    const refused = patterns.flatMap(([, valueSchema], i) => (valueSchema === false ? [own[i] as Dfa] : []));
    const welcome = patterns.flatMap(([, valueSchema], i) => (valueSchema === false ? [] : [own[i] as Dfa]));
    const allowed = allDfa([
      ...group.map((witness) => unionDfa(witness.keys)),
      patternDfa(names.pattern),
      ...refused.map(complementDfa),
      ...(schema.additionalProperties === false ? [anyDfa(welcome)] : []),
    ]);
    const empty = acceptsNothing(allowed);
    const options: GExpr[] = [];
    for (const placement of placements) {
      if (placement.schema === false) continue;
      const content = keyContent(compiler, placement.dfa, names.minLength, names.maxLength, MAX_REGION_KEY);
      if (!content.ok) return undefined;
      if (isNever(content.expr)) continue;
      const value = compiler.value(
        { allOf: [...group.map((witness) => witness.value), placement.schema] },
        { pointer: where.pointer, refs: where.refs },
      );
      options.push(seq(compiler.strings.string(content.expr), COLON, value));
    }
    return { expr: alt(...options), keys: base, empty };
  } catch (error) {
    if (error instanceof UnsupportedRegexError) return undefined;
    throw error;
  }
}

/**
 * The content of keys from a pattern or an automaton, of `minLength` to `maxLength` characters and at most
 * min(`longest`, stringMax) — but never fewer than its shortest key: at the smallest caps a key is as short as
 * the pattern allows, not left out.
 */
function keyContent(
  compiler: SchemaCompiler,
  keys: string | Dfa,
  minLength: number,
  maxLength: number,
  longest: number,
): { readonly ok: true; readonly expr: GExpr } | { readonly ok: false; readonly reason: string } {
  try {
    const dfa = typeof keys === "string" ? patternDfa(keys) : keys;
    const shortest = shortestAccepted(dfa) ?? 0;
    const limit = Math.min(maxLength, Math.max(Math.min(longest, compiler.caps.stringMax), shortest));
    return dfaContent(compiler.builder, dfa, minLength, limit);
  } catch (error) {
    if (error instanceof UnsupportedRegexError) return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * propertyNames as one pattern and length bounds, when it says no more than that (`{pattern, maxLength}`);
 * undefined otherwise.
 */
function namePattern(
  names: JsonValue | undefined,
): { pattern: string; minLength: number; maxLength: number } | undefined {
  if (names === undefined || names === true || (isObject(names) && Object.keys(names).length === 0))
    return { pattern: "", minLength: 0, maxLength: Number.POSITIVE_INFINITY };
  if (!isObject(names)) return undefined;
  const known = ["pattern", "minLength", "maxLength", "type"];
  if (Object.keys(names).some((key) => !known.includes(key) && !isAnnotation(key))) return undefined;
  if (names.type !== undefined && names.type !== "string") return undefined;
  if (names.pattern !== undefined && typeof names.pattern !== "string") return undefined;
  return {
    pattern: typeof names.pattern === "string" ? names.pattern : "",
    minLength: count(names.minLength) ?? 0,
    maxLength: count(names.maxLength) ?? Number.POSITIVE_INFINITY,
  };
}

/** The key of an added property: a string allowed by `propertyNames` that is not a declared name. */
function propertyKey(
  compiler: SchemaCompiler,
  schema: JsonObject,
  where: Where,
  declared: readonly string[],
): GExpr {
  const limit = Math.min(64, compiler.caps.stringMax);
  if (schema.propertyNames === undefined) {
    return excludedStrings(compiler.builder, compiler.strings, declared, TEXT_CHARS, limit);
  }
  const names = schema.propertyNames;
  const asString = isObject(names) ? { maxLength: limit, ...names, type: "string" } : names;
  if (declared.length > 0) {
    compiler.report.set(
      where.pointer,
      "propertyNames",
      "grammar",
      "a key may repeat a declared name: the validator checks it",
    );
  }
  return compiler.value(asString, {
    pointer: childPointer(where.pointer, "propertyNames"),
    refs: where.refs,
  });
}

/**
 * The members between the braces, as automaton states named rules. `tracked`: whether dependencies and
 * property counts are followed; returns undefined when they need more than MAX_STATES states.
 */
function buildStates(compiler: SchemaCompiler, plan: Plan, tracked: boolean): GExpr | undefined {
  const { members, depends, minProperties, maxProperties } = plan;
  const counting = tracked && (minProperties > 0 || maxProperties !== undefined);
  const countCap = Math.max(minProperties, (maxProperties ?? 0) + 1);
  const later = new Map<number, number[]>();
  const earlier = new Map<number, number[]>();
  for (const [from, targets] of depends) {
    later.set(
      from,
      targets.filter((to) => to > from || to < 0),
    );
    earlier.set(
      from,
      targets.filter((to) => to >= 0 && to < from),
    );
  }
  // Members an earlier-dependency points back to: whether they were written is part of the state.
  const remembered = new Set([...earlier.values()].flat());
  const memo = new Map<string, GExpr>();
  let states = 0;

  const state = (
    index: number,
    started: boolean,
    written: number,
    owed: readonly number[],
    seen: readonly number[],
  ): GExpr | undefined => {
    const key = `${index}|${started}|${written}|${owed.join(",")}|${seen.join(",")}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (++states > MAX_STATES) return undefined;
    let expr: GExpr;
    if (index === members.length) {
      expr = owed.length > 0 ? NEVER : tail(plan, started, written, counting);
    } else {
      const member = members[index] as Member;
      const mustWrite = member.required || owed.includes(index);
      const needsEarlier = earlier.get(index) ?? [];
      const canWrite =
        !isNever(member.expr) &&
        (!counting || maxProperties === undefined || written < maxProperties) &&
        (!tracked || needsEarlier.every((to) => seen.includes(to))) &&
        (!tracked || !(later.get(index) ?? []).includes(-1));
      const parts: GExpr[] = [];
      if (canWrite) {
        const nextOwed = tracked
          ? [...new Set([...owed.filter((to) => to !== index), ...(later.get(index) ?? [])])].sort(
              (a, b) => a - b,
            )
          : [];
        const nextSeen = tracked && remembered.has(index) ? [...seen, index] : seen;
        const next = state(
          index + 1,
          true,
          counting ? Math.min(written + 1, countCap) : 0,
          nextOwed,
          nextSeen,
        );
        if (next === undefined) return undefined;
        parts.push(seq(started ? COMMA : EMPTY, member.expr, next));
      }
      if (!mustWrite) {
        const skip = state(index + 1, started, written, owed, seen);
        if (skip === undefined) return undefined;
        parts.push(skip);
      }
      expr = alt(...parts);
    }
    const named = compiler.builder.rule(`obj-${index}`, expr);
    memo.set(key, named);
    return named;
  };
  return state(0, false, 0, [], []);
}

/** The added members after the declared ones, within the property counts. */
function tail(plan: Plan, started: boolean, written: number, counting: boolean): GExpr {
  const low = counting ? Math.max(0, plan.minProperties - written) : 0;
  const room =
    counting && plan.maxProperties !== undefined ? plan.maxProperties - written : Number.POSITIVE_INFINITY;
  // The cap on added members never goes below what minProperties asks for: it bounds open counts only.
  const high = plan.extra === undefined ? 0 : Math.min(Math.max(plan.extraMax, low), room);
  if (low > high) return NEVER;
  if (high === 0 || plan.extra === undefined) return EMPTY;
  const extra = plan.extra;
  if (started) return rep(seq(COMMA, extra), low, high);
  const list = seq(extra, rep(seq(COMMA, extra), Math.max(0, low - 1), high - 1));
  return low === 0 ? opt(list) : list;
}

// Grammar completeness for bench/schemas/run.mjs: which test instances the compiled grammar admits, with
// llama.cpp's own grammar parser as the authority (`LlamaGrammar#_testText`, a whole-text match; internal in
// node-llama-cpp 3.21.1, wrapped in `llamaAccepts`) and the compiler's JS matcher (`builder.matches`) as a
// cross-check. Instances are re-serialized canonically first (canonical.mjs). A valid instance the grammar
// rejects is checked again under large caps (lengths and counts), then also deep caps (recursion and free-form
// nesting), so that rejections due to caps are told apart; the rest are diagnosed by finding the deepest
// sub-value whose own grammar (the compiler's grammar of that sub-schema) rejects it. A grammar llama.cpp cannot
// parse admits nothing (its valid instances count as rejected, its invalid ones as excluded).
import { LlamaGrammar } from "node-llama-cpp";
import { SchemaCompiler } from "../../dist/schema/grammar/compiler.js";
import { buildSchemaGrammar, DEFAULT_CAPS } from "../../dist/schema/grammar/index.js";
import { GrammarBuilder, isNever } from "../../dist/schema/grammar/ir.js";
import { Report } from "../../dist/schema/grammar/report.js";
import { benchAjv, excerpt, SchemaWalker, typeAllowed } from "./canonical.mjs";

/** Caps for the re-check of rejected valid instances: lengths and counts (the brief's "large caps"). */
export const LARGE_CAPS = Object.freeze({
  ...DEFAULT_CAPS,
  stringMax: 5000,
  arrayMax: 500,
  propsMax: 200,
  // Caps on declared maxLength/maxItems, where the compiler has them: never below the open ones.
  ...("declaredStringMax" in DEFAULT_CAPS
    ? { declaredStringMax: Math.max(DEFAULT_CAPS.declaredStringMax, 5000) }
    : {}),
  ...("declaredArrayMax" in DEFAULT_CAPS
    ? { declaredArrayMax: Math.max(DEFAULT_CAPS.declaredArrayMax, 500) }
    : {}),
});
/**
 * Large caps plus deeper free-form nesting and one more level of recursion. The extra recursion level is tried
 * only on schemas whose default grammar compiled in under a second: on large recursive schemas (the
 * WashingtonPost ones) each level multiplies the grammar, and recursion 4 does not finish in minutes.
 */
export const DEEP_CAPS = Object.freeze({ ...LARGE_CAPS, recursion: LARGE_CAPS.recursion + 1, anyDepth: 4 });
const DEEP_CAPS_NO_RECURSION = Object.freeze({ ...DEEP_CAPS, recursion: LARGE_CAPS.recursion });
const FAST_COMPILE_MS = 1000;

const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** Whether llama.cpp's grammar parser admits exactly `text` (throws when it cannot parse the grammar). */
export function llamaAccepts(grammar, text) {
  return grammar._testText(text);
}

/** A grammar text parsed by llama.cpp: `{ grammar }` or `{ error }`. */
export function parseWithLlama(llama, gbnf) {
  try {
    return { grammar: new LlamaGrammar(llama, { grammar: gbnf }) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The report as a lookup: `pointer\0keyword` → entry. */
export function reportIndex(report) {
  const index = new Map(report.map((entry) => [`${entry.pointer}\u0000${entry.keyword}`, entry]));
  // Verdicts that hand a keyword to the validator in their note ("members disagree on pattern", "next to $ref").
  index.handedOver = report.filter((entry) => entry.enforcement === "validator" && entry.note !== undefined);
  return index;
}

const COMBINATOR_SEGMENT = /\/(allOf|anyOf|oneOf)\/\d+/g;
// Keywords whose failure is only the sum of their members' errors (which ajv reports too).
const WRAPPERS = new Set(["anyOf", "allOf", "$ref"]);

/**
 * How each ajv error's keyword is enforced according to the compiler's report, by the schema path ajv gives
 * (with `allOf`/`anyOf`/`oneOf` member segments dropped as a fallback, since the compiler reports merged
 * members at the combinator's place). Returns `{ blame, errors }`: `blame` is `validator` when some error is at
 * a keyword the grammar does not enforce (or one the report does not name), `grammar` when every error is at a
 * keyword the report says the grammar enforces: then the grammar admitted a value it should not have.
 */
export function blameErrors(errors, index, value) {
  const out = [];
  for (const error of errors) {
    let keyword = error.keyword;
    if (keyword === "oneOf" && Array.isArray(error.params?.passingSchemas)) keyword = "oneOf (exactly one)";
    else if (WRAPPERS.has(keyword) || keyword === "oneOf") continue;
    let path = error.schemaPath;
    try {
      path = decodeURIComponent(path);
    } catch {}
    const pointer = path.endsWith(`/${error.keyword}`) ? path.slice(0, -error.keyword.length - 1) : path;
    let entry =
      index.get(`${pointer}\u0000${keyword}`) ??
      index.get(`${pointer.replace(COMBINATOR_SEGMENT, "")}\u0000${keyword}`);
    // A keyword at a merged member's own place reads `grammar`, while the merge handed it to the validator in
    // a note at the combinator (e.g. `allOf: validator (members disagree on pattern)` at an ancestor).
    if (entry?.enforcement === "grammar") {
      const mentioned = new RegExp(`\\b${keyword.replace(/[^A-Za-z]/g, "")}\\b`);
      entry =
        (index.handedOver ?? []).find(
          (item) =>
            (pointer === item.pointer || pointer.startsWith(`${item.pointer}/`)) && mentioned.test(item.note),
        ) ?? entry;
    }
    // An error about a value the output does not have: a `default` the validator filled in fails the schema.
    if (value !== undefined && !hasPath(value, error.instancePath)) {
      entry = { enforcement: "validator", note: "a default filled in by the validator fails the schema" };
    }
    out.push({
      keyword,
      pointer,
      instancePath: error.instancePath,
      message: error.message,
      enforcement: entry?.enforcement ?? "unknown",
      ...(entry?.note === undefined ? {} : { note: entry.note }),
    });
  }
  const blame =
    out.length > 0 && out.every((item) => item.enforcement === "grammar") ? "grammar" : "validator";
  return { blame, errors: out };
}

/** Whether `value` has something at the JSON pointer `path` (an ajv instancePath). */
function hasPath(value, path) {
  let node = value;
  for (const raw of path.split("/").slice(1)) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, token)) return false;
    node = node[token];
  }
  return true;
}

/** ajv's raw errors for a value (the product's validator gives formatted lines only). */
export function rawErrors(normalized, value) {
  try {
    const validate = benchAjv().compile(normalized);
    benchAjv().removeSchema(normalized);
    validate(structuredClone(value));
    return validate.errors ?? [];
  } catch {
    return [];
  }
}

/**
 * Checks every test instance of one schema against its grammar. `grammar`: compileGrammar's result with
 * default caps; `built`: buildSchemaGrammar with the same caps (for the JS matcher). Returns per-instance
 * outcomes and the schema's findings.
 */
export function checkInstances({ llama, entry, normalized, index, grammar, built, reportMap, compileMs }) {
  const deepCaps = compileMs < FAST_COMPILE_MS ? DEEP_CAPS : DEEP_CAPS_NO_RECURSION;
  const walker = new SchemaWalker(normalized, index);
  const parsed = parseWithLlama(llama, grammar.gbnf);
  const result = {
    validTotal: 0,
    validAdmitted: 0,
    invalidTotal: 0,
    invalidExcluded: 0,
    rejected: [],
    invalidAdmitted: [],
    disagreements: [],
    parseError: parsed.error,
    recheckParseErrors: [],
    canonicalNotes: [],
  };
  let large;
  let deep;
  const recheck = (caps, which) => {
    const grammarOf = buildSchemaGrammar(normalized, caps);
    const gbnf = grammarOf.builder.toGbnf(grammarOf.root);
    const parsedRecheck = parseWithLlama(llama, gbnf);
    // llama.cpp refuses some large-cap grammars; the JS matcher then decides the re-check alone.
    if (parsedRecheck.error !== undefined)
      result.recheckParseErrors.push({ caps: which, error: parsedRecheck.error });
    return { built: grammarOf, llama: parsedRecheck, which };
  };
  const admits = (g, text) =>
    g.llama.grammar !== undefined
      ? llamaAccepts(g.llama.grammar, text)
      : g.built.builder.matches(g.built.root, text);

  for (const [i, test] of entry.tests.entries()) {
    const notes = [];
    const canonical = walker.canonical(test.data, normalized, "#", notes);
    const text = JSON.stringify(canonical);
    if (notes.length > 0) result.canonicalNotes.push({ test: i, notes: [...new Set(notes)].slice(0, 5) });
    const js = built.builder.matches(built.root, text);
    // A grammar llama.cpp cannot parse admits nothing in decoding: no instance counts as admitted.
    const native = parsed.grammar === undefined ? false : llamaAccepts(parsed.grammar, text);
    if (parsed.grammar !== undefined && native !== js) {
      result.disagreements.push({ test: i, valid: test.valid, llama: native, js, text: excerpt(text, 300) });
    }
    if (test.valid) {
      result.validTotal++;
      if (native) {
        result.validAdmitted++;
        continue;
      }
      if (parsed.grammar === undefined) {
        result.rejected.push({
          test: i,
          description: test.description,
          kind: "other",
          reason: "llama.cpp cannot parse the grammar",
          jsMatcherAdmits: js,
        });
        continue;
      }
      large ??= recheck(LARGE_CAPS, "large");
      let cause;
      if (admits(large, text)) cause = { kind: "caps", caps: "lengths/counts" };
      else {
        deep ??= recheck(deepCaps, "deep");
        if (admits(deep, text)) {
          cause = {
            kind: "caps",
            caps:
              deepCaps.recursion > LARGE_CAPS.recursion
                ? "nesting depth (recursion/anyDepth)"
                : "nesting depth (anyDepth)",
          };
        } else {
          const found = diagnose(walker, index, test.data, deepCaps);
          // A free-form value ({} or true) whose every member passes on its own but which fails as a whole is
          // nested deeper than anyDepth allows, counted from the outermost free-form value: a cap too.
          cause =
            Array.isArray(found.keywords) && found.keywords.length === 0
              ? { kind: "caps", caps: "free-form nesting deeper than the re-check's anyDepth", ...found }
              : { kind: "other", ...found, deepCaps };
        }
      }
      result.rejected.push({ test: i, description: test.description, ...cause });
    } else {
      result.invalidTotal++;
      if (!native) {
        result.invalidExcluded++;
        continue;
      }
      const { blame, errors } = blameErrors(rawErrors(normalized, test.data), reportMap, test.data);
      result.invalidAdmitted.push({
        test: i,
        description: test.description,
        blame,
        errors: errors.slice(0, 4),
        ...(blame === "grammar" ? { text: excerpt(text, 300) } : {}),
      });
    }
  }
  return result;
}

/**
 * Why a valid instance's canonical text is rejected even under deep caps: the deepest sub-value whose own
 * grammar (the compiler's with the same deep caps, for the sub-schema at its place) rejects it, and a guess at
 * the reason there.
 */
function diagnose(walker, index, value, caps) {
  const builder = new GrammarBuilder();
  const compiler = new SchemaCompiler(index, builder, new Report(), caps);
  const rejects = (raw, pointer, sub) => {
    const expr = compiler.value(raw, { pointer, refs: [] });
    return isNever(expr) || !builder.matches(expr, JSON.stringify(walker.canonical(sub, raw, pointer)));
  };
  let raw = index.root;
  let pointer = "#";
  let current = value;
  const path = [];
  try {
    for (let depth = 0; depth < 64; depth++) {
      const effective = walker.effective(raw, pointer, current);
      const failing = walker
        .children(current, effective.schema, effective.pointer)
        .find((kid) => rejects(kid.schema, kid.pointer, kid.value));
      if (failing === undefined) {
        return {
          path: path.length === 0 ? "(root)" : path.join("."),
          pointer: effective.pointer,
          reason: reasonAt(effective.schema, current),
          keywords: isObject(effective.schema)
            ? Object.keys(effective.schema).filter((k) => !["title", "description", "examples"].includes(k))
            : [String(effective.schema)],
          value: excerpt(current),
          ...(effective.notes.length > 0 ? { notes: effective.notes.slice(0, 3) } : {}),
        };
      }
      path.push(String(failing.key));
      raw = failing.schema;
      pointer = failing.pointer;
      current = failing.value;
    }
  } catch (error) {
    return {
      path: path.join("."),
      reason: `diagnosis failed: ${error instanceof Error ? error.message : error}`,
    };
  }
  return { path: path.join("."), reason: "diagnosis did not settle" };
}

const OBJECT_KEYWORDS = [
  "properties",
  "additionalProperties",
  "patternProperties",
  "propertyNames",
  "required",
];
const OBJECT_COUNTS = ["minProperties", "maxProperties", "dependentRequired"];
const ARRAY_KEYWORDS = ["items", "prefixItems", "contains", "minItems", "maxItems"];
const STRING_KEYWORDS = ["minLength", "maxLength", "pattern", "format"];
const NUMBER_KEYWORDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];

/** A short label for why the grammar of `schema` rejects `value` (which the validator accepts). */
function reasonAt(schema, value) {
  if (schema === false) return "schema false at this place (branch choice?)";
  if (!isObject(schema)) return "unknown";
  if (schema.const !== undefined || Array.isArray(schema.enum)) return "enum/const value spelled differently";
  if (!typeAllowed(schema, value)) return "type not allowed by the chosen branch (branch choice?)";
  if (schema.type === undefined) {
    const has = (list) => list.some((k) => schema[k] !== undefined);
    const inferred = has([...OBJECT_KEYWORDS, ...OBJECT_COUNTS])
      ? "object"
      : has(ARRAY_KEYWORDS)
        ? "array"
        : has(STRING_KEYWORDS)
          ? "string"
          : has(NUMBER_KEYWORDS)
            ? "number"
            : undefined;
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    if (inferred !== undefined && inferred !== actual)
      return `no "type": the grammar infers ${inferred} from the keywords, the value is ${actual}`;
  }
  if (isObject(value)) {
    const declared = isObject(schema.properties) ? Object.keys(schema.properties) : [];
    const extra = Object.keys(value).filter((k) => !declared.includes(k));
    if (
      extra.length > 0 &&
      schema.additionalProperties === undefined &&
      schema.patternProperties === undefined &&
      declared.length > 0
    )
      return "undeclared property while additionalProperties is absent (the grammar writes declared properties only)";
    const counts = OBJECT_COUNTS.filter((k) => schema[k] !== undefined);
    if (counts.length > 0) return `object: ${counts.join(", ")}`;
    if (schema.propertyNames !== undefined) return "object: propertyNames";
    if (schema.patternProperties !== undefined) return "object: patternProperties";
    return "object: other";
  }
  if (Array.isArray(value)) {
    const used = ARRAY_KEYWORDS.filter((k) => schema[k] !== undefined);
    return `array: ${used.join(", ") || "other"}`;
  }
  if (typeof value === "string") {
    if ([...value].some((char) => char < " " && !"\t\n\r".includes(char)))
      return "string: control characters (the grammar writes none but tab, LF, CR)";
    if (typeof schema.pattern === "string") return "string: pattern";
    if (typeof schema.format === "string") return `string: format "${schema.format}"`;
    if (schema.minLength !== undefined || schema.maxLength !== undefined) return "string: length";
    return "string: other";
  }
  if (typeof value === "number") {
    const text = JSON.stringify(value);
    if (/e/i.test(text)) return "number: exponent notation";
    if (text.replace(/^-/, "").split(".")[0].length > 16) return "number: more than 16 integer digits";
    const used = NUMBER_KEYWORDS.filter((k) => schema[k] !== undefined);
    return `number: ${used.join(", ") || "other"}`;
  }
  return `${value === null ? "null" : typeof value}: other`;
}

/**
 * The grammar of one model turn, from edgecrew's own schema compiler: an answer (a JSON value of the output
 * schema), a tool call (one of the granted tools, its arguments from its input schema, written in the model's
 * own call syntax), free text, or a choice between them. The same compiler thus shapes answers, plans, final
 * answers and tool calls, and the turn's longest output is bounded as a whole: caps are tightened until it fits
 * `maxTokens`, so a generation under it can always close (see src/schema/grammar/index.ts).
 *
 * Parsing the text the model wrote is the other half: which alternative it took, the tool's name and its
 * arguments. Arguments are JSON-parsed here and validated by the tool registry (ajv or the tool's zod schema),
 * which counts string lengths in code points as JSON Schema does.
 */

import { EdgecrewError, ErrorCodes } from "../errors.js";
import {
  buildSchemaGrammar,
  type Caps,
  DEFAULT_CAPS,
  fitCaps,
  type KeywordReport,
} from "../schema/grammar/index.js";
import { alt, cls, type GExpr, GrammarBuilder, lit, opt, rep, seq } from "../schema/grammar/ir.js";
import { normalizeSchema } from "../schema/normalize.js";
import type { JsonSchema } from "../types.js";

/** How a model writes a call: `prefix` + name + `paramsPrefix` + JSON arguments + `suffix` (plain text). */
export interface CallSyntax {
  /** Whether a space may come before the prefix. */
  readonly optionalPrefixSpace: boolean;
  readonly prefix: string;
  /** The text between the name and the arguments, for a given tool name (templates may name the tool). */
  readonly paramsPrefix: (name: string) => string;
  readonly suffix: string;
}

/** A tool the turn may call. */
export interface CallableTool {
  readonly name: string;
  /** JSON Schema of the arguments; undefined: the tool takes none (`{}` is written). */
  readonly input: JsonSchema | undefined;
}

/** What a turn may produce. At least one of `call`, `answer`, `text`. */
export interface TurnSpec {
  /** Tools one of which the turn may call, and the syntax to write the call in. */
  readonly call?: { readonly tools: readonly CallableTool[]; readonly syntax: CallSyntax };
  /** The schema of an answer the turn may give instead. */
  readonly answer?: JsonSchema;
  /** Free text is allowed instead (a chat model's plain reply); its length is bounded by `maxTokens` alone. */
  readonly text?: boolean;
  /** The turn's token budget; the grammar's longest output fits it. */
  readonly maxTokens: number;
  readonly caps?: Partial<Caps>;
}

/** What the model wrote, read back. */
export type ParsedTurn =
  | { readonly kind: "call"; readonly name: string; readonly params: unknown; readonly paramsText: string }
  | { readonly kind: "answer"; readonly text: string }
  | { readonly kind: "text"; readonly text: string };

/** A compiled turn grammar. */
export interface TurnGrammar {
  readonly gbnf: string;
  /** The longest output the grammar admits, in tokens (at most the spec's `maxTokens`). */
  readonly maxTokens: number;
  /** How each keyword of the answer and argument schemas is enforced (pointers prefixed by their source). */
  readonly report: readonly KeywordReport[];
  /** Whether every text the grammar admits can be finished with ASCII characters (see `requiresNonAscii`). */
  readonly asciiOnly: boolean;
  /** The grammar itself, for edgecrew's own matcher (grammarBias.ts). */
  readonly ir: { readonly builder: GrammarBuilder; readonly root: GExpr };
  /** Reads generated text: a call, an answer, or free text. */
  parse(text: string): ParsedTurn;
}

interface Built {
  readonly builder: GrammarBuilder;
  readonly root: GExpr;
  readonly reports: KeywordReport[];
}

/**
 * Compiles the grammar of a turn (see the file comment). Throws TOKEN_BUDGET_EXCEEDED when even the shortest
 * call or answer cannot fit `maxTokens`, and SCHEMA_INVALID when nothing can be written.
 *
 * @example
 * const grammar = compileTurnGrammar({ call: { tools: [{ name: "weather", input }], syntax }, answer, maxTokens: 512 });
 * grammar.parse('<tool_call>\n{"name": "weather", "arguments": {"city":"Oslo"}}\n</tool_call>');
 * // { kind: "call", name: "weather", params: { city: "Oslo" }, paramsText: '{"city":"Oslo"}' }
 */
export function compileTurnGrammar(spec: TurnSpec): TurnGrammar {
  if (spec.call === undefined && spec.answer === undefined && spec.text !== true) {
    throw new TypeError("compileTurnGrammar: a turn must allow a call, an answer or text");
  }
  const inputs = (spec.call?.tools ?? []).map((tool) => ({
    name: tool.name,
    schema: normalizeSchema(tool.input ?? { type: "object", properties: {}, additionalProperties: false }),
  }));
  const answer = spec.answer === undefined ? undefined : normalizeSchema(spec.answer);
  const build = (caps: Caps): Built => {
    const builder = new GrammarBuilder();
    const reports: KeywordReport[] = [];
    const options: GExpr[] = [];
    if (spec.call !== undefined) {
      const { syntax } = spec.call;
      const calls = inputs.map(({ name, schema }) => {
        const built = buildSchemaGrammar(schema, caps, builder);
        reports.push(...prefixed(built.report.entries(), `tool ${name}`));
        return seq(lit(name), lit(syntax.paramsPrefix(name)), built.root);
      });
      options.push(
        seq(
          syntax.optionalPrefixSpace ? opt(lit(" ")) : lit(""),
          lit(syntax.prefix),
          alt(...calls),
          lit(syntax.suffix),
        ),
      );
    }
    if (answer !== undefined) {
      const built = buildSchemaGrammar(answer, caps, builder);
      reports.push(...prefixed(built.report.entries(), "answer"));
      options.push(built.root);
    }
    // Free text: any characters; its length is what the token budget lets through, not the grammar's.
    if (spec.text === true) options.push(rep(cls([[0x00, 0x10ffff]]), 0, Math.max(0, spec.maxTokens)));
    return { builder, root: alt(...options), reports };
  };
  const base: Caps = { ...DEFAULT_CAPS, ...spec.caps };
  const { built } = fitCaps(build, base, spec.maxTokens, describe(spec));
  let gbnf: string;
  try {
    gbnf = built.builder.toGbnf(built.root);
  } catch (cause) {
    throw new EdgecrewError(
      ErrorCodes.SCHEMA_INVALID,
      `${describe(spec)} admits no value: ${String(cause)}`,
      { cause },
    );
  }
  return {
    gbnf,
    maxTokens: built.builder.maxLength(built.root),
    report: built.reports,
    asciiOnly: !built.builder.requiresNonAscii(built.root),
    ir: { builder: built.builder, root: built.root },
    parse: (text) => parseTurn(text, spec),
  };
}

function describe(spec: TurnSpec): string {
  const parts: string[] = [];
  if (spec.call !== undefined)
    parts.push(`a call of ${spec.call.tools.map((tool) => tool.name).join(" / ")}`);
  if (spec.answer !== undefined) parts.push("the answer");
  return parts.length === 0 ? "the reply" : parts.join(" or ");
}

function prefixed(entries: readonly KeywordReport[], source: string): KeywordReport[] {
  return entries.map((entry) => ({ ...entry, pointer: `${source} ${entry.pointer}` }));
}

/** Reads a turn's text back (see {@link ParsedTurn}); text that is no call is an answer or free text. */
export function parseTurn(text: string, spec: Pick<TurnSpec, "call" | "answer">): ParsedTurn {
  const call = spec.call === undefined ? undefined : parseCall(text, spec.call.tools, spec.call.syntax);
  if (call !== undefined) return call;
  return spec.answer !== undefined ? { kind: "answer", text } : { kind: "text", text };
}

function parseCall(text: string, tools: readonly CallableTool[], syntax: CallSyntax): ParsedTurn | undefined {
  let rest = syntax.optionalPrefixSpace && text.startsWith(` ${syntax.prefix}`) ? text.slice(1) : text;
  if (!rest.startsWith(syntax.prefix) || !rest.endsWith(syntax.suffix)) return undefined;
  rest = rest.slice(syntax.prefix.length, rest.length - syntax.suffix.length);
  // The longest name that fits: tool names may be prefixes of one another.
  const candidates = [...tools].sort((a, b) => b.name.length - a.name.length);
  for (const tool of candidates) {
    const head = tool.name + syntax.paramsPrefix(tool.name);
    if (!rest.startsWith(head)) continue;
    const paramsText = rest.slice(head.length);
    try {
      return { kind: "call", name: tool.name, params: JSON.parse(paramsText) as unknown, paramsText };
    } catch {
      // Not this tool's call after all (a longer name's prefix): try the next.
    }
  }
  return undefined;
}

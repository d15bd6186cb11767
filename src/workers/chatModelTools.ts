/**
 * Tool calling for {@link ChatNodeLlamaCpp}: LangChain tools become callable tools of a turn grammar (the same
 * compiler shapes their arguments as the workers' tools), documented to the model by its chat template;
 * `tool_choice` becomes the turn's spec (offer nothing, offer the tools beside free text, or only a call), and
 * the call the model writes becomes a LangChain tool call. Nothing here runs a tool: as with every LangChain
 * chat model, the caller runs the calls and answers with ToolMessages.
 *
 * Only type imports from LangChain's message modules: building messages is the chat model's business.
 */
import { randomBytes } from "node:crypto";
import type { BindToolsInput, ToolChoice } from "@langchain/core/language_models/chat_models";
import type { ToolCall, ToolCallChunk } from "@langchain/core/messages";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import type { ChatModelFunctions } from "node-llama-cpp";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { JsonSchema } from "../types.js";
import type { CallSyntax, ParsedTurn, TurnSpec } from "./turnGrammar.js";
import { toolFunctions } from "./workerTools.js";

/** A tool bound to the chat model, in OpenAI's function format (what `convertToOpenAITool` produces). */
export interface ChatModelTool {
  readonly type: "function";
  readonly function: {
    readonly name: string;
    readonly description?: string;
    /** JSON Schema of the arguments; none means the tool takes no arguments. */
    readonly parameters?: JsonSchema;
  };
}

/** How one generation uses the bound tools, resolved from `tool_choice`. */
export type ToolChoicePlan =
  /** No tools offered: the model writes text (also the plan when no tools are bound). */
  | { readonly kind: "none" }
  /** The tools are offered; the model may call one or write text. */
  | { readonly kind: "auto" }
  /** The response must start with a call to one of `names` (every bound tool, or the one `tool_choice` names). */
  | { readonly kind: "force"; readonly names: readonly string[] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toolError(message: string, context: Record<string, unknown> = {}): EdgecrewError {
  return new EdgecrewError(ErrorCodes.TOOL_INVALID, message, { context });
}

/**
 * The bound form of each tool: LangChain tools, `tool()` results and runnables-as-tools through
 * `convertToOpenAITool` (their zod schemas become JSON Schema), OpenAI tool definitions as they are, and bare
 * function definitions (`{ name, description, parameters }`) wrapped into one. Throws TOOL_INVALID for a tool
 * without a name, a duplicate name, or parameters that are not a JSON Schema object.
 */
export function toChatModelTools(tools: readonly BindToolsInput[]): ChatModelTool[] {
  const seen = new Set<string>();
  return tools.map((input) => {
    const converted: unknown = convertToOpenAITool(input);
    const fn: unknown = isRecord(converted) && isRecord(converted.function) ? converted.function : converted;
    if (!isRecord(fn) || typeof fn.name !== "string" || fn.name === "") {
      throw toolError("a bound tool has no name: pass LangChain tools or OpenAI function definitions");
    }
    const name = fn.name;
    if (seen.has(name)) throw toolError(`two bound tools are named \`${name}\``, { tool: name });
    seen.add(name);
    if (fn.parameters !== undefined && !isRecord(fn.parameters)) {
      throw toolError(`the tool \`${name}\` has parameters that are not a JSON Schema object`, {
        tool: name,
      });
    }
    return {
      type: "function",
      function: {
        name,
        ...(typeof fn.description === "string" ? { description: fn.description } : {}),
        ...(fn.parameters === undefined ? {} : { parameters: fn.parameters as JsonSchema }),
      },
    };
  });
}

/** The documentation of bound tools for the chat template (descriptions and parameter schemas). */
export function chatFunctions(tools: readonly ChatModelTool[]): ChatModelFunctions {
  return toolFunctions(
    tools.map(({ function: fn }) => ({
      name: fn.name,
      description: fn.description ?? "",
      input: fn.parameters ?? { type: "object", properties: {}, additionalProperties: false },
    })),
  );
}

/** The tool name an object `tool_choice` names (`{ type: "function", function: { name } }` or `{ name }`). */
function namedChoice(choice: Record<string, unknown>): string | undefined {
  const fn = choice.function;
  if (isRecord(fn) && typeof fn.name === "string") return fn.name;
  return typeof choice.name === "string" ? choice.name : undefined;
}

/**
 * The plan for `tool_choice` over the bound tools: `undefined` or "auto" offers them, "none" offers none,
 * "any" or "required" forces a call to one of them, and a tool's name (or OpenAI's
 * `{ type: "function", function: { name } }`) forces a call to that tool. Throws TOOL_NOT_FOUND for a name no
 * bound tool has, and TypeError for a forcing choice without tools or a choice of another shape.
 */
export function toolChoicePlan(
  choice: ToolChoice | undefined,
  tools: readonly ChatModelTool[],
): ToolChoicePlan {
  const names = tools.map((tool) => tool.function.name);
  if (choice === "none") return { kind: "none" };
  if (choice === undefined || choice === "auto")
    return names.length === 0 ? { kind: "none" } : { kind: "auto" };
  if (names.length === 0) throw new TypeError(`tool_choice ${JSON.stringify(choice)} needs bound tools`);
  if (choice === "any" || choice === "required") return { kind: "force", names };
  const name = typeof choice === "string" ? choice : isRecord(choice) ? namedChoice(choice) : undefined;
  if (name === undefined) throw new TypeError(`unsupported tool_choice ${JSON.stringify(choice)}`);
  if (!names.includes(name)) {
    throw new EdgecrewError(
      ErrorCodes.TOOL_NOT_FOUND,
      `tool_choice names \`${name}\`, which is not bound; bound tools: ${names.join(", ")}`,
      { context: { tool: name } },
    );
  }
  return { kind: "force", names: [name] };
}

/**
 * The turn spec of a generation under a plan other than "none": "auto" lets the model call one of the bound
 * tools or write text; "force" lets it only call one of the plan's names (every bound tool is still documented).
 */
export function toolTurnSpec(
  plan: Exclude<ToolChoicePlan, { kind: "none" }>,
  tools: readonly ChatModelTool[],
  syntax: CallSyntax,
  maxTokens: number,
): TurnSpec {
  const names = plan.kind === "force" ? new Set(plan.names) : undefined;
  const callable = tools
    .filter((tool) => names === undefined || names.has(tool.function.name))
    .map(({ function: fn }) => ({ name: fn.name, input: fn.parameters }));
  return { call: { tools: callable, syntax }, ...(plan.kind === "auto" ? { text: true } : {}), maxTokens };
}

/** A fresh tool-call id; random rather than counted, so ids stay unique across processes and stored histories. */
export function newToolCallId(): string {
  return `call_${randomBytes(6).toString("hex")}`;
}

/**
 * The arguments of a generated call as LangChain's `args` record: a tool without parameters gets `{}`, and
 * parameters that are not an object (a tool whose schema is not one) are passed as `{ input }`.
 */
function argsOf(params: unknown): Record<string, unknown> {
  if (params === undefined) return {};
  return isRecord(params) ? params : { input: params };
}

/** The LangChain tool call of a turn that wrote a call (with a fresh id); none for text. */
export function toToolCalls(parsed: ParsedTurn): ToolCall[] {
  if (parsed.kind !== "call") return [];
  return [{ id: newToolCallId(), name: parsed.name, args: argsOf(parsed.params), type: "tool_call" }];
}

/** The same calls as streamed tool-call chunks (whole calls: a call's arguments are read at its end). */
export function toToolCallChunks(calls: readonly ToolCall[]): ToolCallChunk[] {
  return calls.map((call, index) => ({
    ...(call.id === undefined ? {} : { id: call.id }),
    name: call.name,
    args: JSON.stringify(call.args),
    index,
    type: "tool_call_chunk",
  }));
}

/**
 * A LangChain chat model that answers from a script, for testing planners (and anything else that talks to
 * a `BaseChatModel`) offline and deterministically. LangChain's own fakes either repeat one reply or can't
 * script tool calls turn by turn; planners need a multi-turn script whose replies may depend on the prompt,
 * a record of every prompt, usage metadata and structured output that validates like a real provider's.
 */
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type {
  BaseLanguageModelInput,
  StructuredOutputMethodOptions,
} from "@langchain/core/language_models/base";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BaseChatModelParams,
  type BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import { AIMessage, type AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { type Runnable, RunnableLambda } from "@langchain/core/runnables";
import type { InteropZodType } from "@langchain/core/utils/types";
import {
  type AbortError,
  abortErrorFor,
  EdgecrewError,
  ErrorCodes,
  raceAbort,
  ValidationError,
} from "../errors.js";

// ─── Script types ───────────────────────────────────────────────────────────────────────────────────────

/** A tool call the scripted model makes; `id` defaults to `call_<call index>_<position>`. */
export interface ScriptedToolCall {
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly id?: string;
}

/** A scripted assistant message: text, tool calls, or both. */
export interface ScriptedMessage {
  readonly content?: string;
  readonly tool_calls?: readonly ScriptedToolCall[];
}

/**
 * What one call answers: a string (the message's content), a message with tool calls, or an `Error`, which
 * the call throws (to simulate a provider failure).
 */
export type ScriptedReplyValue = string | ScriptedMessage | Error;

/** What a reply function learns about the call it answers. */
export interface ScriptedCallInfo {
  /** 0-based index of this call among all calls to the model (and the models `bindTools` derived from it). */
  readonly index: number;
  /** The tools bound to the model that was called (empty when none). */
  readonly tools: readonly BindToolsInput[];
  readonly signal?: AbortSignal;
}

/** A reply computed from the prompt, for replies that depend on what the caller asked. */
export type ScriptedReplyFunction = (
  messages: readonly BaseMessage[],
  info: ScriptedCallInfo,
) => ScriptedReplyValue | Promise<ScriptedReplyValue>;

/** One entry of the script. */
export type ScriptedReply = ScriptedReplyValue | ScriptedReplyFunction;

/** One recorded call. */
export interface ScriptedCallRecord {
  readonly messages: readonly BaseMessage[];
  readonly tools: readonly BindToolsInput[];
}

/** Options of {@link ScriptedChatModel}. */
export interface ScriptedChatModelOptions extends BaseChatModelParams {
  readonly replies: readonly ScriptedReply[];
  /** Wait this long before answering each call (abortable), to test timeouts and cancellation. */
  readonly delayMs?: number;
}

/** Call options: LangChain's, including `signal`. */
export type ScriptedChatModelCallOptions = BaseChatModelCallOptions;

/** State shared by a model and every model `bindTools` derives from it: one queue, one record. */
interface ScriptState {
  readonly queue: ScriptedReply[];
  readonly records: ScriptedCallRecord[];
  /** Replies handed out so far (calls that got a reply, including error replies). */
  answered: number;
}

// ─── Helpers ────────────────────────────────────────────────────────────────────────────────────────────

function contentLength(message: BaseMessage): number {
  const { content } = message;
  return typeof content === "string" ? content.length : JSON.stringify(content).length;
}

/** A rough token estimate (four characters a token): enough for ledgers and budgets in tests. */
function estimateTokens(characters: number): number {
  return Math.ceil(characters / 4);
}

function abortError(signal: AbortSignal): AbortError {
  return abortErrorFor(signal, "the scripted model call");
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      if (signal !== undefined) reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Races a promise with a signal so that an aborted call rejects even while a reply function is pending. */

/** Strips a Markdown code fence around JSON, as chat models often add one. */
function unfence(text: string): string {
  const match = /^\s*```[A-Za-z0-9_-]*\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return match?.[1] ?? text;
}

/** The JSON value a structured-output call should validate: first tool call's args, else the content. */
function structuredValue(message: BaseMessage): unknown {
  const toolCalls = (message as AIMessage).tool_calls;
  const first = toolCalls?.[0];
  if (first !== undefined) return first.args;
  const text = typeof message.content === "string" ? message.content : message.text;
  try {
    return JSON.parse(unfence(text));
  } catch (error) {
    throw new ValidationError("scripted reply is not valid JSON", [`(root): ${(error as Error).message}`], {
      cause: error,
      context: { content: text.slice(0, 200) },
    });
  }
}

interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}

type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

interface StandardSchemaLike {
  readonly "~standard": { readonly validate: (value: unknown) => StandardResult | Promise<StandardResult> };
}

function isStandardSchema(schema: unknown): schema is StandardSchemaLike {
  if (typeof schema !== "object" && typeof schema !== "function") return false;
  if (schema === null) return false;
  const standard = (schema as { "~standard"?: { validate?: unknown } })["~standard"];
  return typeof standard?.validate === "function";
}

function formatIssue(issue: StandardIssue): string {
  const path = (issue.path ?? [])
    .map((segment) => String(typeof segment === "object" ? segment.key : segment))
    .join(".");
  return `${path === "" ? "(root)" : path}: ${issue.message}`;
}

/**
 * Validates with a Standard Schema (zod 3.24+ and zod 4 implement it); a plain JSON-Schema object is not
 * checked (the scripted model has no JSON-Schema validator), only JSON-parsed.
 */
async function validateStructured(schema: unknown, value: unknown): Promise<unknown> {
  if (!isStandardSchema(schema)) return value;
  const result = await schema["~standard"].validate(value);
  if (result.issues !== undefined) {
    const errors = result.issues.map(formatIssue);
    throw new ValidationError(`scripted reply does not match the schema: ${errors.join("; ")}`, errors, {
      context: { value: value as never },
    });
  }
  return result.value;
}

// ─── The model ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * A chat model that answers each call with the next reply of its script, records every prompt, and reports
 * estimated token usage (`usage_metadata`, four characters a token). `bindTools` returns a model sharing the
 * same script and record; `withStructuredOutput` JSON-parses the reply (or takes the first tool call's
 * arguments) and validates it with the given zod schema. When the script runs out, a call throws an
 * INTERNAL EdgecrewError saying so. An aborted `signal` rejects the call without consuming a reply.
 *
 * @example
 * ```ts
 * import { ScriptedChatModel } from "edgecrew/testing";
 * const model = new ScriptedChatModel([
 *   '{"subtasks":[{"id":"s1","worker":"writer","instruction":"Say hi","dependsOn":[]}]}',
 *   { tool_calls: [{ name: "search", args: { q: "weather" } }] },
 *   (messages) => `you said: ${messages.at(-1)?.text}`,
 * ]);
 * const plan = await model.withStructuredOutput(planSchema).invoke("Plan it");
 * expect(model.callCount).toBe(1);
 * ```
 */
export class ScriptedChatModel extends BaseChatModel<ScriptedChatModelCallOptions, AIMessageChunk> {
  /** The tools bound to this instance (by {@link ScriptedChatModel.bindTools}). */
  readonly boundTools: readonly BindToolsInput[];
  private readonly state: ScriptState;
  private readonly delayMs: number;

  static override lc_name(): string {
    return "ScriptedChatModel";
  }

  constructor(script: readonly ScriptedReply[] | ScriptedChatModelOptions) {
    const options: ScriptedChatModelOptions = Array.isArray(script)
      ? { replies: script as readonly ScriptedReply[] }
      : (script as ScriptedChatModelOptions);
    const { replies, delayMs, ...fields } = options;
    super(fields);
    this.state = { queue: [...replies], records: [], answered: 0 };
    this.delayMs = delayMs ?? 0;
    this.boundTools = [];
  }

  /** Derives a model that shares this one's script and record (what `bindTools` returns). */
  private derive(tools: readonly BindToolsInput[]): ScriptedChatModel {
    const derived = new ScriptedChatModel({ replies: [], delayMs: this.delayMs });
    // Swap in the shared state after construction rather than through a constructor parameter, so the
    // public constructor signature stays the script alone.
    Object.assign(derived, { state: this.state, boundTools: Object.freeze([...tools]) });
    return derived;
  }

  /** Every call's messages, in call order (shared with models derived by `bindTools`). */
  get calls(): BaseMessage[][] {
    return this.state.records.map((record) => [...record.messages]);
  }

  /** Every call with the tools that were bound to the model called. */
  get records(): readonly ScriptedCallRecord[] {
    return this.state.records;
  }

  /** How many times the model (or a model derived from it) was called. */
  get callCount(): number {
    return this.state.records.length;
  }

  /** Replies not yet consumed. */
  get remaining(): number {
    return this.state.queue.length;
  }

  /** Appends replies to the script. */
  push(...replies: ScriptedReply[]): this {
    this.state.queue.push(...replies);
    return this;
  }

  override _llmType(): string {
    return "scripted";
  }

  /**
   * Returns a model bound to `tools` that shares this one's script and record; the tools are only
   * recorded (each call's record lists them), the script decides whether a reply calls one.
   */
  override bindTools(
    tools: BindToolsInput[],
    _kwargs?: Partial<ScriptedChatModelCallOptions>,
  ): ScriptedChatModel {
    return this.derive(tools);
  }

  override async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const signal = options.signal;
    const index = this.state.records.length;
    this.state.records.push({ messages: Object.freeze([...messages]), tools: this.boundTools });
    if (signal?.aborted) throw abortError(signal);
    if (this.delayMs > 0) await sleep(this.delayMs, signal);

    const next = this.state.queue.shift();
    if (next === undefined) {
      throw new EdgecrewError(
        ErrorCodes.INTERNAL,
        `ScriptedChatModel: the script ran out after ${this.state.answered} call${this.state.answered === 1 ? "" : "s"} (call #${index + 1} has no scripted reply)`,
        { context: { answered: this.state.answered, call: index + 1 } },
      );
    }
    this.state.answered += 1;
    const info: ScriptedCallInfo =
      signal === undefined ? { index, tools: this.boundTools } : { index, tools: this.boundTools, signal };
    const value =
      typeof next === "function"
        ? await raceAbort(Promise.resolve(next(messages, info)), signal, "the scripted model call")
        : next;
    if (value instanceof Error) throw value;

    const reply: ScriptedMessage = typeof value === "string" ? { content: value } : value;
    const content = reply.content ?? "";
    const toolCalls = (reply.tool_calls ?? []).map((call, position) => ({
      type: "tool_call" as const,
      id: call.id ?? `call_${index}_${position}`,
      name: call.name,
      args: { ...call.args },
    }));
    const inputTokens = estimateTokens(messages.reduce((sum, message) => sum + contentLength(message), 0));
    const outputTokens = estimateTokens(
      content.length +
        (toolCalls.length > 0
          ? JSON.stringify(toolCalls.map(({ name, args }) => ({ name, args }))).length
          : 0),
    );
    const message = new AIMessage({
      content,
      tool_calls: toolCalls,
      usage_metadata: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
      },
      response_metadata: { model_provider: "scripted" },
    });
    return {
      generations: [{ text: content, message }],
      llmOutput: {
        tokenUsage: {
          promptTokens: inputTokens,
          completionTokens: outputTokens,
          totalTokens: inputTokens + outputTokens,
        },
      },
    };
  }

  /**
   * Structured output without tool-calling machinery: each call JSON-parses the reply's content (a Markdown
   * fence around it is tolerated) or, when the reply has tool calls, takes the first one's arguments, then
   * validates it with `schema` (a zod or other Standard Schema; a plain JSON-Schema object only parses).
   * An invalid reply rejects with a ValidationError (OUTPUT_INVALID). With `{ includeRaw: true }` it
   * resolves to `{ raw, parsed }`, and, like LangChain's own models, `parsed` is `null` when parsing fails.
   */
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: InteropZodType<RunOutput>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: InteropZodType<RunOutput>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: unknown,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: unknown,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: unknown,
    config?: StructuredOutputMethodOptions<boolean>,
  ):
    | Runnable<BaseLanguageModelInput, RunOutput>
    | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    const parse = async (message: BaseMessage): Promise<RunOutput> =>
      (await validateStructured(schema, structuredValue(message))) as RunOutput;
    if (config?.includeRaw === true) {
      return this.pipe(
        RunnableLambda.from(async (raw: AIMessageChunk) => {
          const parsed = await parse(raw).catch(() => null);
          return { raw: raw as BaseMessage, parsed: parsed as RunOutput };
        }),
      ).withConfig({ runName: "ScriptedStructuredOutput" });
    }
    return this.pipe(RunnableLambda.from((message: AIMessageChunk) => parse(message))).withConfig({
      runName: "ScriptedStructuredOutput",
    });
  }
}

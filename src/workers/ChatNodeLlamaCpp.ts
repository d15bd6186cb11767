/**
 * A LangChain chat model on a local GGUF model held by edgecrew's model manager: the local planner, and a chat
 * model for LangChain users on its own. It shares the crew's manager (a model used by both planner and workers
 * is loaded once) and maps LangChain messages — system, human, ai, tool — to the model's own chat template,
 * tool calls and results included (chatHistory.ts). On top of `invoke` it offers:
 *
 * - `withStructuredOutput`, with a grammar, so a small local model always returns parseable JSON in the
 *   requested shape that fits `maxTokens`; the value is then validated (the zod schema, or the JSON Schema with
 *   ajv) and an invalid one is a ValidationError the planner can re-ask with (chatModelStructured.ts);
 * - `bindTools`: the tools are documented by the model's chat template and their calls written under a grammar
 *   of edgecrew's compiler; a call the model makes ends the generation and comes back as `tool_calls`, not run;
 *   `tool_choice` "any", "required" or a tool's name forces a call (chatModelTools.ts);
 * - streaming (`stream`, `streamEvents`): text chunks as node-llama-cpp generates them, tool calls and token
 *   usage in the last chunk (chatModelStream.ts).
 *
 * Every call honours `options.signal` (an AbortError within a token) and reports token usage.
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
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  type MessageContent,
  type ToolCall,
  type UsageMetadata,
} from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import { type Runnable, RunnableLambda } from "@langchain/core/runnables";
import { DEFAULT_LOCAL_PLANNER_MAX_TOKENS } from "../config/defaults.js";
import { DisposedError, EdgecrewError, ErrorCodes } from "../errors.js";
import type { Caps } from "../schema/grammar/index.js";
import type { JsonSchema, LocalModelRef } from "../types.js";
import { callSyntaxOf } from "./callSyntax.js";
import { toChatHistory } from "./chatHistory.js";
import { textStream } from "./chatModelStream.js";
import { parseStructured, type StructuredOutputSchema, structuredSchema } from "./chatModelStructured.js";
import {
  type ChatModelTool,
  chatFunctions,
  toChatModelTools,
  toolChoicePlan,
  toolTurnSpec,
  toToolCallChunks,
  toToolCalls,
} from "./chatModelTools.js";
import { roomFor } from "./contextRoom.js";
import { chatWrapperFor, type Generation, generateTurn } from "./generate.js";
import type { ModelManager } from "./ModelManager.js";
import { ToolChatWrapper } from "./ToolChatWrapper.js";
import type { TurnSpec } from "./turnGrammar.js";

export type { StructuredOutputSchema } from "./chatModelStructured.js";
export type { ChatModelTool } from "./chatModelTools.js";

/** Constructor fields of {@link ChatNodeLlamaCpp}. */
export interface ChatNodeLlamaCppFields extends BaseChatModelParams {
  /** The crew's model manager (shared with the workers). */
  readonly manager: ModelManager;
  readonly model: LocalModelRef;
  /** Tokens per sequence of the model's context (default 4096). */
  readonly contextSize?: number;
  /** Sampling temperature (default 0.2: planning wants little randomness). */
  readonly temperature?: number;
  /** Most tokens per reply (default 1024); structured output and tool calls are bounded to fit it. */
  readonly maxTokens?: number;
  /** Sampling seed for reproducible replies; default a fresh random seed per call. */
  readonly seed?: number;
  /** Caps the grammar starts from where schemas leave lengths open (see `DEFAULT_CAPS`), before fitting. */
  readonly grammar?: Partial<Caps>;
}

/**
 * Call options: the usual ones (`signal`, `tool_choice`, …), per-call sampling overrides, the schema structured
 * output sets, and the tools `bindTools` sets.
 */
export interface ChatNodeLlamaCppCallOptions extends BaseChatModelCallOptions {
  /** A JSON Schema the reply must follow: generation runs under its grammar (set by `withStructuredOutput`). */
  readonly outputSchema?: JsonSchema;
  /** Tools the model may call (set by `bindTools`); exclusive with `outputSchema`. */
  readonly tools?: readonly ChatModelTool[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly seed?: number;
}

/** One generation's outcome, shared by `_generate` and streaming. */
interface Turn {
  readonly generation: Generation;
  readonly toolCalls: ToolCall[];
  readonly loadMs: number;
}

/**
 * A LangChain chat model running a local GGUF model in-process (see the file comment).
 *
 * @example
 * const planner = new ChatNodeLlamaCpp({ manager, model: { kind: "file", raw: "./qwen.gguf", path: "./qwen.gguf" } });
 * const reply = await planner.invoke([new SystemMessage("You plan."), new HumanMessage("Plan a trip")]);
 * const plan = await planner.withStructuredOutput(planSchema).invoke("Plan a trip");
 * const call = await planner.bindTools([weatherTool], { tool_choice: "any" }).invoke("Weather in Oslo?");
 * for await (const chunk of await planner.stream("Tell a story")) process.stdout.write(chunk.text);
 */
export class ChatNodeLlamaCpp extends BaseChatModel<ChatNodeLlamaCppCallOptions> {
  /** Structured output runs under a grammar, so the planner may use grammar-tight schemas (prefixItems, enums). */
  readonly supportsGrammar = true;
  readonly manager: ModelManager;
  readonly model: LocalModelRef;
  readonly contextSize: number;
  readonly temperature: number;
  readonly maxTokens: number;
  readonly seed: number | undefined;
  readonly #caps: Partial<Caps> | undefined;
  #disposed = false;

  static override lc_name(): string {
    return "ChatNodeLlamaCpp";
  }

  constructor(fields: ChatNodeLlamaCppFields) {
    const { manager, model, contextSize, temperature, maxTokens, seed, grammar, ...base } = fields;
    super(base);
    this.manager = manager;
    this.model = model;
    this.contextSize = contextSize ?? 4096;
    this.temperature = temperature ?? 0.2;
    this.maxTokens = maxTokens ?? DEFAULT_LOCAL_PLANNER_MAX_TOKENS;
    this.seed = seed;
    this.#caps = grammar;
    manager.declare(model, { contextSize: this.contextSize, sequences: 1 });
  }

  override _llmType(): string {
    return "node-llama-cpp";
  }

  override invocationParams(options?: this["ParsedCallOptions"]): Record<string, unknown> {
    return {
      model: this.model.raw,
      temperature: options?.temperature ?? this.temperature,
      max_tokens: options?.maxTokens ?? this.maxTokens,
      ...(options?.tools === undefined ? {} : { tools: options.tools.map((tool) => tool.function.name) }),
      ...(options?.tool_choice === undefined ? {} : { tool_choice: options.tool_choice }),
    };
  }

  /**
   * One generation for `messages` under the call options: the output grammar, or the bound tools as the
   * `tool_choice` plan offers them. Throws TypeError when both an output schema and tools would apply.
   */
  async #turn(
    messages: readonly BaseMessage[],
    options: this["ParsedCallOptions"],
    signal: AbortSignal | undefined,
    onTextChunk?: (text: string) => void,
  ): Promise<Turn> {
    if (this.#disposed) throw new DisposedError("ChatNodeLlamaCpp");
    const tools = options.tools ?? [];
    const plan = toolChoicePlan(options.tool_choice, tools);
    if (plan.kind !== "none" && options.outputSchema !== undefined) {
      throw new TypeError("ChatNodeLlamaCpp: a call offers either tools or an output schema, not both");
    }
    const maxTokens = options.maxTokens ?? this.maxTokens;
    const lease = await this.manager.acquire(this.model, {
      contextSize: this.contextSize,
      sequences: 1,
      ...(signal === undefined ? {} : { signal }),
    });
    try {
      const base = chatWrapperFor(lease.model);
      let spec: TurnSpec | undefined;
      if (plan.kind !== "none") spec = toolTurnSpec(plan, tools, callSyntaxOf(base, lease.model), maxTokens);
      else if (options.outputSchema !== undefined) spec = { answer: options.outputSchema, maxTokens };
      const grammar =
        spec === undefined
          ? undefined
          : await this.manager.turnGrammar(
              this.#caps === undefined ? spec : { ...spec, caps: this.#caps },
              signal,
            );
      const seed = options.seed ?? this.seed;
      // Bound tools are documented on every turn, by the model's own chat template.
      const chatWrapper = plan.kind === "none" ? base : new ToolChatWrapper(base, chatFunctions(tools));
      const history = toChatHistory(messages);
      const room = roomFor(lease, chatWrapper, history, maxTokens);
      if (!room.fits) {
        throw new EdgecrewError(
          ErrorCodes.CONTEXT_TOO_SMALL,
          `${this.model.raw}: the messages (${room.promptTokens} tokens) and maxTokens ${maxTokens} do not fit its context of ${room.contextSize} tokens; raise contextSize, lower maxTokens or send less`,
          { context: { promptTokens: room.promptTokens, maxTokens, contextSize: room.contextSize } },
        );
      }
      const generation = await generateTurn(lease, history, {
        ...(grammar === undefined ? {} : { grammar }),
        chatWrapper,
        maxTokens,
        temperature: options.temperature ?? this.temperature,
        ...(signal === undefined ? {} : { signal }),
        ...(seed === undefined ? {} : { seed }),
        ...(onTextChunk === undefined ? {} : { onTextChunk }),
      });
      const parsed = grammar === undefined ? undefined : grammar.turn.parse(generation.text);
      const toolCalls = parsed === undefined ? [] : toToolCalls(parsed);
      // A call's text is the call itself: the message carries it as tool_calls, not as content.
      const reply =
        toolCalls.length > 0 ? { ...generation, text: "", stopReason: "functionCalls" } : generation;
      return { generation: reply, toolCalls, loadMs: lease.loadMs };
    } finally {
      lease.release();
    }
  }

  #usage(generation: Generation): UsageMetadata {
    return {
      input_tokens: generation.promptTokens,
      output_tokens: generation.completionTokens,
      total_tokens: generation.promptTokens + generation.completionTokens,
    };
  }

  #metadata(turn: Turn): Record<string, unknown> {
    return {
      model: this.model.raw,
      stopReason: turn.generation.stopReason,
      durationMs: turn.generation.durationMs,
      loadMs: turn.loadMs,
    };
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const turn = await this.#turn(messages, options, options.signal);
    const { generation } = turn;
    const usage = this.#usage(generation);
    const message = new AIMessage({
      content: generation.text,
      tool_calls: turn.toolCalls,
      usage_metadata: usage,
      response_metadata: this.#metadata(turn),
    });
    return {
      generations: [{ text: generation.text, message }],
      llmOutput: {
        tokenUsage: {
          promptTokens: usage.input_tokens,
          completionTokens: usage.output_tokens,
          totalTokens: usage.total_tokens,
        },
      },
    };
  }

  /**
   * Streams the reply: one chunk per piece of text node-llama-cpp releases (about a token each), then a last
   * chunk with the tool calls (whole: a call's arguments are decoded at its end), token usage and the response
   * metadata. Stopping the iteration stops the generation; the call options' signal ends it with an AbortError.
   */
  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    let streamed = "";
    const items = textStream(
      (onText, signal) => this.#turn(messages, options, signal, onText),
      options.signal,
    );
    for await (const item of items) {
      if (item.type === "text") {
        streamed += item.text;
        const chunk = new ChatGenerationChunk({
          text: item.text,
          message: new AIMessageChunk({ content: item.text }),
        });
        yield chunk;
        await runManager?.handleLLMNewToken(item.text, undefined, undefined, undefined, undefined, { chunk });
        continue;
      }
      const turn = item.result;
      // The chunks are what node-llama-cpp released; should its final text hold more (never seen), send the rest.
      const text = turn.generation.text;
      const rest = text.startsWith(streamed) ? text.slice(streamed.length) : "";
      yield new ChatGenerationChunk({
        text: rest,
        message: new AIMessageChunk({
          content: rest,
          tool_call_chunks: toToolCallChunks(turn.toolCalls),
          usage_metadata: this.#usage(turn.generation),
          response_metadata: this.#metadata(turn),
        }),
      });
    }
  }

  /**
   * A runnable whose calls offer `tools` (LangChain tools, `tool()` results, OpenAI tool or function
   * definitions) to the model, calls written under a grammar, without running them: a call ends the generation
   * and comes back in the AIMessage's `tool_calls` (ids `call_…`). `kwargs.tool_choice`: "auto" (default), "none" (the tools are not shown to the model at all),
   * "any"/"required" (force a call) or a tool's name (force that tool). Throws TOOL_INVALID for a malformed
   * tool — here, not at the first call.
   */
  override bindTools(
    tools: BindToolsInput[],
    kwargs?: Partial<ChatNodeLlamaCppCallOptions>,
  ): Runnable<BaseLanguageModelInput, AIMessageChunk, ChatNodeLlamaCppCallOptions> {
    const bound = toChatModelTools(tools);
    // Checked again per call (cheap); checking here reports an unusable choice at bind time.
    toolChoicePlan(kwargs?.tool_choice, bound);
    return this.withConfig({ ...kwargs, tools: bound });
  }

  /**
   * A runnable that replies with a value of `schema` (a zod schema or a JSON Schema object): generation runs
   * under the schema's grammar, the reply is JSON-parsed and validated, and an invalid value throws a
   * ValidationError (OUTPUT_INVALID) carrying the errors. With `includeRaw: true` it returns `{ raw, parsed }`
   * (and still throws on an invalid value, so the caller can re-ask with the errors).
   */
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: StructuredOutputSchema<RunOutput>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: StructuredOutputSchema<RunOutput>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    schema: StructuredOutputSchema<RunOutput>,
    config?: StructuredOutputMethodOptions<boolean>,
  ):
    | Runnable<BaseLanguageModelInput, RunOutput>
    | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    const structured = structuredSchema(schema);
    const bound = this.withConfig({ outputSchema: structured.jsonSchema });
    if (config?.includeRaw === true) {
      return bound
        .pipe(
          // LangChain's convention for includeRaw: a value that fails to parse is `parsed: null` with the error
          // beside it, so the caller keeps the raw message (and its token usage) for its re-ask.
          RunnableLambda.from(async (raw: BaseMessage) => {
            try {
              return { raw, parsed: (await parseStructured(raw, structured)) as RunOutput };
            } catch (parsingError) {
              // Typed like LangChain's own models, whose declared `parsed` type also omits the null case.
              return { raw, parsed: null, parsingError } as unknown as {
                raw: BaseMessage;
                parsed: RunOutput;
              };
            }
          }),
        )
        .withConfig({ runName: "StructuredOutputRunnable" });
    }
    return bound
      .pipe(
        RunnableLambda.from(
          async (raw: BaseMessage) => (await parseStructured(raw, structured)) as RunOutput,
        ),
      )
      .withConfig({ runName: "StructuredOutput" });
  }

  /** Counts tokens with the model's own tokenizer (LangChain's default would try to download a GPT tokenizer). */
  override async getNumTokens(content: MessageContent): Promise<number> {
    if (this.#disposed) throw new DisposedError("ChatNodeLlamaCpp");
    const text = typeof content === "string" ? content : JSON.stringify(content);
    const lease = await this.manager.acquire(this.model, { contextSize: this.contextSize, sequences: 1 });
    try {
      return lease.model.tokenize(text).length;
    } finally {
      lease.release();
    }
  }

  /** Marks the model unusable; the shared manager (and its models) stay with their owner. Idempotent. */
  async dispose(): Promise<void> {
    this.#disposed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

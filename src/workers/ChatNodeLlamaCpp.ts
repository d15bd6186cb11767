/**
 * A LangChain chat model on a local GGUF model held by edgecrew's model manager: the local planner. It shares
 * the crew's manager (a model used by both planner and workers is loaded once), maps LangChain messages to the
 * model's own chat template, reports token usage, and implements `withStructuredOutput` with a grammar, so a
 * small local model always returns parseable JSON in the requested shape; the value is then validated (zod
 * schema, or the JSON Schema through zod) and an invalid one is a ValidationError the planner can re-ask with.
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
} from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, type MessageContent } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { type Runnable, RunnableLambda } from "@langchain/core/runnables";
import type { SerializableSchema } from "@langchain/core/utils/standard_schema";
import { z } from "zod";
import { DisposedError, ValidationError } from "../errors.js";
import { compileSchema, formatZodIssues } from "../schema/compile.js";
import type { JsonSchema, LocalModelRef } from "../types.js";
import { toChatHistory } from "./chatHistory.js";
import { generateTurn } from "./generate.js";
import type { GrammarSchemaOptions } from "./grammarSchema.js";
import type { ModelManager } from "./ModelManager.js";

/** Constructor fields of {@link ChatNodeLlamaCpp}. */
export interface ChatNodeLlamaCppFields extends BaseChatModelParams {
  /** The crew's model manager (shared with the workers). */
  readonly manager: ModelManager;
  readonly model: LocalModelRef;
  /** Tokens per sequence of the model's context (default 4096). */
  readonly contextSize?: number;
  /** Sampling temperature (default 0.2: planning wants little randomness). */
  readonly temperature?: number;
  /** Most tokens per reply (default 1024). */
  readonly maxTokens?: number;
  /** Sampling seed for reproducible replies; default a fresh random seed per call. */
  readonly seed?: number;
  /** Grammar conversion settings for structured output. */
  readonly grammar?: GrammarSchemaOptions;
}

/** Call options: the usual ones, per-call sampling overrides, and the schema structured output sets. */
export interface ChatNodeLlamaCppCallOptions extends BaseChatModelCallOptions {
  /** A JSON Schema the reply must follow: generation runs under its grammar (set by `withStructuredOutput`). */
  readonly outputSchema?: JsonSchema;
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly seed?: number;
}

type Checked = { ok: true; value: unknown } | { ok: false; errors: readonly string[] };

/** How a structured-output schema validates a parsed value. */
interface StructuredSchema {
  readonly jsonSchema: JsonSchema;
  readonly validate: (value: unknown) => Checked | Promise<Checked>;
}

/** The schemas `withStructuredOutput` accepts: zod, any Standard (JSON) Schema, or a plain JSON Schema. */
export type StructuredOutputSchema<RunOutput> =
  | z.ZodType<RunOutput>
  | SerializableSchema<RunOutput>
  | JsonSchema;

function isZodSchema(schema: unknown): schema is z.ZodType {
  return typeof schema === "object" && schema !== null && "_zod" in schema;
}

function isSerializable(schema: unknown): schema is SerializableSchema {
  if (typeof schema !== "object" || schema === null || !("~standard" in schema)) return false;
  const standard = (schema as { "~standard": unknown })["~standard"];
  return (
    typeof standard === "object" && standard !== null && "validate" in standard && "jsonSchema" in standard
  );
}

function structuredSchema(schema: unknown): StructuredSchema {
  if (isZodSchema(schema)) {
    return {
      jsonSchema: z.toJSONSchema(schema) as JsonSchema,
      validate: (value) => {
        const result = schema.safeParse(value);
        return result.success
          ? { ok: true, value: result.data }
          : { ok: false, errors: formatZodIssues(result.error.issues) };
      },
    };
  }
  if (isSerializable(schema)) {
    const standard = schema["~standard"];
    return {
      jsonSchema: standard.jsonSchema.output({ target: "draft-2020-12" }) as JsonSchema,
      validate: async (value) => {
        const result = await standard.validate(value);
        if (result.issues === undefined) return { ok: true, value: result.value };
        return {
          ok: false,
          errors: result.issues.map((issue) => {
            const path = (issue.path ?? []).map((part) => String(typeof part === "object" ? part.key : part));
            return `${path.length > 0 ? path.join(".") : "(root)"}: ${issue.message}`;
          }),
        };
      },
    };
  }
  const jsonSchema = schema as JsonSchema;
  const compiled = compileSchema(jsonSchema);
  return { jsonSchema, validate: (value) => compiled.validate(value) };
}

async function parseStructured(message: BaseMessage, schema: StructuredSchema): Promise<unknown> {
  const text = message.text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const excerpt = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    const metadata = message.response_metadata as { stopReason?: unknown } | undefined;
    const cutOff = metadata?.stopReason === "maxTokens";
    const errors = [
      cutOff
        ? "(root): the reply was cut off at the token limit before the JSON was complete; answer more briefly"
        : `(root): not valid JSON: ${excerpt}`,
    ];
    throw new ValidationError("the model's reply is not valid JSON", errors, { cause, context: { text } });
  }
  const result = await schema.validate(value);
  if (!result.ok) {
    throw new ValidationError(
      `the model's reply does not match the schema:\n${result.errors.join("\n")}`,
      result.errors,
      {
        context: { text },
      },
    );
  }
  return result.value;
}

/**
 * A LangChain chat model running a local GGUF model in-process (see the file comment).
 *
 * @example
 * const planner = new ChatNodeLlamaCpp({ manager, model: { kind: "file", raw: "./qwen.gguf", path: "./qwen.gguf" } });
 * const reply = await planner.invoke([new SystemMessage("You plan."), new HumanMessage("Plan a trip")]);
 * const plan = await planner.withStructuredOutput(planSchema).invoke("Plan a trip");
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
  readonly #grammar: GrammarSchemaOptions;
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
    this.maxTokens = maxTokens ?? 1024;
    this.seed = seed;
    this.#grammar = grammar ?? {};
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
    };
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    if (this.#disposed) throw new DisposedError("ChatNodeLlamaCpp");
    const signal = options.signal;
    const grammar =
      options.outputSchema === undefined
        ? undefined
        : await this.manager.grammarFor(options.outputSchema, this.#grammar, signal);
    const lease = await this.manager.acquire(this.model, {
      contextSize: this.contextSize,
      sequences: 1,
      ...(signal === undefined ? {} : { signal }),
    });
    try {
      const generation = await generateTurn(lease, toChatHistory(messages), {
        ...(grammar === undefined ? {} : { grammar }),
        maxTokens: options.maxTokens ?? this.maxTokens,
        temperature: options.temperature ?? this.temperature,
        ...(signal === undefined ? {} : { signal }),
        ...((options.seed ?? this.seed) === undefined ? {} : { seed: options.seed ?? this.seed }),
      });
      const usage = {
        input_tokens: generation.promptTokens,
        output_tokens: generation.completionTokens,
        total_tokens: generation.promptTokens + generation.completionTokens,
      };
      const message = new AIMessage({
        content: generation.text,
        usage_metadata: usage,
        response_metadata: {
          model: this.model.raw,
          stopReason: generation.stopReason,
          durationMs: generation.durationMs,
          loadMs: lease.loadMs,
        },
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
    } finally {
      lease.release();
    }
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

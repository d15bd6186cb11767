/**
 * One chat generation on a borrowed sequence, shared by the local worker and the LangChain chat model: picks
 * the chat wrapper from the model's template once per model, bans byte tokens for random-weight fixture
 * models, meters prompt and completion tokens on the sequence, and turns an abort into an AbortError. A turn
 * may offer functions instead of a grammar: it then ends at the model's first function call (returned, not
 * run: the caller runs it and continues the conversation with the result).
 */

import { randomInt } from "node:crypto";
import {
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  LlamaChat,
  type LlamaChatResponse,
  type LlamaGrammar,
  type LlamaModel,
  type LlamaTextJSON,
  resolveChatWrapper,
  type Token,
  TokenBias,
  TokenMeter,
} from "node-llama-cpp";
import { abortErrorFor, raceAbort } from "../errors.js";
import { fixtureVocabulary } from "../testing/fixtureModel.js";
import type { SequenceLease } from "./ModelManager.js";

/** Sampling and limits of one generation. */
export interface GenerateOptions {
  readonly grammar?: LlamaGrammar;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly signal?: AbortSignal;
  /** Keep what the sequence already evaluated and reuse the common prefix (default false: clear it first). */
  readonly reusePrefix?: boolean;
  /**
   * Sampling seed. Defaults to a fresh random one per call: node-llama-cpp's default derives from the clock in
   * seconds, which gave identical answers to every call within the same second.
   */
  readonly seed?: number;
  /** The chat wrapper to render the history with; default the one node-llama-cpp picks for the model. */
  readonly chatWrapper?: ChatWrapper;
  /**
   * Functions the model may call in this turn (exclusive with `grammar`). The turn ends at the first call,
   * which is returned in `functionCalls`; the call's name and arguments are grammar-constrained by
   * node-llama-cpp to these functions and their `params`.
   */
  readonly functions?: ChatModelFunctions;
  /**
   * End the turn as soon as the model writes text that is not a function call (whitespace aside). A tool turn
   * uses it: text there means the model is answering, and the answer is generated again under the output
   * grammar, so letting it run on would only waste tokens.
   */
  readonly endOnText?: boolean;
  /**
   * Receives the response text as node-llama-cpp releases it (token by token, function-call text excluded),
   * for streaming. Called synchronously from generation: it must be cheap and must not throw.
   */
  readonly onTextChunk?: (text: string) => void;
}

/** A function call the model generated (not yet run). */
export interface GeneratedCall {
  readonly name: string;
  /** The arguments as decoded; node-llama-cpp's grammar shaped them, zod has not checked them yet. */
  readonly params: unknown;
  /** The call as the model wrote it, to render it back into the history exactly. */
  readonly raw: LlamaTextJSON;
}

/** What one generation produced and cost. */
export interface Generation {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly durationMs: number;
  readonly stopReason: string;
  /** The history including this response, to continue the conversation (e.g. with a repair turn). */
  readonly history: ChatHistoryItem[];
  /** Function calls that ended the turn (empty unless `functions` were offered and the model called one). */
  readonly functionCalls: readonly GeneratedCall[];
}

const chatWrappers = new WeakMap<LlamaModel, ChatWrapper>();
const byteBans = new WeakMap<LlamaModel, TokenBias>();

/** The chat wrapper node-llama-cpp picks for a model's template, resolved once per model (it renders Jinja). */
export function chatWrapperFor(model: LlamaModel): ChatWrapper {
  let wrapper = chatWrappers.get(model);
  if (wrapper === undefined) {
    wrapper = resolveChatWrapper(model);
    chatWrappers.set(model, wrapper);
  }
  return wrapper;
}

/**
 * Whether the turn's grammar or functions can only be satisfied with non-ASCII text (an enum value like
 * "Tromsø"). The fixture byte ban must then stay off: a grammar that needs a banned token leaves llama.cpp's
 * sampler with nothing to pick, and the generation gets stuck without noticing its abort signal.
 */
function needsNonAscii(options: GenerateOptions): boolean {
  // For functions only the parameter schemas become grammar; descriptions are prompt text.
  const text =
    options.grammar?.grammar ??
    JSON.stringify(
      Object.values(options.functions ?? {}).map((fn) => (fn as { params?: unknown }).params ?? null),
    );
  // Anything above U+007F: a character plain ASCII bytes cannot spell.
  return [...text].some((char) => (char.codePointAt(0) ?? 0) > 0x7f);
}

/**
 * A token bias that forbids the byte tokens 0x80–0xFF of a fixture model. Random weights pick lone UTF-8
 * continuation bytes freely, which decode to invalid text; real models never need this.
 */
export function fixtureByteBan(model: LlamaModel): TokenBias {
  let bias = byteBans.get(model);
  if (bias === undefined) {
    bias = new TokenBias(model.tokenizer);
    const { firstByteId } = fixtureVocabulary();
    for (let byte = 0x80; byte <= 0xff; byte++) bias.set((firstByteId + byte) as Token, "never");
    byteBans.set(model, bias);
  }
  return bias;
}

/**
 * Generates the model's next turn for `history` on the lease's sequence: after a final user message, or
 * continuing a final model message.
 * Rejects with an AbortError when the signal fires (within one token), and with node-llama-cpp's error when
 * generation fails; a TypeError when both `grammar` and `functions` are given.
 */
export async function generateTurn(
  lease: SequenceLease,
  history: readonly ChatHistoryItem[],
  options: GenerateOptions,
): Promise<Generation> {
  const { sequence, model } = lease;
  if (options.grammar !== undefined && options.functions !== undefined) {
    throw new TypeError("generateTurn: a turn offers either a grammar or functions, not both");
  }
  if (options.signal?.aborted) throw abortErrorFor(options.signal, "generation");
  if (options.reusePrefix !== true) await sequence.clearHistory();
  const chat = new LlamaChat({
    contextSequence: sequence,
    chatWrapper: options.chatWrapper ?? chatWrapperFor(model),
    autoDisposeSequence: false,
  });
  // Ending on text is an abort of our own, answered with the response so far rather than an error.
  const textSeen = options.endOnText === true ? new AbortController() : undefined;
  const signal =
    textSeen === undefined
      ? options.signal
      : options.signal === undefined
        ? textSeen.signal
        : AbortSignal.any([options.signal, textSeen.signal]);
  const meterBefore = sequence.tokenMeter.getState();
  const started = performance.now();
  try {
    const turn: ChatHistoryItem[] =
      history.at(-1)?.type === "model" ? [...history] : [...history, { type: "model", response: [] }];
    const common = {
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      seed: options.seed ?? randomInt(0, 2 ** 31),
      ...(signal === undefined ? {} : { signal }),
      stopOnAbortSignal: textSeen !== undefined,
      ...(lease.randomWeights && !needsNonAscii(options) ? { tokenBias: fixtureByteBan(model) } : {}),
      ...(textSeen === undefined && options.onTextChunk === undefined
        ? {}
        : {
            onTextChunk: (text: string) => {
              options.onTextChunk?.(text);
              if (textSeen !== undefined && text.trim() !== "") textSeen.abort();
            },
          }),
    };
    const generation: Promise<LlamaChatResponse<ChatModelFunctions | undefined>> =
      options.functions !== undefined
        ? chat.generateResponse(turn, { ...common, functions: options.functions })
        : chat.generateResponse(turn, {
            ...common,
            ...(options.grammar === undefined ? {} : { grammar: options.grammar }),
          });
    // llama.cpp can get stuck without noticing the signal (seen: a grammar needing a token the sampler may not
    // pick, "empty grammar stack"); the caller is released on abort whatever the generation does.
    const response = await raceAbort(generation, options.signal, "generation");
    // With `stopOnAbortSignal` a caller's abort also returns normally: it must still reject.
    if (options.signal?.aborted) throw abortErrorFor(options.signal, "generation");
    const used = TokenMeter.diff(sequence.tokenMeter, meterBefore);
    return {
      text: response.response,
      promptTokens: used.usedInputTokens,
      completionTokens: used.usedOutputTokens,
      durationMs: Math.round(performance.now() - started),
      stopReason: response.metadata.stopReason,
      history: response.lastEvaluation.cleanHistory,
      functionCalls: (response.functionCalls ?? []).map((call) => ({
        name: call.functionName,
        params: call.params as unknown,
        raw: call.raw,
      })),
    };
  } catch (error) {
    if (options.signal?.aborted) throw abortErrorFor(options.signal, "generation");
    throw error;
  } finally {
    chat.dispose({ disposeSequence: false });
  }
}

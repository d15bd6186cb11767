/**
 * One chat generation on a borrowed sequence, shared by the local worker and the LangChain chat model: picks
 * the chat wrapper from the model's template once per model, bans byte tokens for random-weight fixture
 * models, meters prompt and completion tokens on the sequence, and turns an abort into an AbortError.
 */
import { randomInt } from "node:crypto";
import {
  type ChatHistoryItem,
  type ChatWrapper,
  LlamaChat,
  type LlamaGrammar,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
  TokenBias,
  TokenMeter,
} from "node-llama-cpp";
import { fixtureVocabulary } from "../testing/fixtureModel.js";
import { abortErrorFor } from "./asyncGuards.js";
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
}

const chatWrappers = new WeakMap<LlamaModel, ChatWrapper>();
const byteBans = new WeakMap<LlamaModel, TokenBias>();

/** The chat wrapper node-llama-cpp picks for a model's template, resolved once per model (it renders Jinja). */
function chatWrapperFor(model: LlamaModel): ChatWrapper {
  let wrapper = chatWrappers.get(model);
  if (wrapper === undefined) {
    wrapper = resolveChatWrapper(model);
    chatWrappers.set(model, wrapper);
  }
  return wrapper;
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
 * generation fails.
 */
export async function generateTurn(
  lease: SequenceLease,
  history: readonly ChatHistoryItem[],
  options: GenerateOptions,
): Promise<Generation> {
  const { sequence, model } = lease;
  if (options.signal?.aborted) throw abortErrorFor(options.signal, "generation");
  if (options.reusePrefix !== true) await sequence.clearHistory();
  const chat = new LlamaChat({
    contextSequence: sequence,
    chatWrapper: chatWrapperFor(model),
    autoDisposeSequence: false,
  });
  const meterBefore = sequence.tokenMeter.getState();
  const started = performance.now();
  try {
    const turn: ChatHistoryItem[] =
      history.at(-1)?.type === "model" ? [...history] : [...history, { type: "model", response: [] }];
    const response = await chat.generateResponse(turn, {
      ...(options.grammar === undefined ? {} : { grammar: options.grammar }),
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      seed: options.seed ?? randomInt(0, 2 ** 31),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      stopOnAbortSignal: false,
      ...(lease.randomWeights ? { tokenBias: fixtureByteBan(model) } : {}),
    });
    const used = TokenMeter.diff(sequence.tokenMeter, meterBefore);
    return {
      text: response.response,
      promptTokens: used.usedInputTokens,
      completionTokens: used.usedOutputTokens,
      durationMs: Math.round(performance.now() - started),
      stopReason: response.metadata.stopReason,
      history: response.lastEvaluation.cleanHistory,
    };
  } catch (error) {
    if (options.signal?.aborted) throw abortErrorFor(options.signal, "generation");
    throw error;
  } finally {
    chat.dispose({ disposeSequence: false });
  }
}

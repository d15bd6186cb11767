/**
 * One chat generation on a borrowed sequence, shared by the local worker and the LangChain chat model: picks
 * the chat wrapper from the model's template once per model, bans byte tokens for random-weight fixture
 * models, meters prompt and completion tokens on the sequence, and turns an abort into an AbortError. What the
 * model may write is a turn grammar of edgecrew's own (an answer, a tool call in the model's call syntax, or
 * either, see turnGrammar.ts); node-llama-cpp's own function calling is not used, so every call is shaped by
 * the same compiler as every answer, and read back by it.
 */

import { randomInt } from "node:crypto";
import {
  type ChatHistoryItem,
  type ChatWrapper,
  LlamaChat,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
  TokenBias,
  TokenMeter,
} from "node-llama-cpp";
import { abortErrorFor, raceAbort } from "../errors.js";
import { callSyntaxOf } from "./callSyntax.js";
import { type ChatWrapperChoice, chooseChatWrapper, RESOLVED_WRAPPER_SETTINGS } from "./chatTemplate.js";
import type { CompiledTurn } from "./GrammarCache.js";
import { type ByteBan, grammarBiasSession, vocabularyIndex } from "./grammarBias.js";
import type { SequenceLease } from "./ModelManager.js";

/** Sampling and limits of one generation. */
export interface GenerateOptions {
  /** What the model may write (see turnGrammar.ts); none: free text. */
  readonly grammar?: CompiledTurn;
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
   * Receives the response text as node-llama-cpp releases it (token by token), for streaming. Called synchronously from generation: it must be cheap and must not throw.
   */
  readonly onTextChunk?: (text: string) => void;
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

const chatWrappers = new WeakMap<LlamaModel, ChatWrapperChoice>();
const byteBans = new WeakMap<LlamaModel, ByteBan>();
const emptyBiases = new WeakMap<LlamaModel, TokenBias>();

/** An empty bias for a model: what a per-token bias function returns where it has nothing to say. */
function noBias(model: LlamaModel): TokenBias {
  let bias = emptyBiases.get(model);
  if (bias === undefined) {
    bias = new TokenBias(model.tokenizer);
    emptyBiases.set(model, bias);
  }
  return bias;
}

/**
 * The chat wrapper a model's prompts are rendered with, chosen once per model (it renders Jinja): node-llama-cpp's
 * wrapper for the model's template where it renders what the template renders, else the template itself
 * through a JinjaTemplateChatWrapper (see chatTemplate.ts), with no wall-clock date in either. Either way the
 * wrapper has a function-call syntax edgecrew can write and read back (callSyntax.ts).
 */
export function chatWrapperFor(model: LlamaModel): ChatWrapper {
  return chatWrapperChoiceFor(model).wrapper;
}

/** {@link chatWrapperFor}'s choice with its reasons (which renderings differed), for tests and diagnostics. */
export function chatWrapperChoiceFor(model: LlamaModel): ChatWrapperChoice {
  let choice = chatWrappers.get(model);
  if (choice === undefined) {
    const template = chatTemplateOf(model);
    choice = chooseChatWrapper({
      resolved: resolveChatWrapper(model, { customWrapperSettings: RESOLVED_WRAPPER_SETTINGS }),
      template,
      tokenizer: model.tokenizer,
      usable: (wrapper) => {
        try {
          callSyntaxOf(wrapper, model);
          return true;
        } catch {
          return false;
        }
      },
    });
    chatWrappers.set(model, choice);
  }
  return choice;
}

/** The model's Jinja chat template from its GGUF metadata, if it has one. */
function chatTemplateOf(model: LlamaModel): string | undefined {
  const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer
    ?.chat_template;
  return typeof template === "string" ? template : undefined;
}

/**
 * A token bias for random-weight fixture models that forbids every token which is not whole characters: byte
 * tokens and pieces of a multi-byte character (what detokenizes to U+FFFD alone). Random weights pick them
 * freely, which spells one character in several tokens (breaking the one-token-per-character bound a grammar's
 * length is planned with) or leaves invalid text; real models never need this. Control tokens stay allowed, so
 * generation can end. Computed once per model: one detokenization per vocabulary entry.
 */
export function fixtureByteBan(model: LlamaModel): TokenBias {
  return byteBan(model).bias;
}

/** {@link fixtureByteBan} with the tokens it forbids (a grammar bias adds its own to them). */
function byteBan(model: LlamaModel): ByteBan {
  let ban = byteBans.get(model);
  if (ban === undefined) {
    // The vocabulary index (built once per model; a grammar bias needs it too) knows the pieces.
    const tokens = vocabularyIndex(model).pieces;
    ban = { bias: new TokenBias(model.tokenizer).set([...tokens], "never"), tokens };
    byteBans.set(model, ban);
  }
  return ban;
}

/**
 * Generates the model's next turn for `history` on the lease's sequence: after a final user message, or
 * continuing a final model message. Rejects with an AbortError when the signal fires (within one token), and
 * with node-llama-cpp's error when generation fails.
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
    chatWrapper: options.chatWrapper ?? chatWrapperFor(model),
    autoDisposeSequence: false,
  });
  const meterBefore = sequence.tokenMeter.getState();
  const started = performance.now();
  try {
    const turn: ChatHistoryItem[] =
      history.at(-1)?.type === "model" ? [...history] : [...history, { type: "model", response: [] }];
    // A grammar that needs a non-ASCII character would leave the fixture's banned sampler with nothing to pick
    // (llama.cpp then stalls without noticing its abort signal), so the ban steps aside for it.
    const ban =
      lease.randomWeights && (options.grammar === undefined || options.grammar.turn.asciiOnly)
        ? byteBan(model)
        : undefined;
    // Under a grammar, the tokens that can continue the text are raised before each sample (grammarBias.ts).
    const session =
      options.grammar === undefined ? undefined : grammarBiasSession(options.grammar.turn, model, ban);
    const generation = chat.generateResponse(turn, {
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      seed: options.seed ?? randomInt(0, 2 ** 31),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(session !== undefined
        ? {
            tokenBias: () => session.bias() ?? noBias(model),
            onToken: (tokens: Token[]) => session.push(tokens),
          }
        : ban !== undefined
          ? { tokenBias: ban.bias }
          : {}),
      ...(options.onTextChunk === undefined ? {} : { onTextChunk: options.onTextChunk }),
      ...(options.grammar === undefined ? {} : { grammar: options.grammar.grammar }),
    });
    // llama.cpp can get stuck without noticing the signal (seen: a grammar needing a token the sampler may not
    // pick, "empty grammar stack"); the caller is released on abort whatever the generation does.
    const response = await raceAbort(generation, options.signal, "generation");
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

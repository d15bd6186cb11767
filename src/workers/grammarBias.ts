/**
 * Grammar decoding at the speed of free decoding. llama.cpp samples a token first and checks only that token
 * against the grammar; when the check fails, it applies the grammar to the whole vocabulary (every token's text
 * decoded and matched, 150k–260k of them on Qwen, Llama 3 and Gemma) and samples again. Where the grammar allows
 * few characters — keys, punctuation, numbers, enum values — nearly every first sample fails, so decoding pays
 * the whole-vocabulary pass on most tokens (measured 0.4–0.6× of free decoding on the family fixtures).
 *
 * So before each token, edgecrew works out which tokens can continue the text at all — with its own incremental
 * matcher over the same grammar (schema/grammar/matcher.ts) and an index of the vocabulary by first character —
 * and raises their logits by the same large amount. Their probabilities relative to one another are unchanged, so
 * the distribution sampled from is the one the grammar mask would give; but the first sample is now almost always
 * valid, and llama.cpp's check passes without the whole-vocabulary pass. Positions where many characters may come
 * next (inside strings) get no bias: a first sample is valid there anyway. The sets are cached per grammar state,
 * so repeated structure (every key of every answer of a worker) is computed once. llama.cpp's grammar stays the
 * judge: a token this lets through wrongly is still rejected there.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import { TokenBias } from "node-llama-cpp";
import { GrammarMatcher, type MatchState } from "../schema/grammar/matcher.js";
import type { TurnGrammar } from "./turnGrammar.js";

/** Logit added to every token that can continue the text: far beyond the spread of any model's logits. */
const BOOST = 100;
/** Positions where more characters than this may come next get no bias (a first sample is likely valid). */
const MAX_NEXT_CHARS = 64;
/** States remembered per grammar and model. */
const MAX_CACHED_STATES = 20_000;

/** A model's vocabulary by first character, each token with the text it adds after other text. */
interface VocabularyIndex {
  readonly byFirst: ReadonlyMap<number, readonly { readonly id: Token; readonly text: string }[]>;
  readonly endOfGeneration: readonly Token[];
  /** Tokens to put before a detokenization so that a leading space survives (SentencePiece strips it). */
  readonly context: readonly Token[];
}

const indexes = new WeakMap<LlamaModel, VocabularyIndex>();
const caches = new WeakMap<TurnGrammar, WeakMap<LlamaModel, Map<string, TokenBias | null>>>();
const matchers = new WeakMap<TurnGrammar, GrammarMatcher>();

/** The size of a model's vocabulary, from its GGUF metadata. */
export function vocabularySize(model: LlamaModel): number {
  const tokens = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml
    ?.tokens;
  return Array.isArray(tokens) ? tokens.length : 0;
}

/** The vocabulary index of a model, built once (one detokenization per token). */
function vocabularyIndex(model: LlamaModel): VocabularyIndex {
  let index = indexes.get(model);
  if (index !== undefined) return index;
  const context = model.tokenize("a");
  const byFirst = new Map<number, { id: Token; text: string }[]>();
  const endOfGeneration: Token[] = [];
  const size = vocabularySize(model);
  for (let id = 0; id < size; id++) {
    const token = id as Token;
    if (model.isEogToken(token)) {
      endOfGeneration.push(token);
      continue;
    }
    const attributes = model.getTokenAttributes(token);
    if (attributes.control || attributes.unused || attributes.undefined) continue;
    const text = model.detokenize([token], false, context);
    // A piece of a character cannot be matched on its own; llama.cpp's own pass handles those.
    if (text === "" || text.includes("\uFFFD")) continue;
    const first = text.codePointAt(0) as number;
    let list = byFirst.get(first);
    if (list === undefined) {
      list = [];
      byFirst.set(first, list);
    }
    list.push({ id: token, text });
  }
  index = { byFirst, endOfGeneration, context };
  indexes.set(model, index);
  return index;
}

function cacheFor(turn: TurnGrammar, model: LlamaModel): Map<string, TokenBias | null> {
  let perModel = caches.get(turn);
  if (perModel === undefined) {
    perModel = new WeakMap();
    caches.set(turn, perModel);
  }
  let cache = perModel.get(model);
  if (cache === undefined) {
    cache = new Map();
    perModel.set(model, cache);
  }
  return cache;
}

/** One generation's bias: fed the tokens as they come, asked for a bias before each next token. */
export interface BiasSession {
  /** The tokens just generated. */
  push(tokens: readonly Token[]): void;
  /** The bias for the next token: the grammar's, when few tokens can continue; else `fallback`. */
  bias(): TokenBias | undefined;
}

/**
 * A bias session for one generation under `turn` on `model` (see the file comment). `fallback` is the bias used
 * where the grammar's own is not (the random-weights ban of fixture models), or undefined.
 */
export function grammarBiasSession(
  turn: TurnGrammar,
  model: LlamaModel,
  fallback: TokenBias | undefined,
): BiasSession {
  let matcher = matchers.get(turn);
  if (matcher === undefined) {
    matcher = new GrammarMatcher(turn.ir.builder);
    matchers.set(turn, matcher);
  }
  const index = vocabularyIndex(model);
  const cache = cacheFor(turn, model);
  const active = matcher;
  let state: MatchState | undefined = active.start(turn.ir.root);
  let pending: Token[] = [];
  let context: readonly Token[] = index.context;

  const compute = (current: MatchState): TokenBias | null => {
    const ranges = active.nextChars(current);
    let count = 0;
    for (const [lo, hi] of ranges) count += hi - lo + 1;
    if (count > MAX_NEXT_CHARS) return null;
    const allowed: Token[] = [];
    const firsts = new Set<number>();
    for (const [lo, hi] of ranges) for (let code = lo; code <= hi; code++) firsts.add(code);
    for (const code of firsts) {
      for (const token of index.byFirst.get(code) ?? []) {
        if (active.feed(current, token.text) !== undefined) allowed.push(token.id);
      }
    }
    if (current.accepting) allowed.push(...index.endOfGeneration);
    if (allowed.length === 0) return null;
    const bias = new TokenBias(model.tokenizer);
    bias.set(allowed, { logit: BOOST });
    return bias;
  };

  return {
    push(tokens) {
      if (state === undefined) return;
      pending = [...pending, ...tokens];
      const text = model.detokenize(pending, false, context);
      // Wait for the rest of a character split across tokens.
      if (text.endsWith("\uFFFD")) return;
      context = [...context, ...pending].slice(-4);
      pending = [];
      state = active.feed(state, text);
    },
    bias() {
      if (state === undefined || pending.length > 0) return fallback;
      let bias = cache.get(state.key);
      if (bias === undefined) {
        bias = compute(state);
        // Positions inside long strings are all different states: keep the cache from growing without end.
        if (cache.size >= MAX_CACHED_STATES) cache.clear();
        cache.set(state.key, bias);
      }
      return bias ?? fallback;
    },
  };
}

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
 * valid, and llama.cpp's check passes without the whole-vocabulary pass. Where many characters may come next
 * (inside strings) the tokens that can continue are too many to list; there the tokens whose first character
 * cannot come next are forbidden instead — a closing quote before `minLength`, a raw control character — which
 * are exactly the samples a random-weights model (and a model that repeats itself) most often draws right after an
 * opening quote. Both sets are cached (per grammar state; the forbidden ones per set of next characters), so
 * repeated structure (every key of every answer of a worker) is computed once. Neither changes which of the
 * grammar's tokens are drawn, only how often a draw must be redone; llama.cpp's grammar stays the judge. A state
 * the matcher could not expand whole (an ambiguous grammar) gets no bias.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import { TokenBias } from "node-llama-cpp";
import type { CodeRange } from "../schema/grammar/ir.js";
import { GrammarMatcher, type MatchState } from "../schema/grammar/matcher.js";
import type { TurnGrammar } from "./turnGrammar.js";

/** Logit added to every token that can continue the text: far beyond the spread of any model's logits. */
const BOOST = 100;
/** Positions where more characters than this may come next get no bias (a first sample is likely valid). */
const MAX_NEXT_CHARS = 64;
/** A character that ends or escapes a JSON string, or may not stand in one raw. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
const STRUCTURAL = /["\\\u0000-\u001f]/;
/** The characters of plain tokens (all but STRUCTURAL's and the surrogates, which are no characters). */
const PLAIN: readonly CodeRange[] = [
  [0x20, 0x21],
  [0x23, 0x5b],
  [0x5d, 0xd7ff],
  [0xe000, 0x10ffff],
];
/** States remembered per grammar and model. */
const MAX_CACHED_STATES = 20_000;

/** Tokens a bias always forbids (the byte ban of random-weight fixtures), as a bias and as a list. */
export interface ByteBan {
  readonly bias: TokenBias;
  readonly tokens: readonly Token[];
}

/** A model's vocabulary by first character, each token with the text it adds after other text. */
interface VocabularyIndex {
  readonly byFirst: ReadonlyMap<number, readonly { readonly id: Token; readonly text: string }[]>;
  /** The first characters of `byFirst`, ascending. */
  readonly firsts: readonly number[];
  /**
   * Tokens with a quote, a backslash or a control character: where those come matters (`ab"` closes a string),
   * so inside strings each is checked against the state.
   */
  readonly structural: readonly { readonly id: Token; readonly text: string }[];
  /**
   * Control, unused and undefined tokens other than end-of-generation. llama.cpp's grammar reads a token by its
   * special spelling (`<|im_start|>` passes where a string allows `<`, `|`, …) while the text handed on leaves
   * it out, so under a grammar they are always forbidden: the output would not be the text the grammar checked.
   */
  readonly control: readonly Token[];
  /** The other tokens (none of those characters), shortest first. */
  readonly plain: readonly Token[];
  /** `plainFrom[n]`: where the tokens of `plain` with at least `n` characters start (up to the longest + 1). */
  readonly plainFrom: readonly number[];
  /**
   * Tokens whose text the answer never shows (control, unused, empty): llama.cpp's grammar reads their name
   * (`<unused12>`) as text, so inside a string a random-weights model can write them there, invisibly.
   */
  readonly hidden: readonly Token[];
  readonly endOfGeneration: readonly Token[];
  /**
   * Tokens that are not whole characters (a byte, a piece of a multi-byte character: they detokenize to U+FFFD),
   * control tokens aside: what the byte ban of random-weight fixtures forbids.
   */
  readonly pieces: readonly Token[];
  /** Tokens to put before a detokenization so that a leading space survives (SentencePiece strips it). */
  readonly context: readonly Token[];
}

const indexes = new WeakMap<LlamaModel, VocabularyIndex>();
const caches = new WeakMap<TurnGrammar, WeakMap<LlamaModel, Map<string, TokenBias | null>>>();
/** Per model (and byte ban), the bias forbidding tokens whose first character is outside a set of ranges. */
const firstCharBans = new WeakMap<LlamaModel, Map<string, readonly Token[]>>();
const matchers = new WeakMap<TurnGrammar, GrammarMatcher>();

/** The size of a model's vocabulary, from its GGUF metadata. */
export function vocabularySize(model: LlamaModel): number {
  const tokens = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml
    ?.tokens;
  return Array.isArray(tokens) ? tokens.length : 0;
}

/** The vocabulary index of a model, built once (one detokenization per token). */
export function vocabularyIndex(model: LlamaModel): VocabularyIndex {
  let index = indexes.get(model);
  if (index !== undefined) return index;
  const context = model.tokenize("a");
  const byFirst = new Map<number, { id: Token; text: string }[]>();
  const endOfGeneration: Token[] = [];
  const structural: { id: Token; text: string }[] = [];
  const plainTokens: { id: Token; length: number }[] = [];
  const hidden: Token[] = [];
  const control: Token[] = [];
  const pieces: Token[] = [];
  const size = vocabularySize(model);
  for (let id = 0; id < size; id++) {
    const token = id as Token;
    if (model.isEogToken(token)) {
      endOfGeneration.push(token);
      continue;
    }
    const attributes = model.getTokenAttributes(token);
    if (attributes.control || attributes.unused || attributes.undefined) {
      hidden.push(token);
      control.push(token);
      continue;
    }
    const text = model.detokenize([token], false, context);
    if (text === "") hidden.push(token);
    if (text.includes("\uFFFD")) pieces.push(token);
    // A piece of a character cannot be matched on its own; llama.cpp's own pass handles those.
    if (text === "" || text.includes("\uFFFD")) continue;
    if (STRUCTURAL.test(text)) structural.push({ id: token, text });
    else plainTokens.push({ id: token, length: [...text].length });
    const first = text.codePointAt(0) as number;
    let list = byFirst.get(first);
    if (list === undefined) {
      list = [];
      byFirst.set(first, list);
    }
    list.push({ id: token, text });
  }
  plainTokens.sort((a, b) => a.length - b.length);
  const plainFrom: number[] = [];
  for (let n = 0, at = 0; n <= (plainTokens.at(-1)?.length ?? 0) + 1; n++) {
    while (at < plainTokens.length && (plainTokens[at]?.length ?? 0) < n) at++;
    plainFrom.push(at);
  }
  index = {
    byFirst,
    firsts: [...byFirst.keys()].sort((a, b) => a - b),
    structural,
    plain: plainTokens.map((token) => token.id),
    plainFrom,
    hidden,
    control,
    endOfGeneration,
    pieces,
    context,
  };
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

/** Whether `code` lies in one of `ranges`. */
function inRanges(ranges: readonly (readonly [number, number])[], code: number): boolean {
  return ranges.some(([lo, hi]) => code >= lo && code <= hi);
}

/**
 * The tokens whose first character is outside `ranges`. Cached per model and set of ranges: all positions inside
 * strings of one kind share it.
 */
function firstCharBan(
  model: LlamaModel,
  index: VocabularyIndex,
  ranges: readonly (readonly [number, number])[],
): readonly Token[] {
  let perModel = firstCharBans.get(model);
  if (perModel === undefined) {
    perModel = new Map();
    firstCharBans.set(model, perModel);
  }
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const key = sorted.map(([lo, hi]) => `${lo}-${hi}`).join(",");
  const known = perModel.get(key);
  if (known !== undefined) return known;
  const forbidden: Token[] = [];
  for (const code of index.firsts) {
    if (!inRanges(sorted, code)) for (const token of index.byFirst.get(code) ?? []) forbidden.push(token.id);
  }
  perModel.set(key, forbidden);
  return forbidden;
}

/**
 * A bias session for one generation under `turn` on `model` (see the file comment). `byteBan` holds tokens every
 * bias forbids (the random-weights ban of fixture models), or is undefined.
 */
export function grammarBiasSession(
  turn: TurnGrammar,
  model: LlamaModel,
  byteBan: ByteBan | undefined,
): BiasSession {
  const index = vocabularyIndex(model);
  const always = [...(byteBan?.tokens ?? []), ...index.control];
  const fallback = always.length === 0 ? undefined : new TokenBias(model.tokenizer).set(always, "never");
  let matcher = matchers.get(turn);
  if (matcher === undefined) {
    matcher = new GrammarMatcher(turn.ir.builder);
    matchers.set(turn, matcher);
  }
  const cache = cacheFor(turn, model);
  const active = matcher;
  let state: MatchState | undefined = active.start(turn.ir.root);
  let pending: Token[] = [];
  let context: readonly Token[] = index.context;

  /**
   * How many plain characters in a row leave no way on (every token of plain characters at least that long is
   * refused), when every plain character moves `current` alike all the way (inside a bounded string); undefined
   * when that is not known within the longest plain token.
   */
  const plainDeadLength = (current: MatchState): number | undefined => {
    let at = current;
    for (let n = 0; n < index.plainFrom.length; n++) {
      if (at.stacks.length === 0 && !at.accepting) return n;
      if (!at.complete || !active.movesAlike(at, PLAIN)) return undefined;
      at = active.advance(at, "a");
    }
    return undefined;
  };

  const compute = (current: MatchState): TokenBias | null => {
    if (!current.complete) return null;
    const ranges = active.nextChars(current);
    let count = 0;
    for (const [lo, hi] of ranges) count += hi - lo + 1;
    if (count > MAX_NEXT_CHARS) {
      // Too many tokens may continue to list them: forbid those that cannot (see the file comment).
      const forbidden = [...index.hidden, ...firstCharBan(model, index, ranges)];
      const valid: Token[] = [];
      for (const token of index.structural) {
        const first = token.text.codePointAt(0) as number;
        if (!inRanges(ranges, first)) continue;
        (active.feed(current, token.text) === undefined ? forbidden : valid).push(token.id);
      }
      const dead = plainDeadLength(current);
      if (dead !== undefined) {
        const cut = index.plainFrom[dead] ?? index.plain.length;
        // Near the end of a bounded string: the tokens that still fit may be fewer than those that do not.
        if (cut < index.plain.length - cut) {
          if (cut + valid.length === 0) return null;
          return new TokenBias(model.tokenizer)
            .set([...index.plain.slice(0, cut), ...valid], { logit: BOOST })
            .set([...index.control], "never");
        }
        forbidden.push(...index.plain.slice(cut));
      }
      if (forbidden.length === 0) return null;
      return new TokenBias(model.tokenizer).set([...(byteBan?.tokens ?? []), ...forbidden], "never");
    }
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
    return new TokenBias(model.tokenizer).set(allowed, { logit: BOOST }).set([...index.control], "never");
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

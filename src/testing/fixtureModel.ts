/**
 * Generated fixture models: small, seeded, deterministic llama-architecture GGUF files with random weights
 * and a ChatML chat template. They let every test tier (and the `fixture:` model references of the product)
 * run real node-llama-cpp without downloading anything. With random weights the text is noise, but
 * grammar-constrained decoding still yields schema-valid JSON, which is what edgecrew's workers produce.
 *
 * This module imports only `node:` built-ins and edgecrew's own types/errors/GGUF writer, never
 * node-llama-cpp or LangChain: the product's model resolver imports it directly to materialise fixtures.
 */
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ErrorCodes, isEdgecrewError, ModelError } from "../errors.js";
import type { FixtureSize } from "../types.js";
import { fixtureVocabulary } from "./fixtureVocabulary.js";
import {
  type GgufDocument,
  type GgufTensor,
  type GgufValue,
  planGgufLayout,
  writeGgufFile,
} from "./gguf/ggufWriter.js";

// Re-exported so the product's model resolver gets everything fixture-related from this one module.
export { type FixtureVocabulary, fixtureVocabulary } from "./fixtureVocabulary.js";

// ─── Shapes ─────────────────────────────────────────────────────────────────────────────────────────────

/** Hyper-parameters of one fixture size class. */
export interface FixtureModelConfig {
  /** Embedding width (E). */
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly headCount: number;
  /** Key/value heads; fewer than `headCount` means grouped-query attention, as in real llama models. */
  readonly headCountKv: number;
  /** Feed-forward width (F). */
  readonly feedForwardLength: number;
  /** Training context length written to the metadata (a context may be created up to this size). */
  readonly contextLength: number;
}

function deepFreeze<T extends Record<string, object>>(record: T): Readonly<T> {
  for (const value of Object.values(record)) Object.freeze(value);
  return Object.freeze(record);
}

/**
 * The size classes. `tiny` (about 0.5 MB) is for unit and model tests, `small` (a few MB) for tests that
 * want several layers and grouped-query attention, `bench` (a few hundred MB) for benchmarks only, so that
 * model compute rather than orchestration overhead dominates.
 */
export const FIXTURE_MODEL_CONFIGS: Readonly<Record<FixtureSize, FixtureModelConfig>> = deepFreeze({
  tiny: {
    embeddingLength: 64,
    blockCount: 2,
    headCount: 4,
    headCountKv: 4,
    feedForwardLength: 128,
    contextLength: 4096,
  },
  small: {
    embeddingLength: 128,
    blockCount: 4,
    headCount: 4,
    headCountKv: 2,
    feedForwardLength: 256,
    contextLength: 4096,
  },
  bench: {
    embeddingLength: 1024,
    blockCount: 8,
    headCount: 16,
    headCountKv: 4,
    feedForwardLength: 2816,
    contextLength: 4096,
  },
});

/** Bumped whenever the generator's output changes, and written into the metadata (`edgecrew.fixture.version`). */
export const FIXTURE_GENERATOR_VERSION = 1;

/**
 * The ChatML chat template written as `tokenizer.chat_template`. node-llama-cpp renders it, finds it
 * equivalent to its built-in ChatML format and so uses `ChatMLChatWrapper` (not the slower generic Jinja
 * wrapper); `{{ bos_token }}` mirrors the BOS that wrapper puts first.
 */
export const CHATML_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// ─── Seeded weights ─────────────────────────────────────────────────────────────────────────────────────

/** FNV-1a over the tensor name, mixed with the seed: each tensor gets its own independent stream. */
function tensorSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Fills with uniform values in [-amplitude, amplitude) from a mulberry32 stream (fast, 32-bit state). */
function uniformWeights(count: number, seed: number, amplitude: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  const scale = (2 * amplitude) / 4294967296;
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) * scale - amplitude;
  }
  return out;
}

function weightTensor(seed: number, name: string, shape: readonly [number, number]): GgufTensor {
  // Xavier-like amplitude keeps activations and logits near unit scale whatever the width, so the bench
  // model's sampling is as varied as the tiny one's.
  const amplitude = Math.sqrt(3 / shape[0]);
  return {
    name,
    shape,
    type: "f32",
    data: () => uniformWeights(shape[0] * shape[1], tensorSeed(seed, name), amplitude),
  };
}

function normTensor(name: string, width: number): GgufTensor {
  // RMS-norm gains of one: the identity scale, as in a freshly initialised model.
  return { name, shape: [width], type: "f32", data: () => new Float32Array(width).fill(1) };
}

// ─── Document ───────────────────────────────────────────────────────────────────────────────────────────

/** What identifies a fixture model: equal refs give byte-identical files. */
export interface FixtureModelRef {
  readonly name: string;
  readonly seed: number;
  readonly size: FixtureSize;
}

function validateRef(ref: FixtureModelRef): void {
  if (!Number.isInteger(ref.seed) || ref.seed < 0 || ref.seed > 0xffff_ffff) {
    throw new ModelError(
      ErrorCodes.MODEL_REF_INVALID,
      `fixture seed must be an integer from 0 to 4294967295, got ${ref.seed}`,
      { context: { seed: ref.seed } },
    );
  }
  if (!Object.hasOwn(FIXTURE_MODEL_CONFIGS, ref.size)) {
    throw new ModelError(
      ErrorCodes.MODEL_REF_INVALID,
      `unknown fixture size "${ref.size}" (expected ${Object.keys(FIXTURE_MODEL_CONFIGS).join(", ")})`,
      { context: { size: ref.size } },
    );
  }
  if (typeof ref.name !== "string" || ref.name.length === 0) {
    throw new ModelError(ErrorCodes.MODEL_REF_INVALID, "fixture name must be a non-empty string", {
      context: { name: ref.name },
    });
  }
}

const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const str = (value: string): GgufValue => ({ type: "string", value });

/**
 * The GGUF document (metadata and lazily generated tensors) of a fixture model. Exposed so that tests and
 * tools can inspect or encode it in memory; most callers want {@link createFixtureModel}.
 */
export function fixtureGgufDocument(ref: FixtureModelRef): GgufDocument {
  validateRef(ref);
  const config = FIXTURE_MODEL_CONFIGS[ref.size];
  const vocab = fixtureVocabulary();
  const e = config.embeddingLength;
  const f = config.feedForwardLength;
  const headDim = e / config.headCount;
  const kvDim = headDim * config.headCountKv;
  const vocabSize = vocab.tokens.length;

  const metadata: Array<readonly [string, GgufValue]> = [
    ["general.architecture", str("llama")],
    ["general.name", str(ref.name)],
    ["general.description", str(`edgecrew fixture model (${ref.size}, seed ${ref.seed}, random weights)`)],
    ["general.file_type", u32(0)], // all f32
    ["general.alignment", u32(32)],
    ["llama.vocab_size", u32(vocabSize)],
    ["llama.context_length", u32(config.contextLength)],
    ["llama.embedding_length", u32(e)],
    ["llama.block_count", u32(config.blockCount)],
    ["llama.feed_forward_length", u32(f)],
    ["llama.attention.head_count", u32(config.headCount)],
    ["llama.attention.head_count_kv", u32(config.headCountKv)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "float32", value: 1e-5 }],
    ["llama.rope.dimension_count", u32(headDim)],
    ["llama.rope.freq_base", { type: "float32", value: 10000 }],
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", u32(vocab.unkId)],
    ["tokenizer.ggml.bos_token_id", u32(vocab.bosId)],
    ["tokenizer.ggml.eos_token_id", u32(vocab.eosId)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    ["tokenizer.chat_template", str(CHATML_CHAT_TEMPLATE)],
    ["edgecrew.fixture.version", u32(FIXTURE_GENERATOR_VERSION)],
    ["edgecrew.fixture.size", str(ref.size)],
    ["edgecrew.fixture.seed", u32(ref.seed)],
  ];

  const tensors: GgufTensor[] = [
    weightTensor(ref.seed, "token_embd.weight", [e, vocabSize]),
    normTensor("output_norm.weight", e),
    weightTensor(ref.seed, "output.weight", [e, vocabSize]),
  ];
  for (let layer = 0; layer < config.blockCount; layer++) {
    const p = `blk.${layer}`;
    tensors.push(
      normTensor(`${p}.attn_norm.weight`, e),
      weightTensor(ref.seed, `${p}.attn_q.weight`, [e, e]),
      weightTensor(ref.seed, `${p}.attn_k.weight`, [e, kvDim]),
      weightTensor(ref.seed, `${p}.attn_v.weight`, [e, kvDim]),
      weightTensor(ref.seed, `${p}.attn_output.weight`, [e, e]),
      normTensor(`${p}.ffn_norm.weight`, e),
      weightTensor(ref.seed, `${p}.ffn_gate.weight`, [e, f]),
      weightTensor(ref.seed, `${p}.ffn_up.weight`, [e, f]),
      weightTensor(ref.seed, `${p}.ffn_down.weight`, [f, e]),
    );
  }
  return { metadata, tensors, alignment: 32 };
}

/** The exact size in bytes of a fixture model's file, computed without generating its weights. */
export function fixtureModelBytes(ref: FixtureModelRef): number {
  return planGgufLayout(fixtureGgufDocument(ref)).totalBytes;
}

// ─── Files and cache ────────────────────────────────────────────────────────────────────────────────────

/** Options of {@link createFixtureModel}. */
export interface CreateFixtureModelOptions {
  /** PRNG seed (integer 0…2³²−1); default 1. */
  readonly seed?: number;
  /** Size class; default `"tiny"`. */
  readonly size?: FixtureSize;
  /** Written as `general.name`; default `"fixture"`. */
  readonly name?: string;
  /** Where to write; default the fixture cache, under {@link fixtureFileName}. */
  readonly path?: string;
}

/** A written fixture model. */
export interface FixtureModelFile {
  readonly path: string;
  readonly bytes: number;
  /** Lowercase hex SHA-256 of the file. */
  readonly sha256: string;
}

/**
 * The fixture cache directory: `$EDGECREW_CACHE_DIR/fixtures` when set, else
 * `$XDG_CACHE_HOME/edgecrew/fixtures`, else `~/.cache/edgecrew/fixtures`. Empty variables count as unset.
 */
export function defaultFixtureCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const edgecrewCache = env.EDGECREW_CACHE_DIR;
  if (edgecrewCache !== undefined && edgecrewCache !== "") return resolve(edgecrewCache, "fixtures");
  const xdgCache = env.XDG_CACHE_HOME;
  if (xdgCache !== undefined && xdgCache !== "") return resolve(xdgCache, "edgecrew", "fixtures");
  return join(homedir(), ".cache", "edgecrew", "fixtures");
}

// The name becomes part of a file name in the cache, so it must not contain path separators or dots-only.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * The cache file name of a fixture: `<name>-<size>-s<seed>.gguf`. Throws a MODEL_REF_INVALID ModelError for
 * a name that is not a safe file-name part (letters, digits, `.`, `_`, `-`, starting with a letter or digit).
 */
export function fixtureFileName(ref: FixtureModelRef): string {
  validateRef(ref);
  if (!SAFE_NAME.test(ref.name)) {
    throw new ModelError(
      ErrorCodes.MODEL_REF_INVALID,
      `fixture name "${ref.name}" must be letters, digits, ".", "_" or "-" (starting with a letter or digit)`,
      { context: { name: ref.name } },
    );
  }
  return `${ref.name}-${ref.size}-s${ref.seed}.gguf`;
}

/**
 * Writes a deterministic fixture model: the same seed, size and name always give a byte-identical file, a
 * different seed gives different weights. The write is atomic (temporary file in the same directory, then
 * rename), so a crash never leaves a partial file under the final name; large sizes are streamed one tensor
 * at a time. Without `path` it writes into the fixture cache ({@link defaultFixtureCacheDir}).
 *
 * @example
 * ```ts
 * import { createFixtureModel } from "edgecrew/testing";
 * const { path, bytes, sha256 } = await createFixtureModel({ seed: 7, size: "tiny", path: "/tmp/m.gguf" });
 * ```
 */
export async function createFixtureModel(options: CreateFixtureModelOptions = {}): Promise<FixtureModelFile> {
  const ref: FixtureModelRef = {
    name: options.name ?? "fixture",
    seed: options.seed ?? 1,
    size: options.size ?? "tiny",
  };
  const path = resolve(options.path ?? join(defaultFixtureCacheDir(), fixtureFileName(ref)));
  const document = fixtureGgufDocument(ref);
  try {
    return await writeGgufFile(path, document);
  } catch (error) {
    if (isEdgecrewError(error)) throw error;
    // The file system refused (permissions, disk full, …): the model does not exist and cannot be made.
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `could not write fixture model to ${path}: ${reason}`, {
      cause: error,
      context: { path, ...ref },
    });
  }
}

/** Options of {@link resolveFixtureModel}. */
export interface ResolveFixtureModelOptions {
  /** Cache directory; default {@link defaultFixtureCacheDir}. */
  readonly cacheDir?: string;
}

// Concurrent resolves of the same file in one process share one generation instead of writing it twice.
const pending = new Map<string, Promise<string>>();

/**
 * Returns the path of a cached fixture model, generating it on first use. A cached file is reused when its
 * size is the size the generator would write (so a truncated or outdated-layout file is regenerated).
 * Safe when several processes race: each writes its own temporary file and renames it into place, and the
 * contents are identical.
 *
 * @example
 * ```ts
 * const path = await resolveFixtureModel({ name: "fixture", seed: 1, size: "tiny" });
 * const model = await llama.loadModel({ modelPath: path });
 * ```
 */
export async function resolveFixtureModel(
  ref: FixtureModelRef,
  options: ResolveFixtureModelOptions = {},
): Promise<string> {
  const path = resolve(options.cacheDir ?? defaultFixtureCacheDir(), fixtureFileName(ref));
  const inFlight = pending.get(path);
  if (inFlight !== undefined) return inFlight;
  const task = (async () => {
    const expectedBytes = fixtureModelBytes(ref);
    const isComplete = async () => {
      const existing = await stat(path).catch(() => undefined);
      return existing?.isFile() === true && existing.size === expectedBytes;
    };
    if (await isComplete()) return path;
    try {
      await createFixtureModel({ ...ref, path });
    } catch (error) {
      // Another process may have won the race and holds the file open (Windows then refuses the rename):
      // its copy is byte-identical, so use it.
      if (await isComplete()) return path;
      throw error;
    }
    return path;
  })();
  pending.set(path, task);
  try {
    return await task;
  } finally {
    pending.delete(path);
  }
}

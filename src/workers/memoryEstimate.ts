/**
 * Estimates the memory a model and its context will hold once loaded and generating, from the GGUF header
 * alone. The budget's unit is RAM + VRAM together: `device.memory` bounds what edgecrew keeps resident, whatever
 * the device (on the CPU the whole model is RAM; with a GPU, the bytes moved to VRAM still count, and on
 * unified-memory boards such as Jetsons they are the same memory anyway).
 *
 * What is counted is what becomes resident, measured as peak RSS growth (VmHWM minus the RSS before the load,
 * with `MALLOC_MMAP_THRESHOLD_=131072`) over a load, a context and a grammar-constrained generation, the way a
 * worker uses a model — see `npm run bench` (section `families`) for the measurements per model family:
 * - weights: the tensor data, all of it touched by the load (mapped from the file on the CPU);
 * - vocabulary: llama.cpp keeps every token in three tables (`id_to_token`, `token_to_id`, the token-to-piece
 *   cache) and every BPE merge in a map, and node-llama-cpp builds them twice per load (its own memory
 *   simulation, then the model) and keeps the parsed GGUF metadata in JavaScript: about 0.5 KiB per token and
 *   0.3 KiB per merge, 100–270 MiB for a 128k–262k-token vocabulary — more than a small model's weights;
 * - KV cache (and recurrent state): all of it, since llama.cpp clears it at creation;
 * - compute: the activations of one full micro-batch (a long prompt touches them all). llama.cpp reserves far
 *   more — its compute buffer holds logits for a whole micro-batch (vocabulary × 512 × 4 bytes, 300–500 MiB for
 *   these vocabularies) — but only the rows it writes become resident, and a generation asks for one row;
 * - sampling: a grammar-constrained step that rejects the sampled token decodes every candidate token against
 *   the grammar (code-point arrays and rejection lists over the whole vocabulary), a transient of about
 *   0.5 KiB per vocabulary token, plus each sequence's logits row and candidate array;
 * - a fixed per-model overhead (llama.cpp's and node-llama-cpp's bookkeeping), measured on the toy fixture.
 *
 * On the CPU that is arithmetic on the header (node-llama-cpp's insights for the KV cache): no simulation, so
 * no huge context can cost memory here and nothing loads a vocabulary. With a GPU the buffers are allocated in
 * VRAM whole, so node-llama-cpp's simulation (V2: llama.cpp's own accounting, without allocating) gives the
 * weights and context; since llama.cpp still allocates per-token bookkeeping while simulating (measured: 2.6 GB
 * of RSS for a 50M-token context; a GGUF claiming a 500M-token context once killed a process), a cheap
 * arithmetic lower bound (weights plus KV cache and output buffer) comes first, and a request whose lower bound
 * already exceeds the limit is answered with that bound, never simulated.
 */
import os from "node:os";
import { type GgufFileInfo, GgufInsights, type Llama, readGgufFileInfo } from "node-llama-cpp";
import { ErrorCodes, ModelError, throwIfAborted } from "../errors.js";

/** What to estimate: the context the model manager would create for it. */
export interface MemoryEstimateRequest {
  /** Tokens per sequence asked for; capped at the model's trained context. */
  readonly contextSize: number;
  /** Sequences (parallel generations) of the one context. */
  readonly sequences: number;
  /** Whether layers go to a GPU: `false` estimates a CPU-only load, otherwise every layer offloaded. */
  readonly gpu: boolean;
  /**
   * Bytes beyond which a GPU estimate is not refined by simulation (the budget, else the machine's memory):
   * a request whose lower bound exceeds it is reported with `method: "lower-bound"`.
   */
  readonly limitBytes?: number;
  /** A started llama.cpp backend to simulate on; default node-llama-cpp's backend-less instance (CPU view). */
  readonly llama?: Llama;
  readonly signal?: AbortSignal;
}

/** The parts of an estimate, in bytes (see the file comment for what each counts). */
export interface MemoryBreakdown {
  /** Tensor data (with a GPU: node-llama-cpp's simulated model buffers). */
  readonly weights: number;
  /** llama.cpp's token tables (built twice per load) and node-llama-cpp's parsed copy of the vocabulary. */
  readonly vocabulary: number;
  /** Fixed per-model bookkeeping. */
  readonly overhead: number;
  /** KV cache and recurrent state for all sequences (with a GPU: the whole simulated context). */
  readonly kvCache: number;
  /** Activations of one full micro-batch (0 with a GPU: inside `kvCache`'s simulated context). */
  readonly compute: number;
  /** Grammar-constrained sampling over the vocabulary, and each sequence's logits row and candidates. */
  readonly sampling: number;
}

/** The estimated resident memory of a model with its context. */
export interface MemoryEstimate {
  /** Weights, vocabulary and per-model overhead, RAM + VRAM. */
  readonly modelBytes: number;
  /** The context (KV cache, compute, sampling) for all its sequences, RAM + VRAM. */
  readonly contextBytes: number;
  /** `modelBytes + contextBytes`: what the budget counts. */
  readonly totalBytes: number;
  readonly breakdown: MemoryBreakdown;
  /** Tokens per sequence after capping at the trained context. */
  readonly contextSize: number;
  /** Tokens per sequence that were asked for. */
  readonly requestedContextSize: number;
  readonly sequences: number;
  /** The context length the model was trained on (`<arch>.context_length`). */
  readonly trainContextSize: number;
  /** Layers counted on the GPU (0 on the CPU). */
  readonly gpuLayers: number;
  /**
   * `arithmetic`: the CPU estimate from the header (see the file comment); `simulated`: with a GPU, llama.cpp's
   * own accounting of its buffers plus the same vocabulary and sampling terms; `lower-bound`: with a GPU, the
   * arithmetic floor only, because even that exceeds `limitBytes` (the real need is larger).
   */
  readonly method: "arithmetic" | "simulated" | "lower-bound";
}

// ─── The arithmetic ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Resident bytes per vocabulary token: llama.cpp's `id_to_token` entry (40), `token_to_id` node and bucket
 * (72), token-to-piece cache string (32) and GGUF array entry (40) — 184 bytes, twice, since node-llama-cpp's
 * load simulates the model (vocabulary included) before loading it — plus node-llama-cpp's JavaScript copy of
 * the token, its score and type (about 140).
 */
export const VOCABULARY_BYTES_PER_TOKEN = 512;
/** Resident bytes per BPE merge: a `bpe_ranks` map node (112) and its GGUF string (32), twice over. */
export const VOCABULARY_BYTES_PER_MERGE = 288;
/** Per byte of token and merge text: heap copies of the longer strings, and the JavaScript strings. */
export const VOCABULARY_BYTES_PER_TEXT_BYTE = 2;
/**
 * The transient of one grammar-constrained sampling step over the whole vocabulary, per vocabulary token
 * (measured 340–580 bytes on the family fixtures, depending on the grammar's state).
 */
export const SAMPLING_BYTES_PER_VOCABULARY_TOKEN = 512;
/** Per sequence and vocabulary token: its logits row (4 bytes) and its sampler's candidate entry (12). */
export const SAMPLING_BYTES_PER_SEQUENCE_TOKEN = 16;
/**
 * Fixed per model: llama.cpp's tensor and graph metadata, node-llama-cpp's objects, and what a first load pays once
 * (modules imported lazily, compiled code, a malloc arena per thread): 14–31 MiB measured on the toy fixtures.
 */
export const MODEL_OVERHEAD_BYTES = 16 * 2 ** 20;
/** llama.cpp's largest micro-batch, and node-llama-cpp's default batch size. */
const MAX_MICRO_BATCH = 512;
const FLOAT_BYTES = 4;

/** What the arithmetic needs to know about a model, read from its GGUF header. */
export interface ModelMemoryFacts {
  /** Bytes of tensor data. */
  readonly weightBytes: number;
  /** Entries of `tokenizer.ggml.tokens`. */
  readonly tokenCount: number;
  /** Rows of the output projection (`<arch>.vocab_size`, else the token count). */
  readonly vocabularySize: number;
  /** Entries of `tokenizer.ggml.merges` (BPE vocabularies; 0 otherwise). */
  readonly mergeCount: number;
  /** UTF-8 bytes of all token and merge texts. */
  readonly textBytes: number;
  readonly embeddingLength: number;
  /** The widest feed-forward activation of a layer (experts in use × expert width for mixtures of experts). */
  readonly feedForwardLength: number;
  /** Query heads × key length per head. */
  readonly attentionWidth: number;
}

/** The context the arithmetic is asked about, with its KV cache already computed. */
export interface ContextShape {
  readonly sequences: number;
  /** Tokens per micro-batch: `min(512, contextSize × sequences)`, as node-llama-cpp creates contexts. */
  readonly microBatch: number;
  /** KV cache and recurrent state bytes for the whole context. */
  readonly kvCacheBytes: number;
}

/**
 * The CPU estimate's parts from header facts and the context's KV cache: pure arithmetic (see the file
 * comment for the terms).
 *
 * @example
 * const parts = residentMemoryBreakdown(facts, { sequences: 1, microBatch: 512, kvCacheBytes: 32 * 2 ** 20 });
 * const total = Object.values(parts).reduce((a, b) => a + b, 0);
 */
export function residentMemoryBreakdown(facts: ModelMemoryFacts, context: ContextShape): MemoryBreakdown {
  const sequences = Math.max(1, context.sequences);
  return {
    weights: facts.weightBytes,
    vocabulary: vocabularyBytes(facts),
    overhead: MODEL_OVERHEAD_BYTES,
    kvCache: context.kvCacheBytes,
    compute:
      context.microBatch *
      FLOAT_BYTES *
      (4 * facts.embeddingLength + 3 * facts.feedForwardLength + 2 * facts.attentionWidth),
    sampling: samplingBytes(facts.vocabularySize, sequences),
  };
}

/** The vocabulary's resident bytes (llama.cpp's tables twice, node-llama-cpp's copy). */
export function vocabularyBytes(
  facts: Pick<ModelMemoryFacts, "tokenCount" | "mergeCount" | "textBytes">,
): number {
  return (
    facts.tokenCount * VOCABULARY_BYTES_PER_TOKEN +
    facts.mergeCount * VOCABULARY_BYTES_PER_MERGE +
    facts.textBytes * VOCABULARY_BYTES_PER_TEXT_BYTE
  );
}

/** Sampling: one grammar-constrained step's transient, plus each sequence's logits row and candidates. */
export function samplingBytes(vocabularySize: number, sequences: number): number {
  return (
    vocabularySize * (SAMPLING_BYTES_PER_VOCABULARY_TOKEN + sequences * SAMPLING_BYTES_PER_SEQUENCE_TOKEN)
  );
}

function sumBreakdown(parts: MemoryBreakdown): { modelBytes: number; contextBytes: number } {
  return {
    modelBytes: Math.ceil(parts.weights + parts.vocabulary + parts.overhead),
    contextBytes: Math.ceil(parts.kvCache + parts.compute + parts.sampling),
  };
}

// ─── Reading the header ─────────────────────────────────────────────────────────────────────────────────

/** A positive number, or the largest of an array of them (per-layer values); 0 otherwise. */
function largest(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((max, item) => Math.max(max, largest(item)), 0);
  const number = typeof value === "bigint" ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) && number > 0 ? number : 0;
}

function utf8Bytes(texts: readonly string[] | undefined): number {
  let bytes = 0;
  for (const text of texts ?? []) bytes += Buffer.byteLength(text, "utf8");
  return bytes;
}

/** The header facts of a parsed GGUF (weights from node-llama-cpp's CPU floor, which sums the tensors). */
function factsOf(info: GgufFileInfo, insights: GgufInsights): ModelMemoryFacts {
  const arch = info.architectureMetadata as Record<string, unknown> & {
    attention?: Record<string, unknown>;
  };
  const tokenizer = (info.metadata as { tokenizer?: { ggml?: Record<string, unknown> } }).tokenizer?.ggml;
  const tokens = Array.isArray(tokenizer?.tokens) ? (tokenizer.tokens as string[]) : [];
  const merges = Array.isArray(tokenizer?.merges) ? (tokenizer.merges as string[]) : [];
  const embeddingLength = largest(arch.embedding_length);
  const headCount = largest(arch.attention?.head_count);
  const keyLength = largest(arch.attention?.key_length) || (headCount > 0 ? embeddingLength / headCount : 0);
  const expertWidth = largest(arch.expert_used_count) * largest(arch.expert_feed_forward_length);
  return {
    weightBytes: sum(insights.estimateModelResourceRequirements({ gpuLayers: 0 })),
    tokenCount: tokens.length,
    vocabularySize: largest(arch.vocab_size) || tokens.length,
    mergeCount: merges.length,
    textBytes: utf8Bytes(tokens) + utf8Bytes(merges),
    embeddingLength,
    feedForwardLength: Math.max(largest(arch.feed_forward_length), expertWidth),
    attentionWidth: headCount * keyLength,
  };
}

/** node-llama-cpp's output buffer term (vocabulary × max(batch, sequences) floats + ids), as its floor counts it. */
function outputBufferBytes(vocabularySize: number, batchSize: number, sequences: number): number {
  return vocabularySize * Math.max(batchSize, sequences) * FLOAT_BYTES + 4 * batchSize;
}

/**
 * Estimates the resident bytes of the model at `path` with a context of `contextSize` × `sequences`, reading
 * only its GGUF header (check the file with `inspectModelFile` first: a GPU estimate simulates the load in
 * llama.cpp without allocating, and llama.cpp aborts the process on some malformed files). Throws a ModelError
 * MODEL_INVALID when the header cannot be read, an AbortError when the signal fires.
 *
 * @example
 * const estimate = await estimateModelMemory(path, { contextSize: 2048, sequences: 2, gpu: false });
 * console.log(estimate.totalBytes, estimate.breakdown.vocabulary, estimate.contextSize);
 */
export async function estimateModelMemory(
  path: string,
  request: MemoryEstimateRequest,
): Promise<MemoryEstimate> {
  const { signal } = request;
  throwIfAborted(signal);
  let info: GgufFileInfo;
  let insights: GgufInsights;
  try {
    info = await readGgufFileInfo(path, {
      sourceType: "filesystem",
      readTensorInfo: true,
      logWarnings: false,
      signal,
    });
    insights = await GgufInsights.from(info, request.llama);
  } catch (cause) {
    throwIfAborted(signal);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ModelError(ErrorCodes.MODEL_INVALID, `${path}: cannot read the GGUF header: ${reason}`, {
      cause,
      context: { path },
    });
  }
  const trainContextSize = insights.trainContextSize ?? request.contextSize;
  const contextSize = Math.max(1, Math.min(request.contextSize, trainContextSize));
  const sequences = Math.max(1, request.sequences);
  const gpuLayers = request.gpu ? insights.totalLayers : 0;
  const base = {
    requestedContextSize: request.contextSize,
    contextSize,
    sequences,
    trainContextSize,
    gpuLayers,
  };
  const facts = factsOf(info, insights);
  const batchSize = Math.min(contextSize * sequences, MAX_MICRO_BATCH);
  const shape = { contextSize, sequences, batchSize, modelGpuLayers: gpuLayers };
  // KV cache, recurrent state and graph metadata by node-llama-cpp's arithmetic, which also counts the whole
  // output buffer: allocated, but resident only in the rows written (counted under sampling).
  const floorContext = sum(
    insights.estimateContextResourceRequirements({ ...shape, includeGraphOverhead: false }),
  );

  if (!request.gpu) {
    const breakdown = residentMemoryBreakdown(facts, {
      sequences,
      microBatch: batchSize,
      kvCacheBytes: Math.max(0, floorContext - outputBufferBytes(facts.vocabularySize, batchSize, sequences)),
    });
    return { ...base, ...totals(breakdown), method: "arithmetic" };
  }

  // With a GPU every buffer is allocated whole in VRAM (or pinned host memory): llama.cpp's own accounting of
  // the weights and the context, after a floor that never simulates what cannot fit anyway.
  const hostTerms = {
    vocabulary: vocabularyBytes(facts),
    overhead: MODEL_OVERHEAD_BYTES,
    compute: 0,
    sampling: samplingBytes(facts.vocabularySize, sequences),
  };
  const floorModel = sum(insights.estimateModelResourceRequirements({ gpuLayers }));
  const floor = totals({ ...hostTerms, weights: floorModel, kvCache: floorContext });
  if (request.limitBytes !== undefined && floor.totalBytes > request.limitBytes) {
    return { ...base, ...floor, method: "lower-bound" };
  }
  const weights = sum(await insights.estimateModelResourceRequirementsV2({ gpuLayers }));
  throwIfAborted(signal);
  const kvCache = sum(await insights.estimateContextResourceRequirementsV2(shape));
  throwIfAborted(signal);
  return { ...base, ...totals({ ...hostTerms, weights, kvCache }), method: "simulated" };
}

/** A breakdown with its model, context and total bytes. */
function totals(
  breakdown: MemoryBreakdown,
): Pick<MemoryEstimate, "modelBytes" | "contextBytes" | "totalBytes" | "breakdown"> {
  const { modelBytes, contextBytes } = sumBreakdown(breakdown);
  return { modelBytes, contextBytes, totalBytes: modelBytes + contextBytes, breakdown };
}

/** VRAM does not change while a backend runs: asked once per `Llama`. */
const machineBytesByLlama = new WeakMap<Llama, Promise<number>>();

/**
 * The memory LoRA adapters add to a model's estimate: llama.cpp copies each adapter's tensors (as declared in
 * its GGUF header, see `inspectLoraFile`) into buffers of their own, next to the base model's weights.
 */
export function loraBytes(adapters: readonly { readonly tensorBytes: number }[]): number {
  return adapters.reduce((sum, adapter) => sum + adapter.tensorBytes, 0);
}

/**
 * The memory this machine has for models: its RAM, plus the GPU's VRAM when `llama` runs on a GPU with memory
 * of its own (unified memory is counted once). The limit an estimate is held to when no budget is set, so that
 * an impossible request fails as a typed error instead of being attempted.
 */
export function machineMemoryBytes(llama?: Llama): Promise<number> {
  const ram = os.totalmem();
  if (llama === undefined || llama.gpu === false) return Promise.resolve(ram);
  let known = machineBytesByLlama.get(llama);
  if (known === undefined) {
    known = llama.getVramState().then(
      (vram) => ram + Math.max(0, vram.total - vram.unifiedSize),
      () => ram,
    );
    machineBytesByLlama.set(llama, known);
  }
  return known;
}

/** RAM + VRAM of a node-llama-cpp requirement, rounded up to whole bytes (the heuristics return fractions). */
function sum(requirements: { readonly cpuRam: number; readonly gpuVram: number }): number {
  return Math.ceil(requirements.cpuRam + requirements.gpuVram);
}

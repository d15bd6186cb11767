/**
 * Checks a GGUF file before llama.cpp sees it. llama.cpp answers some malformed files with a GGML_ASSERT that
 * aborts the whole Node process (measured: a llama GGUF without `feed_forward_length` or `head_count` exits
 * 134), so every model passes through {@link inspectModelFile} first, which turns each problem into a typed
 * ModelError: MODEL_NOT_FOUND for a missing or unreadable file, MODEL_INVALID for a file that is not GGUF, is
 * truncated, or lacks the metadata its architecture needs. The CLI's `validate` uses the same function.
 */
import { open, stat } from "node:fs/promises";
import * as nodeLlamaCpp from "node-llama-cpp";
import { type GgufFileInfo, type GgufTensorInfo, readGgufFileInfo } from "node-llama-cpp";
import { ErrorCodes, ModelError, throwIfAborted } from "../errors.js";

/** What edgecrew needs to know about a model file, read from its GGUF header without loading it. */
export interface ModelFileInfo {
  /** Absolute path as given. */
  readonly path: string;
  /** File size in bytes. */
  readonly bytes: number;
  /** GGUF format version (2 or 3). */
  readonly version: number;
  /** `general.architecture`, e.g. `llama`, `qwen2`. */
  readonly architecture: string;
  /** `general.name`, when present. */
  readonly name?: string;
  readonly contextLength: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  /** Absent for architectures without attention/feed-forward blocks (e.g. Mamba). */
  readonly headCount?: number;
  readonly feedForwardLength?: number;
  readonly tensorCount: number;
  /** Total elements over all tensors: the parameter count. */
  readonly parameters: number;
  /** Bytes of tensor data the header declares (what loading the weights costs, before any context). */
  readonly tensorBytes: number;
  /** Whether the file carries a chat template (`tokenizer.chat_template`). */
  readonly hasChatTemplate: boolean;
  /** Whether it is an edgecrew fixture model (random weights; `edgecrew.fixture.*` metadata). */
  readonly isFixture: boolean;
}

const GGUF_MAGIC = "GGUF";
/**
 * Architectures node-llama-cpp's bundled llama.cpp can load. Its typings declare `GgufArchitectureType` a const
 * enum (not readable under `verbatimModuleSyntax`), but the package exports the object at run time.
 */
const KNOWN_ARCHITECTURES: ReadonlySet<string> = new Set(
  Object.values(
    ((nodeLlamaCpp as unknown as Record<string, unknown>).GgufArchitectureType ?? {}) as Record<
      string,
      string
    >,
  ),
);
// The smallest possible GGUF header: magic, version, tensor count (u64), metadata count (u64).
const MIN_HEADER_BYTES = 24;
// Architectures without attention heads or a feed-forward block: only the universal keys are required.
const RECURRENT_ARCHITECTURES = new Set(["mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"]);

// ggml type id → [elements per block, bytes per block]. Used to compute how long the tensor data must be;
// tensors of a type missing here are checked only for their start offset.
const GGML_TYPE_SIZES: ReadonlyMap<number, readonly [number, number]> = new Map([
  [0, [1, 4]], // F32
  [1, [1, 2]], // F16
  [2, [32, 18]], // Q4_0
  [3, [32, 20]], // Q4_1
  [6, [32, 22]], // Q5_0
  [7, [32, 24]], // Q5_1
  [8, [32, 34]], // Q8_0
  [9, [32, 36]], // Q8_1
  [10, [256, 84]], // Q2_K
  [11, [256, 110]], // Q3_K
  [12, [256, 144]], // Q4_K
  [13, [256, 176]], // Q5_K
  [14, [256, 210]], // Q6_K
  [15, [256, 292]], // Q8_K
  [16, [256, 66]], // IQ2_XXS
  [17, [256, 74]], // IQ2_XS
  [18, [256, 98]], // IQ3_XXS
  [19, [256, 50]], // IQ1_S
  [20, [32, 18]], // IQ4_NL
  [21, [256, 110]], // IQ3_S
  [22, [256, 82]], // IQ2_S
  [23, [256, 136]], // IQ4_XS
  [24, [1, 1]], // I8
  [25, [1, 2]], // I16
  [26, [1, 4]], // I32
  [27, [1, 8]], // I64
  [28, [1, 8]], // F64
  [29, [256, 56]], // IQ1_M
  [30, [1, 2]], // BF16
]);

function invalid(
  path: string,
  message: string,
  extra: Record<string, unknown> = {},
  cause?: unknown,
): ModelError {
  return new ModelError(ErrorCodes.MODEL_INVALID, `${path}: ${message}`, {
    cause,
    context: { path, ...extra },
  });
}

/** Reads `a.b.c` from GGUF metadata (node-llama-cpp nests dotted keys into objects). */
function metadataValue(metadata: unknown, key: string): unknown {
  let node: unknown = metadata;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function positiveInteger(value: unknown): number | undefined {
  const number = typeof value === "bigint" ? Number(value) : value;
  return typeof number === "number" && Number.isInteger(number) && number > 0 ? number : undefined;
}

/** A positive integer, or (as some architectures store per-layer values) a non-empty array of them. */
function isHyperParameter(value: unknown): boolean {
  if (Array.isArray(value))
    return value.length > 0 && value.every((item) => positiveInteger(item) !== undefined);
  return positiveInteger(value) !== undefined;
}

function toNumber(value: number | bigint): number {
  return typeof value === "bigint" ? Number(value) : value;
}

async function readHeader(path: string): Promise<{ magic: string; version: number }> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(8);
    await handle.read(buffer, 0, 8, 0);
    return { magic: buffer.toString("latin1", 0, 4), version: buffer.readUInt32LE(4) };
  } finally {
    await handle.close();
  }
}

/** The end offset of one tensor's data, when its type's size is known. */
function tensorEnd(tensor: GgufTensorInfo): { start: number; end?: number; elements: number } {
  const start = toNumber(tensor.fileOffset);
  const elements = tensor.dimensions.reduce<number>((product, dim) => product * toNumber(dim), 1);
  const size = GGML_TYPE_SIZES.get(tensor.ggmlType);
  if (size === undefined) return { start, elements };
  const [blockElements, blockBytes] = size;
  return { start, end: start + Math.ceil(elements / blockElements) * blockBytes, elements };
}

/**
 * Reads and checks a model file's GGUF header without loading the model: the file exists, starts with the
 * GGUF magic and a supported version, parses, declares an architecture with its required hyper-parameters
 * (`<arch>.context_length`, `.embedding_length`, `.block_count`, and — except for recurrent architectures —
 * `.feed_forward_length` and `.attention.head_count`), and is at least as long as the tensor data it declares.
 * Throws a ModelError (MODEL_NOT_FOUND or MODEL_INVALID) naming the problem; never lets llama.cpp abort.
 *
 * @example
 * const info = await inspectModelFile("/models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
 * console.log(info.architecture, info.parameters, info.bytes);
 */
export async function inspectModelFile(
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<ModelFileInfo> {
  const { bytes, info } = await readGguf(path, "model", options.signal);
  return checkInfo(path, bytes, info);
}

/** Stats, reads and parses a GGUF file's header (shared by models and LoRA adapters). */
async function readGguf(
  path: string,
  what: "model" | "LoRA adapter",
  signal: AbortSignal | undefined,
): Promise<{ bytes: number; info: GgufFileInfo }> {
  const options = { signal };
  throwIfAborted(options.signal);
  const stats = await stat(path).catch((cause: unknown) => {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${what} file not found: ${path}`, {
      cause,
      context: { path },
    });
  });
  if (!stats.isFile()) {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${what} path is not a file: ${path}`, {
      context: { path },
    });
  }
  if (stats.size < MIN_HEADER_BYTES) {
    throw invalid(path, `not a GGUF ${what} (only ${stats.size} bytes)`, { bytes: stats.size });
  }
  const header = await readHeader(path).catch((cause: unknown) => {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `cannot read ${what} file ${path}`, {
      cause,
      context: { path },
    });
  });
  if (header.magic !== GGUF_MAGIC) {
    throw invalid(path, `not a GGUF ${what} (the file does not start with "${GGUF_MAGIC}")`);
  }
  if (header.version !== 2 && header.version !== 3) {
    throw invalid(path, `unsupported GGUF version ${header.version} (expected 2 or 3)`, {
      version: header.version,
    });
  }

  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(path, {
      sourceType: "filesystem",
      readTensorInfo: true,
      spliceSplitFiles: false,
      logWarnings: false,
      signal: options.signal,
    });
  } catch (cause) {
    throwIfAborted(options.signal);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw invalid(path, `corrupt GGUF header: ${reason}`, {}, cause);
  }
  throwIfAborted(options.signal);
  return { bytes: stats.size, info };
}

function checkInfo(path: string, bytes: number, info: GgufFileInfo): ModelFileInfo {
  const metadata = info.metadata;
  const architecture = metadataValue(metadata, "general.architecture");
  if (typeof architecture !== "string" || architecture === "") {
    throw invalid(path, "missing general.architecture");
  }
  // An architecture this llama.cpp build does not know fails at load time after a burst of native log lines;
  // say so up front (and at `validate` time) instead.
  if (!KNOWN_ARCHITECTURES.has(architecture)) {
    throw invalid(path, `unsupported architecture "${architecture}" (not known to the bundled llama.cpp)`, {
      architecture,
    });
  }
  const recurrent = RECURRENT_ARCHITECTURES.has(architecture);
  const required = ["context_length", "embedding_length", "block_count"];
  if (!recurrent) required.push("feed_forward_length", "attention.head_count");
  const missing = required
    .map((key) => `${architecture}.${key}`)
    .filter((key) => !isHyperParameter(metadataValue(metadata, key)));
  if (missing.length > 0) {
    throw invalid(path, `missing or invalid required metadata: ${missing.join(", ")}`, {
      architecture,
      missing,
    });
  }
  const value = (key: string): number | undefined =>
    positiveInteger(metadataValue(metadata, `${architecture}.${key}`));
  const embeddingLength = value("embedding_length") as number;
  const headCount = value("attention.head_count");
  // Without an explicit key length llama.cpp derives the head size as embedding / heads and asserts it divides.
  if (
    headCount !== undefined &&
    value("attention.key_length") === undefined &&
    embeddingLength % headCount !== 0
  ) {
    throw invalid(
      path,
      `${architecture}.embedding_length (${embeddingLength}) is not a multiple of attention.head_count (${headCount})`,
    );
  }

  const tensors = info.tensorInfo ?? [];
  let parameters = 0;
  let tensorBytes = 0;
  let dataEnd = 0;
  for (const tensor of tensors) {
    const { start, end, elements } = tensorEnd(tensor);
    parameters += elements;
    tensorBytes += end === undefined ? 0 : end - start;
    dataEnd = Math.max(dataEnd, end ?? start + 1);
  }
  if (dataEnd > bytes) {
    throw invalid(path, `truncated: the tensors end at byte ${dataEnd} but the file has ${bytes} bytes`, {
      bytes,
      expectedBytes: dataEnd,
    });
  }
  const name = metadataValue(metadata, "general.name");
  const fileInfo: ModelFileInfo = {
    path,
    bytes,
    version: info.version,
    architecture,
    contextLength: value("context_length") as number,
    embeddingLength,
    blockCount: value("block_count") as number,
    tensorCount: toNumber(info.tensorCount),
    parameters,
    tensorBytes,
    hasChatTemplate: typeof metadataValue(metadata, "tokenizer.chat_template") === "string",
    isFixture: metadataValue(metadata, "edgecrew.fixture.version") !== undefined,
  };
  return {
    ...fileInfo,
    ...(typeof name === "string" ? { name } : {}),
    ...(headCount === undefined ? {} : { headCount }),
    ...(value("feed_forward_length") === undefined
      ? {}
      : { feedForwardLength: value("feed_forward_length") }),
  };
}

/** What edgecrew needs to know about a LoRA adapter file, read from its GGUF header. */
export interface LoraFileInfo {
  readonly path: string;
  /** File size in bytes. */
  readonly bytes: number;
  /** `general.architecture`: must be the base model's. */
  readonly architecture: string;
  /** `adapter.lora.alpha` (0 when absent: llama.cpp then applies the adapter unscaled by rank). */
  readonly alpha: number;
  /** Adapted weights (pairs of `.lora_a` / `.lora_b` tensors). */
  readonly pairs: number;
  /** Bytes of tensor data the header declares: what llama.cpp copies into memory for the adapter. */
  readonly tensorBytes: number;
}

/**
 * Reads and checks a LoRA adapter's GGUF header before llama.cpp sees it: the file exists and parses,
 * `general.type` is `adapter`, `adapter.type` is `lora`, the architecture is the base model's (when `base` is
 * given), every tensor is a `.lora_a` / `.lora_b` (or ignored `_norm.weight`) tensor, each `.lora_a` has its
 * `.lora_b`, and the file is as long as its tensor data. Throws a ModelError (MODEL_NOT_FOUND or
 * MODEL_INVALID) naming the problem. llama.cpp reports the remaining problems (a tensor the base model lacks,
 * a wrong shape) as load errors, which openModel turns into MODEL_LOAD_FAILED.
 */
export async function inspectLoraFile(
  path: string,
  options: { signal?: AbortSignal; base?: Pick<ModelFileInfo, "architecture" | "path"> } = {},
): Promise<LoraFileInfo> {
  const { bytes, info } = await readGguf(path, "LoRA adapter", options.signal);
  const metadata = info.metadata;
  const generalType = metadataValue(metadata, "general.type");
  if (generalType !== "adapter") {
    throw invalid(
      path,
      `not a LoRA adapter: general.type is ${JSON.stringify(generalType ?? null)}, expected "adapter"`,
    );
  }
  const adapterType = metadataValue(metadata, "adapter.type");
  if (adapterType !== "lora") {
    throw invalid(
      path,
      `not a LoRA adapter: adapter.type is ${JSON.stringify(adapterType ?? null)}, expected "lora"`,
    );
  }
  const architecture = metadataValue(metadata, "general.architecture");
  if (typeof architecture !== "string" || architecture === "") {
    throw invalid(path, "missing general.architecture");
  }
  if (options.base !== undefined && options.base.architecture !== architecture) {
    throw invalid(
      path,
      `LoRA adapter for architecture "${architecture}" does not fit the base model ${options.base.path} ("${options.base.architecture}")`,
      { architecture, baseArchitecture: options.base.architecture },
    );
  }
  const alphaValue = metadataValue(metadata, "adapter.lora.alpha");
  const alpha = typeof alphaValue === "number" && Number.isFinite(alphaValue) ? alphaValue : 0;
  const halves = new Map<string, { a: boolean; b: boolean }>();
  let tensorBytes = 0;
  let dataEnd = 0;
  for (const tensor of info.tensorInfo ?? []) {
    const { start, end } = tensorEnd(tensor);
    tensorBytes += end === undefined ? 0 : end - start;
    dataEnd = Math.max(dataEnd, end ?? start + 1);
    const name = tensor.name;
    const half = name.endsWith(".lora_a") ? "a" : name.endsWith(".lora_b") ? "b" : undefined;
    if (half === undefined) {
      if (name.endsWith("_norm.weight")) continue; // llama.cpp ignores these
      throw invalid(path, `LoRA tensor "${name}" has an unexpected suffix (expected .lora_a or .lora_b)`, {
        tensor: name,
      });
    }
    const weight = name.slice(0, -".lora_a".length);
    const known = halves.get(weight) ?? { a: false, b: false };
    known[half] = true;
    halves.set(weight, known);
  }
  const incomplete = [...halves].filter(([, pair]) => !pair.a || !pair.b).map(([weight]) => weight);
  if (incomplete.length > 0) {
    throw invalid(path, `LoRA tensor pair incomplete for ${incomplete.join(", ")}`, { tensors: incomplete });
  }
  if (halves.size === 0) throw invalid(path, "LoRA adapter has no tensors");
  if (dataEnd > bytes) {
    throw invalid(path, `truncated: the tensors end at byte ${dataEnd} but the file has ${bytes} bytes`, {
      bytes,
      expectedBytes: dataEnd,
    });
  }
  return { path, bytes, architecture, alpha, pairs: halves.size, tensorBytes };
}

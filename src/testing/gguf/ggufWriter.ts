/**
 * A minimal GGUF v3 writer: enough of the format to build llama-architecture test models (metadata of a few
 * scalar and array types, f32/f16 tensors). `@huggingface/gguf` can parse GGUF but not write tensor data, and
 * the fixture models must be generated at test time, so edgecrew carries its own writer.
 *
 * Layout written (little-endian throughout): magic `GGUF`, version 3, tensor count (u64), metadata count
 * (u64), the metadata key/value pairs, the tensor infos (name, dims innermost-first, ggml type, offset into
 * the data section), zero padding up to the alignment, then each tensor's data, each starting on an aligned
 * offset. Everything is deterministic: the same document always encodes to the same bytes.
 *
 * This module imports only `node:` built-ins, so the product's model resolver can use it without loading
 * node-llama-cpp or LangChain.
 */
import { createHash } from "node:crypto";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import { ByteSink } from "./byteSink.js";
import { f32ArrayToF16Bits, f32ToF16Bits } from "./f16.js";

// ─── Types ───────────────────────────────────────────────────────────────────────────────────────────────

/** Element types a GGUF metadata array may hold in this writer. */
export type GgufArrayItemType = "string" | "float32" | "int32" | "uint32";

/** One metadata value, tagged with the GGUF type it is written as (JS numbers alone can't say which). */
export type GgufValue =
  | { readonly type: "uint32"; readonly value: number }
  | { readonly type: "int32"; readonly value: number }
  | { readonly type: "float32"; readonly value: number }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "array"; readonly itemType: "string"; readonly value: readonly string[] }
  | {
      readonly type: "array";
      readonly itemType: "float32" | "int32" | "uint32";
      readonly value: readonly number[] | Float32Array | Int32Array | Uint32Array;
    };

/** Tensor element types this writer can encode. */
export type GgufTensorType = "f32" | "f16";

/**
 * A tensor to write. `shape` is in ggml order (innermost dimension first: a `[E, V]` embedding has E
 * contiguous floats per token). `data` may be a function so that large models are generated one tensor at a
 * time while streaming, instead of all being held in memory; the function may return the values in
 * consecutive chunks, so that even one huge tensor (a 262k-token embedding) is never held whole.
 */
export interface GgufTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgufTensorType;
  readonly data: Float32Array | (() => Float32Array | Iterable<Float32Array>);
}

/** A whole GGUF file: ordered metadata and tensors. Order is preserved in the output. */
export interface GgufDocument {
  readonly metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>;
  readonly tensors: readonly GgufTensor[];
  /**
   * Data alignment in bytes (default 32, the GGUF default). When it is not 32 the writer needs the reader to
   * know it, so the document must then also carry `general.alignment` with the same value.
   */
  readonly alignment?: number;
}

/** Where one tensor's data lives, as computed by {@link planGgufLayout}. */
export interface GgufTensorPlacement {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgufTensorType;
  /** Offset from the start of the data section (what the tensor info records). */
  readonly offset: number;
  /** Size of the tensor's data in bytes, without padding. */
  readonly byteLength: number;
}

/** The byte layout of a document: header size, data section start, tensor placements and the total size. */
export interface GgufLayout {
  /** Header (magic … tensor infos) in bytes, before the padding that precedes the data section. */
  readonly headerBytes: number;
  /** Absolute file offset of the data section. */
  readonly dataOffset: number;
  readonly tensors: readonly GgufTensorPlacement[];
  /** Total file size in bytes. */
  readonly totalBytes: number;
}

/** What writing a GGUF file produced. */
export interface GgufWriteResult {
  readonly path: string;
  readonly bytes: number;
  /** Lowercase hex SHA-256 of the file's bytes, computed while writing (no second read). */
  readonly sha256: string;
}

// ─── Constants ──────────────────────────────────────────────────────────────────────────────────────────

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const GGUF_VERSION = 3;
const DEFAULT_ALIGNMENT = 32;

// GGUF metadata value type ids (gguf.h).
const VALUE_TYPE = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;
// ggml tensor type ids (ggml.h).
const TENSOR_TYPE: Record<GgufTensorType, number> = { f32: 0, f16: 1 };
const TENSOR_ELEMENT_BYTES: Record<GgufTensorType, number> = { f32: 4, f16: 2 };

// Typed arrays use the platform's byte order; GGUF is little-endian. Every supported target is
// little-endian, but a big-endian host must not silently write a corrupt file, so it takes the slow path.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ─── Header encoding ────────────────────────────────────────────────────────────────────────────────────

function invalid(message: string, context: Record<string, unknown> = {}): EdgecrewError {
  return new EdgecrewError(ErrorCodes.MODEL_INVALID, `GGUF writer: ${message}`, { context });
}

function checkInteger(key: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`metadata "${key}" must be an integer in [${min}, ${max}], got ${value}`, { key });
  }
}

function writeScalar(sink: ByteSink, key: string, type: GgufArrayItemType, value: number | string): void {
  switch (type) {
    case "uint32":
      checkInteger(key, value as number, 0, 0xffff_ffff);
      sink.u32(value as number);
      return;
    case "int32":
      checkInteger(key, value as number, -0x8000_0000, 0x7fff_ffff);
      sink.i32(value as number);
      return;
    case "float32":
      sink.f32(value as number);
      return;
    case "string":
      sink.string(value as string);
      return;
  }
}

function writeValue(sink: ByteSink, key: string, value: GgufValue): void {
  sink.u32(VALUE_TYPE[value.type]);
  switch (value.type) {
    case "bool":
      sink.u8(value.value ? 1 : 0);
      return;
    case "array": {
      sink.u32(VALUE_TYPE[value.itemType]);
      sink.u64(value.value.length);
      for (const item of value.value) writeScalar(sink, key, value.itemType, item);
      return;
    }
    default:
      writeScalar(sink, key, value.type, value.value);
  }
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

function elementCount(tensor: { readonly name: string; readonly shape: readonly number[] }): number {
  if (tensor.shape.length === 0 || tensor.shape.length > 4) {
    throw invalid(`tensor "${tensor.name}" must have 1 to 4 dimensions`, { tensor: tensor.name });
  }
  let count = 1;
  for (const dim of tensor.shape) {
    if (!Number.isInteger(dim) || dim < 1) {
      throw invalid(`tensor "${tensor.name}" has an invalid dimension ${dim}`, { tensor: tensor.name });
    }
    count *= dim;
  }
  return count;
}

function resolveAlignment(document: GgufDocument): number {
  const alignment = document.alignment ?? DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw invalid(`alignment must be a power of two, got ${alignment}`);
  }
  const declared = document.metadata.find(([key]) => key === "general.alignment")?.[1];
  const declaredValue = declared?.type === "uint32" ? declared.value : undefined;
  // A reader aligns by general.alignment (or 32 without it): a mismatch would make it read garbage.
  const mismatch = declared === undefined ? alignment !== DEFAULT_ALIGNMENT : declaredValue !== alignment;
  if (mismatch) {
    throw invalid(`general.alignment must be a uint32 equal to the document's alignment (${alignment})`);
  }
  return alignment;
}

// A document's header is encoded once: planning a layout (to check a cached file's size) and then writing
// the same document would otherwise encode a large vocabulary twice. Documents are immutable by contract.
const encodedHeaders = new WeakMap<GgufDocument, { header: Uint8Array; layout: GgufLayout }>();

function encodeHeader(document: GgufDocument): { header: Uint8Array; layout: GgufLayout } {
  let encoded = encodedHeaders.get(document);
  if (encoded === undefined) {
    encoded = encodeHeaderUncached(document);
    encodedHeaders.set(document, encoded);
  }
  return encoded;
}

/** Encodes magic, counts, metadata and tensor infos; returns the header and the tensors' placements. */
function encodeHeaderUncached(document: GgufDocument): { header: Uint8Array; layout: GgufLayout } {
  const alignment = resolveAlignment(document);
  const seenKeys = new Set<string>();
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(document.tensors.length);
  sink.u64(document.metadata.length);
  for (const [key, value] of document.metadata) {
    if (seenKeys.has(key)) throw invalid(`duplicate metadata key "${key}"`, { key });
    seenKeys.add(key);
    sink.string(key);
    writeValue(sink, key, value);
  }

  const placements: GgufTensorPlacement[] = [];
  const seenTensors = new Set<string>();
  let offset = 0;
  for (const tensor of document.tensors) {
    if (seenTensors.has(tensor.name)) {
      throw invalid(`duplicate tensor "${tensor.name}"`, { tensor: tensor.name });
    }
    seenTensors.add(tensor.name);
    const byteLength = elementCount(tensor) * TENSOR_ELEMENT_BYTES[tensor.type];
    offset = alignUp(offset, alignment);
    sink.string(tensor.name);
    sink.u32(tensor.shape.length);
    for (const dim of tensor.shape) sink.u64(dim);
    sink.u32(TENSOR_TYPE[tensor.type]);
    sink.u64(offset);
    placements.push({ name: tensor.name, shape: [...tensor.shape], type: tensor.type, offset, byteLength });
    offset += byteLength;
  }

  const headerBytes = sink.size;
  const dataOffset = alignUp(headerBytes, alignment);
  sink.zeros(dataOffset - headerBytes);
  const last = placements.at(-1);
  const totalBytes = dataOffset + (last === undefined ? 0 : last.offset + last.byteLength);
  return { header: sink.bytes(), layout: { headerBytes, dataOffset, tensors: placements, totalBytes } };
}

/**
 * Computes where everything goes without generating any tensor data: cheap even for a multi-hundred-MB
 * model, so callers can check an existing file's size against what it should be.
 */
export function planGgufLayout(document: GgufDocument): GgufLayout {
  return encodeHeader(document).layout;
}

// ─── Tensor data encoding ───────────────────────────────────────────────────────────────────────────────

/** The little-endian bytes of one chunk of tensor values. */
function encodeValues(values: Float32Array, type: GgufTensorType): Uint8Array {
  if (type === "f32") {
    if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let index = 0; index < values.length; index++) view.setFloat32(index * 4, values[index] ?? 0, true);
    return out;
  }
  if (HOST_IS_LITTLE_ENDIAN) {
    const halves = f32ArrayToF16Bits(values);
    return new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength);
  }
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  const scratch = new DataView(new ArrayBuffer(4));
  for (let index = 0; index < values.length; index++) {
    view.setUint16(index * 2, f32ToF16Bits(values[index] ?? 0, scratch), true);
  }
  return out;
}

/** The little-endian bytes of one tensor's data, chunk by chunk, checked against its shape. */
function* encodeTensorData(tensor: GgufTensor, placement: GgufTensorPlacement): Generator<Uint8Array> {
  const produced = typeof tensor.data === "function" ? tensor.data() : tensor.data;
  const parts: Iterable<Float32Array> = produced instanceof Float32Array ? [produced] : produced;
  const expected = placement.byteLength / TENSOR_ELEMENT_BYTES[tensor.type];
  const wrongCount = (got: string) =>
    invalid(`tensor "${tensor.name}" needs ${expected} values, got ${got}`, { tensor: tensor.name });
  let count = 0;
  for (const values of parts) {
    if (!(values instanceof Float32Array)) throw wrongCount("a chunk that is not a Float32Array");
    count += values.length;
    // Checked before writing, so that a file never holds more data than its header declares.
    if (count > expected) throw wrongCount(`more (at least ${count})`);
    yield encodeValues(values, tensor.type);
  }
  if (count !== expected) throw wrongCount(String(count));
}

/** Walks the file's chunks in order: header (with padding), then each tensor with its leading padding. */
function* chunks(document: GgufDocument): Generator<Uint8Array, GgufLayout> {
  const { header, layout } = encodeHeader(document);
  yield header;
  let position = 0;
  for (const [index, tensor] of document.tensors.entries()) {
    const placement = layout.tensors[index];
    if (placement === undefined) throw invalid("tensor layout out of sync (bug)");
    if (placement.offset > position) yield new Uint8Array(placement.offset - position);
    yield* encodeTensorData(tensor, placement);
    position = placement.offset + placement.byteLength;
  }
  return layout;
}

// ─── Public writers ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Encodes a whole GGUF document in memory. Fine for small models and tests; for large ones use
 * {@link writeGgufFile}, which streams one tensor at a time.
 *
 * @example
 * ```ts
 * const bytes = encodeGguf({
 *   metadata: [["general.architecture", { type: "string", value: "llama" }]],
 *   tensors: [{ name: "w", shape: [4, 2], type: "f32", data: new Float32Array(8) }],
 * });
 * ```
 */
export function encodeGguf(document: GgufDocument): Uint8Array {
  const parts: Uint8Array[] = [];
  const iterator = chunks(document);
  let step = iterator.next();
  while (step.done !== true) {
    // Copy: an f32 chunk may be a view onto the caller's array, which they may reuse.
    parts.push(step.value.slice());
    step = iterator.next();
  }
  const out = new Uint8Array(step.value.totalBytes);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Streams a GGUF document to `path`, one tensor at a time (a tensor given as a function is generated just
 * before it is written and can be collected right after), and hashes the bytes on the way. The write is
 * atomic: data goes to a temporary file in the same directory, is flushed, then renamed over `path`, so a
 * crash never leaves a partial file under the final name (only, at worst, a `*.tmp` next to it). Parent
 * directories are created.
 *
 * @example
 * ```ts
 * const { bytes, sha256 } = await writeGgufFile("/tmp/m.gguf", document);
 * ```
 */
export async function writeGgufFile(path: string, document: GgufDocument): Promise<GgufWriteResult> {
  await mkdir(dirname(path), { recursive: true });
  const tempPath = `${path}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  const hash = createHash("sha256");
  let bytes = 0;
  const handle = await open(tempPath, "wx");
  try {
    try {
      for (const chunk of chunks(document)) {
        hash.update(chunk);
        let written = 0;
        while (written < chunk.length) {
          const result = await handle.write(chunk, written, chunk.length - written);
          written += result.bytesWritten;
        }
        bytes += chunk.length;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
    throw error;
  }
  return { path, bytes, sha256: hash.digest("hex") };
}

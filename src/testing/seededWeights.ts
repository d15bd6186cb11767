/**
 * Seeded random weights for generated fixture models, shared by the toy fixture (fixtureModel.ts) and the
 * family fixtures (families/). Every tensor draws from its own stream, derived from the seed and the tensor's
 * name, so adding or reordering tensors never changes the others' bytes, and the same seed always gives the
 * same file. Imports nothing but the GGUF writer's types, so the product's model resolver can use it.
 */
import type { GgufTensor, GgufTensorType } from "./gguf/ggufWriter.js";

/**
 * The stream seed of one tensor: FNV-1a over its name, mixed with the fixture's seed. Exported so that a
 * generator that needs another stream (e.g. per-layer values) derives it the same way.
 */
export function tensorSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Values per chunk when a tensor is generated in pieces: 4 Mi floats, 16 MiB. */
const CHUNK_VALUES = 4 * 1024 * 1024;

/**
 * Uniform values in [-amplitude, amplitude) from a mulberry32 stream (fast, 32-bit state), yielded in chunks
 * of at most `chunkValues` so that a multi-hundred-million-element embedding never has to exist as one array.
 * The concatenated chunks are the same values whatever the chunk size.
 */
export function* uniformWeightChunks(
  count: number,
  seed: number,
  amplitude: number,
  chunkValues: number = CHUNK_VALUES,
): Generator<Float32Array> {
  let state = seed >>> 0;
  const scale = (2 * amplitude) / 4294967296;
  for (let start = 0; start < count; start += chunkValues) {
    const out = new Float32Array(Math.min(chunkValues, count - start));
    for (let i = 0; i < out.length; i++) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = ((t ^ (t >>> 14)) >>> 0) * scale - amplitude;
    }
    yield out;
  }
}

/** {@link uniformWeightChunks} as one array: fine for the toy fixture's small tensors. */
export function uniformWeights(count: number, seed: number, amplitude: number): Float32Array {
  const [only] = uniformWeightChunks(count, seed, amplitude, Math.max(1, count));
  return only ?? new Float32Array(0);
}

/**
 * A random weight matrix (`shape` in ggml order, innermost first). The Xavier-like amplitude sqrt(3 / fan-in)
 * keeps activations and logits near unit scale whatever the width, so a wide bench model samples as varied
 * text as the tiny one. Generated in chunks, on demand, while the writer streams the file.
 */
export function weightTensor(
  seed: number,
  name: string,
  shape: readonly number[],
  type: GgufTensorType = "f32",
): GgufTensor {
  const fanIn = shape[0] ?? 1;
  const count = shape.reduce((product, dim) => product * dim, 1);
  const amplitude = Math.sqrt(3 / fanIn);
  return { name, shape, type, data: () => uniformWeightChunks(count, tensorSeed(seed, name), amplitude) };
}

/**
 * A tensor filled with one value, f32: RMS-norm gains of one (the identity scale of a freshly initialised
 * model), zero biases. Norms and biases stay f32 in real f16 GGUFs too.
 */
export function constantTensor(name: string, shape: readonly number[], value: number): GgufTensor {
  const count = shape.reduce((product, dim) => product * dim, 1);
  return { name, shape, type: "f32", data: () => new Float32Array(count).fill(value) };
}

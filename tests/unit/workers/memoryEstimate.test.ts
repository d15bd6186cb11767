/**
 * The memory estimate's arithmetic (no model): each term from header facts, and the whole estimate against
 * the peak RSS growth measured on the family and toy fixtures (`npm run bench`, section `families`, and
 * tests/model/families/memoryEstimate.test.ts), so that a change to a constant that breaks the ±15 % promise
 * fails here first.
 */
import { describe, expect, it } from "vitest";
import {
  MODEL_OVERHEAD_BYTES,
  type ModelMemoryFacts,
  residentMemoryBreakdown,
  SAMPLING_BYTES_PER_SEQUENCE_TOKEN,
  SAMPLING_BYTES_PER_VOCABULARY_TOKEN,
  samplingBytes,
  VOCABULARY_BYTES_PER_MERGE,
  VOCABULARY_BYTES_PER_TEXT_BYTE,
  VOCABULARY_BYTES_PER_TOKEN,
  vocabularyBytes,
} from "../../../src/workers/memoryEstimate.js";

const MiB = 2 ** 20;
const total = (parts: Record<string, number>) => Object.values(parts).reduce((a, b) => a + b, 0);

/** Header facts of the fixtures (read from their GGUFs) and the KV cache of a 2048-token context. */
interface Measured {
  readonly facts: ModelMemoryFacts;
  readonly kvCacheBytes: number;
  /** Peak RSS growth measured over load, context and a 128-token constrained generation, MiB [min, max]. */
  readonly peakMiB: readonly [number, number];
}

const QWEN_VOCAB = {
  tokenCount: 151_936,
  vocabularySize: 151_936,
  mergeCount: 151_387,
  textBytes: 2_893_212,
};
const LLAMA_VOCAB = {
  tokenCount: 128_256,
  vocabularySize: 128_256,
  mergeCount: 280_147,
  textBytes: 4_037_034,
};
const GEMMA_VOCAB = { tokenCount: 262_144, vocabularySize: 262_144, mergeCount: 0, textBytes: 2_315_366 };
const TOY_VOCAB = { tokenCount: 365, vocabularySize: 365, mergeCount: 0, textBytes: 1_689 };

const shape = (embeddingLength: number, feedForwardLength: number, attentionWidth: number) => ({
  embeddingLength,
  feedForwardLength,
  attentionWidth,
});

// Measured on a 2-core machine (Node 20, node-llama-cpp 3.21.1, CPU, one thread), MALLOC_MMAP_THRESHOLD_=131072.
const MEASURED: Readonly<Record<string, Measured>> = {
  "qwen3 bench": {
    facts: { weightBytes: 416.8 * MiB, ...QWEN_VOCAB, ...shape(1024, 3072, 2048) },
    kvCacheBytes: 32.1 * MiB,
    peakMiB: [651, 700],
  },
  "qwen2 bench": {
    facts: { weightBytes: 373.5 * MiB, ...QWEN_VOCAB, ...shape(896, 4864, 896) },
    kvCacheBytes: 4.2 * MiB,
    peakMiB: [572, 620],
  },
  "llama3.1 bench": {
    facts: { weightBytes: 965.1 * MiB, ...LLAMA_VOCAB, ...shape(2048, 8192, 2048) },
    kvCacheBytes: 16.1 * MiB,
    peakMiB: [1175, 1230],
  },
  "llama3 bench": {
    facts: { weightBytes: 1466.1 * MiB, ...LLAMA_VOCAB, ...shape(2048, 8192, 2048) },
    kvCacheBytes: 16.1 * MiB,
    peakMiB: [1672, 1720],
  },
  "gemma3 bench": {
    facts: { weightBytes: 780.8 * MiB, ...GEMMA_VOCAB, ...shape(1152, 6912, 1024) },
    kvCacheBytes: 5.2 * MiB,
    peakMiB: [1036, 1090],
  },
  "toy bench": {
    facts: { weightBytes: 346.9 * MiB, ...TOY_VOCAB, ...shape(1024, 2816, 1024) },
    kvCacheBytes: 16.2 * MiB,
    peakMiB: [380, 395],
  },
  "toy small": {
    facts: { weightBytes: 2.6 * MiB, ...TOY_VOCAB, ...shape(128, 256, 128) },
    kvCacheBytes: 2.1 * MiB,
    peakMiB: [21.7, 23.1],
  },
  "toy tiny": {
    facts: { weightBytes: 0.5 * MiB, ...TOY_VOCAB, ...shape(64, 128, 64) },
    kvCacheBytes: 1.1 * MiB,
    peakMiB: [15.7, 17.1],
  },
  "qwen3 tiny": {
    facts: { weightBytes: 18.8 * MiB, ...QWEN_VOCAB, ...shape(64, 192, 128) },
    kvCacheBytes: 1.1 * MiB,
    peakMiB: [218, 232],
  },
  "gemma3 tiny": {
    facts: { weightBytes: 32.2 * MiB, ...GEMMA_VOCAB, ...shape(64, 192, 128) },
    kvCacheBytes: 0.4 * MiB,
    peakMiB: [296, 313],
  },
};

describe("memory estimate arithmetic", () => {
  it("counts the vocabulary per token, per merge and per text byte", () => {
    expect(vocabularyBytes({ tokenCount: 0, mergeCount: 0, textBytes: 0 })).toBe(0);
    expect(vocabularyBytes({ tokenCount: 1000, mergeCount: 10, textBytes: 5000 })).toBe(
      1000 * VOCABULARY_BYTES_PER_TOKEN +
        10 * VOCABULARY_BYTES_PER_MERGE +
        5000 * VOCABULARY_BYTES_PER_TEXT_BYTE,
    );
    // A 128k–262k-token vocabulary weighs 100–150 MiB: more than a small model's weights.
    expect(vocabularyBytes(QWEN_VOCAB) / MiB).toBeGreaterThan(100);
    expect(vocabularyBytes(GEMMA_VOCAB) / MiB).toBeLessThan(150);
  });

  it("counts one grammar-constrained sampling transient, and a logits row and candidates per sequence", () => {
    expect(samplingBytes(1000, 1)).toBe(
      1000 * (SAMPLING_BYTES_PER_VOCABULARY_TOKEN + SAMPLING_BYTES_PER_SEQUENCE_TOKEN),
    );
    expect(samplingBytes(1000, 4) - samplingBytes(1000, 1)).toBe(
      3 * 1000 * SAMPLING_BYTES_PER_SEQUENCE_TOKEN,
    );
  });

  it("never counts llama.cpp's reserved logits for a whole micro-batch, only one micro-batch of activations", () => {
    const { facts, kvCacheBytes } = MEASURED["gemma3 bench"] as Measured;
    const parts = residentMemoryBreakdown(facts, { sequences: 1, microBatch: 512, kvCacheBytes });
    // llama.cpp reserves vocabulary × 512 × 4 bytes (512 MiB here) for logits; a generation writes one row.
    expect(parts.compute + parts.sampling).toBeLessThan(facts.vocabularySize * 512 * 4 * 0.5);
    expect(parts.compute).toBe(512 * 4 * (4 * 1152 + 3 * 6912 + 2 * 1024));
    // A context smaller than a micro-batch evaluates fewer tokens at once.
    const small = residentMemoryBreakdown(facts, { sequences: 1, microBatch: 64, kvCacheBytes });
    expect(small.compute).toBe(parts.compute / 8);
  });

  it("sums to weights + vocabulary + overhead + KV cache + compute + sampling, growing with sequences", () => {
    const { facts, kvCacheBytes } = MEASURED["qwen3 bench"] as Measured;
    const one = residentMemoryBreakdown(facts, { sequences: 1, microBatch: 512, kvCacheBytes });
    expect(one.weights).toBe(facts.weightBytes);
    expect(one.overhead).toBe(MODEL_OVERHEAD_BYTES);
    expect(one.kvCache).toBe(kvCacheBytes);
    const four = residentMemoryBreakdown(facts, {
      sequences: 4,
      microBatch: 512,
      kvCacheBytes: 4 * kvCacheBytes,
    });
    expect(total({ ...four })).toBeGreaterThan(total({ ...one }) + 3 * kvCacheBytes);
  });

  for (const [name, measured] of Object.entries(MEASURED)) {
    // A model of under 1 MiB is all fixed overhead, known to a few MiB: there the promise is ±4 MiB.
    const slackMiB = (measuredMiB: number) => Math.max(0.15 * measuredMiB, 4);
    it(`${name}: the estimate is within ±15 % (at least ±4 MiB) of the measured peak RSS growth`, () => {
      const parts = residentMemoryBreakdown(measured.facts, {
        sequences: 1,
        microBatch: 512,
        kvCacheBytes: measured.kvCacheBytes,
      });
      const estimateMiB = total({ ...parts }) / MiB;
      const [low, high] = measured.peakMiB;
      expect(estimateMiB).toBeGreaterThanOrEqual(high - slackMiB(high));
      expect(estimateMiB).toBeLessThanOrEqual(low + slackMiB(low));
    });
  }
});

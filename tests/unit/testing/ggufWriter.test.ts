import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGMLQuantizationType, gguf } from "@huggingface/gguf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isEdgecrewError } from "../../../src/errors.js";
import {
  encodeGguf,
  type GgufDocument,
  planGgufLayout,
  writeGgufFile,
} from "../../../src/testing/gguf/ggufWriter.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-gguf-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ramp = (count: number, scale: number) => Float32Array.from({ length: count }, (_, i) => i * scale);

/** A document using every value type the writer supports, and tensors of both element types. */
function sampleDocument(): GgufDocument {
  return {
    metadata: [
      ["general.architecture", { type: "string", value: "llama" }],
      ["general.name", { type: "string", value: "ünïcode ✓" }],
      ["test.u32", { type: "uint32", value: 4_000_000_000 }],
      ["test.i32", { type: "int32", value: -123456 }],
      ["test.f32", { type: "float32", value: 0.25 }],
      ["test.flag", { type: "bool", value: true }],
      ["test.off", { type: "bool", value: false }],
      ["test.strings", { type: "array", itemType: "string", value: ["a", "", "<|im_end|>"] }],
      ["test.floats", { type: "array", itemType: "float32", value: [1.5, -2, 0] }],
      ["test.ints", { type: "array", itemType: "int32", value: Int32Array.from([-1, 2, 3]) }],
      ["test.uints", { type: "array", itemType: "uint32", value: [7, 8] }],
    ],
    tensors: [
      // 3 floats = 12 bytes: the next tensor must be padded up to offset 32.
      { name: "a.weight", shape: [3], type: "f32", data: ramp(3, 1) },
      { name: "b.weight", shape: [4, 2], type: "f32", data: () => ramp(8, -0.5) },
      { name: "c.weight", shape: [5], type: "f16", data: Float32Array.from([1, -2, 0.5, 65504, 1e-8]) },
    ],
  };
}

describe("GGUF writer", () => {
  it("writes a file that @huggingface/gguf parses back with the same metadata and tensor infos", async () => {
    const path = join(dir, "sample.gguf");
    const result = await writeGgufFile(path, sampleDocument());
    const parsed = await gguf(path, { allowLocalFile: true });
    const metadata = parsed.metadata as unknown as Record<string, unknown>;

    expect(metadata.version).toBe(3);
    expect(metadata.tensor_count).toBe(3n);
    expect(metadata.kv_count).toBe(11n);
    expect(metadata["general.architecture"]).toBe("llama");
    expect(metadata["general.name"]).toBe("ünïcode ✓");
    expect(metadata["test.u32"]).toBe(4_000_000_000);
    expect(metadata["test.i32"]).toBe(-123456);
    expect(metadata["test.f32"]).toBe(0.25);
    expect(metadata["test.flag"]).toBe(true);
    expect(metadata["test.off"]).toBe(false);
    expect(metadata["test.strings"]).toEqual(["a", "", "<|im_end|>"]);
    expect(metadata["test.floats"]).toEqual([1.5, -2, 0]);
    expect(metadata["test.ints"]).toEqual([-1, 2, 3]);
    expect(metadata["test.uints"]).toEqual([7, 8]);

    expect(parsed.tensorInfos.map((t) => ({ ...t }))).toEqual([
      { name: "a.weight", n_dims: 1, shape: [3n], dtype: GGMLQuantizationType.F32, offset: 0n },
      { name: "b.weight", n_dims: 2, shape: [4n, 2n], dtype: GGMLQuantizationType.F32, offset: 32n },
      { name: "c.weight", n_dims: 1, shape: [5n], dtype: GGMLQuantizationType.F16, offset: 64n },
    ]);
    expect(Number(parsed.tensorDataOffset) % 32).toBe(0);

    const bytes = await readFile(path);
    expect(result.bytes).toBe(bytes.length);
    expect(result.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(bytes.length).toBe(Number(parsed.tensorDataOffset) + 64 + 5 * 2);

    // The tensor data is where the infos say, little-endian.
    const data = Number(parsed.tensorDataOffset);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect([0, 1, 2].map((i) => view.getFloat32(data + i * 4, true))).toEqual([0, 1, 2]);
    expect(view.getFloat32(data + 32 + 7 * 4, true)).toBe(-3.5);
    expect(bytes.subarray(data + 12, data + 32).every((b) => b === 0)).toBe(true);
    // f16 bit patterns: 1, -2, 0.5, 65504 (max half), 1e-8 (underflows to +0).
    expect([0, 1, 2, 3, 4].map((i) => view.getUint16(data + 64 + i * 2, true))).toEqual([
      0x3c00, 0xc000, 0x3800, 0x7bff, 0x0000,
    ]);
  });

  it("encodes in memory exactly what it streams to disk, and the layout predicts the size", async () => {
    const path = join(dir, "same.gguf");
    await writeGgufFile(path, sampleDocument());
    const fromDisk = new Uint8Array(await readFile(path));
    const inMemory = encodeGguf(sampleDocument());
    expect(Buffer.from(inMemory).equals(Buffer.from(fromDisk))).toBe(true);
    const layout = planGgufLayout(sampleDocument());
    expect(layout.totalBytes).toBe(fromDisk.length);
    expect(layout.dataOffset % 32).toBe(0);
    expect(layout.tensors.map((t) => [t.name, t.offset, t.byteLength])).toEqual([
      ["a.weight", 0, 12],
      ["b.weight", 32, 32],
      ["c.weight", 64, 10],
    ]);
  });

  it("honours a non-default alignment declared in general.alignment", async () => {
    const document: GgufDocument = {
      alignment: 64,
      metadata: [["general.alignment", { type: "uint32", value: 64 }]],
      tensors: [
        { name: "x", shape: [1], type: "f32", data: new Float32Array([3]) },
        { name: "y", shape: [1], type: "f32", data: new Float32Array([4]) },
      ],
    };
    const path = join(dir, "aligned.gguf");
    await writeGgufFile(path, document);
    const parsed = await gguf(path, { allowLocalFile: true });
    expect(parsed.tensorInfos.map((t) => t.offset)).toEqual([0n, 64n]);
    expect(Number(parsed.tensorDataOffset) % 64).toBe(0);
  });

  it("rejects malformed documents with MODEL_INVALID and leaves no file behind", async () => {
    const base = sampleDocument();
    const bad: GgufDocument[] = [
      { ...base, metadata: [...base.metadata, ["test.u32", { type: "uint32", value: 1 }]] },
      { ...base, metadata: [["neg", { type: "uint32", value: -1 }]] },
      { ...base, tensors: [{ name: "t", shape: [4], type: "f32", data: new Float32Array(3) }] },
      { ...base, tensors: [{ name: "t", shape: [0], type: "f32", data: new Float32Array(0) }] },
      { ...base, alignment: 64 },
      { ...base, alignment: 24, metadata: [["general.alignment", { type: "uint32", value: 24 }]] },
      {
        ...base,
        tensors: [
          { name: "t", shape: [1], type: "f32", data: new Float32Array(1) },
          { name: "t", shape: [1], type: "f32", data: new Float32Array(1) },
        ],
      },
    ];
    for (const [index, document] of bad.entries()) {
      const error = await writeGgufFile(join(dir, `bad${index}.gguf`), document).catch((e: unknown) => e);
      expect(isEdgecrewError(error), `document ${index}`).toBe(true);
      expect((error as { code: string }).code).toBe("MODEL_INVALID");
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it("is deterministic", () => {
    const first = createHash("sha256").update(encodeGguf(sampleDocument())).digest("hex");
    const second = createHash("sha256").update(encodeGguf(sampleDocument())).digest("hex");
    expect(first).toBe(second);
  });

  it("writes tensor data given in chunks exactly like the same data in one array, and checks the count", () => {
    const values = ramp(10, 0.37);
    const whole: GgufDocument = {
      metadata: [],
      tensors: [
        { name: "a", shape: [5, 2], type: "f16", data: values },
        { name: "b", shape: [10], type: "f32", data: values },
      ],
    };
    const chunked: GgufDocument = {
      metadata: [],
      tensors: [
        { name: "a", shape: [5, 2], type: "f16", data: () => [values.subarray(0, 3), values.subarray(3)] },
        { name: "b", shape: [10], type: "f32", data: () => [values.subarray(0, 7), values.subarray(7)] },
      ],
    };
    expect(encodeGguf(chunked)).toEqual(encodeGguf(whole));
    for (const data of [() => [values.subarray(0, 9)], () => [values, values.subarray(0, 1)]]) {
      const wrong: GgufDocument = { metadata: [], tensors: [{ name: "c", shape: [10], type: "f32", data }] };
      expect(() => encodeGguf(wrong)).toThrow(/tensor "c" needs 10 values/);
    }
  });
});

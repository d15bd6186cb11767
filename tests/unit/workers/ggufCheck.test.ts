import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isModelError } from "../../../src/errors.js";
import { fixtureGgufDocument } from "../../../src/testing/fixtureModel.js";
import { type GgufDocument, writeGgufFile } from "../../../src/testing/gguf/ggufWriter.js";
import { inspectModelFile } from "../../../src/workers/ggufCheck.js";

let dir: string;
let valid: string;
let validBytes: number;

async function expectModelError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(isModelError(error), `expected a ModelError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  if (message) expect((error as Error).message).toMatch(message);
}

function withoutKey(document: GgufDocument, key: string): GgufDocument {
  return { ...document, metadata: document.metadata.filter(([name]) => name !== key) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-gguf-"));
  valid = join(dir, "valid.gguf");
  validBytes = (await writeGgufFile(valid, fixtureGgufDocument({ name: "fixture", seed: 1, size: "tiny" })))
    .bytes;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("inspectModelFile", () => {
  it("reads a valid fixture model", async () => {
    const info = await inspectModelFile(valid);
    expect(info).toMatchObject({
      path: valid,
      bytes: validBytes,
      version: 3,
      architecture: "llama",
      name: "fixture",
      contextLength: 4096,
      embeddingLength: 64,
      blockCount: 2,
      headCount: 4,
      feedForwardLength: 128,
      tensorCount: 21,
      hasChatTemplate: true,
      isFixture: true,
    });
    // f32 weights: the declared tensor data is exactly 4 bytes per parameter and ends at the end of the file.
    expect(info.tensorBytes).toBe(info.parameters * 4);
    expect(info.parameters).toBeGreaterThan(100_000);
  });

  it("tells fixture models (random weights) from other models", async () => {
    const path = join(dir, "plain.gguf");
    await writeGgufFile(
      path,
      withoutKey(fixtureGgufDocument({ name: "p", seed: 1, size: "tiny" }), "edgecrew.fixture.version"),
    );
    expect((await inspectModelFile(path)).isFixture).toBe(false);
  });

  it("reports a missing file as MODEL_NOT_FOUND", async () => {
    await expectModelError(inspectModelFile(join(dir, "nope.gguf")), "MODEL_NOT_FOUND", /not found/);
  });

  it("reports a directory as MODEL_NOT_FOUND", async () => {
    await expectModelError(inspectModelFile(dir), "MODEL_NOT_FOUND", /not a file/);
  });

  it("reports a text file as MODEL_INVALID", async () => {
    const text = join(dir, "readme.gguf");
    await writeFile(text, "this is a text file and certainly not a GGUF model\n".repeat(4));
    await expectModelError(inspectModelFile(text), "MODEL_INVALID", /not a GGUF model/);
  });

  it("reports a tiny file as MODEL_INVALID", async () => {
    const tiny = join(dir, "tiny.gguf");
    await writeFile(tiny, "GGUF");
    await expectModelError(inspectModelFile(tiny), "MODEL_INVALID", /only 4 bytes/);
  });

  it("reports an unsupported version as MODEL_INVALID", async () => {
    const bytes = Buffer.from(await readFile(valid));
    bytes.writeUInt32LE(99, 4);
    const path = join(dir, "v99.gguf");
    await writeFile(path, bytes);
    await expectModelError(inspectModelFile(path), "MODEL_INVALID", /version 99/);
  });

  it("reports a model cut in half as truncated", async () => {
    const path = join(dir, "half.gguf");
    await writeFile(path, await readFile(valid));
    await truncate(path, Math.floor(validBytes / 2));
    await expectModelError(inspectModelFile(path), "MODEL_INVALID", /truncated/);
  });

  it("reports a model missing only its last bytes as truncated", async () => {
    const path = join(dir, "short.gguf");
    await writeFile(path, await readFile(valid));
    await truncate(path, validBytes - 1);
    await expectModelError(inspectModelFile(path), "MODEL_INVALID", /truncated/);
  });

  it("reports a header cut inside the metadata as a corrupt header", async () => {
    const path = join(dir, "header.gguf");
    await writeFile(path, await readFile(valid));
    await truncate(path, 2000);
    await expectModelError(inspectModelFile(path), "MODEL_INVALID");
  });

  it("reports missing llama.feed_forward_length (a GGML_ASSERT in llama.cpp) as MODEL_INVALID", async () => {
    const path = join(dir, "no-ffn.gguf");
    const document = withoutKey(
      fixtureGgufDocument({ name: "x", seed: 1, size: "tiny" }),
      "llama.feed_forward_length",
    );
    await writeGgufFile(path, document);
    await expectModelError(inspectModelFile(path), "MODEL_INVALID", /llama\.feed_forward_length/);
  });

  it("reports missing head count and architecture", async () => {
    const base = fixtureGgufDocument({ name: "x", seed: 1, size: "tiny" });
    const noHeads = join(dir, "no-heads.gguf");
    await writeGgufFile(noHeads, withoutKey(base, "llama.attention.head_count"));
    await expectModelError(inspectModelFile(noHeads), "MODEL_INVALID", /llama\.attention\.head_count/);
    const noArch = join(dir, "no-arch.gguf");
    await writeGgufFile(noArch, withoutKey(base, "general.architecture"));
    await expectModelError(inspectModelFile(noArch), "MODEL_INVALID", /general\.architecture/);
  });

  it("reports an architecture the bundled llama.cpp does not know as MODEL_INVALID", async () => {
    const base = fixtureGgufDocument({ name: "x", seed: 1, size: "tiny" });
    // Rename the architecture and every `llama.*` key with it, so only the architecture itself is unknown.
    const renamed: GgufDocument = {
      ...base,
      metadata: base.metadata.map(([key, value]) =>
        key === "general.architecture"
          ? [key, { ...value, value: "chaosarch" } as typeof value]
          : [key.startsWith("llama.") ? `chaosarch.${key.slice(6)}` : key, value],
      ),
    };
    const path = join(dir, "unknown-arch.gguf");
    await writeGgufFile(path, renamed);
    await expectModelError(inspectModelFile(path), "MODEL_INVALID", /unsupported architecture "chaosarch"/);
  });

  it("honours an aborted signal", async () => {
    await expect(inspectModelFile(valid, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: "ABORTED",
    });
  });
});

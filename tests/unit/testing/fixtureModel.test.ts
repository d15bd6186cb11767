import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isModelError } from "../../../src/errors.js";
import {
  CHATML_CHAT_TEMPLATE,
  createFixtureModel,
  defaultFixtureCacheDir,
  FIXTURE_MODEL_CONFIGS,
  fixtureFileName,
  fixtureModelBytes,
  fixtureVocabulary,
  resolveFixtureModel,
} from "../../../src/testing/fixtureModel.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-fixture-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

// What llama.cpp needs to load a llama model (missing feed_forward_length or head_count aborts the
// process), plus what node-llama-cpp needs to tokenize and pick the ChatML wrapper.
const REQUIRED_KEYS = [
  "general.architecture",
  "general.name",
  "llama.context_length",
  "llama.embedding_length",
  "llama.block_count",
  "llama.feed_forward_length",
  "llama.attention.head_count",
  "llama.attention.head_count_kv",
  "llama.attention.layer_norm_rms_epsilon",
  "llama.rope.dimension_count",
  "tokenizer.ggml.model",
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.scores",
  "tokenizer.ggml.token_type",
  "tokenizer.ggml.bos_token_id",
  "tokenizer.ggml.eos_token_id",
  "tokenizer.ggml.unknown_token_id",
  "tokenizer.chat_template",
];

describe("createFixtureModel", () => {
  it("is byte-identical for the same seed, size and name, and differs for another seed or name", async () => {
    const a = await createFixtureModel({ seed: 3, path: join(dir, "one", "a.gguf") });
    const b = await createFixtureModel({ seed: 3, path: join(dir, "two", "b.gguf") });
    const c = await createFixtureModel({ seed: 4, path: join(dir, "three", "c.gguf") });
    const d = await createFixtureModel({ seed: 3, name: "other", path: join(dir, "four", "d.gguf") });

    expect(await sha256(a.path)).toBe(a.sha256);
    expect(await sha256(b.path)).toBe(a.sha256);
    expect(b.bytes).toBe(a.bytes);
    expect(c.sha256).not.toBe(a.sha256);
    expect(c.bytes).toBe(a.bytes);
    expect(d.sha256).not.toBe(a.sha256);
  });

  it("writes a llama GGUF with every required key, the ChatML template and the expected tensors", async () => {
    const file = await createFixtureModel({ seed: 9, name: "parsed", path: join(dir, "m.gguf") });
    const parsed = await gguf(file.path, { allowLocalFile: true });
    const metadata = parsed.metadata as unknown as Record<string, unknown>;
    const config = FIXTURE_MODEL_CONFIGS.tiny;
    const vocab = fixtureVocabulary();

    for (const key of REQUIRED_KEYS) expect(metadata, key).toHaveProperty([key]);
    expect(metadata["general.architecture"]).toBe("llama");
    expect(metadata["general.name"]).toBe("parsed");
    expect(metadata["llama.embedding_length"]).toBe(config.embeddingLength);
    expect(metadata["llama.block_count"]).toBe(config.blockCount);
    expect(metadata["llama.feed_forward_length"]).toBe(config.feedForwardLength);
    expect(metadata["llama.attention.head_count"]).toBe(config.headCount);
    expect(metadata["tokenizer.ggml.model"]).toBe("llama");
    expect(metadata["tokenizer.chat_template"]).toBe(CHATML_CHAT_TEMPLATE);
    expect(metadata["edgecrew.fixture.seed"]).toBe(9);

    const tokens = metadata["tokenizer.ggml.tokens"] as string[];
    expect(tokens).toHaveLength(365);
    expect((metadata["tokenizer.ggml.token_type"] as number[]).length).toBe(365);
    expect((metadata["tokenizer.ggml.scores"] as number[]).length).toBe(365);
    expect(tokens[metadata["tokenizer.ggml.eos_token_id"] as number]).toBe("<|im_end|>");
    expect(tokens[metadata["tokenizer.ggml.bos_token_id"] as number]).toBe("<s>");
    expect(tokens[vocab.firstByteId + 0x80]).toBe("<0x80>");
    expect(tokens).toContain("<|im_start|>");

    // 3 global tensors + 9 per layer.
    expect(parsed.tensorInfos).toHaveLength(3 + 9 * config.blockCount);
    const shapes = Object.fromEntries(parsed.tensorInfos.map((t) => [t.name, t.shape.map(Number)]));
    expect(shapes["token_embd.weight"]).toEqual([64, 365]);
    expect(shapes["output.weight"]).toEqual([64, 365]);
    expect(shapes["blk.1.ffn_down.weight"]).toEqual([128, 64]);
    expect(shapes["blk.0.attn_k.weight"]).toEqual([64, 64]);

    expect(file.bytes).toBe(fixtureModelBytes({ name: "parsed", seed: 9, size: "tiny" }));
    // About half a megabyte, as the notes measured.
    expect(file.bytes).toBeGreaterThan(400_000);
    expect(file.bytes).toBeLessThan(700_000);
  });

  it("uses grouped-query attention in the small size", async () => {
    const file = await createFixtureModel({ size: "small", path: join(dir, "small.gguf") });
    const parsed = await gguf(file.path, { allowLocalFile: true });
    const metadata = parsed.metadata as unknown as Record<string, unknown>;
    expect(metadata["llama.attention.head_count_kv"]).toBe(2);
    const k = parsed.tensorInfos.find((t) => t.name === "blk.3.attn_k.weight");
    expect(k?.shape.map(Number)).toEqual([128, 64]);
    expect(file.bytes).toBeGreaterThan(1_000_000);
    expect(file.bytes).toBeLessThan(10_000_000);
  });

  it("predicts the bench size without generating it", () => {
    const bytes = fixtureModelBytes({ name: "fixture", seed: 1, size: "bench" });
    expect(bytes).toBeGreaterThan(200_000_000);
    expect(bytes).toBeLessThan(600_000_000);
  });

  it("leaves only the final file in the directory (the temp file is renamed away)", async () => {
    await createFixtureModel({ path: join(dir, "only.gguf") });
    expect(await readdir(dir)).toEqual(["only.gguf"]);
  });

  it("rejects bad seeds and sizes with MODEL_REF_INVALID", async () => {
    for (const options of [{ seed: -1 }, { seed: 1.5 }, { seed: 2 ** 32 }, { size: "huge" as "tiny" }]) {
      const error = await createFixtureModel({ ...options, path: join(dir, "x.gguf") }).catch(
        (e: unknown) => e,
      );
      expect(isModelError(error)).toBe(true);
      expect((error as { code: string }).code).toBe("MODEL_REF_INVALID");
    }
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("resolveFixtureModel", () => {
  it("creates the cached file once and reuses it afterwards", async () => {
    const ref = { name: "cached", seed: 5, size: "tiny" } as const;
    const first = await resolveFixtureModel(ref, { cacheDir: dir });
    expect(first).toBe(join(dir, "cached-tiny-s5.gguf"));
    const before = await stat(first);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await resolveFixtureModel(ref, { cacheDir: dir });
    expect(second).toBe(first);
    const after = await stat(second);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(await readdir(dir)).toEqual(["cached-tiny-s5.gguf"]);
  });

  it("shares one generation between concurrent calls and leaves no temp files", async () => {
    const ref = { name: "race", seed: 2, size: "tiny" } as const;
    const paths = await Promise.all([1, 2, 3, 4].map(() => resolveFixtureModel(ref, { cacheDir: dir })));
    expect(new Set(paths).size).toBe(1);
    expect(await readdir(dir)).toEqual(["race-tiny-s2.gguf"]);
    const direct = await createFixtureModel({ ...ref, path: join(dir, "direct", "x.gguf") });
    expect(await sha256(paths[0] as string)).toBe(direct.sha256);
  });

  it("survives writers racing on the same path (what two processes do): one complete file, no temp files", async () => {
    // createFixtureModel bypasses the in-process sharing, so these really are concurrent temp+rename writes.
    const path = join(dir, "raced.gguf");
    const results = await Promise.all([1, 2, 3, 4].map(() => createFixtureModel({ seed: 8, path })));
    expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
    expect(await readdir(dir)).toEqual(["raced.gguf"]);
    expect(await sha256(path)).toBe(results[0]?.sha256);
  });

  it("regenerates a truncated cache file", async () => {
    const ref = { name: "broken", seed: 1, size: "tiny" } as const;
    await writeFile(join(dir, fixtureFileName(ref)), "GGUF");
    const path = await resolveFixtureModel(ref, { cacheDir: dir });
    expect((await stat(path)).size).toBe(fixtureModelBytes(ref));
  });

  it("rejects names that are not safe file names", async () => {
    for (const name of ["../escape", "a/b", "", ".hidden"]) {
      const error = await resolveFixtureModel({ name, seed: 1, size: "tiny" }, { cacheDir: dir }).catch(
        (e: unknown) => e,
      );
      expect(isModelError(error), name).toBe(true);
    }
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("defaultFixtureCacheDir", () => {
  it("prefers EDGECREW_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
    expect(defaultFixtureCacheDir({ EDGECREW_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x" })).toBe("/c/fixtures");
    expect(defaultFixtureCacheDir({ EDGECREW_CACHE_DIR: "", XDG_CACHE_HOME: "/x" })).toBe(
      "/x/edgecrew/fixtures",
    );
    expect(defaultFixtureCacheDir({})).toBe(join(homedir(), ".cache", "edgecrew", "fixtures"));
  });

  it("is where createFixtureModel writes when no path is given", async () => {
    const previous = process.env.EDGECREW_CACHE_DIR;
    process.env.EDGECREW_CACHE_DIR = dir;
    try {
      const file = await createFixtureModel({ seed: 11, name: "default" });
      expect(file.path).toBe(join(dir, "fixtures", "default-tiny-s11.gguf"));
      expect((await stat(file.path)).size).toBe(file.bytes);
    } finally {
      if (previous === undefined) delete process.env.EDGECREW_CACHE_DIR;
      else process.env.EDGECREW_CACHE_DIR = previous;
    }
  });
});

describe("module boundaries", () => {
  it("fixtureModel and the GGUF writer load neither node-llama-cpp nor LangChain", async () => {
    // The product's model resolver imports fixtureModel directly; following its relative imports must
    // never reach a heavy dependency.
    const root = join(import.meta.dirname, "../../../src");
    const pending = [join(root, "testing/fixtureModel.ts")];
    const seen = new Set<string>();
    const external = new Set<string>();
    while (pending.length > 0) {
      const file = pending.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = await readFile(file, "utf8");
      for (const match of source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm)) {
        const specifier = match[1] as string;
        if (specifier.startsWith(".")) pending.push(join(file, "..", specifier.replace(/\.js$/, ".ts")));
        else external.add(specifier);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
    expect([...external].filter((s) => !s.startsWith("node:"))).toEqual([]);
  });
});

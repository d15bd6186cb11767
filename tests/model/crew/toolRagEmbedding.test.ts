/**
 * Tool RAG with an embedding model (issue 15, `toolSearch: { k, model }`): a fixture worker granted six code
 * tools ranks them per subtask with a fixture embedding model through node-llama-cpp's embedding context. The
 * fixture has random weights, so relevance cannot be judged; what is checked is the mechanics, on real inference:
 * the ranking is the cosine order of embeddings obtained independently from node-llama-cpp for the same texts,
 * the same in two crews, planner-named tools stay, the offered set fits the room, and a model that cannot load
 * fails the subtask with its error code — never a silent BM25 ranking.
 */
import { copyFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getLlama, type LlamaEmbedding } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ErrorCodes, isAgentDefinitionError, isEdgecrewError } from "../../../src/errors.js";
import { resolveFixtureModel } from "../../../src/testing/fixtureModel.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import { defineTool } from "../../../src/tools/index.js";
import type { RunEvent } from "../../../src/types.js";
import { toolDocumentText } from "../../../src/workers/toolSearch.js";
import { useTestDirs } from "../../helpers/testDirs.js";

const EMBED = "fixture:embed?seed=9";

const dirs = useTestDirs("edgecrew-tool-rag-embed-");

const tool = (name: string, description: string, input: z.ZodObject) =>
  defineTool({ name, description, input, idempotent: true, run: async () => ({ ok: true }) });

const TOOLS = [
  tool("notes.read", "Read a note by its title", z.object({ title: z.string().max(20) })),
  tool("notes.write", "Write a note with a title and text", z.object({ title: z.string().max(20) })),
  tool("weather.now", "Current temperature in a city", z.object({ city: z.string().max(20) })),
  tool("calendar.add", "Add an event to the calendar on a date", z.object({ date: z.string().max(10) })),
  tool("mail.send", "Send an email to a person", z.object({ to: z.string().max(30) })),
  tool("math.sum", "Add up a list of numbers", z.object({ numbers: z.array(z.number()).max(4) })),
];
const NAMES = TOOLS.map((t) => t.spec.name);

const SUBTASKS = [
  { id: "s1", instruction: "Read the note called groceries" },
  { id: "s2", instruction: "What is the weather in Oslo?", tools: ["math.sum"] },
] as const;

function agent(toolSearch: { k: number; model?: string }, contextSize = 2048) {
  return defineAgent(
    {
      name: "tool-rag-embed",
      description: "A worker whose tools an embedding model ranks",
      planner: { model: "scripted:planner" },
      workers: [
        {
          name: "helper",
          description: "Helps with notes, weather, calendar, mail and sums",
          model: "fixture:helper?seed=5",
          tools: NAMES,
          toolChoice: "required" as const,
          maxToolCalls: 1,
          toolSearch,
          context: { size: contextSize },
          maxTokens: 64,
          temperature: 0.8,
          output: {
            type: "object",
            properties: { done: { type: "boolean" } },
            required: ["done"],
            additionalProperties: false,
          },
        },
      ],
      limits: {
        maxReplans: 0,
        maxSubtasks: 8,
        maxParallel: 1,
        timeoutSeconds: 120,
        subtaskTimeoutSeconds: 60,
      },
      device: { threads: 1, gpu: false },
      escalation: { retries: 1, to: "fail" },
    },
    { tools: NAMES },
  );
}

async function run(definition: ReturnType<typeof agent>) {
  const plan = JSON.stringify({
    subtasks: SUBTASKS.map((subtask) => ({ worker: "helper", dependsOn: [], ...subtask })),
  });
  const crew = await createCrew(definition, {
    planner: new ScriptedChatModel([plan, '{"answer":"done"}']),
    fixtureCacheDir: dirs.fixtures,
    runDir: dirs.runs,
    tools: TOOLS,
  });
  const events: RunEvent[] = [];
  try {
    const result = await crew.run("Help me with my day", { onEvent: (event) => void events.push(event) })
      .result;
    return { result, events, offered: events.flatMap((e) => (e.type === "tools.offered" ? [e] : [])) };
  } finally {
    await crew.dispose();
  }
}

/** Cosine similarities computed apart from edgecrew: node-llama-cpp's own embedding context and cosine. */
function embedFixturePath(): Promise<string> {
  return resolveFixtureModel({ name: "embed", seed: 9, size: "tiny" }, { cacheDir: dirs.fixtures });
}

async function independentScores(): Promise<Map<string, Map<string, number>>> {
  const path = await embedFixturePath();
  const llama = await getLlama({ gpu: false, maxThreads: 1, build: "never" });
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createEmbeddingContext({ contextSize: 2048, threads: 1 });
  try {
    const documents: LlamaEmbedding[] = [];
    for (const t of TOOLS) documents.push(await context.getEmbeddingFor(toolDocumentText(t.spec)));
    const scores = new Map<string, Map<string, number>>();
    for (const subtask of SUBTASKS) {
      const query = await context.getEmbeddingFor(subtask.instruction);
      scores.set(
        subtask.id,
        new Map(NAMES.map((name, i) => [name, query.calculateCosineSimilarity(documents[i] ?? [])])),
      );
    }
    return scores;
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

describe("Tool RAG with an embedding model (toolSearch: { k, model })", () => {
  it("ranks by the cosine order of node-llama-cpp's embeddings, the same in two crews; named tools stay; the offer fits", async () => {
    const first = await run(agent({ k: 2, model: EMBED }));
    expect(first.result.status, JSON.stringify(first.result.error)).toBe("completed");
    expect(first.offered.map((e) => e.subtaskId)).toEqual(["s1", "s2"]);
    const expected = await independentScores();
    for (const event of first.offered) {
      expect(event).toMatchObject({ ranker: "embedding", model: EMBED, worker: "helper" });
      // Every granted tool is ranked, best first, with the cosine node-llama-cpp computes for the same texts.
      const cosines = expected.get(event.subtaskId) as Map<string, number>;
      expect(event.ranked.map((r) => r.tool).sort()).toEqual([...NAMES].sort());
      for (const entry of event.ranked)
        expect(entry.score).toBeCloseTo(cosines.get(entry.tool) ?? Number.NaN, 3);
      const order = [...NAMES].sort(
        (a, b) =>
          Math.round((cosines.get(b) ?? 0) * 1e4) - Math.round((cosines.get(a) ?? 0) * 1e4) ||
          NAMES.indexOf(a) - NAMES.indexOf(b),
      );
      expect(event.ranked.map((r) => r.tool)).toEqual(order);
      console.info(
        `[measure] ${event.subtaskId}: ${event.ranked.map((r) => `${r.tool}=${r.score}`).join(", ")}; offered ${event.tools.join(", ")}`,
      );
    }
    // k = 2: the two best-ranked; the planner-named tool stays next to the best other one, whatever its rank.
    const [s1, s2] = first.offered;
    expect(s1?.tools).toEqual(s1?.ranked.slice(0, 2).map((r) => r.tool));
    expect(s2?.named).toEqual(["math.sum"]);
    expect(s2?.tools).toContain("math.sum");
    expect(s2?.tools).toContain(s2?.ranked.find((r) => r.tool !== "math.sum")?.tool);
    // The embedding model was loaded on the crew's manager, next to the worker's model, once.
    const loads = first.events.flatMap((e) => (e.type === "model.loaded" ? [e.model] : []));
    expect(loads.filter((m) => m === `${EMBED}+embedding`)).toHaveLength(1);

    // A second crew, with k above what a 1536-token context holds: the same ranking, and the lowest-ranked
    // unnamed tools dropped until the prompt leaves room for a call and the answer.
    const second = await run(agent({ k: 6, model: EMBED }, 1536));
    expect(second.result.status, JSON.stringify(second.result.error)).toBe("completed");
    expect(second.offered.map((e) => e.ranked)).toEqual(first.offered.map((e) => e.ranked));
    for (const event of second.offered) {
      expect(event.tools.length).toBeGreaterThan(1);
      expect(event.tools.length).toBeLessThan(6);
      const unnamed = event.ranked.filter((entry) => !event.named?.includes(entry.tool));
      const kept = unnamed.filter((entry) => event.tools.includes(entry.tool));
      expect(kept).toEqual(unnamed.slice(0, kept.length));
    }
    expect(second.offered[1]?.tools).toContain("math.sum");
    for (const subtask of second.result.results)
      expect(subtask.usage[0]?.promptTokens ?? 0).toBeLessThanOrEqual(1536 - 2 * 64);
  });

  it("a model file that is not a GGUF fails the crew's start with MODEL_INVALID, before any run", async () => {
    const bad = join(dirs.root, "not-a-model.gguf");
    await writeFile(bad, "this is not a GGUF file");
    const error = await createCrew(agent({ k: 2, model: bad }), {
      planner: new ScriptedChatModel([]),
      fixtureCacheDir: dirs.fixtures,
      runDir: dirs.runs,
      tools: TOOLS,
    }).then(
      async (crew) => {
        await crew.dispose();
        return undefined;
      },
      (caught: unknown) => caught,
    );
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.MODEL_INVALID);
  });

  it("a model that cannot load mid-run fails the subtask with its code: no BM25 fallback, no offer, no call", async () => {
    const file = join(dirs.root, "embed.gguf");
    await copyFile(await embedFixturePath(), file);
    const crew = await createCrew(agent({ k: 2, model: file }), {
      planner: new ScriptedChatModel([
        JSON.stringify({ subtasks: [{ ...SUBTASKS[0], worker: "helper", dependsOn: [] }] }),
      ]),
      fixtureCacheDir: dirs.fixtures,
      runDir: dirs.runs,
      tools: TOOLS,
    });
    await rm(file); // gone after the start-up check: the load fails when the first subtask ranks
    const events: RunEvent[] = [];
    try {
      const result = await crew.run("Help me", { onEvent: (event) => void events.push(event) }).result;
      expect(result.status).toBe("failed");
      expect(JSON.stringify(result.error)).toContain("MODEL_NOT_FOUND");
      expect(events.some((e) => e.type === "tools.offered" || e.type === "tool.called")).toBe(false);
    } finally {
      await crew.dispose();
    }
  });

  it("a missing model file is refused when the agent is defined, naming the key", () => {
    let caught: unknown;
    try {
      agent({ k: 2, model: join(dirs.root, "missing.gguf") });
    } catch (error) {
      caught = error;
    }
    expect(isAgentDefinitionError(caught)).toBe(true);
    expect(String((caught as Error).message)).toMatch(
      /workers\[0\]\.toolSearch\.model: model file not found \(MODEL_NOT_FOUND\)/,
    );
  });
});

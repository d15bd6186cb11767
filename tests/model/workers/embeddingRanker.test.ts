/**
 * The embedding ranker on the model manager (Tool RAG with `toolSearch: { model }`): the embedding model is a
 * manager entry of its own (`<ref>+embedding`) — counted in the resident bytes and the memory budget, shared by
 * every caller naming it, sharing the weights of a chat context on the same file, unloaded on dispose — and in
 * `estimateAgentMemory`'s rows and peak. A model that cannot load is a typed ModelError; an aborted ranking is
 * an AbortError. Tool documents are embedded once per model.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { ErrorCodes, isAbortError, isEdgecrewError } from "../../../src/errors.js";
import type { JsonSchema, RunEventInput } from "../../../src/types.js";
import { estimateAgentMemory } from "../../../src/workers/agentMemory.js";
import { EMBEDDING_CONTEXT_SIZE, EmbeddingRanker, embedText } from "../../../src/workers/embeddingRanker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { fileRef, fixtureRef, TEST_DEVICE, tempDir } from "./helpers.js";

const OBJECT: JsonSchema = { type: "object", properties: { path: { type: "string" } } };
const TOOLS = [
  { name: "files.read", description: "Read a file", input: OBJECT },
  { name: "files.write", description: "Write a file", input: OBJECT },
  { name: "web.get", description: "Fetch a web page", input: OBJECT },
];

let temp: Awaited<ReturnType<typeof tempDir>>;
let events: RunEventInput[];
let manager: ModelManager;

beforeAll(async () => {
  temp = await tempDir("edgecrew-embedding-");
  events = [];
  manager = new ModelManager({
    device: TEST_DEVICE,
    resolve: { fixtureCacheDir: temp.dir },
    onEvent: (event) => void events.push(event),
  });
});

afterAll(async () => {
  await manager.dispose();
  await temp.cleanup();
});

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("EmbeddingRanker on a ModelManager", () => {
  it("loads the embedding model once as its own entry, counted in the resident bytes, sharing a chat model's weights", async () => {
    const ref = fixtureRef(21);
    const ranker = new EmbeddingRanker(manager);
    const other = new EmbeddingRanker(manager);
    const first = await ranker.rank(ref, TOOLS, "read the file a.txt");
    // A second ranker (another worker naming the same model) shares the loaded model.
    expect(await other.rank(ref, TOOLS, "read the file a.txt")).toEqual(first);
    expect(first.map((entry) => entry.tool).sort()).toEqual(TOOLS.map((tool) => tool.name).sort());
    const loaded = events.filter((event) => event.type === "model.loaded").map((event) => event.model);
    expect(loaded).toEqual([`${ref.raw}+embedding`]);
    const resident = manager.residentModels();
    expect(resident.map((model) => model.model)).toEqual([`${ref.raw}+embedding`]);
    expect(resident[0]?.bytes).toBeGreaterThan(0);
    expect(manager.residentBytes()).toBe(resident[0]?.bytes);
    expect(resident[0]?.busySequences).toBe(0); // the context is given back after ranking

    // A chat context on the same file is another entry on the same weights: the file is loaded once.
    const lease = await manager.acquire(ref, { contextSize: 256 });
    lease.release();
    expect(manager.residentBases()).toEqual([expect.objectContaining({ users: 2 })]);
    expect(manager.residentModels().map((model) => model.model)).toEqual([`${ref.raw}+embedding`, ref.raw]);
  });

  it("embeds each tool document once per model; the instruction per call", async () => {
    const ref = fixtureRef(22);
    const ranker = new EmbeddingRanker(manager);
    await ranker.rank(ref, TOOLS, "fetch the page");
    const lease = await manager.acquireEmbedding(ref, { contextSize: EMBEDDING_CONTEXT_SIZE });
    const original = lease.context.getEmbeddingFor.bind(lease.context);
    const inputs: unknown[] = [];
    lease.context.getEmbeddingFor = (input) => {
      inputs.push(input);
      return original(input);
    };
    lease.release();
    await ranker.rank(ref, TOOLS, "write the file");
    // Only the new instruction was embedded: the three documents came from the cache.
    expect(inputs).toHaveLength(1);
  });

  it("cuts an input longer than the embedding context instead of failing", async () => {
    const ref = fixtureRef(22);
    const lease = await manager.acquireEmbedding(ref, { contextSize: EMBEDDING_CONTEXT_SIZE });
    try {
      const long = await embedText(lease, "a tool that reads files ".repeat(400));
      expect(long.length).toBeGreaterThan(0);
    } finally {
      lease.release();
    }
  });

  it("an aborted ranking is an AbortError; a model that cannot load is a typed ModelError", async () => {
    const aborted = await catchError(
      new EmbeddingRanker(manager).rank(fixtureRef(23), TOOLS, "x", { signal: AbortSignal.abort() }),
    );
    expect(isAbortError(aborted)).toBe(true);

    const missing = await catchError(
      new EmbeddingRanker(manager).rank(fileRef(join(temp.dir, "missing.gguf")), TOOLS, "x"),
    );
    expect(isEdgecrewError(missing) && missing.code).toBe(ErrorCodes.MODEL_NOT_FOUND);

    const junk = join(temp.dir, "junk.gguf");
    await writeFile(junk, "not a gguf");
    const invalid = await catchError(new EmbeddingRanker(manager).rank(fileRef(junk), TOOLS, "x"));
    expect(isEdgecrewError(invalid) && invalid.code).toBe(ErrorCodes.MODEL_INVALID);
  });

  it("the memory budget counts it: an embedding model that exceeds the budget alone is MEMORY_BUDGET_EXCEEDED", async () => {
    await using small = new ModelManager({
      device: { ...TEST_DEVICE, memoryBytes: 1024 * 1024 },
      resolve: { fixtureCacheDir: temp.dir },
    });
    const error = await catchError(new EmbeddingRanker(small).rank(fixtureRef(21), TOOLS, "x"));
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.MEMORY_BUDGET_EXCEEDED);
    expect(String((error as Error).message)).toContain("+embedding");
  });

  it("is unloaded when the manager is disposed", async () => {
    const own: RunEventInput[] = [];
    const local = new ModelManager({
      device: TEST_DEVICE,
      resolve: { fixtureCacheDir: temp.dir },
      onEvent: (event) => void own.push(event),
    });
    await new EmbeddingRanker(local).rank(fixtureRef(21), TOOLS, "read");
    expect(local.residentModels()).toHaveLength(1);
    await local.dispose();
    expect(local.residentModels()).toEqual([]);
    expect(local.residentBases()).toEqual([]);
    expect(own.filter((event) => event.type === "model.unloaded").map((event) => event.model)).toEqual([
      "fixture:tiny?seed=21+embedding",
    ]);
  });
});

describe("estimateAgentMemory with a Tool RAG embedding model", () => {
  it("has a row for it (its embedding context) and counts it in the peak; two workers naming it share one", async () => {
    const worker = (name: string) => ({
      name,
      description: "d",
      model: "fixture:worker?seed=2",
      tools: ["calculator"],
      context: { size: 1024 },
      toolSearch: { k: 2, model: "fixture:embed?seed=9" },
    });
    const agent = defineAgent({
      name: "estimate",
      description: "d",
      planner: { model: "openai:gpt-4o-mini" },
      workers: [worker("a"), worker("b")],
      tools: ["calculator"],
      limits: { maxParallel: 2 },
      device: { threads: 1, gpu: false },
    });
    const report = await estimateAgentMemory(agent, { fixtureCacheDir: temp.dir });
    expect(report.models.map((row) => [row.model, row.usedBy, row.contextSize, row.sequences])).toEqual([
      ["fixture:worker?seed=2", ["a", "b"], 1024, 1],
      ["fixture:embed?seed=9+embedding", ["a (toolSearch)", "b (toolSearch)"], EMBEDDING_CONTEXT_SIZE, 1],
    ]);
    const embedding = report.models[1]?.estimatedBytes ?? 0;
    expect(embedding).toBeGreaterThan(0);
    expect(report.peakModels).toContain("fixture:embed?seed=9+embedding");
    expect(report.peakBytes).toBe((report.models[0]?.estimatedBytes ?? 0) + embedding);
  });
});

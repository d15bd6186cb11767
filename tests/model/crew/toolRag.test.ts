/**
 * Tool RAG (issue 15): the real `@modelcontextprotocol/server-filesystem` granted in full (its 14 tools, several
 * thousand tokens of documentation) to a fixture worker with a 4096-token context and `toolChoice: required`.
 * Without `toolSearch` the worker cannot start (CONTEXT_TOO_SMALL, with the numbers); with `toolSearch: { k: 3 }`
 * each subtask is offered the three tools its instruction is about (a `tools.offered` event), plus any the plan
 * names, and makes its required call among them.
 */
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { RunEvent } from "../../../src/types.js";
import { useTestDirs } from "../../helpers/testDirs.js";

const root = resolve(import.meta.dirname, "../../..");
const serverBin = join(root, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");

const dirs = useTestDirs("edgecrew-tool-rag-", (root) =>
  writeFile(join(root, "notes.txt"), "one\ntwo\nthree\n"),
);

function agent(toolSearch: { k: number } | undefined) {
  return defineAgent({
    name: "tool-rag",
    description: "A small-context worker granted a whole MCP server",
    planner: { model: "scripted:planner" },
    workers: [
      {
        name: "files",
        description: "Works with files",
        model: "fixture:mcp?seed=5",
        tools: ["fs"],
        toolChoice: "required" as const,
        maxToolCalls: 1,
        ...(toolSearch === undefined ? {} : { toolSearch }),
        context: { size: 4096 },
        maxTokens: 384,
        temperature: 0.8,
        output: {
          type: "object",
          properties: { done: { type: "boolean" } },
          required: ["done"],
          additionalProperties: false,
        },
      },
    ],
    tools: [{ mcp: { name: "fs", command: process.execPath, args: [serverBin, dirs.root] } }],
    limits: {
      maxReplans: 0,
      maxSubtasks: 8,
      maxParallel: 1,
      timeoutSeconds: 600,
      subtaskTimeoutSeconds: 120,
    },
    device: { threads: 1, gpu: false },
    escalation: { retries: 1, to: "fail" },
  });
}

const SUBTASKS = [
  { id: "s1", instruction: "Read the file notes.txt" },
  { id: "s2", instruction: "List the directory and its files" },
  { id: "s3", instruction: "Search for files matching the pattern *.txt" },
  {
    id: "s4",
    instruction: "Move the file notes.txt to old-notes.txt",
    tools: ["fs.list_allowed_directories"],
  },
] as const;

type PlannedSubtask = {
  readonly id: string;
  readonly instruction: string;
  readonly tools?: readonly string[];
};

function plan(subtasks: readonly PlannedSubtask[]) {
  return JSON.stringify({
    subtasks: subtasks.map((subtask) => ({ worker: "files", dependsOn: [], ...subtask })),
  });
}

async function run(toolSearch: { k: number } | undefined, subtasks: readonly PlannedSubtask[] = SUBTASKS) {
  const crew = await createCrew(agent(toolSearch), {
    planner: new ScriptedChatModel([plan(subtasks), '{"answer":"done"}']),
    fixtureCacheDir: dirs.fixtures,
    runDir: dirs.runs,
  });
  const events: RunEvent[] = [];
  try {
    const result = await crew.run("Tidy up the notes", { onEvent: (event) => void events.push(event) })
      .result;
    return { result, events };
  } finally {
    await crew.dispose();
  }
}

describe("Tool RAG: a whole MCP server granted to a 4096-token worker", () => {
  it("without toolSearch the worker cannot start: CONTEXT_TOO_SMALL with the numbers", async () => {
    const { result, events } = await run(undefined);
    expect(result.status).toBe("failed");
    const calls = events.filter((event) => event.type === "tool.called");
    expect(calls).toEqual([]);
    const text = JSON.stringify(result.error);
    expect(text).toContain("CONTEXT_TOO_SMALL");
    expect(text).toMatch(/its prompt \(\d+ tokens: system prompt, tool descriptions and instruction\)/);
    expect(events.some((event) => event.type === "tools.offered")).toBe(false);
  });

  it("with toolSearch { k: 3 } every subtask is offered its relevant tools and makes its call among them", async () => {
    const { result, events } = await run({ k: 3 });
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    const offered = events.flatMap((event) => (event.type === "tools.offered" ? [event] : []));
    const calls = events.flatMap((event) => (event.type === "tool.called" ? [event] : []));
    expect(offered.map((event) => event.subtaskId)).toEqual(SUBTASKS.map((subtask) => subtask.id));
    expect(calls.map((event) => event.subtaskId)).toEqual(SUBTASKS.map((subtask) => subtask.id));
    for (const event of offered) {
      expect(event.worker).toBe("files");
      expect(event.ranker).toBe("bm25");
      expect(event.model).toBeUndefined();
      // Every granted tool is ranked; the offered ones are at most k, and each call is one of them.
      expect(event.ranked.length).toBeGreaterThanOrEqual(14);
      expect(event.tools.length).toBeGreaterThanOrEqual(1);
      expect(event.tools.length).toBeLessThanOrEqual(3);
      const call = calls.find((c) => c.subtaskId === event.subtaskId);
      expect(event.tools).toContain(call?.tool);
      console.info(
        `[measure] ${event.subtaskId}: offered ${event.tools.join(", ")}; called ${call?.tool}; top scores ${event.ranked
          .slice(0, 4)
          .map((r) => `${r.tool}=${r.score}`)
          .join(", ")}`,
      );
    }
    const bySubtask = new Map(offered.map((event) => [event.subtaskId, event]));
    expect(["fs.read_text_file", "fs.read_file"]).toContain(bySubtask.get("s1")?.ranked[0]?.tool);
    expect(bySubtask.get("s1")?.tools[0]).toBe(bySubtask.get("s1")?.ranked[0]?.tool);
    expect(bySubtask.get("s2")?.tools.some((tool) => tool.startsWith("fs.list_directory"))).toBe(true);
    expect(bySubtask.get("s3")?.tools[0]).toBe("fs.search_files");
    // The plan named a tool the ranking would not pick: it stays, next to the best-ranked one.
    const s4 = bySubtask.get("s4");
    expect(s4?.named).toEqual(["fs.list_allowed_directories"]);
    expect(s4?.tools).toContain("fs.list_allowed_directories");
    expect(s4?.tools).toContain("fs.move_file");
    // The prompt of a subtask with three tools is what the usage ledger saw: well inside the context.
    for (const subtask of result.results) {
      const first = subtask.usage[0];
      expect(first?.promptTokens ?? 0).toBeLessThan(4096 - 384);
    }
  });

  it("with k above what fits, the lowest-ranked tools are dropped until the prompt fits; a named one stays", async () => {
    const subtasks = [
      { id: "s1", instruction: "Read the file notes.txt", tools: ["fs.edit_file"] },
      { id: "s2", instruction: "List the directory and its files" },
    ];
    const { result, events } = await run({ k: 14 }, subtasks);
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    const offered = events.flatMap((event) => (event.type === "tools.offered" ? [event] : []));
    const calls = events.flatMap((event) => (event.type === "tool.called" ? [event] : []));
    expect(offered).toHaveLength(2);
    for (const event of offered) {
      // Fourteen tools do not leave room for a call and an answer of maxTokens 384 each in 4096 tokens: some
      // were dropped, from the bottom of the ranking.
      expect(event.tools.length).toBeGreaterThanOrEqual(1);
      expect(event.tools.length).toBeLessThan(event.ranked.length);
      const kept = event.ranked.filter(
        (entry) => event.tools.includes(entry.tool) && !event.named?.includes(entry.tool),
      );
      const unnamed = event.ranked.filter((entry) => !event.named?.includes(entry.tool));
      expect(kept).toEqual(unnamed.slice(0, kept.length));
      expect(event.tools).toContain(calls.find((call) => call.subtaskId === event.subtaskId)?.tool);
      console.info(
        `[measure] k=14 at 4096 tokens: ${event.subtaskId} offered ${event.tools.length}: ${event.tools.join(", ")}`,
      );
    }
    // The named tool ranks low for a read, and stays.
    expect(offered[0]?.named).toEqual(["fs.edit_file"]);
    expect(offered[0]?.tools).toContain("fs.edit_file");
    for (const subtask of result.results)
      expect(subtask.usage[0]?.promptTokens ?? 0).toBeLessThanOrEqual(4096 - 2 * 384);
  });

  it("named tools are never dropped: when they alone do not fit, CONTEXT_TOO_SMALL with the numbers", async () => {
    const all = [
      "fs.read_file",
      "fs.read_text_file",
      "fs.read_media_file",
      "fs.read_multiple_files",
      "fs.write_file",
      "fs.edit_file",
      "fs.create_directory",
      "fs.list_directory",
      "fs.list_directory_with_sizes",
      "fs.directory_tree",
      "fs.move_file",
      "fs.search_files",
      "fs.get_file_info",
      "fs.list_allowed_directories",
    ];
    const { result, events } = await run({ k: 2 }, [
      { id: "s1", instruction: "Read the file notes.txt", tools: all },
    ]);
    expect(result.status).toBe("failed");
    const offered = events.flatMap((event) => (event.type === "tools.offered" ? [event] : []));
    expect(offered[0]?.tools).toHaveLength(all.length);
    expect(events.some((event) => event.type === "tool.called")).toBe(false);
    expect(JSON.stringify(result.error)).toMatch(
      /CONTEXT_TOO_SMALL.*its prompt \(\d+ tokens: system prompt, tool descriptions and instruction\) and maxTokens 384 do not fit its context of 4096 tokens/,
    );
  });
});

/**
 * Structured output on real-world tool schemas (the structured-output issue): three MCP servers from npm —
 * `@modelcontextprotocol/server-filesystem`, `-memory` and `-everything` — started by the crew, each tool granted
 * to its own fixture worker with `toolChoice: required`. Before edgecrew's own grammar compiler, calls of these
 * tools were rejected after decoding: numbers with 16-digit exponents (±Infinity), `count` 1–10 decoded as 0 or
 * 246, `format: uri` never met, optional properties always written (a filesystem read with both `head` and
 * `tail`). Every call must now pass the tool's input schema and reach the server.
 */
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { compileSchema } from "../../../src/schema/compile.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { JsonObject, RunEvent } from "../../../src/types.js";
import { useTestDirs } from "../../helpers/testDirs.js";

const root = resolve(import.meta.dirname, "../../..");
const serverBin = (name: string) => join(root, "node_modules/@modelcontextprotocol", name, "dist/index.js");

/** The tools under test, with how many subtasks call each. */
const TOOLS = [
  "fs.read_text_file",
  "fs.list_directory_with_sizes",
  "everything.get-sum",
  "everything.get-resource-links",
  "everything.gzip-file-as-resource",
  "everything.get-annotated-message",
  "memory.create_entities",
  "memory.search_nodes",
] as const;
const CALLS_PER_TOOL = 4;

const dirs = useTestDirs("edgecrew-real-mcp-", (root) =>
  writeFile(join(root, "notes.txt"), "one\ntwo\nthree\n"),
);

function workerName(tool: string): string {
  return `w${TOOLS.indexOf(tool as (typeof TOOLS)[number])}`;
}

function agent() {
  return defineAgent({
    name: "real-mcp",
    description: "Calls the tools of real MCP servers",
    planner: { model: "scripted:planner" },
    workers: TOOLS.map((tool, index) => ({
      name: workerName(tool),
      description: `Calls ${tool}`,
      model: `fixture:mcp?seed=${index + 3}`,
      tools: [tool],
      toolChoice: "required" as const,
      maxToolCalls: 1,
      // The fixture's vocabulary spells most text a character a token: a server's tool documentation is long.
      context: { size: 4096 },
      maxTokens: 384,
      temperature: 0.8,
      output: {
        type: "object",
        properties: { done: { type: "boolean" } },
        required: ["done"],
        additionalProperties: false,
      },
    })),
    tools: [
      { mcp: { name: "fs", command: process.execPath, args: [serverBin("server-filesystem"), dirs.root] } },
      {
        mcp: {
          name: "memory",
          command: process.execPath,
          args: [serverBin("server-memory")],
          env: { MEMORY_FILE_PATH: join(dirs.root, "memory.jsonl") },
        },
      },
      { mcp: { name: "everything", command: process.execPath, args: [serverBin("server-everything")] } },
    ],
    limits: {
      maxReplans: 0,
      maxSubtasks: TOOLS.length * CALLS_PER_TOOL,
      maxParallel: 1,
      timeoutSeconds: 600,
      subtaskTimeoutSeconds: 120,
    },
    device: { threads: 1, gpu: false },
    escalation: { retries: 1, to: "fail" },
  });
}

const PLAN = JSON.stringify({
  subtasks: TOOLS.flatMap((tool, t) =>
    Array.from({ length: CALLS_PER_TOOL }, (_, i) => ({
      id: `s${t * CALLS_PER_TOOL + i + 1}`,
      worker: workerName(tool),
      instruction: `Use ${tool} on ${dirs.root}/notes.txt`,
      dependsOn: [],
    })),
  ),
});

describe("tool calls against real MCP servers from npm (fixture workers, toolChoice: required)", () => {
  it("every call passes its tool's input schema and runs; optional arguments are sometimes left out", async () => {
    const crew = await createCrew(agent(), {
      planner: new ScriptedChatModel([PLAN, '{"answer":"done"}']),
      fixtureCacheDir: dirs.fixtures,
      runDir: dirs.runs,
    });
    const events: RunEvent[] = [];
    try {
      const result = await crew.run("Exercise the tools", { onEvent: (event) => void events.push(event) })
        .result;
      expect(result.status, JSON.stringify(result.error)).toBe("completed");
    } finally {
      await crew.dispose();
    }
    const calls = events.flatMap((e) => (e.type === "tool.called" ? [e] : []));
    const results = events.flatMap((e) => (e.type === "tool.result" ? [e] : []));
    // Every subtask made its required call, and no call was refused for its arguments.
    expect(calls).toHaveLength(TOOLS.length * CALLS_PER_TOOL);
    const refused = results.filter((e) => !e.result.ok && e.result.reason === "invalid-input");
    expect(refused.map((e) => `${e.tool}: ${JSON.stringify(e.result)}`)).toEqual([]);
    for (const tool of TOOLS) {
      expect(calls.filter((call) => call.tool === tool)).toHaveLength(CALLS_PER_TOOL);
    }
    const numbers = calls.flatMap((call) =>
      Object.values(call.args as JsonObject).filter((v) => typeof v === "number"),
    );
    expect(numbers.every((value) => Number.isFinite(value))).toBe(true);
    const links = calls.filter((call) => call.tool === "everything.get-resource-links");
    for (const call of links) {
      const count = (call.args as JsonObject).count;
      if (count !== undefined) expect(count).toBeGreaterThanOrEqual(1);
      if (count !== undefined) expect(count).toBeLessThanOrEqual(10);
    }
    const gzip = calls.filter((call) => call.tool === "everything.gzip-file-as-resource");
    const uri = compileSchema({ type: "string", format: "uri" });
    for (const call of gzip) {
      const data = (call.args as JsonObject).data;
      if (data !== undefined) expect(uri.validate(data).ok, String(data)).toBe(true);
    }
    // Optional arguments are a choice: across the reads, some leave `head` or `tail` out.
    const reads = calls.filter((call) => call.tool === "fs.read_text_file");
    const withBoth = reads.filter((call) => {
      const args = call.args as JsonObject;
      return args.head !== undefined && args.tail !== undefined;
    });
    expect(withBoth.length).toBeLessThan(reads.length);
    // A result too big for a worker's 4096-token context (an annotated message with its image, a directory
    // listing) is shown to the model cut, never left to fail the subtask mid-generation.
    const shortened = events.flatMap((e) => (e.type === "tool.shortened" ? [e] : []));
    for (const cut of shortened) expect(cut.shownCharacters).toBeLessThan(cut.totalCharacters);
    console.info(
      `[measure] ${calls.length} calls, ${results.filter((e) => e.result.ok).length} returned ok from the server, ${refused.length} refused for their arguments, ${shortened.length} results shown cut (${shortened.map((e) => e.tool).join(", ")}); reads with both head and tail: ${withBoth.length}/${reads.length}`,
    );
  });
});

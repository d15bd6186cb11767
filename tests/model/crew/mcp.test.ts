/**
 * Issue 5, "Done when" (MCP, model tier): an agent whose worker must call a tool (`toolChoice: required`) of
 * the fixture MCP server (a real server written with the SDK, started by the crew) completes a run on a fixture
 * GGUF worker; killing the server mid-run fails that subtask with a clear error naming the server, and the run
 * ends instead of hanging.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import { isMcpServerError } from "../../../src/tools/mcp/index.js";
import type { RunEvent } from "../../../src/types.js";

const server = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures/mcp/echoServer.mjs");

let fixtureCacheDir: string;
let runDir: string;

beforeAll(async () => {
  fixtureCacheDir = await mkdtemp(join(tmpdir(), "edgecrew-mcp-fixtures-"));
  runDir = await mkdtemp(join(tmpdir(), "edgecrew-mcp-runs-"));
});

afterAll(async () => {
  await rm(fixtureCacheDir, { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
});

function agent(env: Record<string, string> = {}, command: string = process.execPath) {
  return defineAgent({
    name: "adder",
    description: "Adds numbers with an MCP server",
    planner: { model: "scripted:planner" },
    workers: [
      {
        name: "calc",
        description: "Adds two integers with echo.add",
        model: "fixture:calc?seed=3",
        // One tool of the server: random weights would otherwise be free to call `crash` or `slow`.
        tools: ["echo.add"],
        toolChoice: "required",
        maxTokens: 96,
        output: {
          type: "object",
          properties: { done: { type: "boolean" } },
          required: ["done"],
          additionalProperties: false,
        },
      },
    ],
    tools: [{ mcp: { name: "echo", command, args: [server], env } }],
    limits: { maxReplans: 0, maxSubtasks: 1, maxParallel: 1, timeoutSeconds: 60, subtaskTimeoutSeconds: 45 },
    device: { threads: 1, gpu: false },
    escalation: { retries: 0, to: "planner" },
  });
}

const PLAN = JSON.stringify({
  subtasks: [{ id: "s1", worker: "calc", instruction: "Add 2 and 3", dependsOn: [] }],
});

describe("MCP tools in a crew", () => {
  it("a worker with toolChoice: required calls the MCP server's tool and the run completes", async () => {
    const pidFile = join(runDir, "ok.pid");
    const crew = await createCrew(agent({ MCP_FIXTURE_PID_FILE: pidFile }), {
      planner: new ScriptedChatModel([PLAN, '{"answer":"5"}']),
      fixtureCacheDir,
      runDir,
    });
    try {
      const events: RunEvent[] = [];
      const result = await crew.run("Add 2 and 3", { onEvent: (event) => void events.push(event) }).result;
      expect(result.status, JSON.stringify(result.error)).toBe("completed");
      const called = events.filter((event) => event.type === "tool.called");
      const results = events.flatMap((event) => (event.type === "tool.result" ? [event] : []));
      expect(called.length).toBeGreaterThan(0);
      expect(called.every((event) => event.tool === "echo.add")).toBe(true);
      expect(results[0]?.result.ok, JSON.stringify(results[0]?.result)).toBe(true);
    } finally {
      await crew.dispose();
    }
    // dispose() stopped the server.
    const pid = Number(await readFile(pidFile, "utf8"));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it("a server that cannot start fails createCrew with a typed error naming it", async () => {
    const error = await createCrew(agent({}, "/nonexistent/mcp-server"), { fixtureCacheDir, runDir }).catch(
      (e: unknown) => e,
    );
    expect(isMcpServerError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^MCP server echo .*failed to start/);
  });

  it("killing the server mid-run fails the subtask with an error naming it, and the run ends", async () => {
    const pidFile = join(runDir, "echo.pid");
    const crew = await createCrew(agent({ MCP_FIXTURE_PID_FILE: pidFile }), {
      planner: new ScriptedChatModel([PLAN, '{"answer":"5"}']),
      fixtureCacheDir,
      runDir,
    });
    try {
      const pid = Number(await readFile(pidFile, "utf8"));
      const events: RunEvent[] = [];
      const run = crew.run("Add 2 and 3", {
        onEvent: (event) => {
          events.push(event);
          // Killed once the subtask has started, before its (forced) tool call can reach the server.
          if (event.type === "subtask.started") process.kill(pid, "SIGKILL");
        },
      });
      const started = performance.now();
      const result = await run.result;
      expect(performance.now() - started).toBeLessThan(30_000);
      expect(result.status).toBe("failed");
      const failed = events.find((event) => event.type === "subtask.failed");
      expect(failed?.type === "subtask.failed" && failed.error.message).toContain("MCP server echo exited");
      const toolResult = events.find((event) => event.type === "tool.result");
      expect(toolResult?.type === "tool.result" && toolResult.result).toMatchObject({
        ok: false,
        reason: "failed",
        error: expect.stringContaining("MCP server echo exited (signal SIGKILL)"),
      });
    } finally {
      await crew.dispose();
    }
  });
});

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const serverBin = (name: string) =>
  join(repoRoot, "node_modules/@modelcontextprotocol", name, "dist/index.js");

function realServerAgent(
  grants: readonly string[],
  tools: Parameters<typeof defineAgent>[0]["tools"],
): ReturnType<typeof defineAgent> {
  return defineAgent({
    name: "real-servers",
    description: "Uses real MCP servers from npm",
    planner: { model: "scripted:planner" },
    workers: [
      {
        name: "calc",
        description: "Uses the granted tools",
        model: "fixture:calc?seed=3",
        tools: [...grants],
        toolChoice: "required",
        maxToolCalls: 1,
        maxTokens: 96,
        output: {
          type: "object",
          properties: { done: { type: "boolean" } },
          required: ["done"],
          additionalProperties: false,
        },
      },
    ],
    tools,
    limits: { maxReplans: 0, maxSubtasks: 1, maxParallel: 1, timeoutSeconds: 60, subtaskTimeoutSeconds: 45 },
    device: { threads: 1, gpu: false },
    escalation: { retries: 0, to: "planner" },
  });
}

describe("the MCP client against real servers, through the crew", () => {
  it("server-filesystem started without a directory works inside the agent's fs root (roots/list)", async () => {
    const data = await mkdtemp(join(tmpdir(), "edgecrew-mcp-roots-"));
    const crew = await createCrew(
      realServerAgent(
        ["files.list_allowed_directories"],
        [
          { fs: { root: data } },
          { mcp: { name: "files", command: process.execPath, args: [serverBin("server-filesystem")] } },
        ],
      ),
      { planner: new ScriptedChatModel([PLAN, '{"answer":"ok"}']), fixtureCacheDir, runDir },
    );
    try {
      const events: RunEvent[] = [];
      await crew.run("List the allowed directories", { onEvent: (event) => void events.push(event) }).result;
      const result = events.find(
        (event) => event.type === "tool.result" && event.tool === "files.list_allowed_directories",
      );
      expect(result?.type === "tool.result" && result.result.ok, JSON.stringify(result)).toBe(true);
      expect(JSON.stringify(result?.type === "tool.result" && result.result)).toContain(data);
    } finally {
      await crew.dispose();
      await rm(data, { recursive: true, force: true });
    }
  });

  it("a tool that requires task-based execution is skipped with a warning; granting it fails createCrew with why", async () => {
    const everything = {
      mcp: { name: "everything", command: process.execPath, args: [serverBin("server-everything"), "stdio"] },
    };
    const warnings: string[] = [];
    const crew = await createCrew(realServerAgent(["everything"], [everything]), {
      planner: new ScriptedChatModel([]),
      fixtureCacheDir,
      runDir,
      onWarning: (warning) => warnings.push(warning),
    });
    await crew.dispose();
    expect(warnings).toContainEqual(
      expect.stringMatching(/tool `simulate-research-query` skipped: it requires task-based execution/),
    );

    const error = await createCrew(realServerAgent(["everything.simulate-research-query"], [everything]), {
      planner: new ScriptedChatModel([]),
      fixtureCacheDir,
      runDir,
      onWarning: () => {},
    }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("TOOL_NOT_FOUND");
    expect((error as Error).message).toMatch(
      /`everything\.simulate-research-query` is granted, but the MCP server everything lists .* requires task-based execution/,
    );
  });
});

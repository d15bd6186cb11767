/**
 * The MCP client against real servers from npm: roots (server-filesystem started without a directory), tools
 * that require task-based execution (server-everything), annotations mapped onto idempotency and approval, the
 * typed MCP_SERVER_FAILED code and the named start timeout.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import {
  connectMcpServer,
  endSubtasksOnServerExit,
  isMcpServerError,
  type McpServerConnection,
} from "../../../src/tools/mcp/index.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { McpToolConfig } from "../../../src/types.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../../..");
const serverBin = (name: string) => join(repo, "node_modules/@modelcontextprotocol", name, "dist/index.js");
const echoServer = join(repo, "tests/fixtures/mcp/echoServer.mjs");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-mcp-client-"));
  await writeFile(join(dir, "notes.txt"), "one\ntwo\nthree\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open: McpServerConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

async function connect(config: McpToolConfig, warnings: string[] = []) {
  const connection = await connectMcpServer(config, { onWarning: (w) => warnings.push(w) });
  open.push(connection);
  const registry = new ToolRegistry();
  for (const tool of connection.tools) registry.register(tool);
  return { connection, registry };
}

const filesystem = (overrides: Partial<McpToolConfig> = {}): McpToolConfig => ({
  kind: "mcp",
  name: "files",
  command: process.execPath,
  // No directory argument: the server's only source of allowed directories is the client's roots.
  args: [serverBin("server-filesystem")],
  env: {},
  ...overrides,
});

const everything = (overrides: Partial<McpToolConfig> = {}): McpToolConfig => ({
  kind: "mcp",
  name: "everything",
  command: process.execPath,
  args: [serverBin("server-everything"), "stdio"],
  env: {},
  ...overrides,
});

/** The server asks for roots after the handshake, asynchronously: wait until it has taken them in. */
async function allowedDirectories(registry: ToolRegistry, until: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const output = expectOk(await registry.call("files.list_allowed_directories", {}, callContext().context));
    const text = JSON.stringify(output);
    if (until(text) || Date.now() > deadline) return text;
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe("roots", () => {
  it("answers roots/list with the declared roots: server-filesystem without a directory reads under them", async () => {
    const { registry } = await connect(filesystem({ roots: [dir] }));
    expect(await allowedDirectories(registry, (text) => text.includes(dir))).toContain(dir);
    const output = expectOk(
      await registry.call("files.read_text_file", { path: join(dir, "notes.txt") }, callContext().context),
    );
    expect(JSON.stringify(output)).toContain("one\\ntwo\\nthree");
  });

  it("answers an empty list when no roots are declared: nothing is allowed, and the server says so", async () => {
    const { registry } = await connect(filesystem());
    const error = expectFailure(
      await registry.call("files.read_text_file", { path: join(dir, "notes.txt") }, callContext().context),
      "failed",
    );
    expect(error).toMatch(/Access denied|not allowed|outside/i);
  });
});

describe("tools that require task-based execution", () => {
  it("are not offered, and the warning says why", async () => {
    const warnings: string[] = [];
    const { connection } = await connect(everything(), warnings);
    const names = connection.tools.map((tool) => tool.spec.name);
    expect(names).toContain("everything.get-sum");
    expect(names).not.toContain("everything.simulate-research-query");
    expect(connection.skipped).toContainEqual({
      tool: "simulate-research-query",
      reason: expect.stringContaining("requires task-based execution"),
    });
    expect(warnings).toContainEqual(
      expect.stringMatching(/everything: tool `simulate-research-query` skipped: .*task-based execution/),
    );
  });

  it("granting one by name fails at start-up with why, not as an unknown tool", async () => {
    const { connection, registry } = await connect(everything());
    const guarded = endSubtasksOnServerExit(registry, [connection]);
    expect(() => guarded.scoped?.(["everything.get-sum"])).not.toThrow();
    let error: unknown;
    try {
      guarded.scoped?.(["everything.get-sum", "everything.simulate-research-query"]);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeDefined();
    expect((error as Error).message).toMatch(
      /`everything\.simulate-research-query`.*requires task-based execution.*edgecrew does not support/,
    );
    expect((error as { code: string }).code).toBe(ErrorCodes.TOOL_NOT_FOUND);
  });
});

describe("annotations", () => {
  it("readOnlyHint makes a tool idempotent; destructiveHint makes it non-idempotent and asks for approval", async () => {
    const { registry } = await connect(filesystem({ roots: [dir] }));
    const spec = (name: string) => registry.list([`files.${name}`])[0];
    expect(spec("read_text_file")).toMatchObject({ idempotent: true, approve: false });
    // write_file says idempotentHint: true too, but a destructive tool is never replayed on resume.
    expect(spec("write_file")).toMatchObject({ idempotent: false, approve: true });
    expect(spec("move_file")).toMatchObject({ idempotent: false, approve: true });
    // Neither read-only nor destructive: the server's idempotentHint decides, and no approval by default.
    expect(spec("create_directory")).toMatchObject({ idempotent: true, approve: false });
  });

  it("the entry's approve overrides the default either way", async () => {
    const off = await connect(filesystem({ roots: [dir], approve: false }));
    expect(off.registry.list(["files.write_file"])[0]).toMatchObject({ idempotent: false, approve: false });
    const on = await connect(filesystem({ name: "files2", roots: [dir], approve: true }));
    expect(on.registry.list(["files2.read_text_file"])[0]).toMatchObject({ approve: true });
  });
});

describe("progress notifications", () => {
  it("become tool.progress events of the call's subtask", async () => {
    const { registry } = await connect(everything());
    const { context, events } = callContext();
    expectOk(
      await registry.call("everything.trigger-long-running-operation", { duration: 0.3, steps: 3 }, context),
    );
    const progress = events.filter((event) => event.type === "tool.progress");
    // The SDK hands a notification to its handler a tick later than a response, so the last step's progress,
    // sent just before the result, can arrive after the call has ended and its handler is gone: the steps seen
    // are a prefix of 1, 2, 3 (under load, once in three runs, the last is missing).
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress).toEqual(
      [1, 2, 3].slice(0, progress.length).map((step) => ({
        type: "tool.progress",
        subtaskId: "s1",
        tool: "everything.trigger-long-running-operation",
        progress: step,
        total: 3,
      })),
    );
  });
});

describe("failures", () => {
  it("a server that cannot start fails with MCP_SERVER_FAILED", async () => {
    const error = await connectMcpServer(
      everything({ name: "ghost", command: "/nonexistent/mcp-server" }),
    ).catch((e: unknown) => e);
    expect(isMcpServerError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(ErrorCodes.MCP_SERVER_FAILED);
  });

  it("the start timeout is named in seconds, with the YAML key that changes it", async () => {
    const error = await connectMcpServer({
      kind: "mcp",
      name: "mute",
      command: process.execPath,
      args: ["-e", "setTimeout(() => {}, 60000)"],
      env: {},
      startTimeoutMs: 400,
    }).catch((e: unknown) => e);
    expect(isMcpServerError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(ErrorCodes.MCP_SERVER_FAILED);
    expect((error as Error).message).toContain("did not start within 0.4 s");
    expect((error as Error).message).toContain("startTimeoutSeconds");
  });

  it("a dead server ends the subtask with SUBTASK_FAILED, its cause the server's MCP_SERVER_FAILED error", async () => {
    const { connection, registry } = await connect({
      kind: "mcp",
      name: "echo",
      command: process.execPath,
      args: [echoServer],
      env: {},
    });
    const guarded = endSubtasksOnServerExit(registry, [connection]);
    process.kill(connection.pid as number, "SIGKILL");
    await connection.exited;
    const error = await guarded
      .call("echo.add", { a: 1, b: 2 }, callContext().context)
      .catch((e: unknown) => e);
    // The worker ends a subtask on SUBTASK_FAILED (workers/LocalWorker.ts), so that code stays; the server's
    // own failure is its cause.
    expect((error as { code: string }).code).toBe(ErrorCodes.SUBTASK_FAILED);
    expect((error as Error).message).toContain("MCP server echo exited (signal SIGKILL)");
    const cause = (error as Error).cause;
    expect(isMcpServerError(cause)).toBe(true);
    expect((cause as { code: string }).code).toBe(ErrorCodes.MCP_SERVER_FAILED);
    expect((error as { context: object }).context).toMatchObject({ server: "echo", phase: "exited" });
  });
});

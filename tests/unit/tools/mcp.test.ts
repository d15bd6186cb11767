/**
 * MCP servers as tool sources, against a real MCP server (tests/fixtures/mcp/echoServer.mjs, written with the
 * SDK) started by each test: listing and namespacing, calls, arguments refused before they are sent, isError,
 * servers that fail to start, servers that die, and close().
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import {
  connectMcpServer,
  endSubtasksOnServerExit,
  isMcpServerError,
  type McpServerConnection,
  startMcpServers,
} from "../../../src/tools/mcp/index.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { McpToolConfig } from "../../../src/types.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const server = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures/mcp/echoServer.mjs");

function config(overrides: Partial<McpToolConfig> = {}): McpToolConfig {
  return { kind: "mcp", name: "echo", command: process.execPath, args: [server], env: {}, ...overrides };
}

const open: McpServerConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

async function connect(overrides: Partial<McpToolConfig> = {}, warnings: string[] = []) {
  const connection = await connectMcpServer(config(overrides), { onWarning: (w) => warnings.push(w) });
  open.push(connection);
  const registry = new ToolRegistry();
  for (const tool of connection.tools) registry.register(tool);
  return { connection, registry };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("connectMcpServer", () => {
  it("lists the server's tools, namespaced, with their descriptions and JSON Schemas", async () => {
    const { connection, registry } = await connect();
    expect(connection.tools.map((tool) => tool.spec.name)).toEqual([
      "echo.add",
      "echo.echo",
      "echo.slow",
      "echo.fail",
      "echo.crash",
      "echo.flood",
      "echo.count",
    ]);
    const echo = registry.list(["echo.echo"])[0];
    expect(echo?.description).toBe("Returns the text it is given.");
    expect(echo?.input).toEqual({
      type: "object",
      properties: { text: { type: "string", maxLength: 50 } },
      required: ["text"],
    });
    // The server name grants the whole family.
    expect(registry.scoped(["echo"]).list()).toHaveLength(7);
    expect(connection.pid).toBeGreaterThan(0);
  });

  it("runs a valid call and returns structured content when there is some, else the content", async () => {
    const { registry } = await connect({ env: { MCP_FIXTURE_GREETING: "hi" } });
    const { context, events } = callContext();
    expect(expectOk(await registry.call("echo.add", { a: 2, b: 40 }, context))).toEqual({ sum: 42 });
    expect(expectOk(await registry.call("echo.echo", { text: "there" }, context))).toEqual({
      content: [{ type: "text", text: "hi there" }],
    });
    expect(events.map((event) => event.type)).toEqual([
      "tool.called",
      "tool.result",
      "tool.called",
      "tool.result",
    ]);
  });

  it("refuses invalid arguments before sending them: the server never sees the call", async () => {
    const { registry } = await connect();
    const { context } = callContext();
    const tooLong = expectFailure(
      await registry.call("echo.echo", { text: "x".repeat(51) }, context),
      "invalid-input",
    );
    expect(tooLong).toContain("text");
    expectFailure(await registry.call("echo.add", { a: 1.5, b: 2 }, context), "invalid-input");
    expectFailure(await registry.call("echo.add", { a: 1 }, context), "invalid-input");
    expect(expectOk(await registry.call("echo.count", { tool: "add" }, context))).toEqual({ calls: 0 });
    // A valid call does reach it.
    await registry.call("echo.add", { a: 1, b: 1 }, context);
    expect(expectOk(await registry.call("echo.count", { tool: "add" }, context))).toEqual({ calls: 1 });
  });

  it("turns an isError result into a failed call with the server's text", async () => {
    const { registry } = await connect();
    const error = expectFailure(await registry.call("echo.fail", {}, callContext().context), "failed");
    expect(error).toContain("it went wrong");
  });

  it("times a slow call out as data, under the configured timeoutMs", async () => {
    const { registry } = await connect({ timeoutMs: 200 });
    const started = performance.now();
    expectFailure(await registry.call("echo.slow", { ms: 5_000 }, callContext().context), "timeout");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("skips a tool whose schema cannot be compiled, with a warning, and keeps the others", async () => {
    const warnings: string[] = [];
    const { connection } = await connect({ env: { MCP_FIXTURE_WEIRD: "1" } }, warnings);
    expect(connection.tools.map((tool) => tool.spec.name)).not.toContain("echo.weird");
    expect(connection.tools).toHaveLength(7);
    expect(connection.skipped.map((skip) => skip.tool)).toEqual(["weird"]);
    expect(warnings).toEqual([expect.stringContaining("tool `weird` skipped")]);
  });
});

describe("servers that fail or die", () => {
  it("fails fast with a typed error naming the server when the command does not exist", async () => {
    const started = performance.now();
    const error = await connectMcpServer(config({ name: "ghost", command: "/nonexistent/mcp-server" })).catch(
      (e: unknown) => e,
    );
    expect(isMcpServerError(error)).toBe(true);
    if (!isMcpServerError(error)) return;
    expect(error.code).toBe(ErrorCodes.MCP_SERVER_FAILED);
    expect(error.server).toBe("ghost");
    expect(error.phase).toBe("start");
    expect(error.message).toMatch(/^MCP server ghost .*failed to start: .*ENOENT/);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("fails fast when the server exits while starting, with its exit code and stderr", async () => {
    const error = await connectMcpServer(config({ env: { MCP_FIXTURE_EXIT_AT_START: "7" } })).catch(
      (e: unknown) => e,
    );
    expect(isMcpServerError(error)).toBe(true);
    expect((error as Error).message).toContain("exited while starting (code 7)");
    expect((error as Error).message).toContain("told to fail at start");
  });

  it("fails with the start timeout when the server never answers", async () => {
    // `node -e` with a long timer: a process that runs but never speaks MCP.
    const error = await connectMcpServer(
      config({ name: "mute", args: ["-e", "setTimeout(() => {}, 60000)"] }),
      { startTimeoutMs: 300 },
    ).catch((e: unknown) => e);
    expect(isMcpServerError(error)).toBe(true);
    expect((error as Error).message).toContain("MCP server mute");
    expect((error as Error).message).toContain("did not start within 0.3 s (its start timeout");
  });

  it("after a SIGKILL, calls fail as data with `MCP server <name> exited`", async () => {
    const { connection, registry } = await connect();
    process.kill(connection.pid as number, "SIGKILL");
    expect(await connection.exited).toEqual({ code: null, signal: "SIGKILL" });
    const error = expectFailure(
      await registry.call("echo.add", { a: 1, b: 2 }, callContext().context),
      "failed",
    );
    expect(error).toContain("MCP server echo exited (signal SIGKILL)");
  });

  it("fails an in-flight call when the server dies under it, without hanging", async () => {
    const { connection, registry } = await connect();
    const { context } = callContext();
    const pending = registry.call("echo.slow", { ms: 30_000 }, context);
    setTimeout(() => process.kill(connection.pid as number, "SIGKILL"), 100);
    const error = expectFailure(await pending, "failed");
    expect(error).toContain("MCP server echo exited");
  });

  it("a tool that exits the server reports its exit code", async () => {
    const { registry } = await connect();
    const error = expectFailure(await registry.call("echo.crash", {}, callContext().context), "failed");
    expect(error).toContain("MCP server echo exited (code 3)");
  });

  it("a reply over the transport's limit stops the server and says so, not as a crash", async () => {
    const { connection, registry } = await connect();
    const error = expectFailure(await registry.call("echo.flood", {}, callContext().context), "failed");
    expect(error).toContain("MCP server echo exited (stopped by edgecrew: it sent a message over 10 MiB");
    expect((await connection.exited).stoppedBecause).toMatch(/over 10 MiB/);
  });

  it("endSubtasksOnServerExit turns a dead server's failed call into its SUBTASK_FAILED error", async () => {
    const { connection, registry } = await connect();
    const guarded = endSubtasksOnServerExit(registry, [connection]);
    const view = guarded.scoped?.(["echo"]);
    expect(view).toBeDefined();
    const { context } = callContext();
    expectFailure(await guarded.call("echo.fail", {}, context), "failed"); // alive: still data
    process.kill(connection.pid as number, "SIGKILL");
    await connection.exited;
    const error = await view?.call("echo.add", { a: 1, b: 2 }, context).catch((e: unknown) => e);
    expect(isMcpServerError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(ErrorCodes.SUBTASK_FAILED);
  });

  it("close() ends the process, and is idempotent", async () => {
    const { connection } = await connect();
    const pid = connection.pid as number;
    expect(isAlive(pid)).toBe(true);
    await Promise.all([connection.close(), connection.close()]);
    await connection.close();
    expect(isAlive(pid)).toBe(false);
    expect(connection.exit).toBeDefined();
  });

  it("startMcpServers starts servers in parallel and stops the started ones when another fails", async () => {
    const error = await startMcpServers([
      config({ name: "good" }),
      config({ name: "bad", command: "/nonexistent/mcp-server" }),
    ]).catch((e: unknown) => e);
    expect(isMcpServerError(error) && error.server).toBe("bad");

    const servers = await startMcpServers([config({ name: "one" }), config({ name: "two" })]);
    expect(servers.tools.map((tool) => tool.spec.name)).toContain("two.echo");
    const pids = servers.connections.map((connection) => connection.pid as number);
    await servers.close();
    expect(pids.every((pid) => !isAlive(pid))).toBe(true);
  });
});

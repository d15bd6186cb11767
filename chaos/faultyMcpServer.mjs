#!/usr/bin/env node
/**
 * A real MCP server over stdio (written with @modelcontextprotocol/sdk, like tests/fixtures/mcp/echoServer.mjs)
 * whose tools misbehave deterministically, whatever arguments the (random-weight) model sends, for the `tools`
 * section of the chaos harness (chaos/tools.mjs). Every tool takes an empty object, so a fixture model's call
 * is always valid and reaches the server:
 *
 *   ok     answers a small text result (the control: a well-behaved tool)
 *   boom   the handler throws an Error
 *   hang   never resolves
 *   big    returns 512 KiB of text: over the registry's output cap (64 KiB), under the stdio read buffer
 *   huge   returns 16 MiB of text: over the output cap and over the MCP SDK's 10 MiB stdio read buffer
 *   die    writes half a JSON-RPC frame to stdout, then the process exits (code 3) in the middle of the call
 *   noisy  writes garbage to stdout before answering a small result: non-JSON-RPC lines (a server logging to
 *          stdout), a response to no request and an unknown notification
 *
 * Environment: FAULTY_CALLS_FILE receives one line `<tool>` per call that reached the server (appended before
 * the tool misbehaves), so the harness can tell a call the server saw from one that never left the client;
 * FAULTY_PID_FILE receives the server's pid, so the harness can check that no server outlives its run;
 * FAULTY_STARTUP_NOISE=1 prints a banner to stdout before serving, as servers that log to stdout do.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const callsFile = process.env.FAULTY_CALLS_FILE;
if (process.env.FAULTY_PID_FILE !== undefined)
  writeFileSync(process.env.FAULTY_PID_FILE, String(process.pid));
const server = new McpServer({ name: "faulty", version: "1.0.0" });

/** Registers a tool without arguments; `handler` runs after the call is recorded in FAULTY_CALLS_FILE. */
function tool(name, description, handler) {
  server.registerTool(name, { description, inputSchema: {} }, async () => {
    if (callsFile !== undefined) appendFileSync(callsFile, `${name}\n`);
    return handler();
  });
}

const text = (value) => ({ content: [{ type: "text", text: value }] });

tool("ok", "Answers a short greeting.", async () => text("hello from the faulty server"));

tool("boom", "Always throws.", async () => {
  throw new Error("boom: the tool handler threw on purpose");
});

tool("hang", "Never answers.", () => new Promise(() => {}));

tool("big", "Returns 512 KiB of text.", async () => text("b".repeat(512 * 1024)));

tool("huge", "Returns 16 MiB of text.", async () => text("h".repeat(16 * 1024 * 1024)));

tool("die", "Exits in the middle of the call.", async () => {
  // A torn frame first: the client must not wait for the rest of it.
  process.stdout.write('{"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"half');
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.exit(3);
});

tool("noisy", "Logs to stdout, then answers.", async () => {
  process.stdout.write("faulty server: starting the noisy call\n");
  process.stdout.write("{not json at all\n");
  process.stdout.write('{"jsonrpc":"1.0","what":"json, but not JSON-RPC"}\n');
  process.stdout.write(`${"x".repeat(4096)}\n`);
  process.stdout.write("\n");
  // Valid JSON-RPC the client never asked for: a response to no request, an unknown notification.
  process.stdout.write('{"jsonrpc":"2.0","id":987654,"result":{"stray":true}}\n');
  process.stdout.write('{"jsonrpc":"2.0","method":"faulty/unknown-notification","params":{}}\n');
  return text("noisy but fine");
});

if (process.env.FAULTY_STARTUP_NOISE === "1") process.stdout.write("faulty server: listening on stdio\n");
await server.connect(new StdioServerTransport());

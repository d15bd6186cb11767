/**
 * Starting every MCP server of an agent at once, for `createCrew`: servers start in parallel (a crew waits for
 * the slowest, not the sum), and when one fails the others are stopped before the error is thrown, so a failed
 * start leaves no orphan processes.
 */
import type { McpToolConfig } from "../../types.js";
import type { Tool } from "../defineTool.js";
import {
  type ConnectMcpServerOptions,
  connectMcpServer,
  type McpServerConnection,
} from "./connectMcpServer.js";

/** The started servers of an agent. */
export interface McpServers {
  readonly connections: readonly McpServerConnection[];
  /** Every usable tool of every server, namespaced `server.tool`. */
  readonly tools: readonly Tool[];
  /** Ends every server process; idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `configs` in parallel. Rejects with the first failure (an McpServerError naming its server, or an
 * AbortError) after closing whatever did start.
 *
 * @example
 * const servers = await startMcpServers(agent.tools.filter((t) => t.kind === "mcp"), { startTimeoutMs: 10_000 });
 * for (const tool of servers.tools) registry.register(tool);
 * await servers.close();
 */
export async function startMcpServers(
  configs: readonly McpToolConfig[],
  options: ConnectMcpServerOptions = {},
): Promise<McpServers> {
  const settled = await Promise.allSettled(configs.map((config) => connectMcpServer(config, options)));
  const connections = settled.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
  const failure = settled.find((outcome) => outcome.status === "rejected");
  const close = async () => {
    await Promise.all(connections.map((connection) => connection.close()));
  };
  if (failure !== undefined) {
    await close();
    throw failure.reason;
  }
  return {
    connections,
    tools: connections.flatMap((connection) => connection.tools),
    close,
  };
}

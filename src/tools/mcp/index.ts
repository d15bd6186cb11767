/**
 * MCP servers as tool sources: start a server over stdio, adapt its tools (`server.tool`), and stop it.
 */
export {
  type ConnectMcpServerOptions,
  connectMcpServer,
  DEFAULT_MCP_START_TIMEOUT_MS,
  type McpServerConnection,
} from "./connectMcpServer.js";
export { endSubtasksOnServerExit, type ScopableRegistryPort } from "./endSubtasksOnServerExit.js";
export {
  describeExit,
  isMcpServerError,
  McpServerError,
  type McpServerExit,
  type McpServerPhase,
  serverExitedError,
  subtaskEndedByServerExit,
} from "./McpServerError.js";
export { adaptMcpTool, type McpToolAdaptation, type McpToolHost } from "./mcpTool.js";
export { type McpServers, startMcpServers } from "./startMcpServers.js";

/**
 * The tools layer: `defineTool`, the `ToolRegistry` that validates, approves, times and caps every call, the
 * sandboxed built-ins (calculator, fs, http, shell) created from an agent's config, MCP servers as tool
 * sources, and the LangChain tool adapter. Importing it loads neither LangChain nor node-llama-cpp.
 */
export { createCalculatorTool, MAX_EXPRESSION_LENGTH } from "./builtins/calculator.js";
export { ExpressionError, evaluateExpression, parseExpression } from "./builtins/expression.js";
export { createBuiltinTool, createRegistryFromConfig } from "./builtins/fromConfig.js";
export { createFsTools, MAX_LIST_ENTRIES } from "./builtins/fs.js";
export { createHttpTools, MAX_HTTP_REDIRECTS } from "./builtins/http.js";
export {
  BUILTIN_TOOL_DEFAULTS,
  COMMAND_NAME_PATTERN,
  type FsToolOptions,
  HTTP_TOOL_METHODS,
  type HttpToolMethod,
  type HttpToolOptions,
  type ShellToolOptions,
} from "./builtins/options.js";
export {
  MAX_SANDBOX_PATH_LENGTH,
  type ResolvedSandboxPath,
  resolveSandboxPath,
  SandboxPathError,
  sandboxPathProblem,
} from "./builtins/sandboxPath.js";
export { createShellTools, MAX_SHELL_ARG_LENGTH, MAX_SHELL_ARGS } from "./builtins/shell.js";
export { parseUrlPattern, type UrlPattern, urlRefusal } from "./builtins/urlPattern.js";
export {
  assertToolName,
  defineTool,
  TOOL_NAME_PATTERN,
  type Tool,
  type ToolDefinition,
} from "./defineTool.js";
export {
  type AnyTool,
  type FromLangChainToolOptions,
  fromLangChainTool,
  isEdgecrewTool,
  isLangChainTool,
  type LangChainTool,
  langChainOutputToJson,
  type ProvidedTool,
  toolNames,
  toTool,
} from "./fromLangChainTool.js";
export { type JsonCheck, jsonByteLength, toJsonValue } from "./jsonValue.js";
export {
  type ConnectMcpServerOptions,
  connectMcpServer,
  DEFAULT_MCP_START_TIMEOUT_MS,
  endSubtasksOnServerExit,
  isMcpServerError,
  type McpServerConnection,
  McpServerError,
  type McpServerExit,
  type McpServers,
  startMcpServers,
} from "./mcp/index.js";
export {
  type ApprovalCallback,
  type ApprovalRequest,
  DEFAULT_TOOL_MAX_OUTPUT_BYTES,
  DEFAULT_TOOL_TIMEOUT_MS,
  type ScopedToolRegistry,
  ToolRegistry,
  type ToolRegistryOptions,
} from "./ToolRegistry.js";
export { grants, suggestName } from "./toolNames.js";

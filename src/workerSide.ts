/**
 * The local side of an agent: its MCP servers, its tool registry (built-ins from the YAML, MCP tools, tools
 * defined in code) and its local workers on a model manager. Shared by the two composition roots that run
 * workers: `createCrew` (workers in this process) and the fleet's device process (`edgecrew device`).
 * node-llama-cpp is imported lazily, as in crew.ts.
 */
import type { ScopableToolRegistry } from "./runtime/toolJournal.js";
import {
  type AnyTool,
  type ApprovalCallback,
  createRegistryFromConfig,
  type Tool,
  type ToolRegistry,
  toTool,
} from "./tools/index.js";
import { loadLangChainTools } from "./tools/langchainModule.js";
import { endSubtasksOnServerExit, startMcpServers } from "./tools/mcp/index.js";
import type { AgentDefinition, BuiltinToolConfig, McpToolConfig } from "./types.js";
import type { LocalWorker, ModelManager } from "./workers/index.js";

/** Options of {@link startWorkerSide}. */
export interface WorkerSideOptions {
  /** The manager the workers load their models on (shared with a local planner or other agents). */
  readonly manager: ModelManager;
  /** Tools defined in code, registered next to the agent's; adapted here (`toTool`), named by index on error. */
  readonly tools?: readonly AnyTool[];
  /** Where `tools` came from, for error messages (default `CrewOptions.tools`). */
  readonly toolsLabel?: string;
  readonly onApproval?: ApprovalCallback;
  /** How long each MCP server may take to start and list its tools (default 10 s). */
  readonly mcpStartTimeoutMs?: number;
  readonly onWarning?: (message: string) => void;
  /** Wraps the registry before the workers get it: the tool journal. */
  readonly wrapTools?: (registry: ToolRegistry) => ScopableToolRegistry;
  /** Sampling seed of every generation. */
  readonly seed?: number;
}

/** An agent's running workers and tools. */
export interface WorkerSide {
  readonly workers: LocalWorker;
  readonly tools: ToolRegistry;
  /** Disposes the workers and ends the MCP servers (the manager stays with its owner). */
  close(): Promise<void>;
}

/**
 * The agent's tool registry without MCP servers: its built-ins, its `langchain:` tools (their modules imported
 * now; TOOL_INVALID if one cannot be), and `extra` tools (MCP tools, tools defined in code).
 */
export async function agentToolRegistry(
  agent: AgentDefinition,
  options: { readonly tools?: readonly Tool[]; readonly onApproval?: ApprovalCallback } = {},
): Promise<ToolRegistry> {
  const builtins = agent.tools.filter((tool): tool is BuiltinToolConfig => tool.kind === "builtin");
  const langchain = await loadLangChainTools(agent.tools, agent.source);
  return createRegistryFromConfig(builtins, {
    tools: [...(options.tools ?? []), ...langchain],
    ...(options.onApproval === undefined ? {} : { onApproval: options.onApproval }),
  });
}

/**
 * Starts an agent's MCP servers (all at once; one that cannot start fails here, by name, after the others are
 * closed), builds its registry and its local workers.
 */
export async function startWorkerSide(
  agent: AgentDefinition,
  options: WorkerSideOptions,
): Promise<WorkerSide> {
  const label = options.toolsLabel ?? "CrewOptions.tools";
  const codeTools = (options.tools ?? []).map((tool, index) => toTool(tool, `${label}[${index}]`));
  const workersModule = await import("./workers/index.js");
  // Tool RAG's embedding models load on first use; a corrupt or missing file fails here, before any run.
  const embeddingFiles = new Set(
    agent.workers.flatMap((w) => (w.toolSearch?.model?.kind === "file" ? [w.toolSearch.model.path] : [])),
  );
  await Promise.all([...embeddingFiles].map((path) => workersModule.inspectModelFile(path)));
  const mcp = await startMcpServers(
    agent.tools.filter((tool): tool is McpToolConfig => tool.kind === "mcp"),
    {
      ...(options.mcpStartTimeoutMs === undefined ? {} : { startTimeoutMs: options.mcpStartTimeoutMs }),
      onWarning: options.onWarning ?? ((message) => process.emitWarning(message, "EdgecrewWarning")),
    },
  );
  try {
    // Built-ins from the YAML plus MCP and code tools; each worker gets a view of only what it is granted.
    const tools = await agentToolRegistry(agent, {
      tools: [...mcp.tools, ...codeTools],
      ...(options.onApproval === undefined ? {} : { onApproval: options.onApproval }),
    });
    const workers = workersModule.createLocalWorkers({
      workers: agent.workers,
      manager: options.manager,
      // A call of a dead MCP server's tool ends its subtask (after the journal has recorded the failed result).
      tools: endSubtasksOnServerExit(options.wrapTools?.(tools) ?? tools, mcp.connections),
      retries: agent.escalation.retries,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    return {
      workers,
      tools,
      async close() {
        await workers.dispose();
        await mcp.close();
      },
    };
  } catch (error) {
    await mcp.close();
    throw error;
  }
}

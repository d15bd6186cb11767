/**
 * A registry wrapper that turns "this MCP server is gone" from data into the end of the subtask. The registry
 * already returns the failed call to the model as data (`MCP server echo exited (code 3)`, visible in the
 * `tool.result` event), but a model cannot revive a dead server: left alone it would retry until its call bound
 * and then answer without the tool's facts. Rejecting with the server's SUBTASK_FAILED error instead makes the
 * worker stop, and the run reports that subtask as failed with the server's name.
 */
import type { ToolCallContext, ToolCallResult, ToolRegistryPort } from "../../types.js";
import { grants } from "../toolNames.js";
import type { McpServerConnection } from "./connectMcpServer.js";
import { serverExitedError } from "./McpServerError.js";

/** A registry port that may hand out narrower views (as ToolRegistry and the tool journal do). */
export interface ScopableRegistryPort extends ToolRegistryPort {
  scoped?(names: readonly string[]): ToolRegistryPort;
}

/**
 * Wraps `registry` so that a failed call of a tool whose MCP server has exited rejects with that server's
 * McpServerError (code SUBTASK_FAILED). Everything else passes through unchanged; views made with `scoped` are
 * wrapped too.
 *
 * @example
 * const tools = endSubtasksOnServerExit(registry, servers.connections);
 * createLocalWorkers({ workers, manager, tools });
 */
export function endSubtasksOnServerExit(
  registry: ScopableRegistryPort,
  servers: readonly McpServerConnection[],
): ScopableRegistryPort {
  if (servers.length === 0) return registry;
  const call = async (name: string, args: unknown, context: ToolCallContext): Promise<ToolCallResult> => {
    const result = await registry.call(name, args, context);
    if (result.ok) return result;
    const server = servers.find((candidate) => grants(candidate.name, name));
    const exit = server?.exit;
    if (server !== undefined && exit !== undefined) throw serverExitedError(server.name, exit);
    return result;
  };
  const { scoped } = registry;
  return {
    list: (names?: readonly string[]) => registry.list(names),
    call,
    ...(scoped === undefined
      ? {}
      : {
          scoped: (names: readonly string[]) =>
            endSubtasksOnServerExit(scoped.call(registry, names), servers),
        }),
  };
}

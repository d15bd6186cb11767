/**
 * A registry wrapper that turns "this MCP server is gone" from data into the end of the subtask. The registry
 * already returns the failed call to the model as data (`MCP server echo exited (code 3)`, visible in the
 * `tool.result` event), but a model cannot revive a dead server: left alone it would retry until its call bound
 * and then answer without the tool's facts. Rejecting with the server's SUBTASK_FAILED error instead makes the
 * worker stop, and the run reports that subtask as failed with the server's name.
 *
 * It also guards the grants, as workers take their views at start-up: a grant naming a tool the server lists but
 * edgecrew skipped (e.g. one that requires task-based execution) fails there with the reason, instead of the
 * registry's bare "no tool is registered".
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import type { ToolCallContext, ToolCallResult, ToolRegistryPort } from "../../types.js";
import { grants } from "../toolNames.js";
import type { McpServerConnection } from "./connectMcpServer.js";
import { subtaskEndedByServerExit } from "./McpServerError.js";

/** A registry port that may hand out narrower views (as ToolRegistry and the tool journal do). */
export interface ScopableRegistryPort extends ToolRegistryPort {
  scoped?(names: readonly string[]): ToolRegistryPort;
}

/** Throws TOOL_NOT_FOUND, with the reason, for a grant that names a tool its server lists but edgecrew skipped. */
function refuseSkippedGrants(names: readonly string[], servers: readonly McpServerConnection[]): void {
  for (const name of names) {
    for (const server of servers) {
      const skip = server.skipped.find((candidate) => `${server.name}.${candidate.tool}` === name);
      if (skip === undefined) continue;
      throw new EdgecrewError(
        ErrorCodes.TOOL_NOT_FOUND,
        `\`${name}\` is granted, but the MCP server ${server.name} lists \`${skip.tool}\` and edgecrew skipped it: ${skip.reason}`,
        { context: { tool: name, server: server.name, reason: skip.reason } },
      );
    }
  }
}

/**
 * Wraps `registry` so that a failed call of a tool whose MCP server has exited rejects with that server's
 * McpServerError (code SUBTASK_FAILED, its cause the server's MCP_SERVER_FAILED error). Everything else passes
 * through unchanged; views made with `scoped` are wrapped too, after their grants are checked against the tools
 * each server had skipped.
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
    if (server !== undefined && exit !== undefined) throw subtaskEndedByServerExit(server.name, exit);
    return result;
  };
  const { scoped } = registry;
  return {
    list: (names?: readonly string[]) => registry.list(names),
    call,
    ...(scoped === undefined
      ? {}
      : {
          scoped: (names: readonly string[]) => {
            refuseSkippedGrants(names, servers);
            return endSubtasksOnServerExit(scoped.call(registry, names), servers);
          },
        }),
  };
}

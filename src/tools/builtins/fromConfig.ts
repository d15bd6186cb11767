/**
 * From an agent's `tools:` entries to runnable tools. A built-in may expose a family of tools under its config
 * name (`fs` → `fs.read`, `fs.list`, `fs.write`), which is why these factories return arrays, and why granting
 * a worker `fs` grants the whole family (see toolNames.ts).
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import type { BuiltinToolConfig } from "../../types.js";
import type { Tool } from "../defineTool.js";
import { ToolRegistry, type ToolRegistryOptions } from "../ToolRegistry.js";
import { createCalculatorTool } from "./calculator.js";
import { createFsTools } from "./fs.js";
import { createHttpTools } from "./http.js";
import {
  calculatorToolOptionsSchema,
  fsToolOptionsSchema,
  httpToolOptionsSchema,
  parseToolOptions,
  shellToolOptionsSchema,
} from "./options.js";
import { createShellTools } from "./shell.js";

/**
 * The tools one built-in entry enables, named `<config name>` or `<config name>.<verb>`. Options are checked
 * again (the entry may come from code rather than YAML) and TOOL_INVALID lists every problem.
 *
 * | config       | tools                                                             |
 * |--------------|-------------------------------------------------------------------|
 * | `calculator` | `calculator`                                                      |
 * | `fs`         | `fs.read`, `fs.list`, and `fs.write` when `write: true`           |
 * | `http`       | `http.get` when GET is allowed, `http.request` for other methods  |
 * | `shell`      | `shell.run`                                                       |
 *
 * Every entry also takes `approve: true`, which marks each tool of its family as needing a human's approval.
 *
 * @example
 * createBuiltinTool({ kind: "builtin", name: "fs", options: { root: "/data", write: false } });
 * // → [fs.read, fs.list]
 */
export function createBuiltinTool(config: BuiltinToolConfig): Tool[] {
  const { options } = config;
  switch (config.name) {
    case "calculator":
      return [
        createCalculatorTool(parseToolOptions("calculator", calculatorToolOptionsSchema, options ?? {})),
      ];
    case "fs":
      return createFsTools(parseToolOptions("fs", fsToolOptionsSchema, options));
    case "http":
      return createHttpTools(parseToolOptions("http", httpToolOptionsSchema, options));
    case "shell":
      return createShellTools(parseToolOptions("shell", shellToolOptionsSchema, options));
    default: {
      const name: string = (config as { name: string }).name;
      throw new EdgecrewError(ErrorCodes.TOOL_NOT_FOUND, `unknown built-in tool \`${name}\``, {
        context: { tool: name },
      });
    }
  }
}

/**
 * A registry holding the built-ins of an agent's `tools:` list plus any extra tools (user-defined, LangChain
 * adapters). Duplicate names throw TOOL_INVALID.
 *
 * @example
 * const registry = createRegistryFromConfig(agent.tools, { onApproval, tools: [weather] });
 * const forWorker = registry.scoped(agent.workers[0].tools); // e.g. ["fs", "calculator"]
 */
export function createRegistryFromConfig(
  configs: readonly BuiltinToolConfig[],
  options: ToolRegistryOptions & { readonly tools?: readonly Tool[] } = {},
): ToolRegistry {
  const { tools = [], ...registryOptions } = options;
  const registry = new ToolRegistry(registryOptions);
  for (const config of configs) {
    for (const tool of createBuiltinTool(config)) registry.register(tool);
  }
  for (const tool of tools) registry.register(tool);
  return registry;
}

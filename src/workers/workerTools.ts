/**
 * The tools one worker may call, in the two forms a subtask needs: a registry view that runs only the granted
 * tools, and the chat functions offered to node-llama-cpp. The functions hold only granted tools, so the call
 * grammar node-llama-cpp builds from them (one alternative per function name, arguments from each `params`)
 * cannot produce a call to any other tool; the view refuses one anyway, as data, should a call get through.
 */
import type { ChatModelFunctions } from "node-llama-cpp";
import type { ToolCallContext, ToolCallResult, ToolRegistryPort, ToolSpec } from "../types.js";
import { type GrammarSchemaOptions, toGrammarSchema } from "./grammarSchema.js";

/** What a worker's subtasks use of the tool registry. */
export interface WorkerTools {
  /** Runs calls; anything not granted comes back as a `not-granted` result. */
  readonly registry: ToolRegistryPort;
  /** Specs of the granted tools, in registration order. */
  readonly specs: readonly ToolSpec[];
  /** The granted tools as node-llama-cpp chat functions (see {@link toolFunctions}). */
  readonly functions: ChatModelFunctions;
}

/** A registry that can hand out narrower views, as `ToolRegistry` and its scoped views can. */
interface ScopingRegistry extends ToolRegistryPort {
  scoped(names: readonly string[]): ToolRegistryPort;
}

function canScope(registry: ToolRegistryPort): registry is ScopingRegistry {
  return typeof (registry as Partial<ScopingRegistry>).scoped === "function";
}

/**
 * A view of `registry` limited to the tools `names` grant. A `ToolRegistry` makes its own (with its family
 * rule: `fs` grants `fs.read`, …); any other port gets a guard that refuses ungranted names before they reach
 * it. Unknown names throw TOOL_NOT_FOUND (from the registry's `list`), so a typo fails at start-up.
 */
export function grantedView(registry: ToolRegistryPort, names: readonly string[]): ToolRegistryPort {
  if (canScope(registry)) return registry.scoped(names);
  const specs = registry.list(names);
  const granted = new Set(specs.map((spec) => spec.name));
  return {
    list: (list?: readonly string[]) =>
      list === undefined ? specs : registry.list(list).filter((spec) => granted.has(spec.name)),
    call: (name: string, args: unknown, context: ToolCallContext): Promise<ToolCallResult> =>
      granted.has(name)
        ? registry.call(name, args, context)
        : Promise.resolve({
            ok: false,
            reason: "not-granted",
            error: `the tool \`${name}\` is not available to you; available tools: ${[...granted].join(", ") || "none"}`,
          }),
  };
}

/**
 * The chat functions for tool specs: each tool's description, and its input schema converted by
 * `toGrammarSchema` (the same adapter as answers: `anyOf` made `oneOf`, small integer ranges made enums,
 * strings bounded), so the arguments the model writes are grammar-shaped. What the grammar cannot express is
 * left to the registry's zod validation, whose errors go back to the model as the call's result. Throws
 * SCHEMA_INVALID for an input schema the adapter cannot honour.
 *
 * @example
 * toolFunctions(registry.scoped(["weather"]).list());
 * // → { weather: { description: "Current temperature…", params: { type: "object", properties: { city: … } } } }
 */
export function toolFunctions(
  specs: readonly ToolSpec[],
  options: GrammarSchemaOptions = {},
): ChatModelFunctions {
  const functions: Record<string, ChatModelFunctions[string]> = {};
  for (const spec of specs) {
    functions[spec.name] = {
      description: spec.description,
      params: toGrammarSchema(spec.input, options).schema,
    };
  }
  return functions;
}

/**
 * The granted view, specs and chat functions of a worker's tools; `undefined` when it is granted none.
 * Throws TOOL_NOT_FOUND for a grant no tool matches and SCHEMA_INVALID for an unusable input schema.
 */
export function workerTools(
  registry: ToolRegistryPort,
  granted: readonly string[],
  options: GrammarSchemaOptions = {},
): WorkerTools | undefined {
  if (granted.length === 0) return undefined;
  const view = grantedView(registry, granted);
  const specs = view.list();
  return { registry: view, specs, functions: toolFunctions(specs, options) };
}

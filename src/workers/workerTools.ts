/**
 * The tools one worker may call, in the forms a subtask needs: a registry view that runs only the granted
 * tools, the tools the turn grammar may call (only granted ones, so a call to any other tool cannot be
 * written; the view refuses one anyway, as data, should a call get through), and their documentation as
 * node-llama-cpp chat functions, which the model's chat template renders into the system message.
 */
import type { ChatModelFunctions, GbnfJsonSchema } from "node-llama-cpp";
import { normalizeSchema } from "../schema/normalize.js";
import type { ToolCallContext, ToolCallResult, ToolRegistryPort, ToolSpec } from "../types.js";
import type { CallableTool } from "./turnGrammar.js";

/** What a worker's subtasks use of the tool registry. */
export interface WorkerTools {
  /** Runs calls; anything not granted comes back as a `not-granted` result. */
  readonly registry: ToolRegistryPort;
  /** Specs of the granted tools, in registration order. */
  readonly specs: readonly ToolSpec[];
  /** The granted tools as the turn grammar calls them (name and input schema). */
  readonly callable: readonly CallableTool[];
  /** The granted tools' documentation as node-llama-cpp chat functions (see {@link toolFunctions}). */
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
 * The documentation of tools as node-llama-cpp chat functions: each tool's description and its input schema (in
 * the 2020-12 spelling), which the chat template renders for the model. Nothing here constrains generation: the
 * turn grammar does (turnGrammar.ts), from the same schemas.
 *
 * @example
 * toolFunctions(registry.scoped(["weather"]).list());
 * // → { weather: { description: "Current temperature…", params: { type: "object", properties: { city: … } } } }
 */
export function toolFunctions(
  specs: readonly { name: string; description: string; input: ToolSpec["input"] }[],
): ChatModelFunctions {
  const functions: Record<string, ChatModelFunctions[string]> = {};
  for (const spec of specs) {
    functions[spec.name] = {
      description: spec.description,
      // The chat templates document any JSON Schema; node-llama-cpp's type names only the subset it compiles.
      params: normalizeSchema(spec.input) as unknown as GbnfJsonSchema,
    };
  }
  return functions;
}

/**
 * The granted view, specs, callable tools and documentation of a worker's tools; `undefined` when it is granted
 * none. Throws TOOL_NOT_FOUND for a grant no tool matches.
 */
export function workerTools(registry: ToolRegistryPort, granted: readonly string[]): WorkerTools | undefined {
  if (granted.length === 0) return undefined;
  const view = grantedView(registry, granted);
  const specs = view.list();
  return {
    registry: view,
    specs,
    callable: specs.map((spec) => ({ name: spec.name, input: spec.input })),
    functions: toolFunctions(specs),
  };
}

/**
 * `--tools <module>` of `validate`, `run` and `resume`: tools defined in code, for agent files that grant them.
 * The module is an ES module whose default export, or else its `tools` export, is an array of tools: `defineTool`
 * results, `fromLangChainTool` results or LangChain tools as they are. It is imported, so it runs: it is code the
 * user chose on the command line, like the agent file itself.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { EdgecrewError, ErrorCodes, isEdgecrewError } from "../errors.js";
import { type AnyTool, type Tool, toTool } from "../tools/index.js";

const EXPECTED =
  "an ES module whose default export (or `tools` export) is an array of tools: defineTool() results or LangChain tools";

function usage(specifier: string, message: string, context: Record<string, unknown>, cause?: unknown) {
  return new EdgecrewError(ErrorCodes.USAGE, `--tools ${specifier}: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    context: { module: specifier, ...context },
  });
}

/**
 * Imports a `--tools` module (a path, relative to `cwd`) and returns its tools, LangChain ones adapted. Throws
 * USAGE for a module that is missing or fails to load and for a wrong export, TOOL_INVALID (naming the index)
 * for an entry that is not a tool; an edgecrew error the module throws while loading keeps its code.
 *
 * @example
 * // tools.mjs: export default [defineTool({ name: "lookup", ... })];
 * const tools = await loadToolsModule("tools.mjs", process.cwd());
 */
export async function loadToolsModule(specifier: string, cwd: string): Promise<Tool[]> {
  const path = resolve(cwd, specifier);
  const found = await stat(path).catch(() => undefined);
  if (found === undefined) throw usage(specifier, `module not found: ${path}`, { reason: "not-found", path });
  if (!found.isFile())
    throw usage(specifier, `${path} is not a file; ${EXPECTED}`, { reason: "not-a-file", path });
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (cause) {
    if (isEdgecrewError(cause)) {
      throw new EdgecrewError(cause.code, `--tools ${specifier}: ${cause.message}`, {
        cause,
        context: { ...cause.context, module: specifier },
      });
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw usage(specifier, `the module failed to load: ${reason}`, { reason: "load-failed", path }, cause);
  }
  const list = Array.isArray(exports.default) ? exports.default : exports.tools;
  if (!Array.isArray(list)) {
    const names = Object.keys(exports);
    throw usage(
      specifier,
      `expected ${EXPECTED}; it exports ${names.length === 0 ? "nothing" : names.map((n) => `\`${n}\``).join(", ")}`,
      { reason: "bad-export", exports: names },
    );
  }
  return list.map((entry: unknown, index) =>
    toTool(entry as AnyTool, `--tools ${specifier}: entry [${index}]`),
  );
}

/**
 * Tool modules in the CLI. `--tools <module>` of `validate`, `run` and `resume`: tools defined in code, for agent
 * files that grant them. The module is an ES module whose default export, or else its `tools` export, is an array
 * of tools: `defineTool` results, `fromLangChainTool` results or LangChain tools as they are. And the check
 * `validate` runs on an agent's `- langchain:` entries. Both import their modules with the tools layer's one
 * loader (tools/langchainModule.ts), so they run: they are code the user chose, like the agent file itself.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { formatIssuePath, type PathSegment } from "../config/issues.js";
import { offsetOfPath } from "../config/yamlPositions.js";
import { type DefinitionIssue, EdgecrewError, ErrorCodes, isEdgecrewError } from "../errors.js";
import { didYouMean } from "../suggest.js";
import { type AnyTool, type Tool, toTool } from "../tools/index.js";
import { importToolModule, langChainToolEntries, loadLangChainTool } from "../tools/langchainModule.js";
import type { AgentDefinition } from "../types.js";

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
  const imported = await importToolModule(resolve(cwd, specifier));
  if (!imported.ok) {
    const { path } = imported;
    if (imported.reason === "not-found")
      throw usage(specifier, `module not found: ${path}`, { reason: "not-found", path });
    if (imported.reason === "not-a-file")
      throw usage(specifier, `${path} is not a file; ${EXPECTED}`, { reason: "not-a-file", path });
    const { cause } = imported;
    if (isEdgecrewError(cause)) {
      throw new EdgecrewError(cause.code, `--tools ${specifier}: ${cause.message}`, {
        cause,
        context: { ...cause.context, module: specifier },
      });
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw usage(specifier, `the module failed to load: ${reason}`, { reason: "load-failed", path }, cause);
  }
  const { exports } = imported;
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

/** What {@link checkLangChainTools} found: the tools it loaded and the problems, each at its line:col. */
export interface LangChainToolsCheck {
  readonly tools: Tool[];
  readonly issues: DefinitionIssue[];
}

/**
 * The `validate` check of an agent's `- langchain:` entries: each module is imported, its export must exist and
 * be a LangChain tool or a factory of one, and, since a tool without `name:` is only known by its own name now,
 * every worker grant must match some tool (the parse-time check leaves such grants open). Problems come back as
 * issues at the entry's key (`tools[2].langchain.export`) or the grant, in `file` (the agent YAML, re-read for
 * positions). `provided` names the tools given in code (`--tools`).
 */
export async function checkLangChainTools(
  agent: AgentDefinition,
  file: string,
  provided: readonly string[],
): Promise<LangChainToolsCheck> {
  const entries = langChainToolEntries(agent.tools);
  if (entries.length === 0) return { tools: [], issues: [] };
  const tools: Tool[] = [];
  const problems: { path: PathSegment[]; message: string }[] = [];
  for (const { index, config } of entries) {
    try {
      tools.push(await loadLangChainTool(config, `${file}: tools[${index}]`));
    } catch (error) {
      if (!isEdgecrewError(error) || error.code !== ErrorCodes.TOOL_INVALID) throw error;
      const field = typeof error.context.field === "string" ? error.context.field : "module";
      const detail = typeof error.context.detail === "string" ? error.context.detail : error.message;
      problems.push({
        path: ["tools", index, "langchain", field],
        message: `${config.module}, export \`${config.export}\`: ${detail}`,
      });
    }
  }
  // Grants are only checkable when every module loaded: a failed one may be the tool a grant names.
  if (problems.length === 0 && entries.some(({ config }) => config.name === undefined)) {
    problems.push(...checkGrants(agent, tools, provided));
  }
  if (problems.length === 0) return { tools, issues: [] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(await readFile(file, "utf8"), { lineCounter, merge: true });
  const issues = problems.map((problem) => {
    const { line, col } = lineCounter.linePos(offsetOfPath(doc, problem.path, "value"));
    return { file, line, col, path: formatIssuePath(problem.path), message: problem.message };
  });
  return { tools, issues };
}

function checkGrants(
  agent: AgentDefinition,
  loaded: readonly Tool[],
  provided: readonly string[],
): { path: PathSegment[]; message: string }[] {
  const declared = new Set<string>();
  const servers = new Set<string>();
  for (const config of agent.tools) {
    if (config.kind === "builtin") declared.add(config.name);
    else if (config.kind === "mcp") {
      declared.add(config.name);
      servers.add(config.name);
    }
  }
  for (const name of [...loaded.map((tool) => tool.spec.name), ...provided]) {
    declared.add(name);
    const dot = name.indexOf(".");
    if (dot > 0) declared.add(name.slice(0, dot));
  }
  return agent.workers.flatMap((worker, index) =>
    worker.tools.flatMap((tool, position) => {
      const dot = tool.indexOf(".");
      if (declared.has(tool) || (dot > 0 && servers.has(tool.slice(0, dot)))) return [];
      return [
        {
          path: ["workers", index, "tools", position],
          message: `unknown tool \`${tool}\`${didYouMean(tool, [...declared])} (declared tools: ${[...declared].join(", ")})`,
        },
      ];
    }),
  );
}

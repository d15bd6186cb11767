/**
 * Agent definitions from YAML: parse with positions, validate, and report every problem of the file at once,
 * each as `file:line:col: path: message`. YAML syntax errors stop there (a broken tree would only produce
 * misleading follow-up errors); duplicate keys do not, as the rest of the file is still meaningful.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type Document, isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { AgentDefinitionError, type DefinitionIssue } from "../errors.js";
import { type ProvidedTool, toolNames } from "../tools/fromLangChainTool.js";
import type { AgentDefinition } from "../types.js";
import { validateAgentValue } from "./defineAgent.js";
import { formatIssuePath, type PathSegment } from "./issues.js";
import { offsetOfPath, pathOfKeyAt } from "./yamlPositions.js";

/** Options of {@link parseAgent}. */
export interface ParseAgentOptions {
  /** The file the text came from: named in every issue, recorded as `source`, and the default `baseDir`. */
  readonly file?: string;
  /** Directory relative paths resolve against; default: the file's directory, else the working directory. */
  readonly baseDir?: string;
  /**
   * Tools supplied in code (what createCrew's `tools` will get: `defineTool` results, LangChain tools) or their
   * names; workers may grant them without declaring them under `tools:`.
   */
  readonly tools?: readonly ProvidedTool[];
}

const AGENT_KEYS_HINT = "name, description, planner and workers";

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

function byPosition(a: DefinitionIssue, b: DefinitionIssue): number {
  return (
    (a.line ?? Number.POSITIVE_INFINITY) - (b.line ?? Number.POSITIVE_INFINITY) || (a.col ?? 0) - (b.col ?? 0)
  );
}

function describeNode(node: unknown): string {
  if (isSeq(node)) return "a list";
  return "a single value";
}

/**
 * Parses and validates the text of an agent YAML file. Throws one AgentDefinitionError listing every problem,
 * each with the file (when given), the 1-based line:col of the offending node and its dotted path.
 *
 * @example
 * const agent = parseAgent(await readFile("agents/trip.yaml", "utf8"), { file: "agents/trip.yaml" });
 */
export function parseAgent(text: string, options: ParseAgentOptions = {}): AgentDefinition {
  const { file } = options;
  const source = file === undefined ? undefined : resolve(file);
  const baseDir = resolve(options.baseDir ?? (source === undefined ? process.cwd() : dirname(source)));
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });

  const at = (offset: number, path: readonly PathSegment[], message: string): DefinitionIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { ...(file === undefined ? {} : { file }), line, col, path: formatIssuePath(path), message };
  };
  const fail = (issues: readonly DefinitionIssue[]): never => {
    throw new AgentDefinitionError([...issues].sort(byPosition), file === undefined ? {} : { file });
  };

  const yamlIssues = doc.errors.map((error) => {
    const offset = error.pos[0];
    const path = error.code === "DUPLICATE_KEY" ? (pathOfKeyAt(doc, offset) ?? []) : [];
    const message =
      error.code === "DUPLICATE_KEY"
        ? `duplicate key \`${String(path.at(-1) ?? "")}\`: a key may appear only once in a mapping`
        : firstLine(error.message);
    return at(offset, path, message);
  });
  if (doc.errors.some((error) => error.code !== "DUPLICATE_KEY")) fail(yamlIssues);
  if (doc.contents === null) {
    fail([at(0, [], `the file is empty; an agent needs at least ${AGENT_KEYS_HINT}`)]);
  }
  if (!isMap(doc.contents)) {
    const start = doc.contents?.range?.[0] ?? 0;
    fail([
      at(
        start,
        [],
        `an agent file must be a mapping with keys like ${AGENT_KEYS_HINT}, got ${describeNode(doc.contents)}`,
      ),
    ]);
  }

  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    fail([at(0, [], `the YAML cannot be read: ${error instanceof Error ? error.message : String(error)}`)]);
  }
  const result = validateAgentValue(value, {
    baseDir,
    ...(source === undefined ? {} : { source }),
    ...(options.tools === undefined ? {} : { providedTools: toolNames(options.tools) }),
  });
  if (result.ok && yamlIssues.length === 0) return result.agent;
  const issues = result.ok ? [] : result.issues;
  return fail([
    ...yamlIssues,
    ...issues.map((issue) =>
      at(offsetOfPath(doc as Document, issue.path, issue.at), issue.path, issue.message),
    ),
  ]);
}

/** A check of a local model file, injected by callers that may inspect GGUF headers (the config layer may not). */
export type ModelFileCheck = (path: string) => Promise<string | undefined>;

/** Options of {@link loadAgent}. */
export interface LoadAgentOptions {
  /**
   * Also checks every local model file the agent names (planner and workers); a returned message becomes an
   * issue at that model's line:col. `edgecrew validate` passes a GGUF header check here.
   */
  readonly checkModelFile?: ModelFileCheck;
  /**
   * The tools the agent will be given in code (createCrew's `tools`), or their names. A worker's `tools:` may
   * grant them although the file does not declare them (it cannot: they are code); without this option such a
   * grant is an "unknown tool" issue. `defineTool` results, LangChain tools and names may be mixed. The CLI's
   * `--tools <module>` passes the tools of a module here.
   */
  readonly tools?: readonly ProvidedTool[];
}

/** Runs the model-file check over every `file` model of a definition and locates each problem in the YAML. */
async function checkModelFiles(
  agent: AgentDefinition,
  text: string,
  file: string,
  check: ModelFileCheck,
): Promise<DefinitionIssue[]> {
  const targets: { path: PathSegment[]; model: AgentDefinition["planner"]["model"] }[] = [
    { path: ["planner", "model"], model: agent.planner.model },
    ...agent.workers.map((w, i) => ({ path: ["workers", i, "model"] as PathSegment[], model: w.model })),
    ...agent.workers.flatMap((w, i) =>
      w.toolSearch?.model === undefined
        ? []
        : [{ path: ["workers", i, "toolSearch", "model"] as PathSegment[], model: w.toolSearch.model }],
    ),
  ];
  const seen = new Map<string, Promise<string | undefined>>();
  const problems = await Promise.all(
    targets.map(async (target) => {
      if (target.model.kind !== "file") return undefined;
      const modelPath = target.model.path;
      // A fleet's worker models are the devices' business: only one that is here is checked.
      if (agent.fleet !== undefined && target.path[0] === "workers" && !existsSync(modelPath))
        return undefined;
      let pending = seen.get(modelPath);
      if (pending === undefined) {
        pending = check(modelPath);
        seen.set(modelPath, pending);
      }
      const message = await pending;
      return message === undefined ? undefined : { path: target.path, message };
    }),
  );
  const found = problems.filter((p) => p !== undefined);
  if (found.length === 0) return [];
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true });
  return found.map((p) => {
    const { line, col } = lineCounter.linePos(offsetOfPath(doc, p.path, "value"));
    return { file, line, col, path: formatIssuePath(p.path), message: p.message };
  });
}

/**
 * Reads, parses and validates an agent YAML file. Relative model and tool paths in it resolve against the
 * file's directory, and the definition's `source` is the file's absolute path. Throws one AgentDefinitionError
 * listing every problem (a missing file is one issue, "file not found").
 *
 * A worker may grant a tool defined in code (`tools: [lookup]`) when `options.tools` names it: pass the same
 * tools you will give `createCrew`.
 *
 * @example
 * const agent = await loadAgent("agents/trip-planner.yaml");
 * console.log(agent.workers.map((w) => w.name));
 *
 * @example
 * const lookup = defineTool({ name: "lookup", description: "Looks a word up", input: z.object({ word: z.string() }),
 *   run: async ({ word }) => ({ word, found: true }) });
 * const agent = await loadAgent("agents/glossary.yaml", { tools: [lookup] });
 * await using crew = await createCrew(agent, { tools: [lookup] });
 */
export async function loadAgent(path: string, options: LoadAgentOptions = {}): Promise<AgentDefinition> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = error instanceof Error && "code" in error ? error.code : undefined;
    const message =
      code === "ENOENT"
        ? `file not found: ${resolve(path)}`
        : code === "EISDIR"
          ? `${resolve(path)} is a directory, not an agent YAML file`
          : `cannot read the file: ${error instanceof Error ? error.message : String(error)}`;
    throw new AgentDefinitionError([{ file: path, path: "", message }], { file: path, cause: error });
  }
  const agent = parseAgent(text, {
    file: path,
    ...(options.tools === undefined ? {} : { tools: options.tools }),
  });
  if (options.checkModelFile === undefined) return agent;
  const issues = await checkModelFiles(agent, text, path, options.checkModelFile);
  if (issues.length > 0) throw new AgentDefinitionError(issues, { file: path });
  return agent;
}

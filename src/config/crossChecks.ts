/**
 * Checks that relate one part of an agent definition to another, or to the file system: unique worker names,
 * tools declared before use (and only once), local model files that exist, token budgets that fit the context,
 * answers that can close within their token budget, timeouts that nest. They run on the raw, unvalidated value, each one skipping whatever is malformed (the
 * schema reports that), so that one broken key never hides the other problems of a file.
 */
import { statSync } from "node:fs";
import { ErrorCodes, isEdgecrewError } from "../errors.js";
import { compileGrammar } from "../schema/grammar/index.js";
import { didYouMean } from "../suggest.js";
import { resolveToolModule } from "../tools/langchainModule.js";
import type { JsonSchema } from "../types.js";
import { DEFAULT_LIMITS, DEFAULT_WORKER_SETTINGS } from "./defaults.js";
import { type PathSegment, type RawIssue, valueIssue } from "./issues.js";
import { parseModelRef } from "./modelRef.js";
import { resolveDefinitionPath } from "./paths.js";
import { checkSecretValues } from "./secretChecks.js";
import { BUILTIN_TOOLS, langchainOptionsOf, mcpNameOf, toolNameOf } from "./toolSchema.js";

type Mapping = Readonly<Record<string, unknown>>;

function asMapping(value: unknown): Mapping | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Mapping)
    : undefined;
}

function asList(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0;
}

/**
 * Runs every cross-field check on an unvalidated agent definition and returns the problems found. `baseDir`
 * is where relative model paths resolve (the YAML file's directory); `providedTools` names tools supplied in
 * code, which workers may grant without a YAML declaration.
 */
export function crossCheckAgent(
  raw: unknown,
  baseDir: string,
  providedTools: readonly string[] = [],
): RawIssue[] {
  const agent = asMapping(raw);
  if (agent === undefined) return [];
  const workers = asList(agent.workers);
  const declared = checkToolDeclarations(asList(agent.tools));
  const unnamed = unnamedLangChainTools(asList(agent.tools));
  // Tools supplied in code (createCrew's `tools`) count as declared; a grant covers a whole `name.*` family.
  for (const name of providedTools) {
    declared.names.add(name);
    const dot = name.indexOf(".");
    if (dot > 0) declared.names.add(name.slice(0, dot));
  }
  return [
    ...declared.issues,
    ...checkWorkerNames(workers),
    ...workers.flatMap((worker, index) =>
      checkWorker(asMapping(worker), index, declared.names, declared.servers, unnamed),
    ),
    ...asList(agent.tools).flatMap((entry, index) => checkToolModule(entry, index, baseDir)),
    ...checkModelFile(asMapping(agent.planner)?.model, ["planner", "model"], baseDir),
    // In a fleet, workers' models and adapters live on the devices (each checks its own when it starts).
    ...(asMapping(agent.fleet) === undefined
      ? [
          ...workers.flatMap((worker, index) =>
            checkModelFile(asMapping(worker)?.model, ["workers", index, "model"], baseDir),
          ),
          ...workers.flatMap((worker, index) => checkLoraFiles(asMapping(worker)?.lora, index, baseDir)),
          ...workers.flatMap((worker, index) =>
            checkModelFile(
              asMapping(asMapping(worker)?.toolSearch)?.model,
              ["workers", index, "toolSearch", "model"],
              baseDir,
            ),
          ),
        ]
      : []),
    ...checkTimeouts(asMapping(agent.limits)),
    // Secret values too short to redact (read from the environment, like model files from the disk).
    ...checkSecretValues(agent.secrets),
  ];
}

function checkToolDeclarations(tools: readonly unknown[]): {
  names: Set<string>;
  servers: Set<string>;
  issues: RawIssue[];
} {
  const firstAt = new Map<string, number>();
  const servers = new Set<string>();
  const issues: RawIssue[] = [];
  tools.forEach((entry, index) => {
    const name = toolNameOf(entry);
    if (name === undefined) return;
    const server = mcpNameOf(entry);
    if (server !== undefined) servers.add(server);
    const first = firstAt.get(name);
    if (first === undefined) firstAt.set(name, index);
    else if (server !== undefined)
      // Pointed at the name, since that is what clashes: the name is the namespace of the server's tools.
      issues.push(
        valueIssue(
          ["tools", index, "mcp", "name"],
          `the name \`${name}\` is already used by tools[${first}]; each MCP server needs its own name`,
        ),
      );
    else
      issues.push(
        valueIssue(["tools", index], `the ${name} tool is declared twice (first at tools[${first}])`),
      );
  });
  return { names: new Set(firstAt.keys()), servers, issues };
}

/**
 * The indexes of `langchain:` entries without a `name`: their tools' names are only known once their modules are
 * imported (at crew start, or by `edgecrew validate`), so a grant no other tool matches may be one of them.
 */
function unnamedLangChainTools(tools: readonly unknown[]): number[] {
  return tools.flatMap((entry, index) => {
    const options = langchainOptionsOf(entry);
    return options !== undefined && options.name === undefined ? [index] : [];
  });
}

/** A `langchain:` entry's module resolves (a path from `baseDir`, a package with Node's resolution from there). */
function checkToolModule(entry: unknown, index: number, baseDir: string): RawIssue[] {
  const module = langchainOptionsOf(entry)?.module;
  if (typeof module !== "string" || module === "") return []; // reported by the schema
  const resolved = resolveToolModule(module, baseDir);
  return resolved.ok ? [] : [valueIssue(["tools", index, "langchain", "module"], resolved.message)];
}

function checkWorkerNames(workers: readonly unknown[]): RawIssue[] {
  const firstAt = new Map<string, number>();
  const issues: RawIssue[] = [];
  workers.forEach((worker, index) => {
    const name = asMapping(worker)?.name;
    if (typeof name !== "string") return;
    const first = firstAt.get(name);
    if (first === undefined) firstAt.set(name, index);
    else {
      issues.push(
        valueIssue(
          ["workers", index, "name"],
          `duplicate worker name \`${name}\` (first used by workers[${first}])`,
        ),
      );
    }
  });
  return issues;
}

function checkWorker(
  worker: Mapping | undefined,
  index: number,
  declared: ReadonlySet<string>,
  servers: ReadonlySet<string>,
  unnamed: readonly number[],
): RawIssue[] {
  if (worker === undefined) return [];
  const issues: RawIssue[] = [];
  const seen = new Set<string>();
  asList(worker.tools).forEach((tool, position) => {
    if (typeof tool !== "string" || tool === "") return;
    const path: PathSegment[] = ["workers", index, "tools", position];
    if (seen.has(tool)) issues.push(valueIssue(path, `the tool \`${tool}\` is listed twice`));
    seen.add(tool);
    if (declared.has(tool)) return;
    // `server.tool` grants one tool of an MCP server; which tools it has is only known once it runs.
    const dot = tool.indexOf(".");
    if (dot > 0 && servers.has(tool.slice(0, dot))) return;
    if (BUILTIN_TOOLS.some((builtin) => builtin === tool)) {
      issues.push(
        valueIssue(
          path,
          `the tool \`${tool}\` is not declared under top-level \`tools\`; declare it there to enable it`,
        ),
      );
      return;
    }
    // Possibly the own name of a `langchain:` tool without `name:`; checked once its module is imported.
    if (unnamed.length > 0) return;
    const known = declared.size > 0 ? [...declared].join(", ") : "none";
    issues.push(
      valueIssue(
        path,
        `unknown tool \`${tool}\`${didYouMean(tool, [...declared, ...BUILTIN_TOOLS])} (declared tools: ${known})`,
      ),
    );
  });
  if (worker.toolSearch !== undefined && asList(worker.tools).length === 0) {
    issues.push(
      valueIssue(
        ["workers", index, "toolSearch"],
        "toolSearch chooses among the worker's tools, but it is granted none; grant tools or remove toolSearch",
      ),
    );
  }
  if (worker.toolChoice === "required" && worker.maxToolCalls === 0) {
    issues.push(
      valueIssue(["workers", index, "maxToolCalls"], "toolChoice: required needs maxToolCalls of at least 1"),
    );
  }
  const size = asMapping(worker.context)?.size ?? DEFAULT_WORKER_SETTINGS.contextSize;
  const maxTokens = worker.maxTokens ?? DEFAULT_WORKER_SETTINGS.maxTokens;
  issues.push(...checkOutputBudget(asMapping(worker.output), maxTokens, index));
  if (isCount(size) && isCount(maxTokens) && maxTokens >= size) {
    const given = worker.maxTokens === undefined ? " (the default)" : "";
    issues.push(
      valueIssue(
        ["workers", index, "maxTokens"],
        `maxTokens ${maxTokens}${given} must be smaller than the context size ${size}, which also holds the prompt`,
      ),
    );
  }
  return issues;
}

/**
 * A worker's answer must be able to close within its `maxTokens`: the grammar compiler fits open lengths to
 * the budget, and refuses a schema whose shortest possible answer is longer (TOKEN_BUDGET_EXCEEDED) or that
 * no value satisfies. A schema the validator cannot compile is reported by the schema check itself.
 */
function checkOutputBudget(output: Mapping | undefined, maxTokens: unknown, index: number): RawIssue[] {
  if (output === undefined || !isCount(maxTokens)) return [];
  try {
    compileGrammar(output as JsonSchema, { maxTokens });
    return [];
  } catch (error) {
    if (isEdgecrewError(error) && error.code === ErrorCodes.TOKEN_BUDGET_EXCEEDED) {
      return [valueIssue(["workers", index, "maxTokens"], error.message)];
    }
    const message = error instanceof Error ? error.message : String(error);
    return [
      valueIssue(
        ["workers", index, "output"],
        isEdgecrewError(error) ? message : `the grammar compiler failed: ${message}`,
      ),
    ];
  }
}

function checkModelFile(model: unknown, path: readonly PathSegment[], baseDir: string): RawIssue[] {
  if (typeof model !== "string") return [];
  let file: string;
  try {
    const ref = parseModelRef(model, { baseDir });
    // Only plain files can be checked offline: hf: refs download later, fixture: refs are generated.
    if (ref.kind !== "file") return [];
    file = ref.path;
  } catch {
    return []; // a malformed reference is reported by the schema
  }
  try {
    if (statSync(file).isFile()) return [];
    return [valueIssue(path, `model path is not a file (${ErrorCodes.MODEL_NOT_FOUND}): ${file}`)];
  } catch {
    return [
      valueIssue(
        path,
        `model file not found (${ErrorCodes.MODEL_NOT_FOUND}): ${file} (relative paths resolve against ${baseDir}; download the GGUF there or use an hf: reference)`,
      ),
    ];
  }
}

/** A worker's LoRA adapter files exist (their headers are checked by `validate` and before loading). */
function checkLoraFiles(lora: unknown, worker: number, baseDir: string): RawIssue[] {
  if (!Array.isArray(lora)) return [];
  return lora.flatMap((adapter: unknown, index) => {
    const path = asMapping(adapter)?.path;
    if (typeof path !== "string" || path === "") return []; // reported by the schema
    const file = resolveDefinitionPath(path, baseDir);
    const at: PathSegment[] = ["workers", worker, "lora", index, "path"];
    try {
      if (statSync(file).isFile()) return [];
      return [valueIssue(at, `LoRA adapter path is not a file (${ErrorCodes.MODEL_NOT_FOUND}): ${file}`)];
    } catch {
      return [
        valueIssue(
          at,
          `LoRA adapter file not found (${ErrorCodes.MODEL_NOT_FOUND}): ${file} (relative paths resolve against ${baseDir})`,
        ),
      ];
    }
  });
}

function checkTimeouts(limits: Mapping | undefined): RawIssue[] {
  const total = limits?.timeoutSeconds ?? DEFAULT_LIMITS.timeoutSeconds;
  const each = limits?.subtaskTimeoutSeconds ?? DEFAULT_LIMITS.subtaskTimeoutSeconds;
  if (!isCount(total) || !isCount(each) || each <= total) return [];
  const given = limits?.subtaskTimeoutSeconds === undefined ? " (the default)" : "";
  return [
    valueIssue(
      ["limits", "subtaskTimeoutSeconds"],
      `subtaskTimeoutSeconds ${each}${given} is longer than the whole run's timeoutSeconds ${total}`,
    ),
  ];
}

/**
 * The last step of loading an agent: a schema-valid, cross-checked input becomes the {@link AgentDefinition}
 * the rest of edgecrew consumes. The return type is the shared contract, so the compiler keeps the YAML shape
 * and the domain type in step: a key added to one and not mapped here fails the build.
 */
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { resolveToolModule } from "../tools/langchainModule.js";
import type {
  AgentDefinition,
  DeviceConfig,
  JsonObject,
  JsonSchema,
  LocalModelRef,
  ModelRef,
  PlannerConfig,
  ToolConfig,
  WorkerDefinition,
} from "../types.js";
import type { ValidatedAgentInput } from "./agentSchema.js";
import { parseMemorySize } from "./memory.js";
import { isLocalModelRef, parseModelRef } from "./modelRef.js";
import { resolveDefinitionPath } from "./paths.js";
import type { ToolEntry } from "./toolSchema.js";

/** Where the definition came from: the directory relative paths resolve against, and the file, if any. */
export interface BuildContext {
  readonly baseDir: string;
  readonly source?: string;
}

// Validation has already accepted everything below, so a failure here is a bug in edgecrew, not in the YAML.
function bug(message: string): EdgecrewError {
  return new EdgecrewError(ErrorCodes.INTERNAL, `agent definition: ${message} after validation`);
}

function localRef(raw: string, baseDir: string): LocalModelRef {
  const ref: ModelRef = parseModelRef(raw, { baseDir });
  if (!isLocalModelRef(ref)) throw bug(`remote worker model "${raw}"`);
  return ref;
}

function toPlanner(planner: ValidatedAgentInput["planner"], baseDir: string): PlannerConfig {
  return {
    model: parseModelRef(planner.model, { baseDir }),
    ...(planner.temperature !== undefined ? { temperature: planner.temperature } : {}),
    ...(planner.maxTokens !== undefined ? { maxTokens: planner.maxTokens } : {}),
    ...(planner.contextSize !== undefined ? { contextSize: planner.contextSize } : {}),
  };
}

function toWorker(worker: ValidatedAgentInput["workers"][number], baseDir: string): WorkerDefinition {
  return {
    name: worker.name,
    description: worker.description,
    model: localRef(worker.model, baseDir),
    ...(worker.system !== undefined ? { system: worker.system } : {}),
    tools: [...worker.tools],
    // `auto` is what an absent key means, so it is left out: definitions written in code stay equal to loaded ones.
    ...(worker.toolChoice === "required" ? { toolChoice: worker.toolChoice } : {}),
    ...(worker.maxToolCalls !== undefined ? { maxToolCalls: worker.maxToolCalls } : {}),
    ...(worker.toolSearch !== undefined
      ? {
          toolSearch: {
            k: worker.toolSearch.k,
            ...(worker.toolSearch.model === undefined
              ? {}
              : { model: localRef(worker.toolSearch.model, baseDir) }),
          },
        }
      : {}),
    // The schema checked that this is plain JSON with `type: object`.
    output: worker.output as JsonSchema,
    contextSize: worker.context.size,
    maxTokens: worker.maxTokens,
    temperature: worker.temperature,
    parallel: worker.parallel,
    ...(worker.lora !== undefined && worker.lora.length > 0
      ? {
          lora: worker.lora.map((adapter) => ({
            path: resolveDefinitionPath(adapter.path, baseDir),
            scale: adapter.scale,
          })),
        }
      : {}),
    ...(worker.private !== undefined ? { private: worker.private } : {}),
  };
}

/** The fs tool's root (resolved), which MCP servers without `roots:` are offered as their root. */
function fsRootOf(entries: readonly ToolEntry[], baseDir: string): string | undefined {
  for (const entry of entries) {
    if (typeof entry !== "string" && entry.fs !== undefined)
      return resolveDefinitionPath(entry.fs.root, baseDir);
  }
  return undefined;
}

/**
 * A tool entry's `private: true` moves from its options onto the tool config (the tools layer never sees it:
 * the built-ins check their options strictly); the privacy layer reads it there.
 */
function withPrivacy(config: ToolConfig, entry: ToolEntry): ToolConfig {
  if (typeof entry === "string") return config;
  const options = Object.values(entry).find((value) => value !== null && typeof value === "object") as
    | { private?: boolean }
    | undefined;
  if (config.kind === "builtin" && "private" in config.options) {
    const { private: _dropped, ...rest } = config.options;
    config = { ...config, options: rest };
  } else if (config.kind !== "builtin" && "private" in config) {
    const { private: _dropped, ...rest } = config;
    config = rest;
  }
  return options?.private === true ? { ...config, private: true } : config;
}

function toTool(entry: ToolEntry, baseDir: string, fsRoot: string | undefined): ToolConfig {
  if (typeof entry === "string") return { kind: "builtin", name: entry, options: {} };
  if (entry.fs !== undefined) {
    return {
      kind: "builtin",
      name: "fs",
      options: { ...entry.fs, root: resolveDefinitionPath(entry.fs.root, baseDir) },
    };
  }
  if (entry.http !== undefined) return { kind: "builtin", name: "http", options: { ...entry.http } };
  if (entry.shell !== undefined) {
    const { root, readable } = entry.shell;
    return {
      kind: "builtin",
      name: "shell",
      options: {
        ...entry.shell,
        ...(root === undefined ? {} : { root: resolveDefinitionPath(root, baseDir) }),
        ...(readable === undefined
          ? {}
          : { readable: readable.map((path) => resolveDefinitionPath(path, baseDir)) }),
      },
    };
  }
  if (entry.mcp !== undefined) {
    const { name, command, args, env, cwd, timeoutMs, startTimeoutSeconds, roots, approve } = entry.mcp;
    const offered =
      roots?.map((path) => resolveDefinitionPath(path, baseDir)) ??
      (fsRoot === undefined ? undefined : [fsRoot]);
    return {
      kind: "mcp",
      name,
      command,
      args: [...args],
      env: { ...env },
      ...(cwd === undefined ? {} : { cwd: resolveDefinitionPath(cwd, baseDir) }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(startTimeoutSeconds === undefined
        ? {}
        : { startTimeoutMs: Math.round(startTimeoutSeconds * 1000) }),
      ...(offered === undefined ? {} : { roots: offered }),
      ...(approve === undefined ? {} : { approve }),
    };
  }
  if (entry.langchain !== undefined) {
    const { module, export: exported, options, name, idempotent, approve } = entry.langchain;
    // The cross-checks resolved it already; a module gone since is a file-system race, not a YAML mistake.
    const resolved = resolveToolModule(module, baseDir);
    if (!resolved.ok)
      throw new EdgecrewError(ErrorCodes.TOOL_INVALID, resolved.message, { context: { module } });
    return {
      kind: "langchain",
      module,
      path: resolved.path,
      export: exported,
      // The schema accepted JSON values only.
      ...(options === undefined ? {} : { options: options as JsonObject }),
      ...(name === undefined ? {} : { name }),
      ...(idempotent === undefined ? {} : { idempotent }),
      ...(approve === undefined ? {} : { approve }),
    };
  }
  if ("calculator" in entry)
    return { kind: "builtin", name: "calculator", options: { ...(entry.calculator ?? {}) } };
  throw bug("a tool entry without a tool");
}

function toDevice(device: ValidatedAgentInput["device"]): DeviceConfig {
  const { memory, threads, gpu } = device;
  let memoryBytes: number | undefined;
  if (typeof memory === "number") memoryBytes = memory;
  else if (memory !== undefined) {
    memoryBytes = parseMemorySize(memory);
    if (memoryBytes === undefined) throw bug(`memory "${memory}"`);
  }
  return {
    ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    ...(threads !== undefined ? { threads } : {}),
    gpu,
  };
}

/**
 * Builds the AgentDefinition from validated input: model strings become ModelRefs (relative paths resolved
 * against `baseDir`), `context.size` becomes `contextSize`, memory strings become bytes, tool entries become
 * `{ kind: "builtin", name, options }` with their defaults (and the fs root made absolute), or
 * `{ kind: "mcp", name, command, args, env, cwd?, roots?, startTimeoutMs?, approve? }` (cwd and roots made
 * absolute, roots defaulting to the fs tool's root; `command` is left as written, found on PATH like any program),
 * or `{ kind: "langchain", module, path, export, options?, name?, idempotent?, approve? }` (`path` the module's
 * file, resolved from `baseDir`; the module is not imported here).
 */
export function buildAgentDefinition(input: ValidatedAgentInput, context: BuildContext): AgentDefinition {
  const { baseDir } = context;
  return {
    name: input.name,
    description: input.description,
    ...(context.source !== undefined ? { source: context.source } : {}),
    planner: toPlanner(input.planner, baseDir),
    workers: input.workers.map((worker) => toWorker(worker, baseDir)),
    tools: input.tools.map((entry) =>
      withPrivacy(toTool(entry, baseDir, fsRootOf(input.tools, baseDir)), entry),
    ),
    limits: { ...input.limits },
    device: toDevice(input.device),
    escalation: { ...input.escalation },
    ...(input.fleet !== undefined ? { fleet: { ...input.fleet } } : {}),
    ...(input.answer !== undefined ? { answer: input.answer as JsonSchema } : {}),
    ...(input.secrets.length > 0 ? { secrets: [...input.secrets] } : {}),
    ...(input.privacy !== undefined ? { privacy: { policy: input.privacy.policy } } : {}),
  };
}

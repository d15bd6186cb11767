/**
 * Tools that live in JS modules: the one way edgecrew loads a tool module, whether the CLI's `--tools <module>`
 * names it or an agent's `- langchain: { module, export }` entry does. A module is resolved (a relative path from
 * the directory that names it, a package with Node's resolution from there) when the definition is loaded, and
 * imported, so that it runs, only when its tools are needed: at crew start or by `edgecrew validate`.
 */
import { statSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { JsonObject, LangChainToolConfig, ToolConfig } from "../types.js";
import type { Tool } from "./defineTool.js";
import { fromLangChainTool, isLangChainTool } from "./fromLangChainTool.js";

/** Why a module could not be imported. */
export type ToolModuleFailure =
  | { readonly ok: false; readonly reason: "not-found"; readonly path: string }
  | { readonly ok: false; readonly reason: "not-a-file"; readonly path: string }
  | { readonly ok: false; readonly reason: "load-failed"; readonly path: string; readonly cause: unknown };

/** A module's exports, or why it has none. */
export type ImportedToolModule =
  | { readonly ok: true; readonly path: string; readonly exports: Readonly<Record<string, unknown>> }
  | ToolModuleFailure;

function isRelativeOrAbsolute(specifier: string): boolean {
  return (
    specifier === "." ||
    specifier === ".." ||
    specifier.startsWith("./") ||
    specifier.startsWith("../") ||
    isAbsolute(specifier)
  );
}

/**
 * The file a tool module specifier names: a path (`./tools/weather.mjs`, `../x.js`, `/abs/x.mjs`) resolves
 * against `baseDir`; anything else is a package (`@langchain/community/tools/calculator`) found with Node's
 * resolution from `baseDir`, so a package installed next to the agent file works. Returns an error message, not
 * a throw, for what cannot be found: the config layer turns it into a `file:line:col` issue.
 *
 * @example
 * resolveToolModule("./tools/weather.mjs", "/srv/agents"); // { ok: true, path: "/srv/agents/tools/weather.mjs" }
 */
export function resolveToolModule(
  specifier: string,
  baseDir: string,
): { ok: true; path: string } | { ok: false; message: string } {
  if (isRelativeOrAbsolute(specifier)) {
    const path = resolve(baseDir, specifier);
    try {
      if (statSync(path).isFile()) return { ok: true, path };
      return { ok: false, message: `the tool module ${path} is not a file` };
    } catch {
      return {
        ok: false,
        message: `tool module not found: ${path} (relative paths resolve against ${baseDir})`,
      };
    }
  }
  try {
    // Any file name in baseDir works: require.resolve walks up node_modules from its directory.
    return { ok: true, path: createRequire(join(baseDir, "noop.js")).resolve(specifier) };
  } catch (error) {
    const code = isRecord(error) ? error.code : undefined;
    const detail =
      code === "MODULE_NOT_FOUND"
        ? `is not installed where ${baseDir} can find it (node_modules of that directory or above)`
        : `cannot be resolved from ${baseDir}: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, message: `the tool module package \`${specifier}\` ${detail}` };
  }
}

/**
 * Imports a tool module by its file path. What goes wrong is returned (a missing file, a directory, a module
 * that throws while loading), so that each caller words it its own way; the module's own code runs.
 */
export async function importToolModule(path: string): Promise<ImportedToolModule> {
  const found = await stat(path).catch(() => undefined);
  if (found === undefined) return { ok: false, reason: "not-found", path };
  if (!found.isFile()) return { ok: false, reason: "not-a-file", path };
  try {
    const exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    return { ok: true, path, exports };
  } catch (cause) {
    return { ok: false, reason: "load-failed", path, cause };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "object") return `a ${typeof value}`;
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof ctor === "string" && ctor !== "Object" ? `a ${ctor}` : "an object";
}

function isClass(value: (...args: unknown[]) => unknown): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** Which key of a `langchain:` entry a problem is about, for the CLI to point at it. */
export type LangChainToolField = "module" | "export" | "options" | "name";

function describeEntry(config: LangChainToolConfig, where: string): string {
  return `${where} (langchain module ${config.module}, export \`${config.export}\`)`;
}

function invalid(
  config: LangChainToolConfig,
  where: string,
  field: LangChainToolField,
  message: string,
  cause?: unknown,
): EdgecrewError {
  return new EdgecrewError(ErrorCodes.TOOL_INVALID, `${describeEntry(config, where)}: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    context: { module: config.module, path: config.path, export: config.export, field, detail: message },
  });
}

function loadFailure(failure: ToolModuleFailure): string {
  if (failure.reason !== "load-failed") {
    return failure.reason === "not-found"
      ? `module not found: ${failure.path}`
      : `${failure.path} is not a file`;
  }
  const { cause } = failure;
  return `the module failed to load: ${cause instanceof Error ? cause.message : String(cause)}`;
}

/**
 * Imports the module of one `langchain:` entry and adapts its tool with `fromLangChainTool` (the entry's `name`,
 * `idempotent`, `approve`). An export that is a function or class is a factory: it is called (a class
 * constructed) with the entry's `options`, and may return a promise. Throws TOOL_INVALID, naming `where` (the
 * agent file and entry), the module and the export, with `context.field` saying which key is at fault, for a
 * module that is missing or fails to load, a missing export, a factory that throws, and a value that is not a
 * LangChain tool.
 *
 * @example
 * const tool = await loadLangChainTool(
 *   { kind: "langchain", module: "./weather.mjs", path: "/srv/agents/weather.mjs", export: "default" },
 *   "agents/trip.yaml: tools[0]",
 * );
 */
export async function loadLangChainTool(config: LangChainToolConfig, where: string): Promise<Tool> {
  const imported = await importToolModule(config.path);
  if (!imported.ok) {
    const cause = imported.reason === "load-failed" ? imported.cause : undefined;
    throw invalid(config, where, "module", loadFailure(imported), cause);
  }
  const { exports } = imported;
  if (!(config.export in exports)) {
    const names = Object.keys(exports);
    throw invalid(
      config,
      where,
      "export",
      `the module has no export \`${config.export}\`; it exports ${names.length === 0 ? "nothing" : names.map((n) => `\`${n}\``).join(", ")}`,
    );
  }
  let value: unknown = exports[config.export];
  if (typeof value === "function") {
    value = await callFactory(config, where, value as (...args: unknown[]) => unknown);
  } else if (config.options !== undefined && isLangChainTool(value)) {
    throw invalid(
      config,
      where,
      "options",
      "the export is a tool already, not a factory (a function or class) that options could be passed to; remove `options`",
    );
  }
  if (!isLangChainTool(value)) {
    throw invalid(
      config,
      where,
      "export",
      `the export is ${describeValue(value)}, not a LangChain tool (tool(), StructuredTool, DynamicStructuredTool) nor a factory of one`,
    );
  }
  try {
    return fromLangChainTool(value, {
      ...(config.name === undefined ? {} : { name: config.name }),
      ...(config.idempotent === undefined ? {} : { idempotent: config.idempotent }),
      ...(config.approve === undefined ? {} : { approve: config.approve }),
    });
  } catch (error) {
    const field = config.name === undefined ? "export" : "name";
    throw invalid(config, where, field, error instanceof Error ? error.message : String(error), error);
  }
}

async function callFactory(
  config: LangChainToolConfig,
  where: string,
  factory: (...args: unknown[]) => unknown,
): Promise<unknown> {
  const options: JsonObject = config.options ?? {};
  const kind = isClass(factory) ? "class" : "function";
  try {
    if (kind === "class") return new (factory as unknown as new (options: JsonObject) => unknown)(options);
    return await factory(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const field = config.options === undefined ? "export" : "options";
    throw invalid(
      config,
      where,
      field,
      `the factory (a ${kind}) threw when ${kind === "class" ? "constructed" : "called"} with ${JSON.stringify(options)}: ${reason}`,
      error,
    );
  }
}

/** One `langchain:` entry of an agent's tools, with its index in `tools:`. */
export interface LangChainToolEntry {
  readonly index: number;
  readonly config: LangChainToolConfig;
}

/** The `langchain:` entries among an agent's tools, with their indexes (for messages and YAML positions). */
export function langChainToolEntries(tools: readonly ToolConfig[]): LangChainToolEntry[] {
  return tools.flatMap((config, index) => (config.kind === "langchain" ? [{ index, config }] : []));
}

/**
 * Loads every `langchain:` tool of an agent (see {@link loadLangChainTool}), in order; `source` is the agent
 * file named in errors. What createCrew registers next to the built-ins and the caller's tools.
 */
export async function loadLangChainTools(
  tools: readonly ToolConfig[],
  source: string | undefined,
): Promise<Tool[]> {
  const loaded: Tool[] = [];
  for (const { index, config } of langChainToolEntries(tools)) {
    loaded.push(await loadLangChainTool(config, `${source ?? "agent"}: tools[${index}]`));
  }
  return loaded;
}

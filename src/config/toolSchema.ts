/**
 * The `tools:` entries of an agent: a bare built-in name (`- calculator`), a one-key mapping from a built-in
 * name to its options (`- fs: { root: ./data }`), an MCP server (`- mcp: { name, command, args, env }`), or a
 * LangChain tool exported by a JS module (`- langchain: { module, export }`). Options are validated here, per
 * tool, so that a bad sandbox setting is a definition error with a line number rather than a surprise at the
 * first tool call.
 */

import { z } from "zod";
import { didYouMean } from "../suggest.js";
import { HTTP_TOOL_METHODS, SHELL_SANDBOXES } from "../tools/builtins/options.js";
import { TOOL_NAME_PATTERN } from "../tools/defineTool.js";
import type { BuiltinToolConfig } from "../types.js";
import { DEFAULT_TOOL_OPTIONS } from "./defaults.js";

/** Names of the built-in tools an agent can enable. */
export const BUILTIN_TOOLS: readonly BuiltinToolConfig["name"][] = ["calculator", "fs", "http", "shell"];

/** HTTP methods the `http` tool can be allowed to use. */
export const HTTP_METHODS = HTTP_TOOL_METHODS;

// Tools that cannot be enabled by name alone, with the smallest entry that would work: shown when someone
// writes `- fs` without options.
const NEEDS_OPTIONS: Readonly<Record<string, string>> = {
  fs: "- fs: { root: ./data }",
  http: '- http: { allow: ["https://api.example.com/*"] }',
  shell: "- shell: { allow: [ls, cat] }",
};

// A URL pattern needs at least a scheme and a host; `*` wildcards are matched later by the tools layer.
const URL_PATTERN = /^https?:\/\/[^\s/*]+/;
// One program name: no path (so the sandbox decides where it comes from), no arguments, no metacharacters.
const COMMAND_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

const positiveInt = () => z.number().int().positive();
// Optional without a default here, so that entries which leave it out load exactly as before; the tools layer
// reads a missing `approve` as false.
const approveOption = () =>
  z
    .boolean()
    .optional()
    .describe(
      "Whether every call of this tool (each tool of its family) waits for a human's approval: the CLI asks on a terminal and denies without one unless --yes (default false).",
    );

// Optional like `approve`; read by the privacy layer, never handed to the tool itself.
const privateOption = () =>
  z
    .boolean()
    .optional()
    .describe(
      "Whether this tool's results (each tool of its family) are private data: the answers of a worker granted it are private and never reach a remote planner as they are (default false; see `privacy:`).",
    );

const calculatorOptions = z
  .strictObject({ approve: approveOption(), private: privateOption() })
  .nullable()
  .describe(
    "The calculator's only option is `approve`; `- calculator` is the usual way to enable it, `- calculator: { approve: true }` asks before each call.",
  );

const fsOptions = z
  .strictObject({
    root: z
      .string()
      .min(1)
      .describe(
        "Directory the tool is confined to; a relative path resolves against the YAML file's directory.",
      ),
    write: z
      .boolean()
      .default(DEFAULT_TOOL_OPTIONS.fs.write)
      .describe("Whether the tool may create and overwrite files under `root` (default false: read-only)."),
    maxBytes: positiveInt()
      .default(DEFAULT_TOOL_OPTIONS.fs.maxBytes)
      .describe("Largest file, in bytes, the tool reads or writes (default 1 MiB)."),
    // Optional without a default, like `approve`: entries that leave it out load exactly as before.
    readHardlinks: z
      .boolean()
      .optional()
      .describe(
        "Whether fs.read may read a file that has more than one hard link, whose other names may be outside `root` (default false; fs.write never writes one).",
      ),
    approve: approveOption(),
    private: privateOption(),
  })
  .describe("Sandboxed file access under `root`.");

const httpOptions = z
  .strictObject({
    allow: z
      .array(
        z.string().regex(URL_PATTERN, {
          error: (issue) =>
            `${JSON.stringify(issue.input)} is not a URL pattern: it must start with http:// or https:// and a host, e.g. https://api.example.com/*`,
        }),
      )
      .min(1, 'the http tool needs at least one allowed URL pattern, e.g. ["https://api.example.com/*"]')
      .describe(
        "URL patterns the tool may fetch (`*` matches any run of characters); nothing else is allowed.",
      ),
    methods: z
      .array(z.enum(HTTP_METHODS))
      .min(1)
      .default(() => [...DEFAULT_TOOL_OPTIONS.http.methods])
      .describe("HTTP methods the tool may use (default [GET])."),
    timeoutMs: positiveInt()
      .default(DEFAULT_TOOL_OPTIONS.http.timeoutMs)
      .describe("Per-request timeout in milliseconds (default 10000)."),
    maxBytes: positiveInt()
      .default(DEFAULT_TOOL_OPTIONS.http.maxBytes)
      .describe("Largest response body, in bytes, returned to the model (default 1 MiB)."),
    approve: approveOption(),
    private: privateOption(),
  })
  .describe("HTTP requests to an allow-list of URL patterns.");

const shellOptions = z
  .strictObject({
    allow: z
      .array(
        z.string().regex(COMMAND_NAME, {
          error: (issue) =>
            `${JSON.stringify(issue.input)} is not a bare command name: write a program name such as ls or cat, without a path, spaces, arguments or shell metacharacters`,
        }),
      )
      .min(1, "the shell tool needs at least one allowed command, e.g. [ls, cat]")
      .describe("Program names the tool may run (no paths, no arguments); nothing else is allowed."),
    timeoutMs: positiveInt()
      .default(DEFAULT_TOOL_OPTIONS.shell.timeoutMs)
      .describe("Per-command timeout in milliseconds (default 10000)."),
    maxOutputBytes: positiveInt()
      .default(DEFAULT_TOOL_OPTIONS.shell.maxOutputBytes)
      .describe("Largest stdout+stderr, in bytes, returned to the model (default 64 KiB)."),
    approve: approveOption(),
    private: privateOption(),
    root: z
      .string()
      .min(1)
      .refine((path) => !/^\/+$/.test(path), {
        message:
          "the shell tool's root cannot be / (it is the one directory the sandbox lets programs write)",
      })
      .optional()
      .describe(
        "The only directory the programs may write, and their working directory; a relative path resolves against the YAML file's directory. Without it, programs work in an empty private /tmp discarded after each call.",
      ),
    readable: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Extra paths the sandboxed programs may read (never write), e.g. a data directory or /usr/lib/git-core; a relative path resolves against the YAML file's directory.",
      ),
    network: z
      .boolean()
      .optional()
      .describe("Whether the programs may use the network (default false: the sandbox has none)."),
    sandbox: z
      .enum(SHELL_SANDBOXES)
      .optional()
      .describe(
        "bwrap (default): each call runs in a bubblewrap sandbox; none: programs run unconfined, with every right of the edgecrew process (an explicit opt-out where bubblewrap cannot run; see the README's Security section).",
      ),
    rules: z
      .record(
        z.string(),
        z.strictObject({
          deny: z
            .array(z.string().min(1))
            .describe("Argument patterns this program may not receive; [] switches the built-in rule off."),
        }),
      )
      .optional()
      .describe(
        "Argument rules by program: `find: { deny: [-exec, -delete] }` replaces the built-in rule of find (`deny: []` switches it off). A pattern `--name` also matches `--name=…` and its abbreviations, `-x` matches `-x…`, `*` matches any run of characters.",
      ),
  })
  .superRefine((options, ctx) => {
    for (const name of Object.keys(options.rules ?? {})) {
      if (!options.allow.includes(name)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", name],
          message: `${name} is not in the shell tool's allow list (${options.allow.join(", ")}); a rule is for an allowed program`,
        });
      }
    }
  })
  .describe(
    "Opt-in shell: runs allow-listed programs without a shell, in a bubblewrap sandbox (the allowed programs only, `root` the only writable directory, no network unless granted).",
  );

// An MCP server's name is the namespace of its tools (`name.tool`), so it may not contain a dot itself.
const MCP_SERVER_NAME = /^[A-Za-z][\w-]*$/;

const mcpOptions = z
  .strictObject({
    name: z
      .string()
      .regex(MCP_SERVER_NAME, {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is not an MCP server name: a letter, then letters, digits, _ or - (no dots: the name is the namespace of its tools)`,
      })
      .describe(
        "The server's name: its tools are registered as `name.tool`; a worker grants `name` (all of them) or `name.tool`.",
      ),
    command: z
      .string()
      .min(1)
      .describe("The program that starts the server over stdio (run without a shell)."),
    args: z.array(z.string()).default([]).describe("Arguments passed to `command` as they are."),
    env: z
      .record(z.string(), z.string())
      .default({})
      .describe("Environment variables for the server, added to a minimal inherited one (PATH, HOME, …)."),
    cwd: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Working directory of the server; a relative path resolves against the YAML file's directory.",
      ),
    timeoutMs: positiveInt()
      .optional()
      .describe("Per-call timeout in milliseconds for the server's tools (default: the registry's, 30000)."),
    startTimeoutSeconds: z
      .number()
      .positive()
      .optional()
      .describe(
        "How long the server may take to start, answer the MCP handshake and list its tools, in seconds (default 10).",
      ),
    roots: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Directories offered to the server as MCP roots (its answer to roots/list, as file:// URIs); relative paths resolve against the YAML file's directory. Default: the root of the agent's fs tool, if it declares one, else none.",
      ),
    approve: z
      .boolean()
      .optional()
      .describe(
        "Whether every call of the server's tools waits for a human's approval. Default: only tools the server marks destructive (destructiveHint, not readOnlyHint) do.",
      ),
    private: privateOption(),
  })
  .describe("An MCP server started over stdio when the crew is created, stopped when it is disposed.");

// A JS identifier, or `default`: what `export` may name.
const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

const langchainOptions = z
  .strictObject({
    module: z
      .string()
      .min(1)
      .describe(
        "The JS module that exports the tool: a path relative to the YAML file's directory (./tools/weather.mjs) or a package name resolved with Node's resolution from that directory (@langchain/community/tools/calculator). It is imported when the crew starts (and by `edgecrew validate`), and it runs.",
      ),
    export: z
      .string()
      .regex(EXPORT_NAME, {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is not an export name: write a JS identifier such as weatherTool, or default`,
      })
      .default("default")
      .describe(
        "The export holding the tool (default `default`): a LangChain tool (tool(), StructuredTool, DynamicStructuredTool), or a factory of one (a function, called with `options`, or a class, constructed with them).",
      ),
    options: z
      .record(z.string(), z.json())
      .optional()
      .describe("Options a factory export is called or constructed with (default {})."),
    name: z
      .string()
      .regex(TOOL_NAME_PATTERN, {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is not a tool name: a letter, then letters, digits, _, . or -`,
      })
      .optional()
      .describe("The name workers grant (default: the tool's own name)."),
    idempotent: z
      .boolean()
      .optional()
      .describe("Whether a call is safe to repeat with the same arguments, e.g. on resume (default false)."),
    approve: approveOption(),
    private: privateOption(),
  })
  .describe(
    "A LangChain tool exported by a JS module, adapted like fromLangChainTool: `langchain: { module, export, options, name }`.",
  );

/** Marks the "entry has no tool key" issue, which is noise when the same entry also has an unknown key. */
export const EMPTY_TOOL_ENTRY = "edgecrew/empty-tool-entry";

const toolWithOptions = z
  .strictObject({
    calculator: calculatorOptions.optional(),
    fs: fsOptions.optional(),
    http: httpOptions.optional(),
    shell: shellOptions.optional(),
    mcp: mcpOptions.optional(),
    langchain: langchainOptions.optional(),
  })
  .superRefine((entry, ctx) => {
    const names = Object.keys(entry);
    if (names.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: `a tool entry needs a built-in tool name, \`mcp\` or \`langchain\` as its key (${BUILTIN_TOOLS.join(", ")}, mcp, langchain)`,
        params: { tag: EMPTY_TOOL_ENTRY },
      });
    } else if (names.length > 1) {
      ctx.addIssue({
        code: "custom",
        message: `one entry declares ${names.length} tools (${names.join(", ")}); list each tool as its own item`,
      });
    }
  })
  // The one-key rule above is a refinement, invisible to JSON Schema; say it to editors explicitly.
  .meta({ minProperties: 1, maxProperties: 1 });

function toolEntryError(input: unknown): string {
  if (typeof input === "string") {
    const example = NEEDS_OPTIONS[input];
    if (example !== undefined) return `the ${input} tool needs options; write it as \`${example}\``;
    return `unknown built-in tool \`${input}\`${didYouMean(input, BUILTIN_TOOLS)} (built-ins: ${BUILTIN_TOOLS.join(", ")})`;
  }
  return "a tool entry is a built-in name (calculator) or a mapping from one built-in name to its options, e.g. `- fs: { root: ./data }`; an MCP server is `- mcp: { name: files, command: npx, args: [my-mcp-server] }`; a LangChain tool in a JS module is `- langchain: { module: ./tools/weather.mjs, export: weatherTool }`";
}

/** Schema of one `tools:` entry, before defaults and path resolution are applied. */
export const toolEntrySchema = z
  .union([z.literal("calculator"), toolWithOptions], { error: (issue) => toolEntryError(issue.input) })
  .describe(
    "A built-in tool: `calculator`, or a one-key mapping `fs: {…}`, `http: {…}`, `shell: {…}` with its options; an MCP server: `mcp: { name, command, args, env }`; or a LangChain tool in a JS module: `langchain: { module, export, options, name }`.",
  );

/** One validated `tools:` entry, with option defaults applied. */
export type ToolEntry = z.output<typeof toolEntrySchema>;

/** The server name of an `mcp:` entry, when the entry is one and has a string name (unvalidated input). */
export function mcpNameOf(entry: unknown): string | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined;
  const keys = Object.keys(entry);
  if (keys.length !== 1 || keys[0] !== "mcp") return undefined;
  const options: unknown = (entry as { mcp?: unknown }).mcp;
  if (typeof options !== "object" || options === null) return undefined;
  const name: unknown = (options as { name?: unknown }).name;
  return typeof name === "string" && name !== "" ? name : undefined;
}

/** The `langchain:` options of an entry, when the entry is one (unvalidated input). */
export function langchainOptionsOf(entry: unknown): Readonly<Record<string, unknown>> | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined;
  const keys = Object.keys(entry);
  if (keys.length !== 1 || keys[0] !== "langchain") return undefined;
  const options: unknown = (entry as { langchain?: unknown }).langchain;
  return typeof options === "object" && options !== null && !Array.isArray(options)
    ? (options as Record<string, unknown>)
    : undefined;
}

/**
 * The name of the tool an entry enables, or `undefined` for a malformed entry. Works on unvalidated input so
 * that cross-field checks (undeclared or duplicate tools) can run even when some other entry is broken.
 *
 * @example
 * toolNameOf("calculator"); // "calculator"
 * toolNameOf({ fs: { root: "./data" } }); // "fs"
 * toolNameOf({ mcp: { name: "files", command: "npx" } }); // "files"
 * toolNameOf({ langchain: { module: "./weather.mjs", name: "weather" } }); // "weather" (no name: undefined)
 */
export function toolNameOf(entry: unknown): string | undefined {
  const server = mcpNameOf(entry);
  if (server !== undefined) return server;
  const langchain = langchainOptionsOf(entry);
  if (langchain !== undefined) return typeof langchain.name === "string" ? langchain.name : undefined;
  const name =
    typeof entry === "string"
      ? entry
      : typeof entry === "object" &&
          entry !== null &&
          !Array.isArray(entry) &&
          Object.keys(entry).length === 1
        ? Object.keys(entry)[0]
        : undefined;
  return BUILTIN_TOOLS.find((builtin) => builtin === name);
}

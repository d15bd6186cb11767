/**
 * Starts one MCP server over stdio, lists its tools and adapts them (see mcpTool.ts). The client declares the
 * `roots` capability and answers `roots/list` with the config's roots (file:// URIs), so a server such as
 * server-filesystem started without a directory works inside them. The connection owns the
 * child process: `close()` ends it, and once the process is gone — closed, crashed or killed — every call of
 * its tools fails with `MCP server <name> exited (…)` instead of waiting on a pipe nobody reads.
 */
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Tool as McpToolInfo } from "@modelcontextprotocol/sdk/types.js";
import { abortErrorFor, isAbortError, throwIfAborted } from "../../errors.js";
import type { McpToolConfig } from "../../types.js";
import type { Tool } from "../defineTool.js";
import { describeExit, McpServerError, type McpServerExit, serverExitedError } from "./McpServerError.js";
import { adaptMcpTool } from "./mcpTool.js";
import type { StdioProcessTransport } from "./StdioProcessTransport.js";

/** Default time a server gets to start, answer the handshake and list its tools. */
export const DEFAULT_MCP_START_TIMEOUT_MS = 10_000;

/** Options of {@link connectMcpServer}. */
export interface ConnectMcpServerOptions {
  /** Aborting it stops the start (the process is ended) with an AbortError. */
  readonly signal?: AbortSignal;
  /** How long starting may take, handshake and tool listing included (default 10 s); the config's own wins. */
  readonly startTimeoutMs?: number;
  /** Told about tools that were skipped because edgecrew cannot use their name or schema. */
  readonly onWarning?: (message: string) => void;
}

/** A running MCP server and its tools. Close it to end the process. */
export interface McpServerConnection extends AsyncDisposable {
  /** The server's name from the agent: its tools are `name.tool`. */
  readonly name: string;
  /** The server's usable tools, namespaced. */
  readonly tools: readonly Tool[];
  /** Tools the server lists that were skipped, with the reason. */
  readonly skipped: readonly { readonly tool: string; readonly reason: string }[];
  /** The server process's id. */
  readonly pid: number | undefined;
  /** How the process ended; undefined while it runs. */
  readonly exit: McpServerExit | undefined;
  /** Resolves when the process ends, for whatever reason (closed, crashed, killed). */
  readonly exited: Promise<McpServerExit>;
  /** Ends the server process and waits for it; idempotent. */
  close(): Promise<void>;
}

const PACKAGE = { name: "edgecrew", version: "0.1.0" };

async function listAllTools(client: Client, signal: AbortSignal): Promise<McpToolInfo[]> {
  const tools: McpToolInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor }, { signal });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return tools;
}

function startFailure(
  config: McpToolConfig,
  transport: StdioProcessTransport,
  cause: unknown,
  timeoutMs: number | undefined,
): McpServerError {
  const exit = transport.exit;
  const spawnError = transport.spawnError;
  // The number and the key that changes it, so a slow server (npx downloading a package) is one edit away.
  const what =
    timeoutMs !== undefined
      ? `did not start within ${timeoutMs / 1000} s (its start timeout; raise it with \`startTimeoutSeconds\` in its mcp entry)`
      : spawnError !== undefined
        ? `failed to start: ${spawnError.message}`
        : exit !== undefined
          ? `exited while starting (${describeExit(exit)})`
          : `failed to start: ${cause instanceof Error ? cause.message : String(cause)}`;
  const stderr = transport.stderrTail.trim();
  const command = [config.command, ...config.args].join(" ");
  return new McpServerError(
    config.name,
    "start",
    `MCP server ${config.name} (${command}) ${what}${stderr === "" ? "" : `; its stderr ends with:\n${stderr}`}`,
    { cause, ...(exit === undefined ? {} : { exit }) },
  );
}

/**
 * Starts the server `config` describes and lists its tools. Rejects with an {@link McpServerError} (phase
 * `start`, code MCP_SERVER_FAILED) naming the server when the command cannot run, the process exits or the
 * handshake fails or takes longer than the start timeout (`config.startTimeoutMs`, else `startTimeoutMs`); with an AbortError when `signal` fires. The process is
 * ended in every one of those cases.
 *
 * @example
 * const server = await connectMcpServer({ kind: "mcp", name: "files", command: "npx", args: ["my-mcp"], env: {} });
 * registry.register(...server.tools); // files.read, files.search, …
 * await server.close();
 */
export async function connectMcpServer(
  config: McpToolConfig,
  options: ConnectMcpServerOptions = {},
): Promise<McpServerConnection> {
  throwIfAborted(options.signal);
  const timeoutMs = config.startTimeoutMs ?? options.startTimeoutMs ?? DEFAULT_MCP_START_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  // The SDK loads on first use, so that importing edgecrew stays cheap for agents without MCP servers.
  const [{ Client }, { ListRootsRequestSchema }, { StdioProcessTransport }] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/types.js"),
    import("./StdioProcessTransport.js"),
  ]);
  const transport = new StdioProcessTransport({
    command: config.command,
    args: config.args,
    env: config.env,
    ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
  });
  // Roots are always declared: a server that needs them gets the configured ones or an empty list, never an
  // error for an unknown method. The list is fixed for the server's life, hence no listChanged.
  const client = new Client(PACKAGE, { capabilities: { roots: { listChanged: false } } });
  const roots = (config.roots ?? []).map((path) => ({ uri: pathToFileURL(path).href, name: basename(path) }));
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots }));
  const closeOnce = (() => {
    let closing: Promise<void> | undefined;
    return () => {
      closing ??= client.close().then(() => transport.close());
      return closing;
    };
  })();

  let infos: McpToolInfo[];
  let onAbort: (() => void) | undefined;
  try {
    // Raced against the process and the signal too: the SDK's handshake does not notice a process that exits
    // before answering, and a server stuck in its start-up must not hold createCrew.
    const started = (async () => {
      await client.connect(transport, { signal });
      return listAllTools(client, signal);
    })();
    const ended = transport.exited.then((exit): never => {
      throw new Error(`the process exited (${describeExit(exit)})`);
    });
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortErrorFor(signal, "starting the MCP server"));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    // The losers of the race settle later (the process exits at close); nobody waits for them.
    for (const loser of [started, ended, aborted]) loser.catch(() => undefined);
    infos = await Promise.race([started, ended, aborted]);
  } catch (error) {
    await closeOnce();
    if (options.signal?.aborted) throw isAbortError(error) ? error : abortErrorFor(options.signal);
    throw startFailure(config, transport, error, deadline.aborted ? timeoutMs : undefined);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }

  const host = {
    server: config.name,
    client,
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
    ...(config.approve === undefined ? {} : { approve: config.approve }),
    deadError: () => {
      const exit = transport.exit;
      return exit === undefined ? undefined : serverExitedError(config.name, exit);
    },
  };
  const tools: Tool[] = [];
  const skipped: { tool: string; reason: string }[] = [];
  for (const info of infos) {
    const adapted = adaptMcpTool(info, host);
    if (adapted.ok) tools.push(adapted.tool);
    else {
      skipped.push({ tool: info.name, reason: adapted.reason });
      options.onWarning?.(`MCP server ${config.name}: tool \`${info.name}\` skipped: ${adapted.reason}`);
    }
  }

  const connection: McpServerConnection = {
    name: config.name,
    tools: Object.freeze(tools),
    skipped: Object.freeze(skipped),
    pid: transport.pid,
    get exit() {
      return transport.exit;
    },
    exited: transport.exited,
    close: closeOnce,
    [Symbol.asyncDispose]: closeOnce,
  };
  return connection;
}

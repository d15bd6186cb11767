/**
 * `edgecrew mcp`: serves an agent's crew as an MCP server (stdio, or streamable HTTP with `--http`), so an MCP
 * client (Claude Desktop, VS Code, Cursor, …) can hand it tasks. One crew lives for the server's lifetime, so
 * models stay loaded between calls; it is disposed when the client closes stdin, or on SIGINT / SIGTERM.
 */
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { createCrew, readAgentFile } from "../../crew.js";
import { cliApproval } from "../approval.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { addAgentOverrideOptions, withCliOverrides } from "./run.js";

interface McpOptions {
  http?: { host?: string; port: number };
  exposeWorkers?: boolean;
  planner?: string;
  runDir?: string;
  yes?: boolean;
  memory?: number;
  threads?: number;
  maxParallel?: number;
  hub?: string;
}

/** Parses `--http`: `port`, `:port` or `host:port` (`[::1]:port` for IPv6); port 0 picks a free one. */
export function parseHttpAddress(value: string): { host?: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new InvalidArgumentError(
      `expected [host:]port (e.g. 8080, :8080, 0.0.0.0:8080), got ${JSON.stringify(value)}`,
    );
  }
  const host = match[1]?.replace(/^\[(.*)\]$/, "$1");
  return host === undefined || host === "" ? { port } : { host, port };
}

/**
 * In stdio mode stdout carries the protocol: anything a library prints with console.log / info / debug (e.g.
 * llama.cpp's log through node-llama-cpp) goes to stderr instead. Returns the undo.
 */
function keepStdoutForProtocol(): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  return () => Object.assign(console, saved);
}

export function registerMcpCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  addAgentOverrideOptions(
    program
      .command("mcp")
      .description("serve an agent's crew as an MCP server (stdio by default) for MCP clients")
      .argument("<agent>", "agent YAML file"),
  )
    .option(
      "--http <[host:]port>",
      "serve streamable HTTP at http://host:port/mcp instead of stdio; the host defaults to 127.0.0.1 (this machine only), give 0.0.0.0 to accept other machines (no authentication)",
      parseHttpAddress,
    )
    .option("--expose-workers", "also offer each worker as its own tool (one subtask, no planner)")
    .option("-y, --yes", "approve every call of tools marked approve (without it such calls are denied)")
    .addHelpText(
      "after",
      "\nTools: run_task { task } → { runId, status, answer }, with progress per subtask and cancellation;" +
        "\n--expose-workers adds worker_<name> { instruction } per worker. Logs go to stderr." +
        "\nThe crew (and its loaded models) lives until the client closes stdin, or SIGINT / SIGTERM." +
        '\n\nExamples:\n  edgecrew mcp agents/offline-demo.yaml\n  edgecrew mcp agents/offline-demo.yaml --http :8808 --expose-workers\n\nClaude Desktop (claude_desktop_config.json):\n  { "mcpServers": { "crew": { "command": "npx",\n      "args": ["edgecrew", "mcp", "/abs/path/agent.yaml", "--run-dir", "/abs/path/runs"] } } }',
    )
    .action(async (agentPath: string, options: McpOptions) => {
      const stdio = options.http === undefined;
      const restoreConsole = stdio ? keepStdoutForProtocol() : () => {};
      const log = (line: string) => io.stderr.write(`edgecrew mcp: ${line}\n`);
      try {
        const { agent: loaded, text } = await readAgentFile(resolve(io.cwd, agentPath));
        const agent = withCliOverrides(loaded, options, io.cwd);
        await using crew = await createCrew(agent, {
          runDir: resolve(io.cwd, options.runDir ?? ".edgecrew/runs"),
          ...(text === undefined ? {} : { agentText: text }),
          // In stdio mode the terminal's stdin is the protocol: nobody to ask, so --yes or deny.
          onApproval: cliApproval(stdio ? { ...io, ask: undefined } : io, { yes: options.yes === true }),
          ...(options.hub === undefined ? {} : { hub: options.hub }),
        });
        const [{ serveStdio }, { serveHttp }] = await Promise.all([
          import("../../mcp/server.js"),
          import("../../mcp/http.js"),
        ]);
        const serverOptions = {
          exposeWorkers: options.exposeWorkers === true,
          log,
          ...(program.version() === undefined ? {} : { version: program.version() }),
        };
        const serving = stdio
          ? await serveStdio(crew, serverOptions)
          : await serveHttp(crew, options.http ?? { port: 0 }, serverOptions);
        const tools = options.exposeWorkers === true ? agent.workers.length + 1 : 1;
        log(
          `serving "${agent.name}" (${tools} tool${tools === 1 ? "" : "s"}) ${serving.url === undefined ? "on stdio" : `at ${serving.url}`}`,
        );
        let cleanup = () => {};
        const stop = await new Promise<string>((resolveStop) => {
          const removeInterrupt = io.onInterrupt(() => resolveStop("SIGINT"));
          const onTerm = () => resolveStop("SIGTERM");
          process.once("SIGTERM", onTerm);
          void serving.ended.then(() => resolveStop("the client closed the connection"));
          cleanup = () => {
            removeInterrupt();
            process.off("SIGTERM", onTerm);
          };
        });
        cleanup();
        log(`${stop}: cancelling running calls and freeing the models`);
        // The crew first: its runs end as cancelled (and their calls get that answer), then the transports close.
        await crew.dispose();
        await serving.close();
        outcome.code = ExitCode.OK;
      } finally {
        restoreConsole();
      }
    });
}

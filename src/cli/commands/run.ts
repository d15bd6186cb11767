/** `edgecrew run`: runs an agent on a task, printing progress, the answer and the token ledger. */
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { parseModelRef } from "../../config/index.js";
import { MEMORY_SIZE_HINT, parseMemorySize } from "../../config/memory.js";
import { createCrew, readAgentFile } from "../../crew.js";
import type { AgentDefinition } from "../../types.js";
import { cliApproval } from "../approval.js";
import { createTerminalGate, followRun } from "../follow.js";
import type { CliIo } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { loadToolsModule } from "../toolsModule.js";

interface RunOptions {
  json?: boolean;
  quiet?: boolean;
  planner?: string;
  runDir?: string;
  yes?: boolean;
  memory?: number;
  threads?: number;
  maxParallel?: number;
  tools?: string;
  stream?: boolean;
  privateTask?: boolean;
  hub?: string;
}

/** `--hub` of `run`, `resume` and `mcp`: the fleet's hub, winning over the agent's `fleet.hub`. */
export const HUB_FLAG = [
  "--hub <url>",
  "run the workers on a fleet through this NATS hub, nats://[user:password@]host:4222 (overrides fleet.hub; credentials are never stored)",
] as const;

/**
 * Parses a count flag (`--threads`, `--max-parallel`, `--limit`): a positive whole number. Commander turns the
 * thrown InvalidArgumentError into one usage line and main() into exit 2.
 */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Parses `--memory` like the YAML's `device.memory` (6GiB, 512MB, …), so both accept the same sizes. */
export function parseMemoryFlag(value: string): number {
  const bytes = parseMemorySize(value);
  if (bytes === undefined)
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a memory size: ${MEMORY_SIZE_HINT}`);
  return bytes;
}

/** The flags `run` and `mcp` share that override the agent file: planner, device resources, parallelism. */
export interface AgentOverrideFlags {
  readonly planner?: string;
  readonly memory?: number;
  readonly threads?: number;
  readonly maxParallel?: number;
}

/**
 * The agent with the command line's overrides applied. The device flags win over the YAML, so one agent file
 * serves boards with different resources.
 */
export function withCliOverrides(
  agent: AgentDefinition,
  flags: AgentOverrideFlags,
  cwd: string,
): AgentDefinition {
  let out = agent;
  if (flags.planner !== undefined) {
    out = { ...out, planner: { ...out.planner, model: parseModelRef(flags.planner, { baseDir: cwd }) } };
  }
  if (flags.memory !== undefined || flags.threads !== undefined) {
    out = {
      ...out,
      device: {
        ...out.device,
        ...(flags.memory === undefined ? {} : { memoryBytes: flags.memory }),
        ...(flags.threads === undefined ? {} : { threads: flags.threads }),
      },
    };
  }
  if (flags.maxParallel !== undefined) {
    out = { ...out, limits: { ...out.limits, maxParallel: flags.maxParallel } };
  }
  return out;
}

/**
 * Declares the flags that `run` and `mcp` share: the overrides of the agent file ({@link withCliOverrides}), where
 * runs are kept, and the fleet's hub.
 */
export function addAgentOverrideOptions(command: Command): Command {
  return command
    .option("--planner <ref>", "override the planner model (e.g. openai:gpt-4o-mini, ./big.gguf)")
    .option("--run-dir <dir>", "where runs are kept for resume and inspect (default .edgecrew/runs)")
    .option(
      "--memory <size>",
      "memory budget for models, overriding device.memory (e.g. 2GiB)",
      parseMemoryFlag,
    )
    .option("--threads <n>", "llama.cpp threads, overriding device.threads", parsePositiveInt)
    .option("--max-parallel <n>", "most subtasks at once, overriding limits.maxParallel", parsePositiveInt)
    .option(...HUB_FLAG);
}

export function registerRunCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  addAgentOverrideOptions(
    program
      .command("run")
      .description("run an agent on a task")
      .argument("<agent>", "agent YAML file")
      .argument("<task...>", "the task, in words"),
  )
    .option("--json", "print one JSON object with the whole result (and nothing else) on stdout")
    .option("-q, --quiet", "print only the answer")
    .option(
      "-y, --yes",
      "approve every call of tools marked approve (without it: ask on a terminal, else deny)",
    )
    .option(
      "--stream",
      "show the text the models generate as they generate it (under each running subtask on a terminal, else a line per piece; nothing extra with --json)",
    )
    .option(
      "--private-task",
      "the task is private data: a remote planner never gets it as written (privacy.policy strict: the run fails before anything is sent; redact: it sees a placeholder)",
    )
    .option(
      "--tools <module>",
      "an ES module whose default (or `tools`) export is an array of tools the agent may grant: defineTool() results or LangChain tools",
    )
    .addHelpText(
      "after",
      '\nExamples:\n  edgecrew run agents/offline-demo.yaml "Plan a weekend trip to the mountains"\n  edgecrew run agents/trip-planner-cloud.yaml --planner openai:gpt-4o-mini --json "3 days in Lisbon"\n  edgecrew run agents/offline-demo.yaml --memory 2GiB --threads 4 --max-parallel 1 "A day in Rome"',
    )
    .action(async (agentPath: string, taskWords: string[], options: RunOptions) => {
      // The text is kept too: each run stores a copy of it (with its hash) for `resume`.
      const tools = options.tools === undefined ? [] : await loadToolsModule(options.tools, io.cwd);
      const { agent: loaded, text } = await readAgentFile(resolve(io.cwd, agentPath), { tools });
      const agent = withCliOverrides(loaded, options, io.cwd);
      const task = taskWords.join(" ");
      const terminal = createTerminalGate();
      await using crew = await createCrew(agent, {
        runDir: resolve(io.cwd, options.runDir ?? ".edgecrew/runs"),
        ...(text === undefined ? {} : { agentText: text }),
        tools,
        onApproval: cliApproval(io, { yes: options.yes === true, around: terminal.around }),
        ...(options.hub === undefined ? {} : { hub: options.hub }),
      });
      const stream = options.stream === true ? { stream: true } : {};
      const privacy = options.privateTask === true ? { private: true } : {};
      outcome.code = await followRun(io, (signal) => crew.run(task, { signal, ...stream, ...privacy }), {
        ...options,
        terminal,
      });
    });
}

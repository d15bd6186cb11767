/** `edgecrew resume`: continues a stored run after a crash or stop; finished subtasks are not run again. */
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { parseAgent } from "../../config/index.js";
import { createCrew, readAgentFile } from "../../crew.js";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import { agentCopyHash } from "../../runtime/store/agentCopy.js";
import { FileRunStore, type FileStoredRun } from "../../runtime/store/FileRunStore.js";
import type { Tool } from "../../tools/index.js";
import type { AgentDefinition } from "../../types.js";
import { cliApproval } from "../approval.js";
import { createTerminalGate, followRun } from "../follow.js";
import type { CliIo } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { loadToolsModule } from "../toolsModule.js";
import { HUB_FLAG } from "./run.js";

interface ResumeOptions {
  json?: boolean;
  quiet?: boolean;
  runDir?: string;
  yes?: boolean;
  agent?: string;
  tools?: string;
  stream?: boolean;
  hub?: string;
}

/**
 * The agent to resume `stored` with. A run directory is data, not code: whoever can write it must not choose
 * what runs. So the agent is the file named on the command line, or else the copy of the agent YAML the run
 * keeps in its meta.json (checked against its SHA-256 when the run was loaded) — and that copy only when no one
 * but this user could have written meta.json (as git refuses a repository another user owns). A path in the
 * run directory (`agentSource`) is never loaded.
 */
async function agentFor(
  io: CliIo,
  runId: string,
  stored: FileStoredRun,
  agentFile: string | undefined,
  tools: readonly Tool[],
): Promise<{ agent: AgentDefinition; text?: string }> {
  const copy = stored.meta.agentCopy;
  if (agentFile !== undefined) {
    const loaded = await readAgentFile(agentFile, { tools });
    if (copy !== undefined && loaded.text !== undefined && agentCopyHash(loaded.text) !== copy.sha256) {
      io.stderr.write(
        `edgecrew: note: ${agentFile} is not the agent file run ${runId} started with ` +
          `(sha256 ${copy.sha256.slice(0, 12)}…); resuming with ${agentFile}\n`,
      );
    }
    return loaded;
  }
  if (copy === undefined) {
    throw new EdgecrewError(
      ErrorCodes.USAGE,
      `run ${runId} keeps no copy of its agent definition (it was started by an older edgecrew, from code, or ` +
        "from a file that holds a secret): pass --agent <file>. A path named in a run directory is never loaded.",
      { context: { runId } },
    );
  }
  if (stored.foreignWriter !== undefined) {
    throw new EdgecrewError(
      ErrorCodes.USAGE,
      `not running the agent copy stored in run ${runId}: ${stored.foreignWriter}, so someone else may have ` +
        "written it. Pass --agent <file> with an agent file you trust.",
      { context: { runId, reason: "foreign-writer" } },
    );
  }
  return {
    agent: parseAgent(copy.text, { file: copy.file, baseDir: dirname(copy.file), tools }),
    text: copy.text,
  };
}

export function registerResumeCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("resume")
    .description("continue a stored run (after a crash, kill or ctrl-c); completed subtasks are not redone")
    .argument("<runId>", "the run's id, as printed by `run`")
    .option("--json", "print one JSON object with the whole result (and nothing else) on stdout")
    .option("-q, --quiet", "print only the answer")
    .option("--run-dir <dir>", "where runs are kept (default .edgecrew/runs)")
    .option(
      "--stream",
      "show the text the models generate as they generate it (under each running subtask on a terminal, else a line per piece; nothing extra with --json)",
    )
    .option(
      "-y, --yes",
      "approve every call of tools marked approve (without it: ask on a terminal, else deny)",
    )
    .option(
      "--agent <file>",
      "the agent YAML (default: the copy of it the run keeps, when only you could have written the run)",
    )
    .option(
      "--tools <module>",
      "an ES module whose default (or `tools`) export is an array of tools the agent may grant: defineTool() results or LangChain tools",
    )
    .option(...HUB_FLAG)
    .addHelpText("after", "\nExample:\n  edgecrew resume 20261128-153012-a1b2c3")
    .action(async (runId: string, options: ResumeOptions) => {
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const stored = await store.load(runId);
      const agentFile = options.agent === undefined ? undefined : resolve(io.cwd, options.agent);
      const tools = options.tools === undefined ? [] : await loadToolsModule(options.tools, io.cwd);
      const { agent, text } = await agentFor(io, runId, stored, agentFile, tools);
      const terminal = createTerminalGate();
      await using crew = await createCrew(agent, {
        store,
        ...(text === undefined ? {} : { agentText: text }),
        tools,
        onApproval: cliApproval(io, { yes: options.yes === true, around: terminal.around }),
        ...(options.hub === undefined ? {} : { hub: options.hub }),
      });
      const stream = options.stream === true ? { stream: true } : {};
      outcome.code = await followRun(io, (signal) => crew.resume(runId, { signal, ...stream }), {
        ...options,
        terminal,
      });
    });
}

/** `edgecrew resume`: continues a stored run after a crash or stop; finished subtasks are not run again. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadAgent } from "../../config/index.js";
import { createCrew } from "../../crew.js";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import { FileRunStore } from "../../runtime/store/FileRunStore.js";
import { cliApproval } from "../approval.js";
import { createTerminalGate, followRun } from "../follow.js";
import type { CliIo } from "../io.js";
import type { CommandOutcome } from "../main.js";

interface ResumeOptions {
  json?: boolean;
  quiet?: boolean;
  runDir?: string;
  yes?: boolean;
  agent?: string;
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
      "-y, --yes",
      "approve every call of tools marked approve (without it: ask on a terminal, else deny)",
    )
    .option("--agent <file>", "the agent YAML (default: the file the run was started from)")
    .addHelpText("after", "\nExample:\n  edgecrew resume 20261128-153012-a1b2c3")
    .action(async (runId: string, options: ResumeOptions) => {
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const stored = await store.load(runId);
      const agentFile =
        options.agent === undefined ? stored.meta.agentSource : resolve(io.cwd, options.agent);
      if (agentFile === undefined) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          `run ${runId} does not record its agent file: pass --agent <file>`,
        );
      }
      const terminal = createTerminalGate();
      await using crew = await createCrew(await loadAgent(agentFile), {
        store,
        onApproval: cliApproval(io, { yes: options.yes === true, around: terminal.around }),
      });
      outcome.code = await followRun(io, (signal) => crew.resume(runId, { signal }), {
        ...options,
        terminal,
      });
    });
}

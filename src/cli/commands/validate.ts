/** `edgecrew validate`: checks agent files, including the headers of the local model files they name. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadAgent } from "../../config/index.js";
import { isAgentDefinitionError, isModelError } from "../../errors.js";
import { type CliIo, ExitCode, reportError } from "../io.js";
import type { CommandOutcome } from "../main.js";

/** A GGUF header check for the loader: the message of a ModelError, or undefined when the file is usable. */
async function checkModelFile(path: string): Promise<string | undefined> {
  const { inspectModelFile } = await import("../../workers/ggufCheck.js");
  try {
    await inspectModelFile(path);
    return undefined;
  } catch (error) {
    if (isModelError(error)) return error.message;
    throw error;
  }
}

export function registerValidateCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("validate")
    .description("validate agent YAML files: every problem, as file:line:col: path: message")
    .argument("<files...>", "agent YAML files")
    .option("--no-models", "skip reading the headers of local model files")
    .addHelpText("after", "\nExample:\n  edgecrew validate agents/*.yaml")
    .action(async (files: string[], options: { models: boolean }) => {
      let failed = 0;
      for (const file of files) {
        try {
          const agent = await loadAgent(resolve(io.cwd, file), options.models ? { checkModelFile } : {});
          io.stdout.write(
            `ok ${file}: agent ${agent.name}, ${agent.workers.length} worker${agent.workers.length === 1 ? "" : "s"}, planner ${agent.planner.model.raw}\n`,
          );
        } catch (error) {
          failed++;
          if (isAgentDefinitionError(error)) {
            // Issues carry the absolute path; show the file as the user typed it.
            const absolute = resolve(io.cwd, file);
            io.stderr.write(`${error.message.split(absolute).join(file)}\n`);
          } else {
            reportError(io, error, program.opts<{ debug?: boolean }>().debug === true);
          }
        }
      }
      if (failed > 0) outcome.code = ExitCode.USAGE;
    });
}

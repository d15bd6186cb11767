/**
 * The `edgecrew` command line (commander). This is a composition root: it may import any layer. Each command
 * lives in its own file under commands/; `main` returns the exit code instead of calling `process.exit`.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ErrorCodes, toEdgecrewError } from "../errors.js";
import { registerDeviceCommand } from "./commands/device.js";
import { registerDistillCommand } from "./commands/distill.js";
import { registerFixtureCommand } from "./commands/fixture.js";
import { registerInspectCommand } from "./commands/inspect.js";
import { registerMcpCommand } from "./commands/mcp.js";
import { registerModelsCommand } from "./commands/models.js";
import { registerResumeCommand } from "./commands/resume.js";
import { registerRunCommand } from "./commands/run.js";
import { registerRunsCommand } from "./commands/runs.js";
import { registerSchemaCommand } from "./commands/schema.js";
import { registerStatsCommand } from "./commands/stats.js";
import { registerValidateCommand } from "./commands/validate.js";
import { type CliIo, ExitCode, processIo, reportError } from "./io.js";
import { jsonCommand, printJsonFailure, trackStdout } from "./jsonFailure.js";

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  return pkg.version ?? "0.0.0";
}

/** Holds the exit code a command decided on. */
export interface CommandOutcome {
  code: number;
}

/** Builds the commander program; commands write through `io` and record their exit code in `outcome`. */
export function buildProgram(io: CliIo, outcome: CommandOutcome): Command {
  const program = new Command("edgecrew")
    .description(
      "Run agents whose planner splits a task into a DAG and whose small local models do the subtasks.",
    )
    .version(packageVersion(), "-v, --version")
    .option("--debug", "print stack traces and error causes")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  registerRunCommand(program, io, outcome);
  registerResumeCommand(program, io, outcome);
  registerInspectCommand(program, io, outcome);
  registerRunsCommand(program, io, outcome);
  registerValidateCommand(program, io, outcome);
  registerSchemaCommand(program, io, outcome);
  registerFixtureCommand(program, io, outcome);
  registerModelsCommand(program, io, outcome);
  registerMcpCommand(program, io, outcome);
  registerDistillCommand(program, io, outcome);
  registerStatsCommand(program, io, outcome);
  registerDeviceCommand(program, io, outcome);
  return program;
}

/**
 * Runs the CLI with `argv` (as in `process.argv`: node, script, args…) and returns the exit code:
 * 0 success, 1 run failed, 2 usage or invalid definition, 130 interrupted.
 */
export async function main(argv: readonly string[], processIoValue: CliIo = processIo()): Promise<number> {
  const outcome: CommandOutcome = { code: ExitCode.OK };
  const tracked = trackStdout(processIoValue);
  const io = tracked.io;
  const program = buildProgram(io, outcome);
  // `run --json` / `resume --json` promise one JSON object on stdout: a failure before any result was printed
  // gets one too (the human-readable line still goes to stderr).
  const json = jsonCommand(argv);
  const printFailure = (code: string, message: string) => {
    if (json === undefined || tracked.written()) return;
    // resume's run id, once commander has parsed it (not after a usage error in its options).
    const runId =
      json === "resume" ? program.commands.find((command) => command.name() === json)?.args[0] : undefined;
    printJsonFailure(io, {
      ...(runId === undefined ? {} : { runId }),
      status: "failed",
      error: { code, message },
    });
  };
  try {
    await program.parseAsync([...argv]);
    return outcome.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit through here with code 0; usage errors were already printed by commander.
      if (error.exitCode === 0) return ExitCode.OK;
      printFailure(ErrorCodes.USAGE, error.message.replace(/^error: /, ""));
      return ExitCode.USAGE;
    }
    const failure = toEdgecrewError(error);
    printFailure(failure.code, failure.message);
    return reportError(io, error, program.opts<{ debug?: boolean }>().debug === true);
  }
}

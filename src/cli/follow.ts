/**
 * Drives a run in the terminal, shared by `run` and `resume`: SIGINT cancels (a second one forces), events are
 * printed as they come unless `--json` or `--quiet`, and the exit code follows the run's status.
 */
import type { Run } from "../runtime/startRun.js";
import type { RunResult } from "../types.js";
import { type CliIo, ExitCode } from "./io.js";
import { renderEvent, renderResult } from "./render.js";

/** How the run's output is shown. */
export interface FollowOptions {
  readonly json?: boolean;
  readonly quiet?: boolean;
}

function exitCodeOf(result: RunResult): number {
  if (result.status === "completed") return ExitCode.OK;
  return result.status === "cancelled" ? ExitCode.INTERRUPTED : ExitCode.RUN_FAILED;
}

/**
 * Starts a run with `start(signal)`, follows it to the end and prints the outcome. Returns the exit code.
 */
export async function followRun(
  io: CliIo,
  start: (signal: AbortSignal) => Run | Promise<Run>,
  options: FollowOptions,
): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const removeInterrupt = io.onInterrupt(() => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr.write("\ncancelling… (press ctrl-c again to force)\n");
      controller.abort(new Error("interrupted by SIGINT"));
    } else {
      io.forceExit(ExitCode.INTERRUPTED);
    }
  });
  try {
    const run = await start(controller.signal);
    const live = !options.json && !options.quiet;
    for await (const event of run.events) {
      const line = live ? renderEvent(event) : undefined;
      if (line !== undefined) io.stdout.write(`${line}\n`);
    }
    const result = await run.result;
    if (options.json) {
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else if (options.quiet) {
      if (result.status === "completed") {
        io.stdout.write(
          `${typeof result.answer === "string" ? result.answer : JSON.stringify(result.answer)}\n`,
        );
      } else {
        io.stderr.write(`edgecrew: run ${result.status}: ${result.error?.message ?? ""}\n`);
      }
    } else {
      io.stdout.write(`${renderResult(result)}\n`);
    }
    return exitCodeOf(result);
  } finally {
    removeInterrupt();
  }
}

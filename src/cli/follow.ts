/**
 * Drives a run in the terminal, shared by `run` and `resume`: SIGINT cancels (a second one forces), events are
 * printed as they come unless `--json` or `--quiet`, and the exit code follows the run's status.
 */
import type { Run } from "../runtime/startRun.js";
import type { RunResult } from "../types.js";
import { type CliIo, ExitCode } from "./io.js";
import { createProgressPainter, type ProgressPainter } from "./progress.js";
import { renderEvent, renderResult } from "./render.js";

/** How the run's output is shown. */
export interface FollowOptions {
  readonly json?: boolean;
  readonly quiet?: boolean;
  /** Shared with prompts (tool approvals) so the live view steps aside while they use the terminal. */
  readonly terminal?: TerminalGate;
}

/** Lets a prompt take the terminal while the live progress view, if any, steps aside. */
export interface TerminalGate {
  around<T>(fn: () => Promise<T>): Promise<T>;
  /** Set by `followRun` while a live view is on screen. */
  attach(painter: ProgressPainter | undefined): void;
}

/** A gate to share between `cliApproval` and `followRun`. */
export function createTerminalGate(): TerminalGate {
  let painter: ProgressPainter | undefined;
  return {
    around: (fn) => (painter === undefined ? fn() : painter.hold(fn)),
    attach: (next) => {
      painter = next;
    },
  };
}

function terminalSize(io: CliIo, key: "columns" | "rows", fallback?: number): number | undefined {
  const stream = io.stdout;
  const value = key in stream ? (stream as { readonly [k: string]: unknown })[key] : undefined;
  if (typeof value === "number" && value > 0) return value;
  const fromEnv = Number(io.env[key === "columns" ? "COLUMNS" : "LINES"]);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : fallback;
}

/** A live, redrawn view of the run (only on a TTY, without --json or --quiet). */
function livePainter(io: CliIo): ProgressPainter {
  return createProgressPainter({
    write: (text) => io.stdout.write(text),
    width: () => terminalSize(io, "columns", 80) ?? 80,
    rows: () => terminalSize(io, "rows"),
    now: () => Date.now(),
  });
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
  let painter: ProgressPainter | undefined;
  const removeInterrupt = io.onInterrupt(() => {
    interrupts++;
    if (interrupts === 1) {
      painter?.detach();
      io.stderr.write("\ncancelling… (press ctrl-c again to force)\n");
      controller.abort(new Error("interrupted by SIGINT"));
    } else {
      painter?.restore();
      io.forceExit(ExitCode.INTERRUPTED);
    }
  });
  try {
    const run = await start(controller.signal);
    const live = !options.json && !options.quiet;
    if (live && io.stdout.isTTY === true) painter = livePainter(io);
    options.terminal?.attach(painter);
    for await (const event of run.events) {
      if (painter !== undefined) {
        painter.update(event);
        continue;
      }
      const line = live ? renderEvent(event) : undefined;
      if (line !== undefined) io.stdout.write(`${line}\n`);
    }
    const result = await run.result;
    painter?.finish();
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
    options.terminal?.attach(undefined);
    painter?.restore();
    removeInterrupt();
  }
}

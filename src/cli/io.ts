/**
 * The CLI's view of the outside world, injected so that commands can be tested in-process and never touch
 * `process` directly (library code never calls `process.exit`).
 */
import { type EdgecrewError, ErrorCodes, isEdgecrewError, toEdgecrewError } from "../errors.js";

export interface CliIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Registers a SIGINT handler; returns a function that removes it. */
  readonly onInterrupt: (handler: () => void) => () => void;
  /** Ends the process at once (only for a second SIGINT, when the user insists). */
  readonly forceExit: (code: number) => void;
  /** Asks a question on the terminal; undefined when standard input is not a TTY (nobody to ask). */
  readonly ask?: (question: string, signal: AbortSignal) => Promise<string>;
}

/** Exit codes, documented in the README. */
export const ExitCode = {
  OK: 0,
  /** The run failed (or a model could not be loaded). */
  RUN_FAILED: 1,
  /** Bad usage or an invalid agent definition. */
  USAGE: 2,
  /** Interrupted with SIGINT (128 + 2). */
  INTERRUPTED: 130,
} as const;

const USAGE_CODES = new Set<string>([
  ErrorCodes.AGENT_INVALID,
  ErrorCodes.USAGE,
  ErrorCodes.MODEL_REF_INVALID,
  ErrorCodes.SCHEMA_INVALID,
  ErrorCodes.TOKEN_BUDGET_EXCEEDED,
]);

/** Maps an error to the process exit code. */
export function exitCodeFor(error: EdgecrewError): number {
  if (error.code === ErrorCodes.ABORTED) return ExitCode.INTERRUPTED;
  return USAGE_CODES.has(error.code) ? ExitCode.USAGE : ExitCode.RUN_FAILED;
}

/**
 * Prints an error as one clear line (the message may carry detail lines below it, e.g. every definition
 * problem), and the stack only with `--debug`. Returns the exit code.
 */
export function reportError(io: CliIo, value: unknown, debug: boolean): number {
  const error = toEdgecrewError(value);
  io.stderr.write(`edgecrew: ${error.message}\n`);
  if (debug) {
    io.stderr.write(`[${error.code}]\n${error.stack ?? ""}\n`);
    if (error.cause !== undefined)
      io.stderr.write(`cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n`);
  } else if (!isEdgecrewError(value)) {
    io.stderr.write("(run with --debug for details)\n");
  }
  return exitCodeFor(error);
}

/** The real process's IO. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onInterrupt: (handler) => {
      process.on("SIGINT", handler);
      return () => process.off("SIGINT", handler);
    },
    forceExit: (code) => process.exit(code),
    ...(process.stdin.isTTY
      ? {
          ask: async (question: string, signal: AbortSignal) => {
            const { createInterface } = await import("node:readline/promises");
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return await rl.question(question, { signal });
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  };
}

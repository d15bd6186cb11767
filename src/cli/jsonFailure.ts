/**
 * The `--json` contract of `run` and `resume` on the paths where no RunResult exists: a definition that does not
 * load, an MCP server that does not start, an unknown run id, a bad flag. A program reading stdout gets one JSON
 * object there too, `{ runId?, status: "failed", error: { code, message } }`, next to the usual line on stderr.
 */
import type { CliIo } from "./io.js";

/** What a failed `--json` invocation prints. */
export interface JsonFailure {
  readonly runId?: string;
  readonly status: "failed";
  readonly error: { readonly code: string; readonly message: string };
}

/**
 * The command (`run` or `resume`) when `argv` (node, script, args…) runs one of them with `--json`. Read from argv
 * rather than from commander, because a usage error stops commander before it has parsed the command's options.
 * Global options take no values, so the first word that is not an option is the command; `--` ends the options.
 */
export function jsonCommand(argv: readonly string[]): "run" | "resume" | undefined {
  const args = argv.slice(2);
  const end = args.indexOf("--");
  const options = end === -1 ? args : args.slice(0, end);
  const command = options.find((arg) => !arg.startsWith("-"));
  if ((command === "run" || command === "resume") && options.includes("--json")) return command;
  return undefined;
}

/**
 * An {@link CliIo} that remembers whether anything reached stdout, so that a failure after the result was
 * printed (e.g. while disposing the crew) does not add a second object.
 */
export function trackStdout(io: CliIo): { io: CliIo; readonly written: () => boolean } {
  let written = false;
  const stdout = {
    write: (text: string) => {
      if (text.length > 0) written = true;
      return io.stdout.write(text);
    },
    ...(io.stdout.isTTY === undefined ? {} : { isTTY: io.stdout.isTTY }),
  };
  // The painter reads columns/rows off stdout: keep them visible through the wrapper.
  Object.setPrototypeOf(stdout, io.stdout);
  return { io: { ...io, stdout }, written: () => written };
}

/** Writes the failure object on stdout (one line of JSON, pretty-printed like a RunResult). */
export function printJsonFailure(io: CliIo, failure: JsonFailure): void {
  io.stdout.write(`${JSON.stringify(failure, null, 2)}\n`);
}

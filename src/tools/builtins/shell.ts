/**
 * The opt-in `shell` built-in: `shell.run` runs one allow-listed program with an argument array. There is no
 * shell anywhere: the program is spawned directly, so `;`, `&&`, `$(…)`, globs and redirections in arguments
 * are just characters the program receives. The command name must be a bare allow-listed name (no path, no
 * metacharacter), the environment is reduced to a few harmless variables (so API keys in the agent's
 * environment do not leak to programs), output is capped, and a timeout or a cancelled run kills the whole
 * process group.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { z } from "zod";
import { throwIfAborted } from "../../errors.js";
import { defineTool, type Tool } from "../defineTool.js";
import {
  COMMAND_NAME_PATTERN,
  parseToolOptions,
  type ShellToolOptions,
  shellToolOptionsSchema,
} from "./options.js";

/** Most arguments one call may pass. */
export const MAX_SHELL_ARGS = 256;
/** Longest single argument, in characters. */
export const MAX_SHELL_ARG_LENGTH = 8192;

// Only what programs need to run and print sensibly; everything else (tokens, keys, proxies) stays behind.
const PASSED_ENV = ["PATH", "LANG", "LC_ALL", "TZ", "SystemRoot", "SYSTEMROOT", "windir"];

/** What a shell tool call returns: how the program ended and its (capped) output. */
export type ShellOutput = {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
};

function minimalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

// The child leads its own process group (detached), so killing the group also stops anything it started.
function killTree(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (process.platform !== "win32" && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

function execute(
  command: string,
  args: readonly string[],
  options: ShellToolOptions,
  signal: AbortSignal,
): Promise<ShellOutput> {
  throwIfAborted(signal);
  return new Promise<ShellOutput>((resolve, reject) => {
    const child = spawn(command, args, {
      shell: false,
      env: minimalEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: process.platform !== "win32",
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let captured = 0;
    let truncated = false;
    let settled = false;

    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      signal.removeEventListener("abort", onAbort);
      outcome();
    };
    const fail = (message: string) => {
      killTree(child);
      finish(() => reject(new Error(message)));
    };
    const onAbort = () =>
      fail(`${command} was killed: ${signal.reason instanceof Error ? signal.reason.message : "aborted"}`);
    // The registry's deadline (this tool's `timeoutMs`) normally fires first; this bounds direct use.
    const backstop = setTimeout(
      () => fail(`${command} timed out after ${options.timeoutMs} ms and was killed`),
      options.timeoutMs + 1000,
    );
    signal.addEventListener("abort", onAbort, { once: true });

    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (truncated) return;
      const room = options.maxOutputBytes - captured;
      if (chunk.byteLength > room) {
        into.push(chunk.subarray(0, room));
        captured = options.maxOutputBytes;
        truncated = true;
        // A program that keeps printing past the cap would otherwise run (and fill pipes) until the timeout.
        killTree(child);
        return;
      }
      into.push(chunk);
      captured += chunk.byteLength;
    };
    child.stdout?.on("data", collect(stdout));
    child.stderr?.on("data", collect(stderr));
    child.on("error", (error: NodeJS.ErrnoException) => {
      fail(
        error.code === "ENOENT"
          ? `${command} was not found on this machine's PATH`
          : `${command} could not run: ${error.message}`,
      );
    });
    child.on("close", (exitCode, exitSignal) => {
      finish(() =>
        resolve({
          exitCode,
          signal: exitSignal,
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8"),
          truncated,
        }),
      );
    });
  });
}

/**
 * Creates the `shell` family from its options: one tool, `shell.run` (`{ command, args }` →
 * `{ exitCode, signal, stdout, stderr, truncated }`). A non-zero exit is a normal result, not a failure: the
 * model should see what the program said. Throws TOOL_INVALID for bad options.
 *
 * @example
 * const [run] = createShellTools({ allow: ["ls", "wc"], timeoutMs: 5_000 });
 * // a model calls shell.run with { command: "ls", args: ["-la", "docs; rm -rf /"] }: ls gets two arguments
 */
export function createShellTools(options: {
  allow: readonly string[];
  timeoutMs?: number;
  maxOutputBytes?: number;
  approve?: boolean;
}): Tool[] {
  const parsed = parseToolOptions("shell", shellToolOptionsSchema, options);
  const allow = [...new Set(parsed.allow)];
  const [first, ...rest] = allow;
  if (first === undefined) return [];
  const input = z.object({
    command: z.enum([first, ...rest]).describe(`The program to run: one of ${allow.join(", ")}`),
    args: z
      .array(
        z
          .string()
          .max(MAX_SHELL_ARG_LENGTH)
          .refine((arg) => !arg.includes("\0"), { message: "an argument cannot contain a NUL byte" }),
      )
      .max(MAX_SHELL_ARGS)
      .default([])
      .describe("Arguments, one per item; they are passed as-is, never interpreted by a shell"),
  });
  return [
    defineTool({
      name: "shell.run",
      description: `Runs a program without a shell and returns { exitCode, signal, stdout, stderr, truncated }. Allowed programs: ${allow.join(", ")}. Pipes, redirections and ; or && do not work: run one program per call.`,
      input,
      approve: parsed.approve,
      timeoutMs: parsed.timeoutMs,
      // The output cap is the agent's choice; leave room for JSON escaping of the captured text.
      maxOutputBytes: parsed.maxOutputBytes * 2 + 4096,
      run: async ({ command, args }, { signal }): Promise<ShellOutput> => {
        // The schema already restricts `command`; checked again because this is the last line before a process.
        if (!allow.includes(command) || !COMMAND_NAME_PATTERN.test(command)) {
          throw new Error(`${JSON.stringify(command)} is not an allowed command`);
        }
        return execute(command, args, parsed, signal);
      },
    }),
  ];
}

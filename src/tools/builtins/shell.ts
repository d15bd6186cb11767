/**
 * The opt-in `shell` built-in: `shell.run` runs one allow-listed program with an argument array. There is no
 * shell anywhere: the program is spawned directly, so `;`, `&&`, `$(…)`, globs and redirections in arguments
 * are just characters the program receives. The command name must be a bare allow-listed name (no path, no
 * metacharacter), the arguments pass the argument rules (shellRules.ts: no `find -exec`, `git -c`, `env sh`, …),
 * the environment is reduced to a few harmless variables (so API keys in the agent's environment do not leak to
 * programs), and output is capped.
 *
 * Each call runs in a bubblewrap sandbox (sandbox.ts): the allowed programs and their libraries only, the tool's
 * `root` as the only writable directory and the working directory, no network unless granted, a PID namespace
 * that dies with the call. Where bubblewrap is missing the tool refuses to be created (SANDBOX_UNAVAILABLE)
 * unless its options say `sandbox: none`. Either way, the call's whole process group (or namespace) is killed when
 * the program exits, times out or is cancelled: nothing it started outlives the call.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import type { Writable } from "node:stream";
import { z } from "zod";
import { EdgecrewError, ErrorCodes, throwIfAborted } from "../../errors.js";
import { defineTool, type Tool } from "../defineTool.js";
import {
  COMMAND_NAME_PATTERN,
  parseToolOptions,
  type ShellToolOptions,
  shellToolOptionsSchema,
} from "./options.js";
import { findOnPath, requireBubblewrap, sandboxCommand } from "./sandbox.js";
import { checkShellArguments, effectiveRules } from "./shellRules.js";

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

// The child leads its own process group (detached), so killing the group also stops anything it started and
// left in it. Sent whether or not the child itself has exited: its background children may still be running.
// Under bubblewrap the child is bwrap, whose PID namespace dies with it (and takes every process of the call).
function killTree(child: ChildProcess): void {
  try {
    if (process.platform !== "win32" && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // ESRCH: the group is gone already
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** What runs for one call: the program itself (`sandbox: none`) or bwrap around it. */
type Launch = { file: string; args: string[]; env: NodeJS.ProcessEnv; cwd?: string; fds: readonly string[] };

function execute(
  command: string,
  launch: Launch,
  options: ShellToolOptions,
  signal: AbortSignal,
): Promise<ShellOutput> {
  throwIfAborted(signal);
  return new Promise<ShellOutput>((resolve, reject) => {
    const child = spawn(launch.file, launch.args, {
      shell: false,
      env: launch.env,
      ...(launch.cwd === undefined ? {} : { cwd: launch.cwd }),
      stdio: ["ignore", "pipe", "pipe", ...launch.fds.map(() => "pipe" as const)],
      detached: process.platform !== "win32",
      windowsHide: true,
    });
    // Data bwrap reads from fds 3, 4, … (the sandbox's /etc/passwd and /etc/group).
    for (const [index, data] of launch.fds.entries()) {
      const stream = child.stdio[index + 3] as Writable | null | undefined;
      stream?.on("error", () => undefined);
      stream?.end(data);
    }
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
    // The program is done: whatever it left behind in its group goes too (background children would otherwise
    // run on, and keep the output pipes, hence the call, open until the timeout).
    child.on("exit", () => killTree(child));
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
 * Where a call runs: the program found on this machine's PATH, then (by default) wrapped in bwrap. Throws a plain
 * Error (the call's failure, told to the model) when something is missing.
 */
function prepare(
  command: string,
  args: readonly string[],
  options: ShellToolOptions,
  bwrap: string | undefined,
): Launch {
  const { root } = options;
  if (root !== undefined) {
    let isDirectory = false;
    try {
      isDirectory = statSync(root).isDirectory();
    } catch {
      // missing: reported below
    }
    if (!isDirectory) throw new Error(`the shell tool's root ${root} does not exist or is not a directory`);
  }
  const env = minimalEnv();
  if (bwrap === undefined) {
    // `sandbox: none`: spawned directly (an ENOENT says the program is missing).
    return { file: command, args: [...args], env, ...(root === undefined ? {} : { cwd: root }), fds: [] };
  }
  const programs = new Map<string, string>();
  for (const name of options.allow) {
    const path = findOnPath(name, process.env.PATH);
    if (path !== undefined) programs.set(name, path);
    else if (name === command) throw new Error(`${command} was not found on this machine's PATH`);
  }
  const inside: Record<string, string> = {};
  for (const name of ["LANG", "LC_ALL", "TZ"]) {
    const value = env[name];
    if (value !== undefined) inside[name] = value;
  }
  const sandboxed = sandboxCommand(
    {
      bwrap,
      programs,
      ...(root === undefined ? {} : { root }),
      readable: options.readable,
      network: options.network,
      env: inside,
    },
    command,
    args,
  );
  return {
    file: sandboxed.file,
    args: sandboxed.args,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    fds: sandboxed.fds,
  };
}

/**
 * Creates the `shell` family from its options: one tool, `shell.run` (`{ command, args }` →
 * `{ exitCode, signal, stdout, stderr, truncated }`). A non-zero exit is a normal result, not a failure: the
 * model should see what the program said. Throws TOOL_INVALID for bad options, and SANDBOX_UNAVAILABLE when
 * bubblewrap cannot be used here and the options do not say `sandbox: none`. A call whose arguments break the
 * argument rules fails with TOOL_REFUSED before anything runs.
 *
 * @example
 * const [run] = createShellTools({ allow: ["ls", "wc"], root: "/srv/data", timeoutMs: 5_000 });
 * // a model calls shell.run with { command: "ls", args: ["-la", "docs; rm -rf /"] }: ls gets two arguments,
 * // in a sandbox where /srv/data is the working directory and the only writable one
 */
export function createShellTools(options: z.input<typeof shellToolOptionsSchema>): Tool[] {
  const parsed = parseToolOptions("shell", shellToolOptionsSchema, options);
  const allow = [...new Set(parsed.allow)];
  const strangers = Object.keys(parsed.rules).filter((name) => !allow.includes(name));
  if (strangers.length > 0) {
    const errors = strangers.map(
      (name) =>
        `rules.${name}: ${name} is not in the allow list (${allow.join(", ")}); a rule is for an allowed program`,
    );
    throw new EdgecrewError(
      ErrorCodes.TOOL_INVALID,
      `invalid options for the shell tool:\n${errors.join("\n")}`,
      {
        context: { tool: "shell", errors },
      },
    );
  }
  const rules = effectiveRules(allow, parsed.rules);
  const bwrap = parsed.sandbox === "bwrap" ? requireBubblewrap() : undefined;
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
      // The output cap is the agent's choice; the registry counts kept bytes, so the headroom is for text that grows
      // when decoded (an invalid byte becomes a 3-byte U+FFFD) and the other fields; past it the output is cut.
      maxOutputBytes: parsed.maxOutputBytes * 2 + 4096,
      run: async ({ command, args }, { signal }): Promise<ShellOutput> => {
        // The schema already restricts `command`; checked again because this is the last line before a process.
        if (!allow.includes(command) || !COMMAND_NAME_PATTERN.test(command)) {
          throw new Error(`${JSON.stringify(command)} is not an allowed command`);
        }
        checkShellArguments(command, args, rules);
        return execute(command, prepare(command, args, parsed, bwrap), parsed, signal);
      },
    }),
  ];
}

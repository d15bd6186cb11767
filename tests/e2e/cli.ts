/** Runs the built CLI (`bin/edgecrew.js`) in a child process, as a user would. */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const bin = resolve(repoRoot, "bin/edgecrew.js");

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `edgecrew ...args` and collects its output; kills it after `timeoutMs`. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return runNode([bin, ...args], options);
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  onStdout?: (chunk: string, kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs `node ...args` (a script and its arguments) and collects its output; kills it after `timeoutMs`. */
export function runNode(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk, (signal) => child.kill(signal));
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** An ANSI control sequence (cursor moves, clears, cursor visibility, colours). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
export const ANSI = /\x1b\[[\d;?]*[A-Za-z]/g;

/** `arg` quoted for a POSIX shell. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `edgecrew ...args` under a pseudo-terminal (util-linux `script`), so that its stdout is a TTY of 100
 * columns; stdout and stderr come back as one `output`, as a terminal shows them.
 */
export function runInPty(
  args: readonly string[],
  options: { env?: Record<string, string> } = {},
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, bin, ...args].map(shellQuote).join(" ");
  return new Promise((resolvePromise, reject) => {
    const child = spawn("/usr/bin/script", ["-qefc", command, "/dev/null"], {
      cwd: repoRoot,
      env: { ...process.env, ...options.env, TERM: "xterm", COLUMNS: "100" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const collect = (chunk: string) => {
      output += chunk;
    };
    child.stdout.setEncoding("utf8").on("data", collect);
    child.stderr.setEncoding("utf8").on("data", collect);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

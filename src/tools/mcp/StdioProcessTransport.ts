/**
 * An MCP client transport over a child process's stdin/stdout. The SDK ships one, but it forgets how the
 * process ended and what it said on stderr; edgecrew needs both to tell a user *why* a server is gone
 * ("exited (code 3)", the last lines it printed). Framing is the SDK's own (newline-delimited JSON-RPC).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { McpServerExit } from "./McpServerError.js";

/** The process to start. `env` is added to a minimal inherited environment (PATH, HOME, …), not to all of it. */
export interface StdioProcessParams {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

// Enough of stderr to show why a server died, without holding a chatty server's whole log.
const STDERR_TAIL_CHARS = 2_000;
/** The longest message edgecrew reads from a server (the SDK's default); a longer one stops the server. */
export const MAX_MCP_MESSAGE_BYTES = 10 * 1024 * 1024;
// How long a server gets to exit on its own after stdin closes, then after SIGTERM, before SIGKILL.
const CLOSE_GRACE_MS = 1_000;

/** A {@link Transport} that owns one child process; `close()` ends it (stdin, then SIGTERM, then SIGKILL). */
export class StdioProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #params: StdioProcessParams;
  readonly #buffer = new ReadBuffer({ maxBufferSize: MAX_MCP_MESSAGE_BYTES });
  #child: ChildProcess | undefined;
  #exit: McpServerExit | undefined;
  #stderr = "";
  #spawnError: Error | undefined;
  /** Why the transport killed the server itself, when it did. */
  #stoppedBecause: string | undefined;
  #resolveExited: (exit: McpServerExit) => void = () => {};
  /** Resolves once the process has ended (never, if it was never started). */
  readonly exited: Promise<McpServerExit>;

  constructor(params: StdioProcessParams) {
    this.#params = params;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
  }

  /** The child's pid once started (undefined before, or when spawning failed). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** How the process ended; undefined while it runs. */
  get exit(): McpServerExit | undefined {
    return this.#exit;
  }

  /** Why the process could not be spawned (ENOENT, EACCES, …), when it could not. */
  get spawnError(): Error | undefined {
    return this.#spawnError;
  }

  /** The last ~2 000 characters the process wrote to stderr. */
  get stderrTail(): string {
    return this.#stderr;
  }

  /** Spawns the process; rejects when it cannot be spawned (e.g. ENOENT for a missing command). */
  start(): Promise<void> {
    if (this.#child !== undefined) return Promise.reject(new Error("the transport was already started"));
    const { command, args, env, cwd } = this.#params;
    return new Promise((resolve, reject) => {
      const child = spawn(command, [...args], {
        env: { ...getDefaultEnvironment(), ...env },
        stdio: ["pipe", "pipe", "pipe"],
        shell: false,
        windowsHide: true,
        ...(cwd === undefined ? {} : { cwd }),
      });
      this.#child = child;
      child.once("spawn", () => resolve());
      child.on("error", (error) => {
        this.#spawnError ??= error;
        reject(error);
        this.onerror?.(error);
      });
      // 'close' comes after stdout has drained, so every message the server sent has been delivered first.
      child.once("close", (code, signal) => this.#ended({ code, signal }));
      child.stdout?.on("data", (chunk: Buffer) => this.#read(chunk));
      child.stderr?.setEncoding("utf8");
      child.stderr?.on("data", (text: string) => {
        this.#stderr = (this.#stderr + text).slice(-STDERR_TAIL_CHARS);
      });
      // A write to a dead server's stdin is reported through `exit`, not as an unhandled stream error.
      child.stdin?.on("error", (error) => this.onerror?.(error));
    });
  }

  /** Writes one message; rejects when the process is not running. */
  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (stdin === undefined || stdin === null || this.#exit !== undefined || stdin.destroyed) {
      return Promise.reject(new Error("the MCP server process is not running"));
    }
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once("drain", () => resolve());
    });
  }

  /** Ends the process and waits for it; idempotent. */
  async close(): Promise<void> {
    const child = this.#child;
    if (child === undefined || this.#exit !== undefined) return;
    child.stdin?.end();
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (await this.#exitsWithin(CLOSE_GRACE_MS)) return;
      child.kill(signal);
    }
    await this.exited;
  }

  async #exitsWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([this.exited.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #read(chunk: Buffer): void {
    try {
      this.#buffer.append(chunk);
    } catch (error) {
      // One message over the buffer limit: the stream cannot be resynchronised, so the server is stopped, and
      // its exit says why (not "killed by SIGKILL", which reads like a crash).
      this.#stoppedBecause ??= `it sent a message over ${MAX_MCP_MESSAGE_BYTES / 2 ** 20} MiB, the most edgecrew reads from an MCP server`;
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      this.#child?.kill("SIGKILL");
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#buffer.readMessage();
      } catch (error) {
        // A line that is not JSON-RPC (a server logging to stdout) is reported and skipped.
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  #ended(exit: McpServerExit): void {
    if (this.#exit !== undefined) return;
    this.#exit =
      this.#stoppedBecause === undefined ? exit : { ...exit, stoppedBecause: this.#stoppedBecause };
    this.#buffer.clear();
    this.#resolveExited(this.#exit);
    this.onclose?.();
  }
}

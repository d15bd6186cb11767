/**
 * The typed error of an MCP server that cannot serve: it failed to start (bad command, crashed during the
 * handshake, too slow to list its tools) or it exited while a run was using it. Both carry MCP_SERVER_FAILED.
 * One case keeps SUBTASK_FAILED on purpose: the error that ends a subtask because its server died
 * ({@link subtaskEndedByServerExit}), since SUBTASK_FAILED is what a worker reads as "stop this subtask" rather
 * than "let the model try something else" (workers/LocalWorker.ts); its cause is the server's own error.
 */
import { EdgecrewError, ErrorCodes } from "../../errors.js";

/** When an MCP server failed: while starting, or after it had started. */
export type McpServerPhase = "start" | "exited";

/** How a server process ended: its exit code, or the signal that killed it. */
export interface McpServerExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** Set when edgecrew stopped the server itself, and why (e.g. a message over the transport's limit). */
  readonly stoppedBecause?: string;
}

/** Renders an exit the way users read it: `code 3`, `signal SIGKILL`, or why edgecrew stopped it. */
export function describeExit(exit: McpServerExit): string {
  if (exit.stoppedBecause !== undefined) return `stopped by edgecrew: ${exit.stoppedBecause}`;
  if (exit.signal !== null) return `signal ${exit.signal}`;
  return `code ${exit.code ?? "unknown"}`;
}

/** An MCP server failed to start or exited; `server` names it as the agent's YAML does. */
export class McpServerError extends EdgecrewError {
  readonly server: string;
  readonly phase: McpServerPhase;

  constructor(
    server: string,
    phase: McpServerPhase,
    message: string,
    options: {
      cause?: unknown;
      exit?: McpServerExit;
      /** SUBTASK_FAILED only for the error that ends a subtask (see {@link subtaskEndedByServerExit}). */
      code?: typeof ErrorCodes.MCP_SERVER_FAILED | typeof ErrorCodes.SUBTASK_FAILED;
    } = {},
  ) {
    super(options.code ?? ErrorCodes.MCP_SERVER_FAILED, message, {
      cause: options.cause,
      context: {
        server,
        phase,
        ...(options.exit === undefined ? {} : { exitCode: options.exit.code, signal: options.exit.signal }),
      },
    });
    this.name = "McpServerError";
    this.server = server;
    this.phase = phase;
  }
}

/** The error every call of a dead server's tools fails with: `MCP server <name> exited (code 3)`. */
export function serverExitedError(server: string, exit: McpServerExit): McpServerError {
  return new McpServerError(server, "exited", `MCP server ${server} exited (${describeExit(exit)})`, {
    exit,
  });
}

/**
 * The error that ends a subtask whose tool's server has exited: code SUBTASK_FAILED (what the worker stops on),
 * the same message, and the server's MCP_SERVER_FAILED error as its cause.
 */
export function subtaskEndedByServerExit(server: string, exit: McpServerExit): McpServerError {
  const cause = serverExitedError(server, exit);
  return new McpServerError(server, "exited", cause.message, {
    cause,
    exit,
    code: ErrorCodes.SUBTASK_FAILED,
  });
}

/** True for an {@link McpServerError} (checks the name and shape, so it works across package copies). */
export function isMcpServerError(value: unknown): value is McpServerError {
  return (
    value instanceof EdgecrewError &&
    value.name === "McpServerError" &&
    typeof (value as Partial<McpServerError>).server === "string"
  );
}

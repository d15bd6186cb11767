/**
 * The typed error of an MCP server that cannot serve: it failed to start (bad command, crashed during the
 * handshake, too slow to list its tools) or it exited while a run was using it. The two phases carry different
 * codes on purpose: a server that never started is a broken tool source (TOOL_INVALID, raised by `createCrew`
 * before any planning), while a server that died mid-run ends the subtasks that needed it (SUBTASK_FAILED, which
 * the workers treat as "stop this subtask" rather than "let the model try something else").
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
    options: { cause?: unknown; exit?: McpServerExit } = {},
  ) {
    super(phase === "start" ? ErrorCodes.TOOL_INVALID : ErrorCodes.SUBTASK_FAILED, message, {
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

/** True for an {@link McpServerError} (checks the name and shape, so it works across package copies). */
export function isMcpServerError(value: unknown): value is McpServerError {
  return (
    value instanceof EdgecrewError &&
    value.name === "McpServerError" &&
    typeof (value as Partial<McpServerError>).server === "string"
  );
}

import type { UsageRecord } from "./types.js";

/**
 * Every error edgecrew throws is an {@link EdgecrewError}: a stable string `code` that programs and the CLI
 * can switch on, an optional `cause`, and a readonly `context` with the facts a user needs to fix the problem.
 * Subclasses exist where callers want to catch a family (`AgentDefinitionError`, `ModelError`, …); each has
 * an `isXxx` guard that works across package copies because it checks `code`, not `instanceof`.
 */

/** Stable error codes. Never renamed once released; the CLI maps them to exit codes. */
export const ErrorCodes = {
  /** An agent definition (YAML or object) failed validation; `issues` lists every problem. */
  AGENT_INVALID: "AGENT_INVALID",
  /** A model reference string cannot be parsed or is not allowed where it is used. */
  MODEL_REF_INVALID: "MODEL_REF_INVALID",
  /** A local model file does not exist or cannot be read. */
  MODEL_NOT_FOUND: "MODEL_NOT_FOUND",
  /** A file is not a usable GGUF model (bad magic, truncated, missing required metadata, wrong architecture). */
  MODEL_INVALID: "MODEL_INVALID",
  /** llama.cpp failed to load a model or create its context. */
  MODEL_LOAD_FAILED: "MODEL_LOAD_FAILED",
  /** A model (with its context) cannot fit in `device.memory`, even alone. */
  MEMORY_BUDGET_EXCEEDED: "MEMORY_BUDGET_EXCEEDED",
  /** The planner produced no valid plan within its bounded number of attempts. */
  PLAN_INVALID: "PLAN_INVALID",
  /** The planner model itself failed (network, provider error, unparsable reply after retries). */
  PLANNER_FAILED: "PLANNER_FAILED",
  /**
   * Under `privacy.policy: strict`, a request to a remote planner would have carried private data; nothing was
   * sent. `context`: `purpose` (plan, join, solve, …), `origins` (what would have left), `subtaskId` if any.
   */
  PRIVACY_VIOLATION: "PRIVACY_VIOLATION",
  /** A worker could not produce a schema-valid answer and escalation was not possible. */
  SUBTASK_FAILED: "SUBTASK_FAILED",
  /** A JSON Schema (a worker's `output`, an agent's `answer`, a tool's input) cannot be used. */
  SCHEMA_INVALID: "SCHEMA_INVALID",
  /**
   * A grammar-constrained output (an answer, a tool call, a plan) cannot be guaranteed to close within its token
   * budget, even with every length its schema leaves open at its smallest; `context.tokensNeeded` says how many.
   */
  TOKEN_BUDGET_EXCEEDED: "TOKEN_BUDGET_EXCEEDED",
  /**
   * A worker's prompt (system prompt, tool descriptions, instruction) and its `maxTokens` do not fit its context;
   * `context` says how many tokens each takes.
   */
  CONTEXT_TOO_SMALL: "CONTEXT_TOO_SMALL",
  /** A value failed validation against a JSON Schema / zod schema. */
  OUTPUT_INVALID: "OUTPUT_INVALID",
  /** A tool name that no registry knows. */
  TOOL_NOT_FOUND: "TOOL_NOT_FOUND",
  /** A tool definition is malformed (duplicate name, bad schema). */
  TOOL_INVALID: "TOOL_INVALID",
  /** An MCP server failed to start, to answer the handshake or to list its tools in time, or died while in use. */
  MCP_SERVER_FAILED: "MCP_SERVER_FAILED",
  /** A tool refused a call under its policy before doing anything (an http URL outside the allow-list). */
  TOOL_REFUSED: "TOOL_REFUSED",
  /**
   * The shell tool's sandbox (bubblewrap) is missing or does not work on this machine, and the tool's config did
   * not opt out with `sandbox: none`.
   */
  SANDBOX_UNAVAILABLE: "SANDBOX_UNAVAILABLE",
  /** A run crossed one of its limits (time, subtasks, tokens). */
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  /** No stored run has this id. */
  RUN_NOT_FOUND: "RUN_NOT_FOUND",
  /** A stored run's directory is damaged or partial and cannot be trusted for resume. */
  RUN_CORRUPT: "RUN_CORRUPT",
  /** The run store could not write (disk full, read-only directory, permissions). */
  RUN_STORE_FAILED: "RUN_STORE_FAILED",
  /**
   * A fleet's NATS hub cannot be reached, refused the credentials (`context.reason: "auth"`), or has no JetStream.
   */
  HUB_FAILED: "HUB_FAILED",
  /** In a fleet, no live device serves a subtask's worker, for longer than `fleet.deviceWaitSeconds`. */
  NO_DEVICE: "NO_DEVICE",
  /** The operation was cancelled through its AbortSignal. */
  ABORTED: "ABORTED",
  /** An object was used after `dispose()`. */
  DISPOSED: "DISPOSED",
  /** The command line was used wrongly. */
  USAGE: "USAGE",
  /** Anything else: a bug in edgecrew or an unexpected failure of a dependency. */
  INTERNAL: "INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Facts attached to an error; JSON-serialisable so that events and run logs can carry them. */
export type ErrorContext = Readonly<Record<string, unknown>>;

/** A plain, JSON-safe description of an error, as carried by events and run results. */
export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
  readonly context?: ErrorContext;
}

/** Base class of every error edgecrew throws. */
export class EdgecrewError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  /**
   * Model usage spent before the failure (e.g. every rejected plan), so that a failed run's ledger still counts
   * the tokens it cost. Not part of `toInfo()`.
   */
  usage: readonly UsageRecord[] = [];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EdgecrewError";
    this.code = code;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }

  /** The JSON-safe form carried by events and results. */
  toInfo(): ErrorInfo {
    return Object.keys(this.context).length > 0
      ? { code: this.code, message: this.message, context: this.context }
      : { code: this.code, message: this.message };
  }
}

/** One problem in an agent definition, located in its source file when it came from YAML. */
export interface DefinitionIssue {
  /** The YAML file, when known. */
  readonly file?: string;
  /** 1-based line and column of the offending node, when known. */
  readonly line?: number;
  readonly col?: number;
  /** Dotted path to the key, e.g. `workers[1].model`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** Formats an issue as `file:line:col: path: message` (parts that are unknown are left out). */
export function formatIssue(issue: DefinitionIssue): string {
  const where = [issue.file, issue.line, issue.col].filter((part) => part !== undefined).join(":");
  const parts = [where, issue.path].filter((part) => part !== undefined && part !== "");
  return parts.length > 0 ? `${parts.join(": ")}: ${issue.message}` : issue.message;
}

/** An agent definition is invalid; `issues` lists every problem found, not just the first. */
export class AgentDefinitionError extends EdgecrewError {
  readonly issues: readonly DefinitionIssue[];

  constructor(issues: readonly DefinitionIssue[], options: { file?: string; cause?: unknown } = {}) {
    const count = issues.length;
    const head = `${options.file ?? "agent definition"}: ${count} problem${count === 1 ? "" : "s"}`;
    super(ErrorCodes.AGENT_INVALID, `${head}\n${issues.map(formatIssue).join("\n")}`, {
      cause: options.cause,
      context: { file: options.file, issues: issues.map((issue) => ({ ...issue })) },
    });
    this.name = "AgentDefinitionError";
    this.issues = Object.freeze([...issues]);
  }
}

/** A model file or reference problem: not found, not a valid GGUF, failed to load, too big for the budget. */
export class ModelError extends EdgecrewError {
  constructor(
    code:
      | typeof ErrorCodes.MODEL_REF_INVALID
      | typeof ErrorCodes.MODEL_NOT_FOUND
      | typeof ErrorCodes.MODEL_INVALID
      | typeof ErrorCodes.MODEL_LOAD_FAILED
      | typeof ErrorCodes.MEMORY_BUDGET_EXCEEDED,
    message: string,
    options: { cause?: unknown; context?: ErrorContext } = {},
  ) {
    super(code, message, options);
    this.name = "ModelError";
  }
}

/** The planner could not produce a valid plan; `errors` are the validation problems of the last attempt. */
export class PlanError extends EdgecrewError {
  readonly errors: readonly string[];

  constructor(
    message: string,
    errors: readonly string[],
    options: { cause?: unknown; attempts?: number } = {},
  ) {
    super(ErrorCodes.PLAN_INVALID, `${message}\n${errors.map((e) => `  - ${e}`).join("\n")}`, {
      cause: options.cause,
      context: { errors: [...errors], attempts: options.attempts },
    });
    this.name = "PlanError";
    this.errors = Object.freeze([...errors]);
  }
}

/** A value did not match its schema; `errors` are human-readable `path: message` strings. */
export class ValidationError extends EdgecrewError {
  readonly errors: readonly string[];

  constructor(
    message: string,
    errors: readonly string[],
    options: { cause?: unknown; context?: ErrorContext } = {},
  ) {
    super(ErrorCodes.OUTPUT_INVALID, message, {
      cause: options.cause,
      context: { ...(options.context ?? {}), errors: [...errors] },
    });
    this.name = "ValidationError";
    this.errors = Object.freeze([...errors]);
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends EdgecrewError {
  constructor(message = "the operation was aborted", options: { cause?: unknown } = {}) {
    super(ErrorCodes.ABORTED, message, options);
    this.name = "AbortError";
  }
}

/** An object was used after it was disposed. */
export class DisposedError extends EdgecrewError {
  constructor(what: string) {
    super(ErrorCodes.DISPOSED, `${what} was used after dispose()`, { context: { what } });
    this.name = "DisposedError";
  }
}

/** True for any edgecrew error (checks the shape, so it works across duplicated package copies). */
export function isEdgecrewError(value: unknown): value is EdgecrewError {
  if (!(value instanceof Error)) return false;
  const code: unknown = (value as { code?: unknown }).code;
  return typeof code === "string" && code in ErrorCodes;
}

/**
 * True for the JSON form of an edgecrew error (`{ code, message, context? }` with a known code): what a failed
 * `RunResult.error`, a `subtask.failed` or `run.failed` event carry, also after a round trip through a file or a
 * pipe (`outcome.json`, `run --json`), where the EdgecrewError itself cannot travel.
 */
export function isErrorInfo(value: unknown): value is ErrorInfo {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const { code, message, context } = value as { code?: unknown; message?: unknown; context?: unknown };
  return (
    typeof code === "string" &&
    code in ErrorCodes &&
    typeof message === "string" &&
    (context === undefined || (typeof context === "object" && context !== null && !Array.isArray(context)))
  );
}

/**
 * The EdgecrewError an {@link ErrorInfo} describes (same code, message and context), e.g. to throw a failed run's
 * error: `if (result.status === "failed") throw errorFromInfo(result.error)`. `isEdgecrewError` holds for it.
 */
export function errorFromInfo(info: ErrorInfo): EdgecrewError {
  return new EdgecrewError(
    info.code,
    info.message,
    info.context === undefined ? {} : { context: info.context },
  );
}

function hasCode<E extends EdgecrewError>(code: ErrorCode) {
  return (value: unknown): value is E => isEdgecrewError(value) && value.code === code;
}

export const isAgentDefinitionError = hasCode<AgentDefinitionError>(ErrorCodes.AGENT_INVALID);
export const isPlanError = hasCode<PlanError>(ErrorCodes.PLAN_INVALID);
export const isValidationError = hasCode<ValidationError>(ErrorCodes.OUTPUT_INVALID);
export const isAbortError = hasCode<AbortError>(ErrorCodes.ABORTED);
export const isDisposedError = hasCode<DisposedError>(ErrorCodes.DISPOSED);
export function isModelError(value: unknown): value is ModelError {
  return (
    isEdgecrewError(value) &&
    (value.code === ErrorCodes.MODEL_REF_INVALID ||
      value.code === ErrorCodes.MODEL_NOT_FOUND ||
      value.code === ErrorCodes.MODEL_INVALID ||
      value.code === ErrorCodes.MODEL_LOAD_FAILED ||
      value.code === ErrorCodes.MEMORY_BUDGET_EXCEEDED)
  );
}

/**
 * Turns anything thrown into an EdgecrewError: edgecrew errors pass through, an AbortSignal's reason becomes
 * an AbortError, anything else becomes INTERNAL with the original as `cause`.
 */
export function toEdgecrewError(
  value: unknown,
  fallbackCode: ErrorCode = ErrorCodes.INTERNAL,
): EdgecrewError {
  if (isEdgecrewError(value)) return value;
  if (value instanceof Error && (value.name === "AbortError" || value.name === "TimeoutError")) {
    return new AbortError(value.message, { cause: value });
  }
  const message = value instanceof Error ? value.message : String(value);
  return new EdgecrewError(fallbackCode, message, { cause: value });
}

/** Throws an AbortError when the signal is already aborted (use at the top of every async step). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new AbortError(
      signal.reason instanceof Error ? signal.reason.message : "the operation was aborted",
      { cause: signal.reason },
    );
  }
}

/** The AbortError for a fired signal, naming what was aborted and keeping the signal's reason as the cause. */
export function abortErrorFor(signal: AbortSignal, what = "the operation"): AbortError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error && reason.message !== "" ? `: ${reason.message}` : "";
  return new AbortError(`${what} was aborted${detail}`, { cause: reason });
}

/**
 * Runs `fn` with a signal of its own that aborts when `signal` does, and unhooks it afterwards. For calls into
 * libraries that add an abort listener per call and never remove it (LangChain's invoke does): they attach to
 * the short-lived signal, so a long run's signal does not collect a listener per call.
 */
export async function withCallSignal<T>(
  signal: AbortSignal,
  fn: (callSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const call = new AbortController();
  const onAbort = () => call.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await fn(call.signal);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Waits for a promise, or rejects with an AbortError as soon as the signal fires. The promise itself keeps
 * running (callers clean up after it where that matters); a rejection it produces later is not left unhandled.
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what?: string,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortErrorFor(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(abortErrorFor(signal, what));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

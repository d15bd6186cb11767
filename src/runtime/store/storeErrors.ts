/**
 * The typed errors every run store throws, built in one place so that a file store and a memory store word
 * them alike and carry the same context keys (`runId`, `file`, `path`, `reason`): callers switch on the code,
 * the CLI prints the message, and a test can assert the context without knowing which store produced it.
 */
import { EdgecrewError, ErrorCodes, type ErrorContext } from "../../errors.js";

/** Drops keys whose value is undefined, so that `toInfo()` and logs show only the facts that are known. */
function known(context: Record<string, unknown>): ErrorContext {
  return Object.fromEntries(Object.entries(context).filter(([, value]) => value !== undefined));
}

/**
 * What a run id must look like: one safe path segment. The first character may not be a dot, so `.`, `..` and
 * hidden names (which the file store uses for its temporary directories) can never be run ids.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Longest accepted run id: comfortably below the 255-byte file-name limit of common file systems. */
export const MAX_RUN_ID_LENGTH = 200;

/**
 * Whether `runId` can name a run: it matches {@link RUN_ID_PATTERN} and is at most {@link MAX_RUN_ID_LENGTH}
 * characters, so it can never reach outside the store's root when used as a directory name.
 *
 * @example
 * isSafeRunId("20250101-120000-ab12cd"); // true
 * isSafeRunId("../etc"); // false
 */
export function isSafeRunId(runId: string): boolean {
  return runId.length <= MAX_RUN_ID_LENGTH && RUN_ID_PATTERN.test(runId);
}

/** RUN_NOT_FOUND: no stored run has this id (an id that could never name a run is reported the same way). */
export function runNotFound(runId: string): EdgecrewError {
  return new EdgecrewError(ErrorCodes.RUN_NOT_FOUND, `no stored run has the id ${JSON.stringify(runId)}`, {
    context: { runId },
  });
}

/**
 * RUN_CORRUPT: a stored run cannot be trusted for resume. `file` names the damaged file (relative to the run,
 * e.g. `results/r0/s1.json`), `line` the 1-based line of a JSONL file when that is where the damage is.
 */
export function runCorrupt(
  runId: string,
  file: string,
  problem: string,
  options: { cause?: unknown; line?: number; path?: string } = {},
): EdgecrewError {
  const where = options.line === undefined ? file : `${file}:${options.line}`;
  return new EdgecrewError(ErrorCodes.RUN_CORRUPT, `run ${runId} is corrupt: ${where}: ${problem}`, {
    cause: options.cause,
    context: known({ runId, file, line: options.line, path: options.path }),
  });
}

/**
 * Why a store refused or failed a write. `io`: the file system failed (disk full, read-only, permissions);
 * `exists`: `create` on an id already taken; the others are caller mistakes the store refuses rather than
 * record something `load` would later have to call corrupt.
 */
export type StoreFailureReason =
  | "io"
  | "exists"
  | "invalid-run-id"
  | "invalid-record"
  | "not-in-plan"
  | "no-plan"
  | "revision"
  | "wrong-run";

/** RUN_STORE_FAILED: a write did not happen. `path` is the file or directory involved, when there is one. */
export function storeFailed(
  runId: string,
  reason: StoreFailureReason,
  message: string,
  options: { cause?: unknown; path?: string; errno?: string } = {},
): EdgecrewError {
  return new EdgecrewError(ErrorCodes.RUN_STORE_FAILED, message, {
    cause: options.cause,
    context: known({ runId, reason, path: options.path, errno: options.errno }),
  });
}

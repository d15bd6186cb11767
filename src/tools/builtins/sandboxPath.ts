/**
 * Confines file paths written by a model to one root directory. Two layers, both applied before any file is
 * opened: a lexical check that refuses what is never a legitimate relative path (absolute paths, `..`
 * segments, percent-encoded traversal, NUL bytes), then a realpath check on the longest existing prefix of the
 * path, which catches symbolic links (in any component) that lead out of the root. Callers then open the
 * *resolved* path, with `O_NOFOLLOW`, so a link swapped in after the check is not followed either.
 *
 * Out of scope: a local process racing to replace a directory between the check and the open (that needs
 * `openat`-style APIs Node does not expose), and hard links, which cannot be told apart from ordinary files.
 */
import { constants } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

/** Longest path accepted, in characters. */
export const MAX_SANDBOX_PATH_LENGTH = 4096;

/** `O_NOFOLLOW` where the platform has it (0 elsewhere, e.g. Windows, where the realpath check still applies). */
export const O_NOFOLLOW: number = constants.O_NOFOLLOW ?? 0;

const PERCENT_ESCAPE = /%[0-9a-f]{2}/i;

function decodeRepeatedly(path: string): string {
  let current = path;
  // Double encoding (`%252e`) decodes in two rounds; a few rounds cover any sane input.
  for (let round = 0; round < 4 && PERCENT_ESCAPE.test(current); round++) {
    try {
      current = decodeURIComponent(current);
    } catch {
      // Malformed escapes cannot be decoded by anyone downstream either; judge what we have.
      return current;
    }
  }
  return current;
}

function formProblem(path: string, encoded: boolean): string | undefined {
  const how = encoded ? " once percent-decoded" : "";
  if (path.includes("\0")) return `contains a NUL byte${how}`;
  if (isAbsolute(path) || path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) {
    return `is absolute${how}; give a path relative to the sandbox root`;
  }
  // Backslashes count as separators here even on POSIX, so a Windows-style `..\x` is refused everywhere.
  if (path.split(/[\\/]/).includes(".."))
    return `contains a ".." segment${how}; paths may not leave the sandbox root`;
  return undefined;
}

/**
 * Why a relative path is refused before touching the disk, or `undefined` when its form is acceptable.
 *
 * @example
 * sandboxPathProblem("notes/a.md"); // undefined
 * sandboxPathProblem("a/../../x"); // 'contains a ".." segment; paths may not leave the sandbox root'
 * sandboxPathProblem("%2e%2e/x"); // 'contains a ".." segment once percent-decoded; …'
 */
export function sandboxPathProblem(path: string): string | undefined {
  if (path.length > MAX_SANDBOX_PATH_LENGTH) return `is longer than ${MAX_SANDBOX_PATH_LENGTH} characters`;
  const problem = formProblem(path, false);
  if (problem !== undefined) return problem;
  if (PERCENT_ESCAPE.test(path)) return formProblem(decodeRepeatedly(path), true);
  return undefined;
}

/** A path refused by the sandbox; its message is safe to show to the model (it names no outside path). */
export class SandboxPathError extends Error {
  constructor(path: string, problem: string) {
    super(`the path ${JSON.stringify(path)} ${problem}`);
    this.name = "SandboxPathError";
  }
}

/** Where a sandboxed path points, after every check passed. */
export interface ResolvedSandboxPath {
  /** The real path of the root. */
  readonly root: string;
  /** The real path of the target when it exists (symbolic links resolved, inside the root). */
  readonly existing: string | undefined;
  /**
   * Where the target would be created when it does not exist: the real path of its longest existing prefix
   * (inside the root) joined with the missing components. Equal to `existing` when the target exists.
   */
  readonly target: string;
}

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

/**
 * Checks `path` (relative to `root`) and resolves it. Throws a {@link SandboxPathError} when its form is
 * refused, when the root is missing, or when the existing part of the path resolves outside the root (a
 * symbolic link pointing out, including a dangling one). Nothing is read or written here, only `lstat` and
 * `realpath` inside the root.
 */
export async function resolveSandboxPath(root: string, path: string): Promise<ResolvedSandboxPath> {
  const problem = sandboxPathProblem(path);
  if (problem !== undefined) throw new SandboxPathError(path, problem);

  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    throw new SandboxPathError(path, "cannot be used: the sandbox root does not exist");
  }
  const wanted = resolve(realRoot, path === "" ? "." : path);
  if (!isInside(realRoot, wanted)) throw new SandboxPathError(path, "is outside the sandbox root");

  // Walk up from the target to the longest prefix that exists; everything below it will be created fresh.
  const missing: string[] = [];
  let current = wanted;
  for (;;) {
    let exists = true;
    try {
      await lstat(current);
    } catch (error) {
      const code = errorCode(error);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      exists = false;
    }
    if (exists) break;
    if (current === realRoot)
      throw new SandboxPathError(path, "cannot be used: the sandbox root does not exist");
    missing.unshift(basename(current));
    current = dirname(current);
  }

  let real: string;
  try {
    real = await realpath(current);
  } catch {
    // It exists (lstat said so) but cannot be resolved: a dangling symbolic link. Writing through it would
    // create whatever it points at, possibly outside the root, so it is refused.
    throw new SandboxPathError(path, "goes through a symbolic link whose target does not exist");
  }
  if (!isInside(realRoot, real)) throw new SandboxPathError(path, "resolves outside the sandbox root");
  return {
    root: realRoot,
    existing: missing.length === 0 ? real : undefined,
    target: missing.length === 0 ? real : join(real, ...missing),
  };
}

/**
 * Confines file paths written by a model to one root directory.
 *
 * The fs tools open files with {@link openSandboxed}, which resolves a path the way the kernel would, but one
 * component at a time and without ever letting the kernel follow a link: each directory is opened with
 * `O_DIRECTORY | O_NOFOLLOW` *relative to the directory opened before it* (on Linux through the magic link
 * `/proc/self/fd/<parent fd>/<name>`, since Node has no `openat`), and the leaf is opened the same way with
 * `O_NOFOLLOW | O_NONBLOCK`. A symbolic link met on the way is read (`readlink` on the same fd-relative path) and
 * resolved by this code against the directories it holds open: it may lead anywhere inside the root, never out
 * (a `..` above the root, or an absolute target outside it, is refused). So a directory swapped for a symbolic
 * link between two steps is either seen as the link (and judged) or not seen at all: there is no window between
 * a check and an open. What was opened is then judged by `fstat` on the open descriptor.
 *
 * Platform limits: the fd-relative walk needs Linux's `/proc/self/fd` (checked at the first call). Elsewhere
 * (macOS, or Linux without /proc) each component is opened by its full path, still with `O_NOFOLLOW` on every
 * component and links judged the same way, but a local process that swaps a directory *above* a component
 * between two opens is not caught there. Hard links cannot be told apart from ordinary files by their path, so
 * the tools refuse regular files with more than one link (see fs.ts). A process that can rename directories
 * across the root's boundary (write access both inside and outside it) can move a directory this walk holds open
 * out of the root; that is outside the threat model (it could copy the data itself).
 *
 * {@link resolveSandboxPath} is the older check by path (lexical rules, then `realpath`); it is kept for callers
 * that only want to judge a path, and is not safe against races by itself.
 */

import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readlink, realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { throwIfAborted } from "../../errors.js";

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
 * `realpath` inside the root. A judgement of the path *now*: opening the returned path later is open to a race
 * (a directory swapped for a link in between), which is why the fs tools use {@link openSandboxed} instead.
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

/** What {@link openSandboxed} opens the last component for. */
export type SandboxOpenPurpose = "read" | "list" | "write";

/** Options of {@link openSandboxed}. */
export interface SandboxOpenOptions {
  /**
   * `read`: open read-only, whatever it is (the caller judges the `fstat`); `list`: a directory; `write`: open an
   * existing file write-only *without* truncating it, or create a new one with `O_CREAT | O_EXCL`.
   */
  readonly purpose: SandboxOpenPurpose;
  /** For `write`: create missing directories on the way (mode 0o755 less the umask). */
  readonly createParents?: boolean;
  /** Checked between components. */
  readonly signal?: AbortSignal;
  /**
   * How a component is named relative to the directory before it: `fd` (`/proc/self/fd/<fd>/<name>`, Linux) or
   * `path` (its full path). The default is `fd` wherever `/proc/self/fd` works. For tests of the fallback.
   */
  readonly via?: "fd" | "path";
}

/** A file or directory opened inside the sandbox by {@link openSandboxed}. The caller closes `handle`. */
export interface OpenedSandboxPath {
  readonly handle: FileHandle;
  /** `fstat` of `handle`: what was actually opened. */
  readonly stats: Stats;
  /** Whether this open created the file (`write` only). */
  readonly created: boolean;
  /**
   * A path naming the opened file itself, for APIs that only take paths (`readdir`): `/proc/self/fd/<fd>` when
   * components are opened by fd, else its real path. Never shown to a model.
   */
  readonly selfPath: string;
}

/** Most symbolic links followed in one path, as the kernel's own limit (MAXSYMLINKS). */
export const MAX_SANDBOX_SYMLINKS = 40;
/** Most directories below the root one path may go through: the walk holds each open, so this bounds its fds. */
export const MAX_SANDBOX_DEPTH = 256;

const O_DIRECTORY: number = constants.O_DIRECTORY ?? 0;
const O_NONBLOCK: number = constants.O_NONBLOCK ?? 0;
const O_NOCTTY: number = constants.O_NOCTTY ?? 0;
/** How many times a component that changed under us (created, removed, swapped) is tried again. */
const RETRIES = 3;

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

let procFdWorks: Promise<boolean> | undefined;

// `/proc/self/fd/<fd>` must name the very directory the fd holds (not just exist): compared by device and inode.
async function checkProcFd(handle: FileHandle): Promise<boolean> {
  if (process.platform !== "linux") return false;
  try {
    const [viaProc, direct] = await Promise.all([stat(`/proc/self/fd/${handle.fd}`), handle.stat()]);
    return viaProc.dev === direct.dev && viaProc.ino === direct.ino;
  } catch {
    return false;
  }
}

/** One directory the walk holds open, with its real path by name (used only where there is no /proc). */
interface HeldDirectory {
  readonly handle: FileHandle;
  readonly path: string;
}

/** The directories from the root to the current one, each held open; `..` pops one (never the root). */
class DirectoryStack {
  readonly #held: HeldDirectory[];
  readonly #byFd: boolean;

  constructor(root: HeldDirectory, byFd: boolean) {
    this.#held = [root];
    this.#byFd = byFd;
  }

  /** How many directories below the root are held. */
  get depth(): number {
    return this.#held.length - 1;
  }

  get top(): HeldDirectory {
    return this.#held[this.#held.length - 1] as HeldDirectory;
  }

  /** The path that names `name` inside the current directory, relative to its fd where possible. */
  child(name: string): string {
    return this.#byFd ? `/proc/self/fd/${this.top.handle.fd}/${name}` : join(this.top.path, name);
  }

  selfPath(handle: FileHandle, path: string): string {
    return this.#byFd ? `/proc/self/fd/${handle.fd}` : path;
  }

  push(name: string, handle: FileHandle): void {
    this.#held.push({ handle, path: join(this.top.path, name) });
  }

  /** Goes to the parent directory; false at the root, which has no parent inside the sandbox. */
  async pop(): Promise<boolean> {
    if (this.#held.length === 1) return false;
    await this.#held.pop()?.handle.close();
    return true;
  }

  async toRoot(): Promise<void> {
    while (await this.pop()) {
      // pop closes each directory above the root
    }
  }

  /**
   * Takes the current directory off the stack (the caller now owns its handle). The root stays on the stack,
   * so {@link closeAll} must be told to spare it when it is the one taken.
   */
  takeTop(): HeldDirectory {
    return this.#held.length === 1 ? this.top : (this.#held.pop() as HeldDirectory);
  }

  async closeAll(except?: FileHandle): Promise<void> {
    for (const { handle } of this.#held.splice(0)) if (handle !== except) await handle.close();
  }
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

/** The target of a symbolic link, or undefined when `path` is not one (any more). */
async function linkTarget(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === "EINVAL" || code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

const SEPARATOR = process.platform === "win32" ? /[\\/]/ : /\//;

/**
 * Opens `path` (relative to `root`) without ever leaving the root, even while another process renames,
 * replaces or links things inside it (see the module comment for how and where). Symbolic links that stay inside
 * the root are followed; one that leads out of it (`..` above the root, an absolute target elsewhere), or more
 * than {@link MAX_SANDBOX_SYMLINKS} of them, is refused with a {@link SandboxPathError}. Files are opened with
 * `O_NONBLOCK`, so a FIFO, socket or device never blocks the open; the caller judges `stats` (fs.ts refuses
 * anything but regular files and directories, and regular files with more than one hard link). File-system
 * errors (ENOENT, ENOTDIR, EISDIR, ENXIO for a FIFO without a reader or a socket opened for writing, …) are
 * thrown as they are, with their `code`.
 *
 * @example
 * const { handle, stats } = await openSandboxed("/srv/data", "notes/a.md", { purpose: "read" });
 * try { if (stats.isFile()) console.log(await handle.readFile("utf8")); } finally { await handle.close(); }
 */
export async function openSandboxed(
  root: string,
  path: string,
  options: SandboxOpenOptions,
): Promise<OpenedSandboxPath> {
  const problem = sandboxPathProblem(path);
  if (problem !== undefined) throw new SandboxPathError(path, problem);

  // The root is the agent's configuration, not the model's: it may itself be (or go through) a symbolic link.
  let rootHandle: FileHandle;
  let realRoot: string;
  try {
    rootHandle = await open(root, constants.O_RDONLY | O_DIRECTORY);
  } catch (error) {
    const code = errnoOf(error);
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new SandboxPathError(path, "cannot be used: the sandbox root does not exist");
    throw error;
  }
  try {
    realRoot = await realpath(root);
  } catch (error) {
    await rootHandle.close();
    throw error;
  }
  if (options.via === undefined && procFdWorks === undefined) procFdWorks = checkProcFd(rootHandle);
  const byFd = options.via === undefined ? await (procFdWorks ?? false) : options.via === "fd";
  const stack = new DirectoryStack({ handle: rootHandle, path: realRoot }, byFd);
  let result: OpenedSandboxPath | undefined;
  try {
    result = await walk(stack, realRoot, resolve(root), path, options);
    return result;
  } finally {
    await stack.closeAll(result?.handle);
  }
}

async function walk(
  stack: DirectoryStack,
  realRoot: string,
  givenRoot: string,
  path: string,
  options: SandboxOpenOptions,
): Promise<OpenedSandboxPath> {
  const { purpose, signal } = options;
  const pending = path.split(SEPARATOR);
  // Refused before anything is created; links that lead deeper are caught as the walk goes.
  if (pending.filter((name) => name !== "" && name !== ".").length > MAX_SANDBOX_DEPTH + 1)
    throw new SandboxPathError(path, `goes more than ${MAX_SANDBOX_DEPTH} directories deep`);
  // `dir/` names a directory: a file there is an error, as it would be for the kernel.
  const directoryOnly = new RegExp(`${SEPARATOR.source}\\.?$`).test(path);
  let links = 0;
  const outside = () =>
    new SandboxPathError(path, "resolves outside the sandbox root (through a symbolic link)");

  const follow = async (target: string): Promise<void> => {
    links += 1;
    if (links > MAX_SANDBOX_SYMLINKS)
      throw new SandboxPathError(path, `goes through more than ${MAX_SANDBOX_SYMLINKS} symbolic links`);
    if (target.includes("\0")) throw outside();
    if (isAbsolute(target)) {
      // Judged by name, never by asking the file system about anything outside the root (that would be an oracle).
      const rest = [realRoot, givenRoot]
        .map((prefix) =>
          target === prefix
            ? ""
            : target.startsWith(prefix.endsWith(sep) ? prefix : prefix + sep)
              ? target.slice(prefix.length)
              : undefined,
        )
        .find((tail) => tail !== undefined);
      if (rest === undefined) throw outside();
      await stack.toRoot();
      pending.unshift(...rest.split(SEPARATOR));
    } else {
      pending.unshift(...target.split(SEPARATOR));
    }
  };

  for (;;) {
    throwIfAborted(signal);
    const name = pending.shift();
    if (name === undefined) break;
    if (name === "" || name === ".") continue;
    if (name === "..") {
      if (!(await stack.pop())) throw outside();
      continue;
    }
    const isLeaf = pending.every((next) => next === "" || next === ".");
    if (!isLeaf) {
      const opened = await openDirectory(stack, name, purpose === "write" && options.createParents === true);
      if (typeof opened === "string") await follow(opened);
      else {
        stack.push(name, opened);
        if (stack.depth > MAX_SANDBOX_DEPTH)
          throw new SandboxPathError(path, `goes more than ${MAX_SANDBOX_DEPTH} directories deep`);
      }
      continue;
    }
    const leaf = await openLeaf(stack, name, purpose, directoryOnly);
    if (typeof leaf === "string") {
      await follow(leaf);
      continue;
    }
    try {
      return {
        handle: leaf.handle,
        stats: await leaf.handle.stat(),
        created: leaf.created,
        selfPath: stack.selfPath(leaf.handle, join(stack.top.path, name)),
      };
    } catch (error) {
      await leaf.handle.close();
      throw error;
    }
  }

  // Every component was consumed by directories: the path names a directory the walk holds ("." or a link).
  if (purpose === "write") throw errnoError("EISDIR");
  const { handle, path: realPath } = stack.takeTop();
  return { handle, stats: await handle.stat(), created: false, selfPath: stack.selfPath(handle, realPath) };
}

/** Opens one directory component (or returns the target of the symbolic link found there). */
async function openDirectory(
  stack: DirectoryStack,
  name: string,
  create: boolean,
): Promise<FileHandle | string> {
  const child = stack.child(name);
  for (let attempt = 0; ; attempt++) {
    try {
      return await open(child, constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error) {
      const code = errnoOf(error);
      // O_DIRECTORY | O_NOFOLLOW on a symbolic link fails with ENOTDIR on Linux, ELOOP elsewhere.
      if (code === "ENOTDIR" || code === "ELOOP") {
        const target = await linkTarget(child);
        if (target !== undefined) return target;
        if (attempt < RETRIES) continue; // a link swapped back for a directory in between: look again
        throw errnoError("ENOTDIR");
      }
      if (code === "ENOENT" && create && attempt < RETRIES) {
        // mkdir never follows a link in the last component: one planted here makes EEXIST, then ELOOP above.
        await mkdir(child, 0o755).catch((mkdirError: unknown) => {
          if (errnoOf(mkdirError) !== "EEXIST") throw mkdirError;
        });
        continue;
      }
      throw error;
    }
  }
}

/** Opens the last component for `purpose` (or returns the target of the symbolic link found there). */
async function openLeaf(
  stack: DirectoryStack,
  name: string,
  purpose: SandboxOpenPurpose,
  directoryOnly: boolean,
): Promise<{ handle: FileHandle; created: boolean } | string> {
  const child = stack.child(name);
  const common = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
  if (purpose === "write" && directoryOnly) throw errnoError("EISDIR");
  const flags =
    purpose === "write"
      ? constants.O_WRONLY | common
      : constants.O_RDONLY | common | (purpose === "list" || directoryOnly ? O_DIRECTORY : 0);
  for (let attempt = 0; ; attempt++) {
    try {
      return { handle: await open(child, flags), created: false };
    } catch (error) {
      const code = errnoOf(error);
      if (code === "ELOOP" || (code === "ENOTDIR" && (flags & O_DIRECTORY) !== 0)) {
        const target = await linkTarget(child);
        if (target !== undefined) return target;
        if (attempt < RETRIES && code === "ELOOP") continue;
        throw error;
      }
      if (code !== "ENOENT" || purpose !== "write" || attempt >= RETRIES) throw error;
    }
    // A new file: O_EXCL fails on anything already there, a dangling symbolic link included (then the next
    // round finds the link and judges its target).
    try {
      return {
        handle: await open(child, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | common, 0o644),
        created: true,
      };
    } catch (error) {
      if (errnoOf(error) !== "EEXIST" || attempt >= RETRIES) throw error;
    }
  }
}

/**
 * The `fs` built-in: a family of tools confined to one root directory. `fs.read` and `fs.list` are always
 * there; `fs.write` only when the agent sets `write: true`. Granting `fs` to a worker grants the family (see
 * toolNames.ts).
 *
 * Every path is opened by {@link openSandboxed} (sandboxPath.ts): component by component, each relative to the
 * directory opened before it, never letting the kernel follow a link, with `O_NONBLOCK`; so a directory
 * swapped for a symbolic link mid-call cannot lead outside the root, and a FIFO or socket cannot block the
 * process. What was opened is judged by `fstat` on the open descriptor: only regular files and directories are
 * used, and a regular file with more than one hard link (whose other name may be outside the root) is never
 * written, nor read unless `readHardlinks` allows it. `fs.write` creates new files with `O_CREAT | O_EXCL` and
 * truncates an existing one only after these checks passed.
 */
import type { Stats } from "node:fs";
import { type FileHandle, readdir } from "node:fs/promises";
import { z } from "zod";
import { throwIfAborted } from "../../errors.js";
import { defineTool, type Tool } from "../defineTool.js";
import { type FsToolOptions, fsToolOptionsSchema, parseToolOptions, withApproval } from "./options.js";
import {
  MAX_SANDBOX_PATH_LENGTH,
  type OpenedSandboxPath,
  openSandboxed,
  type SandboxOpenOptions,
  sandboxPathProblem,
} from "./sandboxPath.js";

/** Most directory entries `fs.list` returns; a listing beyond that is marked `truncated`. */
export const MAX_LIST_ENTRIES = 1000;

// The form of a path is checked in the schema too, so that a bad path is reported as invalid input the model
// can correct; the tool checks again (and resolves symbolic links) before it touches anything.
const sandboxedPath = (description: string) =>
  z
    .string()
    .max(MAX_SANDBOX_PATH_LENGTH)
    .describe(description)
    .superRefine((path, ctx) => {
      const problem = sandboxPathProblem(path);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: `the path ${problem}` });
    });

const readInput = z.object({
  path: sandboxedPath("File path relative to the sandbox root, e.g. notes/today.md").min(1),
});
const listInput = z.object({
  path: sandboxedPath(
    'Directory path relative to the sandbox root; "." (the default) is the root itself',
  ).default("."),
});
const writeInput = z.object({
  path: sandboxedPath("File path relative to the sandbox root; missing directories are created").min(1),
  content: z.string().describe("The whole new content of the file (UTF-8 text)"),
});

type EntryType = "file" | "directory" | "symlink" | "other";
type ListOutput = { entries: { name: string; type: EntryType }[]; truncated: boolean };

const NOT_REGULAR =
  "is not a regular file (a FIFO, socket or device); this tool reads and writes regular files only";

// Messages for the errors the file system raises, naming only the path the model wrote: Node's own messages
// carry absolute paths, which tell a model (and whoever reads its transcript) where the sandbox lives.
const ERRNO_MESSAGES: Readonly<Record<string, string>> = {
  ENOENT: "does not exist",
  EACCES: "cannot be accessed (permission denied)",
  EPERM: "cannot be accessed (operation not permitted)",
  ELOOP: "is a symbolic link, which this tool does not follow here",
  ENOTDIR: "has a component that is not a directory",
  EISDIR: "is a directory",
  ENOSPC: "cannot be written: the disk is full",
  EROFS: "cannot be written: the file system is read-only",
  EMFILE: "cannot be opened now: too many open files",
  // O_NONBLOCK opens of a FIFO without a reader (for writing) and of a socket fail with ENXIO.
  ENXIO: NOT_REGULAR,
};

function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

async function withFsErrors<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = errnoCode(error);
    if (code === undefined) throw error;
    throw new Error(`${JSON.stringify(path)} ${ERRNO_MESSAGES[code] ?? `could not be accessed (${code})`}`);
  }
}

function tooBig(path: string, bytes: number, limit: number): Error {
  return new Error(`${JSON.stringify(path)} is ${bytes} bytes, over the ${limit}-byte limit of this tool`);
}

async function readCapped(
  handle: FileHandle,
  limit: number,
  signal: AbortSignal,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Read one byte past the cap: a file that grew since it was checked must still be refused, not cut.
  for (;;) {
    throwIfAborted(signal);
    const buffer = new Uint8Array(Math.min(64 * 1024, limit + 1 - total));
    const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
    if (bytesRead === 0) break;
    chunks.push(buffer.subarray(0, bytesRead));
    total += bytesRead;
    if (total > limit) return undefined;
  }
  return Buffer.concat(chunks);
}

/** Opens `path` in the sandbox, runs `work` on what was opened, and closes it whatever happens. */
async function withOpened<T>(
  root: string,
  path: string,
  options: SandboxOpenOptions,
  work: (opened: OpenedSandboxPath) => Promise<T>,
): Promise<T> {
  const opened = await openSandboxed(root, path, options);
  try {
    return await work(opened);
  } finally {
    await opened.handle.close();
  }
}

/** Refuses anything but a regular file with one link (or, for reads allowed to, with more). */
function assertPlainFile(path: string, stats: Stats, access: "read" | "write", readHardlinks: boolean): void {
  const quoted = JSON.stringify(path);
  if (stats.isDirectory())
    throw new Error(`${quoted} is a directory${access === "read" ? "; use fs.list" : ""}`);
  if (!stats.isFile()) throw new Error(`${quoted} ${NOT_REGULAR}`);
  if (stats.nlink > 1 && (access === "write" || !readHardlinks)) {
    throw new Error(
      `${quoted} has ${stats.nlink} hard links; this tool does not ${access} a file that has other names, which may be outside the sandbox root${access === "read" ? " (the fs option readHardlinks allows reading one)" : ""}`,
    );
  }
}

function createRead(options: FsToolOptions): Tool {
  const { root, maxBytes, readHardlinks } = options;
  return defineTool({
    name: "fs.read",
    description: `Reads a UTF-8 text file under the sandbox root and returns { content }. Files over ${maxBytes} bytes are refused.`,
    input: readInput,
    output: z.object({ content: z.string() }),
    idempotent: true,
    // The file cap is the agent's choice, so the registry's default output cap must not undercut it. The
    // registry counts the bytes kept, not their JSON escaping, so the content plus its key fits.
    maxOutputBytes: maxBytes + 1024,
    run: ({ path }, { signal }) =>
      withFsErrors(path, () =>
        withOpened(root, path, { purpose: "read", signal }, async ({ handle, stats }) => {
          throwIfAborted(signal);
          assertPlainFile(path, stats, "read", readHardlinks);
          if (stats.size > maxBytes) throw tooBig(path, stats.size, maxBytes);
          const bytes = await readCapped(handle, maxBytes, signal);
          if (bytes === undefined) throw tooBig(path, maxBytes + 1, maxBytes);
          try {
            return { content: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
          } catch {
            throw new Error(`${JSON.stringify(path)} is not UTF-8 text; this tool reads text files only`);
          }
        }),
      ),
  });
}

function createList(options: FsToolOptions): Tool {
  const { root } = options;
  return defineTool({
    name: "fs.list",
    description:
      "Lists a directory under the sandbox root: { entries: [{ name, type }] } with type file, directory, symlink or other.",
    input: listInput,
    idempotent: true,
    run: ({ path }, { signal }) =>
      withFsErrors(path, async (): Promise<ListOutput> => {
        const dirents = await withOpened(root, path, { purpose: "list", signal }, ({ selfPath }) => {
          throwIfAborted(signal);
          // `selfPath` names the directory that was opened (its fd on Linux), not whatever its name is now.
          return readdir(selfPath, { withFileTypes: true });
        }).catch((error: unknown) => {
          if (errnoCode(error) === "ENOTDIR")
            throw new Error(`${JSON.stringify(path)} is not a directory; use fs.read for a file`);
          throw error;
        });
        const entries = dirents
          .map((entry) => {
            const type: EntryType = entry.isFile()
              ? "file"
              : entry.isDirectory()
                ? "directory"
                : entry.isSymbolicLink()
                  ? "symlink"
                  : "other";
            return { name: entry.name, type };
          })
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return { entries: entries.slice(0, MAX_LIST_ENTRIES), truncated: entries.length > MAX_LIST_ENTRIES };
      }),
  });
}

function createWrite(options: FsToolOptions): Tool {
  const { root, maxBytes } = options;
  return defineTool({
    name: "fs.write",
    description: `Creates or overwrites a UTF-8 text file under the sandbox root (at most ${maxBytes} bytes) and returns { path, bytes }.`,
    input: writeInput,
    output: z.object({ path: z.string(), bytes: z.number() }),
    // Writing the same content twice leaves the same file.
    idempotent: true,
    run: ({ path, content }, { signal }) =>
      withFsErrors(path, async (): Promise<{ path: string; bytes: number }> => {
        const data = Buffer.from(content, "utf8");
        if (data.byteLength > maxBytes) throw tooBig(path, data.byteLength, maxBytes);
        const options = { purpose: "write", createParents: true, signal } as const;
        await withOpened(root, path, options, async ({ handle, stats }) => {
          assertPlainFile(path, stats, "write", false);
          throwIfAborted(signal);
          // Opened without O_TRUNC: a file is emptied only once it is known to be one of ours.
          await handle.truncate(0);
          await handle.writeFile(data);
        });
        return { path, bytes: data.byteLength };
      }),
  });
}

/**
 * Creates the `fs` family from its options: `fs.read` and `fs.list`, plus `fs.write` when `write` is true.
 * `root` must be an absolute path (the agent loader resolves relative roots against the YAML's directory).
 * Throws TOOL_INVALID for bad options.
 *
 * @example
 * const tools = createFsTools({ root: "/srv/agent-data", write: true });
 * for (const tool of tools) registry.register(tool);
 */
export function createFsTools(options: {
  root: string;
  write?: boolean;
  maxBytes?: number;
  readHardlinks?: boolean;
  approve?: boolean;
}): Tool[] {
  const parsed = parseToolOptions("fs", fsToolOptionsSchema, options);
  const tools = [createRead(parsed), createList(parsed)];
  if (parsed.write) tools.push(createWrite(parsed));
  return withApproval(tools, parsed.approve);
}

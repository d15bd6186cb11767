/**
 * The `fs` built-in: a family of tools confined to one root directory. `fs.read` and `fs.list` are always
 * there; `fs.write` only when the agent sets `write: true`. Granting `fs` to a worker grants the family (see
 * toolNames.ts). Every path goes through the sandbox (sandboxPath.ts) before a file is opened, and files are
 * opened at their resolved real path with `O_NOFOLLOW`.
 */
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, readdir } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { throwIfAborted } from "../../errors.js";
import { defineTool, type Tool } from "../defineTool.js";
import { type FsToolOptions, fsToolOptionsSchema, parseToolOptions, withApproval } from "./options.js";
import {
  MAX_SANDBOX_PATH_LENGTH,
  O_NOFOLLOW,
  resolveSandboxPath,
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

function createRead(options: FsToolOptions): Tool {
  const { root, maxBytes } = options;
  return defineTool({
    name: "fs.read",
    description: `Reads a UTF-8 text file under the sandbox root and returns { content }. Files over ${maxBytes} bytes are refused.`,
    input: readInput,
    output: z.object({ content: z.string() }),
    idempotent: true,
    // The file cap is the agent's choice, so the registry's default output cap must not undercut it; the
    // headroom covers quoting and escaping in JSON.
    maxOutputBytes: maxBytes * 2 + 4096,
    run: ({ path }, { signal }) =>
      withFsErrors(path, async () => {
        const resolved = await resolveSandboxPath(root, path);
        if (resolved.existing === undefined) throw new Error(`${JSON.stringify(path)} does not exist`);
        throwIfAborted(signal);
        const handle = await open(resolved.existing, constants.O_RDONLY | O_NOFOLLOW | constants.O_NONBLOCK);
        try {
          const stats = await handle.stat();
          if (stats.isDirectory()) throw new Error(`${JSON.stringify(path)} is a directory; use fs.list`);
          if (!stats.isFile()) throw new Error(`${JSON.stringify(path)} is not a regular file`);
          if (stats.size > maxBytes) throw tooBig(path, stats.size, maxBytes);
          const bytes = await readCapped(handle, maxBytes, signal);
          if (bytes === undefined) throw tooBig(path, maxBytes + 1, maxBytes);
          try {
            return { content: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
          } catch {
            throw new Error(`${JSON.stringify(path)} is not UTF-8 text; this tool reads text files only`);
          }
        } finally {
          await handle.close();
        }
      }),
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
        const resolved = await resolveSandboxPath(root, path);
        if (resolved.existing === undefined) throw new Error(`${JSON.stringify(path)} does not exist`);
        throwIfAborted(signal);
        const dirents = await readdir(resolved.existing, { withFileTypes: true }).catch((error: unknown) => {
          if (errnoCode(error) === "ENOTDIR")
            throw new Error(`${JSON.stringify(path)} is a file, not a directory; use fs.read`);
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
        const resolved = await resolveSandboxPath(root, path);
        throwIfAborted(signal);
        if (resolved.existing === undefined) await mkdir(dirname(resolved.target), { recursive: true });
        // O_NOFOLLOW: if a symbolic link appeared at the target since the check, the open fails instead of
        // writing wherever the link points.
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_NOFOLLOW;
        const handle = await open(resolved.target, flags, 0o644);
        try {
          await handle.writeFile(data);
        } finally {
          await handle.close();
        }
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
  approve?: boolean;
}): Tool[] {
  const parsed = parseToolOptions("fs", fsToolOptionsSchema, options);
  const tools = [createRead(parsed), createList(parsed)];
  if (parsed.write) tools.push(createWrite(parsed));
  return withApproval(tools, parsed.approve);
}

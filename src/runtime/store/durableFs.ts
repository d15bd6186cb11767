/**
 * File writes that survive a crash or a power cut once their promise resolves. `rename` alone is atomic but not
 * durable, and `write` alone is neither: data sits in the page cache until an fsync, and a new or renamed
 * directory entry is only on disk once its directory is fsynced. Every helper here fsyncs what it changed before
 * it returns, which is what lets the run store promise "kill -9 (or a power cut) loses nothing acknowledged".
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Node's file-system errors carry a string `code` (`ENOENT`, `ENOSPC`, …). */
export function errnoOf(error: unknown): string | undefined {
  const code: unknown = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Makes the entries of directory `dir` durable (a file created or renamed in it). Platforms that cannot open
 * or fsync a directory (Windows) report EISDIR, EPERM or EINVAL; there the rename is as durable as it gets.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    const code = errnoOf(error);
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL") throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Creates directory `dir` and any missing parents, then fsyncs the parent of each directory it created so the
 * new entries survive a crash. `dir` itself is not fsynced: whoever puts something in it does that.
 */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // `first` is the top-most directory created; its parent and every directory created below it have new entries.
  const chain: string[] = [];
  for (let current = dir; current !== first && dirname(current) !== current; current = dirname(current)) {
    chain.push(dirname(current));
  }
  chain.push(dirname(first));
  for (const parent of chain.reverse()) await fsyncDir(parent);
}

/**
 * Writes `data` to `path` (created or truncated) and fsyncs the file. Not atomic: a crash can leave it partial.
 * For files in a directory that is not yet visible (a run being created) or that nothing reads until a later
 * atomic step vouches for it. The caller fsyncs the directory.
 */
export async function writeFileDurable(path: string, data: string): Promise<void> {
  const handle = await open(path, "w", 0o644);
  try {
    await handle.writeFile(data, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` atomically and durably: a reader (or a crash) sees the old content or the new one,
 * never a mix. Writes a temporary file in the same directory (a rename across file systems is not atomic),
 * fsyncs it, renames it over `path`, then fsyncs the directory so the rename itself is on disk.
 *
 * @example
 * await writeFileAtomic("/runs/r1/snapshot.json", JSON.stringify(snapshot));
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx", 0o644);
    try {
      await handle.writeFile(data, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
}

/** Whether `name` is a temporary file left by {@link writeFileAtomic} (a crash before its rename). */
export function isTempFileName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

const TAIL_CHUNK = 64 * 1024;

/**
 * Cuts an unterminated last line off the file open as `handle` and returns how many bytes it cut (0 when the
 * file ends with a newline or is empty). Such a tail is an append that a crash or a failed write cut short, so
 * it was never acknowledged; cutting it keeps the next line from being glued to it.
 */
async function cutTornTail(handle: FileHandle): Promise<number> {
  const { size } = await handle.stat();
  if (size === 0) return 0;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  if (last[0] === 0x0a) return 0;
  let keep = 0;
  for (let end = size; end > 0 && keep === 0; end -= TAIL_CHUNK) {
    const start = Math.max(0, end - TAIL_CHUNK);
    const chunk = Buffer.alloc(end - start);
    await handle.read(chunk, 0, chunk.length, start);
    const newline = chunk.lastIndexOf(0x0a);
    if (newline >= 0) keep = start + newline + 1;
  }
  await handle.truncate(keep);
  return size - keep;
}

/**
 * Appends one line (`line` ends with a newline) to the existing file `path` and fdatasyncs it (the data and the
 * new length; the inode's times need not be durable). A torn last line left by an earlier writer is cut first,
 * whoever that writer was: checking costs one fstat and a one-byte read, and trusting a cached "clean" would be
 * wrong as soon as another process (a crashed `resume`) wrote the file since. The file is not created: its
 * directory entry was made durable with the run, and a missing file means the run is gone (ENOENT).
 *
 * @example
 * await appendLine("/runs/r1/events.jsonl", `${JSON.stringify(event)}\n`);
 */
export async function appendLine(path: string, line: string): Promise<void> {
  const handle = await open(path, constants.O_RDWR | constants.O_APPEND);
  try {
    await cutTornTail(handle);
    await handle.writeFile(line, "utf8");
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

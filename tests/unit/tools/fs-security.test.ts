/**
 * Security issue 12, findings 3, 4 and 8, replayed through the library exactly as reported: the `fs` tool built
 * from an agent's tool config and called through the registry (and the shell and http tools for the output cap).
 *
 * 3. `fs.write` to a FIFO inside the root must fail at once and leave the process's file operations working.
 * 4. A hard link in the root to an outside file is neither read nor overwritten; swapping a directory for a
 *    symbolic link while fs calls run (a renameat2 RENAME_EXCHANGE loop in a child process) never reads, lists
 *    or creates anything outside the root.
 * 8. Output caps count the bytes kept, not their JSON escaping: control characters, NULs from `cat /dev/zero`
 *    and a NUL http body come back (cut, with `truncated: true`, where the tool caps them) instead of failing.
 */
import { execFileSync, spawn } from "node:child_process";
import { constants } from "node:fs";
import { link, mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRegistryFromConfig } from "../../../src/tools/builtins/fromConfig.js";
import { bubblewrapStatus } from "../../../src/tools/builtins/sandbox.js";
import type { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { JsonObject, ToolCallResult } from "../../../src/types.js";
import { startSwapper } from "../../fixtures/renameSwapper.mjs";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const SECRET = "OUTSIDE-SECRET-7f3a";

let base: string;
let root: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "edgecrew-fssec-"));
  root = join(base, "root");
  outside = join(base, "outside");
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(root, "b.txt"), "bee");
  await writeFile(join(outside, "secret.txt"), SECRET);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function fsRegistry(options: JsonObject = {}, timeoutMs = 5_000): ToolRegistry {
  return createRegistryFromConfig(
    [{ kind: "builtin", name: "fs", options: { root, write: true, ...options } }],
    {
      timeoutMs,
    },
  );
}

function call(reg: ToolRegistry, name: string, args: unknown): Promise<ToolCallResult> {
  return reg.call(name, args, callContext().context);
}

/** Rejects when `promise` has not settled within `ms`: a hang becomes a test failure, not a stuck run. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Every path under `dir`, relative, sorted (links not followed). */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

describe("finding 3: special files inside the root never block", () => {
  let fifo: string | undefined;

  afterEach(async () => {
    // Before the fix, blocked opens pin every libuv thread, so nothing in this process could open the FIFO to
    // release them: a child process holds it open (read-write, which never blocks) long enough for the queued
    // opens to get through, so the test process can end.
    if (fifo === undefined) return;
    const holder = spawn("sh", ["-c", 'exec 3<>"$1"; sleep 1', "sh", fifo], { stdio: "ignore" });
    await new Promise((resolve) => holder.on("exit", resolve));
    fifo = undefined;
  });

  it("fs.write to a FIFO fails at once, eight times over, and file operations keep working", async () => {
    fifo = join(root, "pipe");
    execFileSync("mkfifo", [fifo]);
    const reg = fsRegistry({}, 1_000);
    const started = performance.now();
    const results = await within(
      Promise.all(Array.from({ length: 8 }, () => call(reg, "fs.write", { path: "pipe", content: "x" }))),
      5_000,
      "eight fs.write calls to a FIFO",
    );
    for (const result of results) {
      expect(expectFailure(result, "failed")).toMatch(/"pipe" is not a regular file/);
    }
    expect(performance.now() - started).toBeLessThan(1_000);
    // Every file operation of the process still runs: the libuv pool is not pinned.
    expect(await within(readFile(join(root, "b.txt"), "utf8"), 2_000, "readFile")).toBe("bee");
    expect(
      expectOk(await within(call(reg, "fs.read", { path: "b.txt" }), 2_000, "fs.read after the FIFO")),
    ).toEqual({ content: "bee" });
  });

  it("refuses a FIFO with a reader attached for write, and a FIFO for read and list, without blocking", async () => {
    fifo = join(root, "pipe");
    execFileSync("mkfifo", [fifo]);
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const reg = fsRegistry({}, 1_000);
      expect(expectFailure(await call(reg, "fs.write", { path: "pipe", content: "x" }), "failed")).toMatch(
        /not a regular file/,
      );
      expect(expectFailure(await call(reg, "fs.read", { path: "pipe" }), "failed")).toMatch(
        /not a regular file/,
      );
      expect(expectFailure(await call(reg, "fs.list", { path: "pipe" }), "failed")).toMatch(
        /not a directory/,
      );
      // Nothing was written into the pipe.
      const { bytesRead } = await reader.read(Buffer.alloc(16), 0, 16, null).catch(() => ({ bytesRead: 0 }));
      expect(bytesRead).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it("refuses a Unix socket inside the root for read and write", async () => {
    const server = createNetServer();
    const socketPath = join(root, "sock");
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const reg = fsRegistry({}, 1_000);
      expect(expectFailure(await call(reg, "fs.read", { path: "sock" }), "failed")).toMatch(
        /not a regular file/,
      );
      expect(expectFailure(await call(reg, "fs.write", { path: "sock", content: "x" }), "failed")).toMatch(
        /not a regular file/,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("finding 4: hard links and races", () => {
  it("neither reads nor overwrites an outside file through a hard link in the root", async () => {
    await link(join(outside, "secret.txt"), join(root, "alias.txt"));
    const reg = fsRegistry();
    const read = await call(reg, "fs.read", { path: "alias.txt" });
    expect(expectFailure(read, "failed")).toMatch(/"alias.txt" has 2 hard links/);
    expect(JSON.stringify(read)).not.toContain(SECRET);
    const write = await call(reg, "fs.write", { path: "alias.txt", content: "pwned" });
    expect(expectFailure(write, "failed")).toMatch(/"alias.txt" has 2 hard links/);
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe(SECRET);
  });

  it("reads a hard-linked file only when readHardlinks allows it, and still never writes one", async () => {
    await link(join(outside, "secret.txt"), join(root, "alias.txt"));
    const reg = fsRegistry({ readHardlinks: true });
    expect(expectOk(await call(reg, "fs.read", { path: "alias.txt" }))).toEqual({ content: SECRET });
    expectFailure(await call(reg, "fs.write", { path: "alias.txt", content: "pwned" }), "failed");
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe(SECRET);
  });

  it("never reads, lists or creates outside the root while a directory and a symlink are swapped", {
    timeout: 60_000,
  }, async () => {
    await mkdir(join(root, "d"));
    await writeFile(join(root, "d", "f"), "inside");
    await writeFile(join(outside, "f"), SECRET);
    await writeFile(join(outside, "outside-only.txt"), SECRET);
    await symlink(outside, join(root, "l"));
    const outsideBefore = await tree(outside);

    const swapper = startSwapper(join(root, "d"), join(root, "l"));
    try {
      await swapper.ready;
      const reg = fsRegistry();
      const counts = { reads: 0, lists: 0, writes: 0, refused: 0 };
      const leaks: string[] = [];
      const rounds = 150;
      for (let round = 0; round < rounds; round++) {
        const batch = await Promise.all([
          call(reg, "fs.read", { path: "d/f" }),
          call(reg, "fs.read", { path: "l/f" }),
          call(reg, "fs.read", { path: "d/outside-only.txt" }),
          call(reg, "fs.list", { path: "d" }),
          call(reg, "fs.list", { path: "l" }),
          call(reg, "fs.write", { path: `d/new-${round}.txt`, content: "w" }),
          call(reg, "fs.write", { path: `d/sub-${round}/deep.txt`, content: "w" }),
          call(reg, "fs.write", { path: "d/f", content: "inside" }),
        ]);
        for (const result of batch) {
          const text = JSON.stringify(result);
          // An error may echo the requested path; only a successful result can carry an outside name.
          if (text.includes(SECRET) || (result.ok && text.includes("outside-only")))
            leaks.push(text.slice(0, 200));
          if (!result.ok) counts.refused++;
          else if ("content" in (result.output as object)) counts.reads++;
          else if ("entries" in (result.output as object)) counts.lists++;
          else counts.writes++;
        }
      }
      const swaps = await swapper.stop();
      expect(leaks).toEqual([]);
      expect(await tree(outside)).toEqual(outsideBefore);
      expect(await readFile(join(outside, "f"), "utf8")).toBe(SECRET);
      // The race was real: the swapper ran throughout and calls both succeeded and were refused.
      expect(swaps).toBeGreaterThan(1_000);
      expect(counts.reads).toBeGreaterThan(0);
      expect(counts.writes).toBeGreaterThan(0);
      expect(counts.refused).toBeGreaterThan(0);
    } finally {
      await swapper.stop();
    }
  });
});

describe("finding 8: output caps count what is kept, not its escaping", () => {
  it("fs.read returns a 60,000-byte file of control characters under maxBytes 65536", async () => {
    const content = "\u0001".repeat(60_000);
    await writeFile(join(root, "ctl.bin"), content);
    const result = await call(fsRegistry({ maxBytes: 65_536 }), "fs.read", { path: "ctl.bin" });
    expect(expectOk(result)).toEqual({ content });
  });

  it("shell: cat /dev/zero succeeds with truncated: true and exactly the cap of NULs", async () => {
    const reg = createRegistryFromConfig([
      // The cap is under test here, not the sandbox (shellSandbox.test.ts): unconfined where bwrap is missing.
      {
        kind: "builtin",
        name: "shell",
        options: { allow: ["cat"], timeoutMs: 5_000, sandbox: bubblewrapStatus().ok ? "bwrap" : "none" },
      },
    ]);
    const output = expectOk(await call(reg, "shell.run", { command: "cat", args: ["/dev/zero"] })) as {
      stdout: string;
      truncated: boolean;
    };
    expect(output.truncated).toBe(true);
    expect(output.stdout).toBe("\0".repeat(64 * 1024));
  });

  describe("http", () => {
    let server: Server;
    let port: number;
    beforeEach(async () => {
      server = createServer((_request, response) => {
        response.writeHead(200, { "content-type": "application/octet-stream" });
        response.end(Buffer.alloc(100_000));
      });
      port = await new Promise<number>((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
      );
    });
    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it("a NUL body over maxBytes succeeds, cut at maxBytes, with truncated: true", async () => {
      const reg = createRegistryFromConfig([
        {
          kind: "builtin",
          name: "http",
          options: { allow: [`http://127.0.0.1:${port}/*`], maxBytes: 65_536 },
        },
      ]);
      const output = expectOk(await call(reg, "http.get", { url: `http://127.0.0.1:${port}/zero` })) as {
        body: string;
        truncated: boolean;
      };
      expect(output.truncated).toBe(true);
      expect(output.body).toBe("\0".repeat(65_536));
    });
  });
});

import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import { createFsTools } from "../../../src/tools/builtins/fs.js";
import {
  MAX_SANDBOX_DEPTH,
  MAX_SANDBOX_SYMLINKS,
  openSandboxed,
  resolveSandboxPath,
  sandboxPathProblem,
} from "../../../src/tools/builtins/sandboxPath.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { ToolCallResult } from "../../../src/types.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const SENTINEL = "TOP-SECRET-SENTINEL";

let base: string;
let root: string;
let outside: string;

function registry(options: { write?: boolean; maxBytes?: number } = {}) {
  const reg = new ToolRegistry();
  for (const tool of createFsTools({ root, ...options })) reg.register(tool);
  return reg;
}

function call(reg: ToolRegistry, name: string, args: unknown): Promise<ToolCallResult> {
  return reg.call(name, args, callContext().context);
}

/** A refusal must never carry the outside file's content back to the model. */
function expectRefused(result: ToolCallResult): string {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error("unreachable");
  expect(["invalid-input", "failed"]).toContain(result.reason);
  expect(result.error).not.toContain(SENTINEL);
  return result.error;
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "edgecrew-fs-"));
  root = join(base, "root");
  outside = join(base, "outside");
  await mkdir(join(root, "notes"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, "notes", "a.md"), "hello\n");
  await writeFile(join(root, "b.txt"), "bee");
  await writeFile(join(outside, "secret.txt"), SENTINEL);
  await writeFile(join(base, "x"), SENTINEL);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function sentinelUnchanged(): Promise<void> {
  expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe(SENTINEL);
  expect(await readFile(join(base, "x"), "utf8")).toBe(SENTINEL);
}

describe("fs tools inside the root", () => {
  it("exposes fs.read and fs.list, and fs.write only when write is true", () => {
    expect(
      registry()
        .list()
        .map((spec) => spec.name),
    ).toEqual(["fs.read", "fs.list"]);
    expect(
      registry({ write: true })
        .list()
        .map((spec) => spec.name),
    ).toEqual(["fs.read", "fs.list", "fs.write"]);
  });

  it("reads a file", async () => {
    expect(expectOk(await call(registry(), "fs.read", { path: "notes/a.md" }))).toEqual({
      content: "hello\n",
    });
  });

  it("lists a directory, sorted, with entry types", async () => {
    await symlink(join(root, "b.txt"), join(root, "link"));
    expect(expectOk(await call(registry(), "fs.list", {}))).toEqual({
      entries: [
        { name: "b.txt", type: "file" },
        { name: "link", type: "symlink" },
        { name: "notes", type: "directory" },
      ],
      truncated: false,
    });
    expect(expectOk(await call(registry(), "fs.list", { path: "notes" }))).toMatchObject({
      entries: [{ name: "a.md", type: "file" }],
    });
  });

  it("writes a file, creating missing directories", async () => {
    const reg = registry({ write: true });
    expect(expectOk(await call(reg, "fs.write", { path: "out/new/c.txt", content: "sea" }))).toEqual({
      path: "out/new/c.txt",
      bytes: 3,
    });
    expect(await readFile(join(root, "out", "new", "c.txt"), "utf8")).toBe("sea");
    expectOk(await call(reg, "fs.write", { path: "b.txt", content: "overwritten" }));
    expect(await readFile(join(root, "b.txt"), "utf8")).toBe("overwritten");
  });

  it("follows a symbolic link that stays inside the root", async () => {
    await symlink(join(root, "notes"), join(root, "shortcut"));
    expect(expectOk(await call(registry(), "fs.read", { path: "shortcut/a.md" }))).toEqual({
      content: "hello\n",
    });
  });

  it("reports missing files, directories read as files, and binary files as failures", async () => {
    await writeFile(join(root, "bin"), Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    expect(expectFailure(await call(registry(), "fs.read", { path: "nope.txt" }), "failed")).toContain(
      "does not exist",
    );
    expect(expectFailure(await call(registry(), "fs.read", { path: "notes" }), "failed")).toContain(
      "fs.list",
    );
    expect(expectFailure(await call(registry(), "fs.read", { path: "bin" }), "failed")).toContain(
      "not UTF-8",
    );
    expect(expectFailure(await call(registry(), "fs.list", { path: "b.txt" }), "failed")).toContain(
      "fs.read",
    );
  });
});

describe("fs sandbox refusals", () => {
  it.each([
    ["a parent segment", "../x"],
    ["a parent segment in the middle", "a/../../x"],
    ["a harmless-looking parent segment", "notes/../b.txt"],
    ["an absolute path", "/etc/passwd"],
    ["an absolute path to the outside file", "OUTSIDE"],
    ["percent-encoded traversal", "%2e%2e/x"],
    ["upper-case percent-encoded traversal", "%2E%2E%2Foutside%2Fsecret.txt"],
    ["double percent-encoding", "%252e%252e/x"],
    ["a backslash traversal", "..\\x"],
    ["a NUL byte", "b.txt\0../../x"],
    ["a drive letter", "C:\\Windows\\win.ini"],
  ])("refuses %s as invalid input, for read, list and write", async (_label, raw) => {
    const path = raw === "OUTSIDE" ? join(outside, "secret.txt") : raw;
    const reg = registry({ write: true });
    for (const [name, args] of [
      ["fs.read", { path }],
      ["fs.list", { path }],
      ["fs.write", { path, content: "pwned" }],
    ] as const) {
      const result = await call(reg, name, args);
      expect(expectFailure(result, "invalid-input")).toMatch(/the path/);
      expectRefused(result);
    }
    await sentinelUnchanged();
  });

  it("refuses a symbolic link inside the root that points outside, for read, list and write", async () => {
    await symlink(join(outside, "secret.txt"), join(root, "leak.txt"));
    await symlink(outside, join(root, "door"));
    const reg = registry({ write: true });
    expect(expectRefused(await call(reg, "fs.read", { path: "leak.txt" }))).toContain(
      "outside the sandbox root",
    );
    expectRefused(await call(reg, "fs.read", { path: "door/secret.txt" }));
    const listed = await call(reg, "fs.list", { path: "door" });
    expectRefused(listed);
    expect(JSON.stringify(listed)).not.toContain("secret.txt");
    expectRefused(await call(reg, "fs.write", { path: "leak.txt", content: "pwned" }));
    expectRefused(await call(reg, "fs.write", { path: "door/secret.txt", content: "pwned" }));
    expectRefused(await call(reg, "fs.write", { path: "door/new.txt", content: "pwned" }));
    await sentinelUnchanged();
    await expect(stat(join(outside, "new.txt"))).rejects.toThrow();
  });

  it("refuses to write through a dangling symbolic link that points outside", async () => {
    const target = join(outside, "created-by-link.txt");
    await symlink(target, join(root, "dangling"));
    const reg = registry({ write: true });
    // Judged by the link's text alone: nothing outside the root is looked at, not even whether it exists.
    expect(expectRefused(await call(reg, "fs.write", { path: "dangling", content: "pwned" }))).toContain(
      "resolves outside the sandbox root",
    );
    expectRefused(await call(reg, "fs.read", { path: "dangling" }));
    await expect(stat(target)).rejects.toThrow();
  });

  it("works with a root that is a symbolic link, judging paths by its real path", async () => {
    // The root may be a symlink; what matters is that paths stay inside its real path.
    await symlink(root, join(base, "root-link"));
    const reg = new ToolRegistry();
    for (const tool of createFsTools({ root: join(base, "root-link") })) reg.register(tool);
    expect(expectOk(await call(reg, "fs.read", { path: "b.txt" }))).toEqual({ content: "bee" });
    await symlink(join(base, "x"), join(root, "up"));
    expectRefused(await call(reg, "fs.read", { path: "up" }));
  });

  it("re-checks paths inside the tool, not only in the argument schema", async () => {
    const [read] = createFsTools({ root });
    const { context } = callContext();
    for (const path of ["../x", "%2e%2e/x", join(outside, "secret.txt")]) {
      await expect(read?.run({ path }, context)).rejects.toThrow(/the path/);
    }
  });

  it("reports file-system errors without absolute paths", async () => {
    await mkdir(join(root, "dir"));
    const reg = registry({ write: true });
    const error = expectFailure(await call(reg, "fs.write", { path: "dir", content: "x" }), "failed");
    expect(error).toBe('`fs.write` failed: "dir" is a directory');
    const nested = expectFailure(
      await call(reg, "fs.write", { path: "b.txt/c.txt", content: "x" }),
      "failed",
    );
    expect(nested).not.toContain(base);
  });

  it("has no fs.write when write is false", async () => {
    const error = expectFailure(
      await call(registry(), "fs.write", { path: "c.txt", content: "x" }),
      "not-granted",
    );
    expect(error).toContain("fs.read");
    await expect(stat(join(root, "c.txt"))).rejects.toThrow();
  });

  it("refuses files over maxBytes without returning their content", async () => {
    await writeFile(join(root, "big.txt"), "y".repeat(101));
    const reg = registry({ write: true, maxBytes: 100 });
    const result = await call(reg, "fs.read", { path: "big.txt" });
    expect(expectFailure(result, "failed")).toContain("over the 100-byte limit");
    expect(JSON.stringify(result)).not.toContain("yyyy");
    expect(
      expectFailure(await call(reg, "fs.write", { path: "w.txt", content: "z".repeat(101) }), "failed"),
    ).toContain("over the 100-byte limit");
    await expect(stat(join(root, "w.txt"))).rejects.toThrow();
    expectOk(await call(reg, "fs.read", { path: "b.txt" }));
  });

  it("refuses a root that does not exist and a relative root", async () => {
    const reg = new ToolRegistry();
    for (const tool of createFsTools({ root: join(base, "missing") })) reg.register(tool);
    expect(expectFailure(await call(reg, "fs.list", {}), "failed")).toContain("root does not exist");
    expect(() => createFsTools({ root: "relative/dir" })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
  });
});

describe("sandbox path helpers", () => {
  it("accepts ordinary relative paths, including literal percent signs", () => {
    for (const path of ["a.txt", "notes/a.md", ".", "", "./x", "100%", "a%20b", "..foo", "foo.."]) {
      expect(sandboxPathProblem(path), path).toBeUndefined();
    }
  });

  it("resolves the target of a missing file under its real parent", async () => {
    const resolved = await resolveSandboxPath(root, "notes/new/deeper.txt");
    expect(resolved.existing).toBeUndefined();
    expect(resolved.target.endsWith(join("notes", "new", "deeper.txt"))).toBe(true);
  });
});

describe("openSandboxed: symbolic links resolved component by component", () => {
  for (const via of ["fd", "path"] as const) {
    describe(`naming components by ${via}`, () => {
      async function readVia(path: string): Promise<string> {
        const opened = await openSandboxed(root, path, { purpose: "read", via });
        try {
          return await opened.handle.readFile("utf8");
        } finally {
          await opened.handle.close();
        }
      }

      it("follows relative, parent-relative and absolute links that stay inside the root", async () => {
        await symlink("..", join(root, "notes", "up"));
        await symlink("../notes/a.md", join(root, "notes", "same"));
        await symlink(join(root, "b.txt"), join(root, "abs"));
        await symlink("notes/up/notes/up/b.txt", join(root, "winding"));
        expect(await readVia("notes/up/b.txt")).toBe("bee");
        expect(await readVia("notes/same")).toBe("hello\n");
        expect(await readVia("abs")).toBe("bee");
        expect(await readVia("winding")).toBe("bee");
      });

      it("refuses links that climb above the root or point elsewhere, without looking there", async () => {
        await symlink("../../outside/secret.txt", join(root, "notes", "climb"));
        await symlink("../outside", join(root, "sideways"));
        await symlink("/etc/passwd", join(root, "abs-out"));
        for (const path of ["notes/climb", "sideways/secret.txt", "abs-out"]) {
          await expect(readVia(path), path).rejects.toThrow(/resolves outside the sandbox root/);
        }
      });

      it("gives up on a link loop after the kernel's limit", async () => {
        await symlink("loop-b", join(root, "loop-a"));
        await symlink("loop-a", join(root, "loop-b"));
        await expect(readVia("loop-a")).rejects.toThrow(
          new RegExp(`more than ${MAX_SANDBOX_SYMLINKS} symbolic links`),
        );
      });

      it("lists the directory it opened, and opens the root itself for '.'", async () => {
        for (const path of [".", "", "notes", "notes/"]) {
          const opened = await openSandboxed(root, path, { purpose: "list", via });
          try {
            expect(opened.stats.isDirectory()).toBe(true);
            expect((await readdir(opened.selfPath)).sort()).toEqual(
              path.startsWith("notes") ? ["a.md"] : ["b.txt", "notes"],
            );
          } finally {
            await opened.handle.close();
          }
        }
      });

      it("creates new files exclusively, and missing directories, for write", async () => {
        const opened = await openSandboxed(root, "made/deeper/new.txt", {
          purpose: "write",
          createParents: true,
          via,
        });
        await opened.handle.close();
        expect(opened.created).toBe(true);
        expect((await lstat(join(root, "made", "deeper", "new.txt"))).isFile()).toBe(true);
        const again = await openSandboxed(root, "b.txt", { purpose: "write", via });
        await again.handle.close();
        expect(again.created).toBe(false);
        // Opened for writing without truncating: the caller truncates after its checks.
        expect(await readFile(join(root, "b.txt"), "utf8")).toBe("bee");
      });
    });
  }

  it("writes through a dangling link inside the root by creating its target inside the root", async () => {
    await symlink("notes/created.txt", join(root, "later"));
    const reg = registry({ write: true });
    expectOk(await call(reg, "fs.write", { path: "later", content: "made" }));
    expect(await readFile(join(root, "notes", "created.txt"), "utf8")).toBe("made");
    expect((await lstat(join(root, "later"))).isSymbolicLink()).toBe(true);
  });

  it("refuses a path deeper than MAX_SANDBOX_DEPTH directories, whose fds it would all hold", async () => {
    const deep = Array.from({ length: MAX_SANDBOX_DEPTH + 1 }, () => "d").join("/");
    const reg = registry({ write: true });
    expect(
      expectFailure(await call(reg, "fs.write", { path: `${deep}/x`, content: "x" }), "failed"),
    ).toContain(`more than ${MAX_SANDBOX_DEPTH} directories deep`);
    await expect(stat(join(root, "d"))).rejects.toThrow(); // refused before creating anything
    const fine = Array.from({ length: 20 }, () => "d").join("/");
    expectOk(await call(reg, "fs.write", { path: `${fine}/x`, content: "x" }));
    expect(expectOk(await call(reg, "fs.read", { path: `${fine}/x` }))).toEqual({ content: "x" });
  });

  it("treats a trailing slash as naming a directory", async () => {
    const reg = registry({ write: true });
    expect(expectFailure(await call(reg, "fs.read", { path: "b.txt/" }), "failed")).toContain(
      "not a directory",
    );
    expect(expectFailure(await call(reg, "fs.write", { path: "new/", content: "x" }), "failed")).toContain(
      "is a directory",
    );
  });

  it("overwrites a file in place, keeping its inode", async () => {
    const before = await stat(join(root, "b.txt"));
    expectOk(await call(registry({ write: true }), "fs.write", { path: "b.txt", content: "x" }));
    const after = await stat(join(root, "b.txt"));
    expect(after.ino).toBe(before.ino);
    expect(await readFile(join(root, "b.txt"), "utf8")).toBe("x");
  });
});

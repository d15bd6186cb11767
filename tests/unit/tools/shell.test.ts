import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import { createShellTools, type ShellOutput } from "../../../src/tools/builtins/shell.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

// The tests run real programs; these are present on any POSIX system the project supports.
const posix = process.platform !== "win32";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-shell-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The programs run in the sandbox (bubblewrap), with the test's directory as their root (the only writable
// directory, and the working directory); tests/unit/tools/shellSandbox.test.ts covers the sandbox itself.
function registry(options: { allow?: string[]; timeoutMs?: number; maxOutputBytes?: number } = {}) {
  const reg = new ToolRegistry();
  const allow = ["echo", "ls", "sleep", "seq", "env", "node"];
  for (const tool of createShellTools({ allow, root: dir, ...options })) {
    reg.register(tool);
  }
  return reg;
}

describe.runIf(posix)("shell.run", () => {
  it("runs an allowed command with its arguments", async () => {
    const output = expectOk(
      await registry().call(
        "shell.run",
        { command: "echo", args: ["hello", "world"] },
        callContext().context,
      ),
    );
    expect(output).toEqual({
      exitCode: 0,
      signal: null,
      stdout: "hello world\n",
      stderr: "",
      truncated: false,
    });
    const listed = expectOk(
      await registry().call("shell.run", { command: "ls", args: [dir] }, callContext().context),
    );
    expect((listed as ShellOutput).exitCode).toBe(0);
  });

  it("returns a non-zero exit as data", async () => {
    const output = expectOk(
      await registry().call(
        "shell.run",
        { command: "ls", args: [join(dir, "missing")] },
        callContext().context,
      ),
    ) as ShellOutput;
    expect(output.exitCode).not.toBe(0);
    expect(output.stderr).not.toBe("");
  });

  it.each([
    ["a command that is not allowed", "rm"],
    ["an absolute path to an allowed program", "/bin/echo"],
    ["a relative path", "./echo"],
    ["a command with arguments", "echo hi"],
    ["a command with a metacharacter", "echo;ls"],
  ])("refuses %s as invalid input", async (_label, command) => {
    const result = await registry().call("shell.run", { command, args: [] }, callContext().context);
    expectFailure(result, "invalid-input");
  });

  it("re-checks the command inside the tool", async () => {
    const [tool] = createShellTools({ allow: ["echo"] });
    await expect(tool?.run({ command: "/bin/echo", args: [] }, callContext().context)).rejects.toThrow(
      "not an allowed command",
    );
  });

  it("passes shell metacharacters in arguments literally", async () => {
    const marker = (n: number) => join(dir, `pwned${n}`);
    const args = [
      `; touch ${marker(1)}`,
      `&& touch ${marker(2)}`,
      `$(touch ${marker(3)})`,
      `\`touch ${marker(4)}\``,
      `| touch ${marker(5)}`,
      `> ${marker(6)}`,
      "*",
      "$HOME",
    ];
    const output = expectOk(
      await registry().call("shell.run", { command: "echo", args }, callContext().context),
    );
    expect((output as ShellOutput).stdout).toBe(`${args.join(" ")}\n`);
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a NUL byte in an argument", async () => {
    expectFailure(
      await registry().call("shell.run", { command: "echo", args: ["a\0b"] }, callContext().context),
      "invalid-input",
    );
  });

  it("gives programs a minimal environment", async () => {
    process.env.EDGECREW_TEST_SECRET = "hunter2";
    try {
      const output = expectOk(
        await registry().call("shell.run", { command: "env", args: [] }, callContext().context),
      );
      const { stdout } = output as ShellOutput;
      expect(stdout).not.toContain("hunter2");
      expect(stdout).toContain("PATH=");
    } finally {
      delete process.env.EDGECREW_TEST_SECRET;
    }
  });

  // A program that would write a marker file after 800 ms; killed well before that, it never does.
  const lateWriter = (marker: string) => ({
    command: "node",
    args: ["-e", `setTimeout(() => require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x"), 800)`],
  });
  const afterTheMarkerWouldBeWritten = () => new Promise((resolve) => setTimeout(resolve, 1_300));

  it("times out and kills the process", async () => {
    const started = Date.now();
    const result = await registry({ timeoutMs: 150 }).call(
      "shell.run",
      lateWriter(join(dir, "still-alive")),
      callContext().context,
    );
    expect(expectFailure(result, "timeout")).toContain("150 ms");
    // Well before the marker would be written (800 ms), with room for a loaded machine's sandbox setup.
    expect(Date.now() - started).toBeLessThan(2_000);
    await afterTheMarkerWouldBeWritten();
    expect(await readdir(dir)).toEqual([]);
  });

  it("kills the process when the run is cancelled", async () => {
    const { context, controller } = callContext();
    const pending = registry().call("shell.run", lateWriter(join(dir, "still-alive")), context);
    setTimeout(() => controller.abort(), 150);
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    await afterTheMarkerWouldBeWritten();
    expect(await readdir(dir)).toEqual([]);
  });

  it("caps the output and stops the program", async () => {
    const output = expectOk(
      await registry({ maxOutputBytes: 1000 }).call(
        "shell.run",
        { command: "seq", args: ["1", "10000000"] },
        callContext().context,
      ),
    ) as ShellOutput;
    expect(output.truncated).toBe(true);
    expect(Buffer.byteLength(output.stdout) + Buffer.byteLength(output.stderr)).toBeLessThanOrEqual(1000);
    expect(output.stdout.startsWith("1\n2\n3\n")).toBe(true);
  });

  it("reports a program missing from PATH as failed", async () => {
    const reg = registry({ allow: ["edgecrew-no-such-program"] });
    const error = expectFailure(
      await reg.call("shell.run", { command: "edgecrew-no-such-program", args: [] }, callContext().context),
      "failed",
    );
    expect(error).toContain("not found");
  });
});

describe("shell options", () => {
  it.each([["/bin/ls"], ["ls -la"], ["ls;rm"], ["../ls"]])("refuses %s in the allow list", (command) => {
    expect(() => createShellTools({ allow: [command] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
  });
});

/**
 * Security issue 12, findings 1 and 2, replayed through the library exactly as written: the shell tool built from
 * an agent's config, called through a ToolRegistry as a worker's call would be.
 *
 * 1. "A shell allow-list is an allow-list of `sh`": with `allow: [find, git, env, wc]`, `find -exec sh -c`,
 *    `git -c alias.x='!…'`, `env A=x sh -c` and `wc --files0-from=` must neither run a shell nor touch or read
 *    anything outside the tool's root: refused by the argument rules, and held by the sandbox (bubblewrap) when
 *    the rules are switched off.
 * 2. "A shell timeout leaves children running": background children, `setsid` children and children of a
 *    timed-out call must all be dead when the call returns.
 *
 * These tests need bubblewrap (`bwrap`); where it is missing they fail with a message saying so, never skip.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { parseAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ErrorCodes } from "../../../src/errors.js";
import { createBuiltinTool } from "../../../src/tools/builtins/fromConfig.js";
import type { ShellOutput } from "../../../src/tools/builtins/shell.js";
import { matchesPattern } from "../../../src/tools/builtins/shellRules.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { JsonObject } from "../../../src/types.js";
import { BASE, expectIssues, useAgentDir, yaml } from "../config/support.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

let dir: string;
/** The tool's root: the only writable directory, and the working directory of every command. */
let root: string;
/** A directory outside the root, where the attacks try to write and read. */
let outside: string;

beforeAll(() => {
  const probe = spawnSync("bwrap", ["--version"], { encoding: "utf8" });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      "bubblewrap (bwrap) is not installed: the shell sandbox tests need it (apt-get install -y bubblewrap)",
    );
  }
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-sandbox-"));
  root = join(dir, "root");
  outside = join(dir, "outside");
  await mkdir(root);
  await mkdir(outside);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type ShellConfig = JsonObject & { allow: string[] };

function shell(options: ShellConfig): ToolRegistry {
  const registry = new ToolRegistry();
  for (const tool of createBuiltinTool({ kind: "builtin", name: "shell", options })) registry.register(tool);
  return registry;
}

async function run(registry: ToolRegistry, command: string, args: string[]) {
  return registry.call("shell.run", { command, args }, callContext().context);
}

/** Everything the attacks must not have created. */
function created(): string[] {
  return [...readdirSync(outside), ...readdirSync(root)].filter((name) => name.startsWith("F"));
}

// The attacks of finding 1, as the review wrote them (F is a marker file the shell would create); built when a
// test runs, because the directories are made per test.
const F = () => join(outside, "F");
const ATTACKS: Record<string, () => [string, string[]]> = {
  "find -exec sh -c": () => ["find", [root, "-maxdepth", "0", "-exec", "sh", "-c", `id; touch ${F()}`, ";"]],
  "git -c alias.x='!touch F'": () => ["git", ["-c", `alias.x=!touch ${F()}`, "x"]],
  "env A=x sh -c": () => ["env", ["A=x", "sh", "-c", `touch ${F()}`]],
};
const attacks = Object.keys(ATTACKS);
const attack = (label: string): [string, string[]] => (ATTACKS[label] as () => [string, string[]])();
const FINDING_1 = ["find", "git", "env", "wc"];

describe("finding 1: an allow-list of find, git, env and wc is not an allow-list of sh", () => {
  it.each(attacks)("%s does not run a shell (default config)", async (label) => {
    const [command, args] = attack(label);
    const result = await run(shell({ allow: FINDING_1 }), command, args);
    expect(result.ok, JSON.stringify(result)).toBe(false);
    expect(created()).toEqual([]);
  });

  it.each(attacks)("%s is refused by the argument rules before anything runs", async (label) => {
    const [command, args] = attack(label);
    const error = expectFailure(await run(shell({ allow: FINDING_1, root }), command, args), "failed");
    expect(error).toMatch(/refused by the shell tool's argument rules/);
    expect(created()).toEqual([]);
  });

  it.each(attacks)("%s is held by the sandbox when the rules are switched off", async (label) => {
    const [command, args] = attack(label);
    const rules = { find: { deny: [] }, git: { deny: [] }, env: { deny: [] } };
    const output = expectOk(
      await run(shell({ allow: FINDING_1, root, rules }), command, args),
    ) as ShellOutput;
    // No shell in the sandbox: the program was asked to run `sh` and could not find it (find still exits 0).
    expect(output.stderr).toMatch(/(‘sh’|'sh'|touch \S+): No such file or directory/);
    expect(output.stdout).not.toContain("uid=");
    expect(created()).toEqual([]);
  });

  it("wc --files0-from reads nothing outside the root", async () => {
    const secret = join(outside, "secret");
    await writeFile(secret, `${join(outside, "TOPSECRET-NAME")}\0`);
    await writeFile(join(outside, "TOPSECRET-NAME"), "a b c\n");
    const refused = expectFailure(
      await run(shell({ allow: FINDING_1, root }), "wc", ["--files0-from=/etc/passwd"]),
      "failed",
    );
    expect(refused).toContain("--files0-from");
    // An abbreviation of the long option is the same option to getopt.
    expectFailure(await run(shell({ allow: FINDING_1, root }), "wc", [`--files0=${secret}`]), "failed");

    const open = shell({ allow: FINDING_1, root, rules: { wc: { deny: [] } } });
    const outsideFile = expectOk(await run(open, "wc", [`--files0-from=${secret}`])) as ShellOutput;
    expect(outsideFile.exitCode).not.toBe(0);
    expect(outsideFile.stdout + outsideFile.stderr).not.toContain("TOPSECRET");
    // The sandbox's /etc/passwd is a minimal one, not the machine's.
    const hostPasswd = readFileSync("/etc/passwd", "utf8");
    const passwd = expectOk(await run(open, "wc", ["--files0-from=/etc/passwd"])) as ShellOutput;
    const others = hostPasswd.split("\n").filter((l) => l !== "" && !/^(root|nobody):/.test(l));
    expect(others.length).toBeGreaterThan(0);
    for (const line of others) expect(passwd.stdout + passwd.stderr).not.toContain(line);
    expect(passwd.stderr).toContain("root:x:0:0:root:/tmp:");
  });

  it("confines the working directory and the writable file system to the root", async () => {
    await writeFile(join(root, "inside.txt"), "x\n");
    const tools = shell({ allow: ["find", "touch", "ls", "cat"], root });
    const found = expectOk(await run(tools, "find", ["."])) as ShellOutput;
    expect(found.stdout.split("\n").sort()).toEqual(["", ".", "./inside.txt"]);
    const made = expectOk(
      await run(tools, "touch", ["made-inside", join(outside, "F-touched")]),
    ) as ShellOutput;
    expect(made.exitCode).not.toBe(0);
    expect(readdirSync(root).sort()).toEqual(["inside.txt", "made-inside"]);
    expect(created()).toEqual([]);
    // Outside the root, only the system's libraries and a few data files exist; homes and secrets do not.
    for (const path of ["/root", "/home", "/etc/shadow", outside, process.cwd()]) {
      const listed = expectOk(await run(tools, "ls", ["-d", path])) as ShellOutput;
      expect(listed.exitCode, `${path} is visible in the sandbox`).not.toBe(0);
    }
    // Only the allowed programs exist.
    const bin = expectOk(await run(tools, "ls", ["/usr/bin", "/bin"])) as ShellOutput;
    expect(
      bin.stdout
        .split("\n")
        .filter((l) => l !== "" && !l.endsWith(":"))
        .sort(),
    ).toEqual(["cat", "cat", "find", "find", "ls", "ls", "touch", "touch"].sort());
  });

  it("has no network unless the YAML grants it", async () => {
    const tools = shell({ allow: ["cat"], root });
    const net = expectOk(await run(tools, "cat", ["/proc/net/dev"])) as ShellOutput;
    const interfaces = net.stdout
      .split("\n")
      .slice(2)
      .filter((l) => l.trim() !== "");
    expect(interfaces.map((l) => l.trim().split(":")[0])).toEqual(["lo"]);
    const granted = shell({ allow: ["cat"], root, network: true });
    const hostNet = expectOk(await run(granted, "cat", ["/proc/net/dev"])) as ShellOutput;
    const names = (text: string) =>
      text
        .split("\n")
        .slice(2)
        .filter((l) => l.trim() !== "")
        .map((l) => l.trim().split(":")[0])
        .sort();
    expect(names(hostNet.stdout)).toEqual(names(readFileSync("/proc/net/dev", "utf8")));
  });
});

/** Processes on this machine whose command line contains `marker` (their pids). */
function alive(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Waits up to `ms` for every process with `marker` to be gone; returns those still alive. */
async function survivors(marker: string, ms = 2_000): Promise<number[]> {
  const until = Date.now() + ms;
  for (;;) {
    const pids = alive(marker);
    if (pids.length === 0 || Date.now() > until) return pids;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A `sleep` duration nobody else on the machine uses, so that its processes can be found. */
function marker(): string {
  return `322.${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;
}

const killAll = (pids: number[]) => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
};

describe("finding 2: no child outlives its call", () => {
  it("kills a background child of a successful call (find -exec sh -c 'sleep 322 &')", async () => {
    const m = marker();
    const rules = { find: { deny: [] } };
    const tools = shell({ allow: ["find", "sh", "sleep"], root, rules });
    const output = expectOk(
      await run(tools, "find", [".", "-maxdepth", "0", "-exec", "sh", "-c", `sleep ${m} &`, ";"]),
    ) as ShellOutput;
    expect(output.exitCode).toBe(0);
    const left = await survivors(m);
    killAll(left);
    expect(left).toEqual([]);
  });

  it("kills a background child of sh -c 'sleep 322 &'", async () => {
    const m = marker();
    const output = expectOk(
      await run(shell({ allow: ["sh", "sleep"], root }), "sh", ["-c", `sleep ${m} &`]),
    ) as ShellOutput;
    expect(output.exitCode).toBe(0);
    const left = await survivors(m);
    killAll(left);
    expect(left).toEqual([]);
  });

  it("kills a child that escaped with setsid", async () => {
    const m = marker();
    const output = expectOk(
      await run(shell({ allow: ["setsid", "sleep"], root }), "setsid", ["sleep", m]),
    ) as ShellOutput;
    expect(output.exitCode).toBe(0);
    const left = await survivors(m);
    killAll(left);
    expect(left).toEqual([]);
  });

  it("kills every child, setsid ones included, when the call times out", async () => {
    const m = marker();
    const tools = shell({ allow: ["sh", "sleep", "setsid"], root, timeoutMs: 400 });
    const started = Date.now();
    expectFailure(await run(tools, "sh", ["-c", `setsid sleep ${m} & sleep ${m} & sleep ${m}`]), "timeout");
    expect(Date.now() - started).toBeLessThan(2_000);
    const left = await survivors(m);
    killAll(left);
    expect(left).toEqual([]);
  });

  it("kills the children when the run is cancelled", async () => {
    const m = marker();
    const tools = shell({ allow: ["sh", "sleep"], root });
    const { context, controller } = callContext();
    const pending = tools.call(
      "shell.run",
      { command: "sh", args: ["-c", `sleep ${m} & sleep ${m}`] },
      context,
    );
    setTimeout(() => controller.abort(), 300);
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    const left = await survivors(m);
    killAll(left);
    expect(left).toEqual([]);
  });

  it("without the sandbox, still kills a background child left in the call's process group", async () => {
    const m = marker();
    const tools = shell({ allow: ["sh", "sleep"], root, sandbox: "none" });
    const output = expectOk(await run(tools, "sh", ["-c", `sleep ${m} &`])) as ShellOutput;
    expect(output.exitCode).toBe(0);
    const left = await survivors(m);
    killAll(left);
    expect(left).toEqual([]);
  });
});

describe("sandbox configuration", () => {
  it("refuses to start without bubblewrap unless the config opts out with sandbox: none", () => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, "empty-bin");
    try {
      expect(() => shell({ allow: ["ls"] })).toThrow(
        expect.objectContaining({
          code: ErrorCodes.SANDBOX_UNAVAILABLE,
          message: expect.stringMatching(/bubblewrap.*sandbox: none/s),
        }),
      );
      expect(() => shell({ allow: ["ls"], sandbox: "none" })).not.toThrow();
    } finally {
      process.env.PATH = path;
    }
  });

  // The approval fixture's only tool is `shell: { allow: [echo], approve: true }`, on fixture models.
  const agentFile = join(process.cwd(), "tests/fixtures/agents/approval.yaml");

  async function cli(args: string[], env: Record<string, string | undefined>) {
    let stdout = "";
    let stderr = "";
    const code = await main(["node", "edgecrew", ...args], {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env,
      cwd: process.cwd(),
      onInterrupt: () => () => undefined,
      forceExit: () => undefined,
    });
    return { code, stdout, stderr };
  }

  it("validate says bubblewrap is missing, and run, createCrew refuse to start the shell tool", async () => {
    const noBwrap = join(dir, "empty-bin");
    const validated = await cli(["validate", "--no-models", agentFile], { PATH: noBwrap });
    expect(validated.code).toBe(2);
    expect(validated.stderr).toMatch(
      /approval\.yaml: tools\.shell: the shell tool runs its programs in a bubblewrap sandbox, and bubblewrap \(bwrap\) is not installed on this machine: install it .* or set `sandbox: none`/,
    );
    expect((await cli(["validate", "--no-models", agentFile], { PATH: process.env.PATH })).code).toBe(0);

    const path = process.env.PATH;
    process.env.PATH = noBwrap;
    try {
      await expect(createCrew(agentFile, { store: false })).rejects.toMatchObject({
        code: ErrorCodes.SANDBOX_UNAVAILABLE,
      });
      const ran = await cli(["run", agentFile, "echo hi", "--run-dir", join(dir, "runs")], { PATH: noBwrap });
      expect(ran.code).toBe(1);
      expect(ran.stderr).toMatch(/^edgecrew: the shell tool runs its programs in a bubblewrap sandbox/);
    } finally {
      process.env.PATH = path;
    }
  });

  it("checks the rules against the allow list and the root against the file system", () => {
    expect(() => shell({ allow: ["ls"], rules: { find: { deny: ["-exec"] } } })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID, message: expect.stringContaining("find") }),
    );
    expect(() => shell({ allow: ["ls"], root: "relative/dir" })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
    expect(() => shell({ allow: ["ls"], root: "/" })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
  });

  it("reports a missing root as a clear failure, not a bwrap error", async () => {
    const error = expectFailure(
      await run(shell({ allow: ["ls"], root: join(dir, "missing") }), "ls", []),
      "failed",
    );
    expect(error).toContain("root");
    expect(existsSync(join(dir, "missing"))).toBe(false);
  });
});

describe("sandbox contents", () => {
  it("refuses a script whose interpreter is not allowed, saying why", async () => {
    const error = expectFailure(await run(shell({ allow: ["zcat"], root }), "zcat", ["x.gz"]), "failed");
    expect(error).toMatch(/zcat is a script run by \/bin\/sh, which is not an allowed program/);
  });

  it("shows `readable` paths read-only, and nothing else of the machine", async () => {
    await writeFile(join(outside, "data.txt"), "shared data\n");
    const tools = shell({ allow: ["cat", "touch"], root, readable: [outside] });
    const read = expectOk(await run(tools, "cat", [join(outside, "data.txt")])) as ShellOutput;
    expect(read.stdout).toBe("shared data\n");
    const write = expectOk(await run(tools, "touch", [join(outside, "F-written")])) as ShellOutput;
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(created()).toEqual([]);
  });

  it("without a root, works in an empty private /tmp that does not outlive the call", async () => {
    const tools = shell({ allow: ["touch", "ls", "pwd"] });
    expect((expectOk(await run(tools, "pwd", [])) as ShellOutput).stdout).toBe("/tmp\n");
    expect((expectOk(await run(tools, "touch", ["made"])) as ShellOutput).exitCode).toBe(0);
    expect((expectOk(await run(tools, "ls", ["-A"])) as ShellOutput).stdout).toBe("");
  });

  it("runs programs with no capabilities, in their own namespaces", async () => {
    const status = expectOk(
      await run(shell({ allow: ["cat"], root }), "cat", ["/proc/self/status"]),
    ) as ShellOutput;
    expect(status.stdout).toMatch(/CapEff:\s+0+\n/);
    expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
    // The program is PID 1 of a namespace of its own: the machine's processes are not there.
    const ps = expectOk(await run(shell({ allow: ["ls"], root }), "ls", ["/proc"])) as ShellOutput;
    expect(ps.stdout.split("\n").filter((entry) => /^\d+$/.test(entry))).toEqual(["1"]);
  });
});

describe("programs that work in the sandbox", () => {
  it("git init, status and log work in the root", async () => {
    const tools = shell({ allow: ["git"], root });
    expect((expectOk(await run(tools, "git", ["init", "-q"])) as ShellOutput).exitCode).toBe(0);
    const status = expectOk(await run(tools, "git", ["status", "--porcelain=v1", "-b"])) as ShellOutput;
    expect(status).toMatchObject({ exitCode: 0, stderr: "" });
    expect(status.stdout).toMatch(/^## No commits yet on /);
    expect(readdirSync(join(root, ".git"))).toContain("HEAD");
  });
});

describe("argument rules", () => {
  it.each([
    ["--files0-from=/etc/passwd", "--files0-from", true],
    ["--files0-from", "--files0-from", true],
    ["--files0=/x", "--files0-from", true],
    ["--f=/x", "--files0-from", true],
    ["--", "--files0-from", false],
    ["--lines", "--files0-from", false],
    ["-c", "-c", true],
    ["-calias.x=!sh", "-c", true],
    ["-C", "-c", false],
    ["-exec", "-exec", true],
    ["-execdir", "-exec", false],
    ["/usr/bin/sh", "*/sh", true],
    ["python3.11", "python*", true],
    ['{ system("id") }', "*system*", true],
    ["config", "config", true],
    ["configure", "config", false],
  ])("%s against %s: %s", (arg, pattern, expected) => {
    expect(matchesPattern(arg, pattern)).toBe(expected);
  });

  it("refuses the known ways around an allow-list with the built-in rules", async () => {
    const tools = shell({ allow: ["find", "git", "env", "xargs", "tar", "sort", "awk", "setsid"], root });
    const refused: [string, string[]][] = [
      ["find", [".", "-execdir", "id", ";"]],
      ["find", [".", "-fprint", "/tmp/x"]],
      ["git", ["config", "core.fsmonitor", "touch F"]],
      ["git", ["--exec-path=/tmp", "status"]],
      ["env", ["-S", "sh -c id"]],
      ["env", ["/usr/bin/bash"]],
      ["xargs", ["-a", "list", "bash"]],
      ["tar", ["-cf", "x.tar", "--to-command=sh", "."]],
      ["sort", ["--compress-program=sh", "x"]],
      ["awk", ['BEGIN { system("id") }']],
      ["awk", ['BEGIN { print "x" | "sh" }']],
      ["setsid", ["python3", "-c", "print(1)"]],
    ];
    for (const [command, args] of refused) {
      const error = expectFailure(await run(tools, command, args), "failed");
      expect(error, `${command} ${args.join(" ")}`).toMatch(/refused by the shell tool's argument rules/);
    }
    // Ordinary uses pass.
    expect((expectOk(await run(tools, "find", [".", "-name", "*.txt"])) as ShellOutput).exitCode).toBe(0);
    expect((expectOk(await run(tools, "awk", ["BEGIN { print 1 + 1 }"])) as ShellOutput).stdout).toBe("2\n");
  });

  it("throws TOOL_REFUSED with the argument and the rule, before spawning", async () => {
    const [tool] = createBuiltinTool({
      kind: "builtin",
      name: "shell",
      options: { allow: ["find"], root, rules: { find: { deny: ["-delete"] } } },
    });
    await expect(
      tool?.run({ command: "find", args: [".", "-delete"] }, callContext().context),
    ).rejects.toMatchObject({
      code: ErrorCodes.TOOL_REFUSED,
      message: expect.stringContaining(`"-delete", this agent's rules.find`),
    });
    // The agent's rule replaced the built-in one: -exec is no longer refused by a rule (the sandbox holds it).
    const output = await tool?.run(
      { command: "find", args: [".", "-maxdepth", "0", "-exec", "sh", "-c", "id", ";"] },
      callContext().context,
    );
    expect((output as ShellOutput).stderr).toMatch(/sh.*No such file/);
  });
});

describe("shell options in YAML", () => {
  const agentDir = useAgentDir();

  it("resolves root and readable against the YAML's directory, and keeps the rest as written", () => {
    const agent = parseAgent(
      yaml(
        ...BASE,
        "tools:",
        "  - shell:",
        "      allow: [find, wc]",
        "      root: ./work",
        "      readable: [./data, /usr/lib/git-core]",
        "      network: true",
        "      sandbox: none",
        "      rules: { find: { deny: [-delete] } }",
      ),
      { file: agentDir.file },
    );
    expect(agent.tools).toEqual([
      {
        kind: "builtin",
        name: "shell",
        options: {
          allow: ["find", "wc"],
          timeoutMs: 10000,
          maxOutputBytes: 65536,
          root: join(agentDir.dir, "work"),
          readable: [join(agentDir.dir, "data"), "/usr/lib/git-core"],
          network: true,
          sandbox: "none",
          rules: { find: { deny: ["-delete"] } },
        },
      },
    ]);
  });

  it("reports bad sandbox options at their line:col", () => {
    expectIssues(
      yaml(
        ...BASE,
        "tools:",
        "  - shell:",
        "      allow: [find]",
        "      root: /",
        "      sandbox: docker",
        "      network: yes",
        "      rules: { find: { allow: [-exec] } }",
      ),
      agentDir.file,
      [
        ["12:13", "tools[0].shell.root", "cannot be /"],
        ["13:16", "tools[0].shell.sandbox", /bwrap|none/],
        ["14:16", "tools[0].shell.network", "expected true or false"],
        ["15:22", "tools[0].shell.rules.find.deny", "missing required key `deny`"],
        ["15:24", "tools[0].shell.rules.find.allow", /allow/],
      ],
    );
  });

  it("reports a rule for a program the allow list does not name", () => {
    expectIssues(
      yaml(...BASE, "tools:", "  - shell: { allow: [find], rules: { git: { deny: [-c] } } }"),
      agentDir.file,
      [["10:43", "tools[0].shell.rules.git", "git is not in the shell tool's allow list (find)"]],
    );
  });
});

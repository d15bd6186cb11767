// Security: issue 12, findings 1 (a shell allow-list is an allow-list of `sh`) and 2 (a shell timeout leaves
// children running), replayed against the BUILT package through the registry, with the shell tool built from an
// agent's tool config as the CLI builds it, and through the built CLI for `validate`.
//
// 1. With `allow: [find, git, env, wc]`: `find X -maxdepth 0 -exec sh -c 'id; touch F' ;` ran as root,
//    `git -c alias.x='!touch F' x` ran, `env A=x sh -c 'touch F'` ran, `wc --files0-from=/etc/passwd` read outside
//    any root. Held: each is refused by the argument rules before anything runs, and with the rules switched off
//    (`rules: { find: { deny: [] }, … }`) the bubblewrap sandbox holds: no `sh` to run, nothing written or read
//    outside the root, no network.
// 2. `find … -exec sh -c 'sleep 322 &'` left `sleep` alive after node exited; `setsid` escaped too; a background
//    child survived even a successful call. Held: no process of a call is left once the call returns, whether it
//    succeeded, timed out or was started with setsid.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ToolRegistry } from "../../dist/index.js";
// The built-in tools' factories are part of the built package but not of its root export.
import { createBuiltinTool } from "../../dist/tools/index.js";
import { bin, root as repoRoot } from "../lib.mjs";

const SECRET = "OUTSIDE-SECRET-chaos-shell-7c21";

function callContext(signal = new AbortController().signal) {
  return { signal, emit: () => undefined, runId: "chaos-security", subtaskId: "s1", worker: "attacker" };
}

const short = (value) => JSON.stringify(value).slice(0, 200);
const describe = (result) => (result.ok ? `ok ${short(result.output)}` : `${result.reason}: ${result.error}`);

function shell(options) {
  const registry = new ToolRegistry();
  for (const tool of createBuiltinTool({ kind: "builtin", name: "shell", options })) registry.register(tool);
  return registry;
}

const call = (registry, command, args, signal) =>
  registry.call("shell.run", { command, args }, callContext(signal));

/** Pids of the processes on this machine whose command line contains `marker`. */
function alive(marker) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").includes(marker))
        pids.push(+entry);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Waits up to 2 s for every process with `marker` to be gone; kills and returns the survivors. */
async function survivors(marker) {
  const until = Date.now() + 2_000;
  let pids = alive(marker);
  while (pids.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    pids = alive(marker);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return pids;
}

let markers = 0;
/** A `sleep` duration no other process on the machine uses. */
const marker = () => `322.${process.pid}${String(++markers).padStart(3, "0")}`;

export async function attacks({ scratch, log }) {
  const rows = [];
  const add = (attack, held, detail) => {
    rows.push({ attack, result: held ? "held" : "broken", detail });
    log?.(`  ${held ? "held  " : "BROKEN"} ${attack}: ${detail}`);
  };
  const root = join(scratch, "shell-root");
  const outside = join(scratch, "shell-outside");
  await mkdir(root, { recursive: true });
  await mkdir(outside, { recursive: true });
  const F = join(outside, "F");
  const touched = async () => (await readdir(outside)).includes("F") || (await readdir(root)).includes("F");

  // Finding 1, as written; first with the built-in argument rules, then with them switched off (the sandbox alone).
  const finding1 = [
    [
      "find X -maxdepth 0 -exec sh -c 'id; touch F' ;",
      "find",
      [root, "-maxdepth", "0", "-exec", "sh", "-c", `id; touch ${F}`, ";"],
    ],
    ["git -c alias.x='!touch F' x", "git", ["-c", `alias.x=!touch ${F}`, "x"]],
    ["env A=x sh -c 'touch F'", "env", ["A=x", "sh", "-c", `touch ${F}`]],
  ];
  const allow = ["find", "git", "env", "wc"];
  const ruled = shell({ allow, root });
  const unruled = shell({
    allow,
    root,
    rules: { find: { deny: [] }, git: { deny: [] }, env: { deny: [] }, wc: { deny: [] } },
  });
  for (const [attack, command, args] of finding1) {
    const refused = await call(ruled, command, args);
    add(
      `${attack} (built-in argument rules)`,
      !refused.ok && /argument rules/.test(refused.error) && !(await touched()),
      describe(refused),
    );
    const sandboxed = await call(unruled, command, args);
    const ranShell = sandboxed.ok && /uid=/.test(sandboxed.output.stdout);
    // The program did try: it found no `sh` (or `touch`) to run.
    const noShell =
      sandboxed.ok && /('sh'|‘sh’|touch \S+): No such file or directory/.test(sandboxed.output.stderr);
    add(
      `${attack} (rules off: the sandbox alone)`,
      noShell && !ranShell && !(await touched()),
      `${describe(sandboxed)}; F ${(await touched()) ? "created" : "not created"}`,
    );
  }

  await writeFile(join(outside, "names"), `${join(outside, "secret.txt")}\0`);
  await writeFile(join(outside, "secret.txt"), `${SECRET}\n`);
  const hostPasswd = (await readFile("/etc/passwd", "utf8"))
    .split("\n")
    .filter((line) => line !== "" && !/^(root|nobody):/.test(line));
  const wcRefused = await call(ruled, "wc", ["--files0-from=/etc/passwd"]);
  add(
    "wc --files0-from=/etc/passwd (built-in argument rules)",
    !wcRefused.ok && /argument rules/.test(wcRefused.error),
    describe(wcRefused),
  );
  const wcPasswd = await call(unruled, "wc", ["--files0-from=/etc/passwd"]);
  const leaked = wcPasswd.ok
    ? hostPasswd.filter((line) => JSON.stringify(wcPasswd.output).includes(line))
    : [];
  add(
    "wc --files0-from=/etc/passwd (rules off: the sandbox alone)",
    leaked.length === 0,
    leaked.length === 0
      ? `only the sandbox's own passwd: ${describe(wcPasswd)}`
      : `${leaked.length} host passwd lines leaked`,
  );
  const wcSecret = await call(unruled, "wc", [`--files0-from=${join(outside, "names")}`]);
  add(
    "wc --files0-from=<a file outside the root> (rules off)",
    !JSON.stringify(wcSecret).includes(SECRET) && !(wcSecret.ok && wcSecret.output.exitCode === 0),
    describe(wcSecret),
  );

  const fsTools = shell({ allow: ["touch", "ls", "cat", "find"], root });
  const write = await call(fsTools, "touch", [F]);
  add("touch a file outside the root", !(await touched()), describe(write));
  const cwd = await call(fsTools, "find", ["."]);
  add("the working directory is the root", cwd.ok && cwd.output.stdout.trim() === ".", describe(cwd));
  const homes = [];
  for (const path of ["/root", "/home", "/etc/shadow", repoRoot, outside]) {
    const listed = await call(fsTools, "ls", ["-d", path]);
    if (listed.ok && listed.output.exitCode === 0) homes.push(path);
  }
  add(
    "see homes, /etc/shadow, the repository, other directories",
    homes.length === 0,
    homes.length === 0 ? "none visible" : `visible: ${homes.join(", ")}`,
  );
  const bins = await call(fsTools, "ls", ["/usr/bin"]);
  const programs = bins.ok ? bins.output.stdout.split("\n").filter(Boolean).sort() : [];
  add(
    "programs reachable beyond the allow list",
    programs.join(",") === "cat,find,ls,touch",
    `/usr/bin: ${programs.join(", ")}`,
  );
  const net = await call(fsTools, "cat", ["/proc/net/dev"]);
  const interfaces = net.ok
    ? net.output.stdout
        .split("\n")
        .slice(2)
        .filter((line) => line.trim() !== "")
        .map((line) => line.trim().split(":")[0])
    : [];
  add(
    "network without a grant",
    interfaces.join(",") === "lo",
    `interfaces: ${interfaces.join(", ") || describe(net)}`,
  );

  // Finding 2: no process of a call outlives it.
  const m1 = marker();
  const findSleep = await call(
    shell({ allow: ["find", "sh", "sleep"], root, rules: { find: { deny: [] } } }),
    "find",
    [".", "-maxdepth", "0", "-exec", "sh", "-c", `sleep ${m1} &`, ";"],
  );
  const left1 = await survivors(m1);
  add(
    "find … -exec sh -c 'sleep 322 &' (a successful call)",
    findSleep.ok && left1.length === 0,
    `${describe(findSleep)}; left alive: ${left1.length}`,
  );
  const m2 = marker();
  const setsid = await call(shell({ allow: ["setsid", "sleep"], root }), "setsid", ["sleep", m2]);
  const left2 = await survivors(m2);
  add(
    "setsid sleep 322",
    setsid.ok && left2.length === 0,
    `${describe(setsid)}; left alive: ${left2.length}`,
  );
  const m3 = marker();
  const started = Date.now();
  const timedOut = await call(shell({ allow: ["sh", "sleep", "setsid"], root, timeoutMs: 400 }), "sh", [
    "-c",
    `setsid sleep ${m3} & sleep ${m3} & sleep ${m3}`,
  ]);
  const ms = Date.now() - started;
  const left3 = await survivors(m3);
  add(
    "a timed-out call with background and setsid children",
    !timedOut.ok && timedOut.reason === "timeout" && left3.length === 0,
    `${describe(timedOut)} after ${ms} ms; left alive: ${left3.length}`,
  );
  const m4 = marker();
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  const cancelled = await call(
    shell({ allow: ["sh", "sleep"], root }),
    "sh",
    ["-c", `sleep ${m4} & sleep ${m4}`],
    controller.signal,
  ).then(
    (result) => describe(result),
    (error) => `${error.code}: ${error.message}`,
  );
  const left4 = await survivors(m4);
  add(
    "a cancelled call with a background child",
    left4.length === 0,
    `${cancelled}; left alive: ${left4.length}`,
  );
  const m5 = marker();
  const unsandboxed = await call(shell({ allow: ["sh", "sleep"], root, sandbox: "none" }), "sh", [
    "-c",
    `sleep ${m5} &`,
  ]);
  const left5 = await survivors(m5);
  add(
    "sandbox: none, sh -c 'sleep 322 &' (the process group is killed)",
    unsandboxed.ok && left5.length === 0,
    `${describe(unsandboxed)}; left alive: ${left5.length}`,
  );

  // Where bubblewrap is missing, the built CLI's validate says so, in the agent file's terms.
  const agentFile = join(repoRoot, "tests/fixtures/agents/approval.yaml");
  const validated = await new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, "validate", "--no-models", agentFile], {
      env: { PATH: join(scratch, "no-bwrap"), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
  add(
    "validate where bubblewrap is missing",
    validated.code === 2 &&
      /tools\.shell: .*bubblewrap \(bwrap\) is not installed.*sandbox: none/.test(validated.stderr),
    `exit ${validated.code}: ${validated.stderr.trim().slice(0, 200)}`,
  );
  return rows;
}

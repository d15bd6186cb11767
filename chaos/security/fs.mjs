// Security: issue 12, findings 3 (a FIFO blocks the process), 4 (hard links and a directory/symlink swap race)
// and 8 (output caps vs JSON escaping), replayed against the BUILT package through the registry, with the tools
// built from an agent's tool config as the CLI builds them.
//
// 3. Eight concurrent fs.write calls to a FIFO inside the root each pinned a libuv thread; after four, every file
//    operation of the process hung. Held: every call refused at once, and the process's own file reads still run.
// 4. A hard link in the root to an outside file was read and overwritten; a renameat2(RENAME_EXCHANGE) loop
//    swapping a directory and a symlink to the outside read an outside secret 2,610 times in 10,682 calls and
//    created 245 files outside. Held: no outside content in any result, nothing created or changed outside, while
//    the swapper ran throughout and calls both succeeded and were refused (or the race proves nothing).
// 8. 60,000 control characters under maxBytes 65536, `cat /dev/zero` and a NUL http body failed the whole call
//    ("returned 351.6 KiB … ask for less") because escaping grows them 6×. Held: the call succeeds, cut at the
//    tool's cap with truncated: true where the tool cuts.
import { execFileSync, spawn } from "node:child_process";
import { link, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolRegistry } from "../../dist/index.js";
// The built-in tools' factories are part of the built package but not of its root export.
import { createBuiltinTool } from "../../dist/tools/index.js";
import { startSwapper } from "../../tests/fixtures/renameSwapper.mjs";
import { callContext, QUICK_MS, short } from "../lib.mjs";

const SECRET = "OUTSIDE-SECRET-chaos-5d1e";
/** Rounds of the race (8 calls each): about the finding's 10,682 calls in all. */
const RACE_ROUNDS = 1_350;

const describe = (result) => (result.ok ? `ok ${short(result.output)}` : `${result.reason}: ${result.error}`);

function registryOf(name, options, registryOptions = {}) {
  const registry = new ToolRegistry(registryOptions);
  for (const tool of createBuiltinTool({ kind: "builtin", name, options })) registry.register(tool);
  return registry;
}

/** Settles with `promise`, or with `{ hung: true }` after `ms`: a hang is a broken row, not a stuck harness. */
function within(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(() => resolve({ hung: true }), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function sandbox(scratch) {
  const base = await mkdtemp(join(scratch, "fs-"));
  const root = join(base, "root");
  const outside = join(base, "outside");
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(root, "b.txt"), "bee");
  await writeFile(join(outside, "secret.txt"), SECRET);
  return { base, root, outside };
}

async function tree(dir) {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

async function fifoAttacks(scratch) {
  const { root } = await sandbox(scratch);
  const fifo = join(root, "pipe");
  execFileSync("mkfifo", [fifo]);
  const registry = registryOf("fs", { root, write: true }, { timeoutMs: 2_000 });
  const rows = [];
  try {
    const started = performance.now();
    const settled = await within(
      Promise.all(
        Array.from({ length: 8 }, () =>
          registry.call("fs.write", { path: "pipe", content: "x" }, callContext()),
        ),
      ),
      5_000,
    );
    const ms = Math.round(performance.now() - started);
    const after = await within(readFile(join(root, "b.txt"), "utf8"), 2_000);
    const refused =
      Array.isArray(settled) && settled.every((r) => !r.ok && /not a regular file/.test(r.error ?? ""));
    rows.push({
      attack: "fs.write to a FIFO inside the root, 8 concurrent calls, then a file read of the process",
      result: refused && ms < QUICK_MS && after === "bee" ? "held" : "broken",
      detail: `${Array.isArray(settled) ? describe(settled[0]) : "the calls hung"} (8 calls in ${ms} ms); the process's readFile afterwards ${after === "bee" ? "ran" : "hung"}`,
    });
    for (const [name, args] of [
      ["fs.read", { path: "pipe" }],
      ["fs.list", { path: "pipe" }],
    ]) {
      const t0 = performance.now();
      const result = await within(registry.call(name, args, callContext()), 5_000);
      const took = Math.round(performance.now() - t0);
      rows.push({
        attack: `${name} of a FIFO inside the root`,
        result: !result.hung && !result.ok && took < QUICK_MS ? "held" : "broken",
        detail: result.hung ? "hung" : `${describe(result)} in ${took} ms`,
      });
    }
    const server = createNetServer();
    await new Promise((resolve) => server.listen(join(root, "sock"), resolve));
    try {
      const result = await registry.call("fs.write", { path: "sock", content: "x" }, callContext());
      rows.push({
        attack: "fs.write to a Unix socket inside the root",
        result: !result.ok && /not a regular file/.test(result.error) ? "held" : "broken",
        detail: describe(result),
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  } finally {
    // Where the attack worked, blocked opens still pin libuv threads: a child holding the FIFO open (read-write,
    // which never blocks) lets them through, so the harness can go on.
    const holder = spawn("sh", ["-c", 'exec 3<>"$1"; sleep 1', "sh", fifo], { stdio: "ignore" });
    await new Promise((resolve) => holder.on("exit", resolve));
  }
  return rows;
}

async function hardlinkAttacks(scratch) {
  const { root, outside } = await sandbox(scratch);
  await link(join(outside, "secret.txt"), join(root, "alias.txt"));
  const registry = registryOf("fs", { root, write: true });
  const read = await registry.call("fs.read", { path: "alias.txt" }, callContext());
  const write = await registry.call("fs.write", { path: "alias.txt", content: "pwned" }, callContext());
  const intact = (await readFile(join(outside, "secret.txt"), "utf8")) === SECRET;
  return [
    {
      attack: "fs.read of a hard link in the root to an outside file",
      result: !read.ok && !JSON.stringify(read).includes(SECRET) ? "held" : "broken",
      detail: describe(read),
    },
    {
      attack: "fs.write to a hard link in the root to an outside file",
      result: !write.ok && intact ? "held" : "broken",
      detail: `${describe(write)}; the outside file is ${intact ? "unchanged" : "OVERWRITTEN"}`,
    },
  ];
}

async function raceAttack(scratch, log) {
  const { root, outside } = await sandbox(scratch);
  await mkdir(join(root, "d"));
  await writeFile(join(root, "d", "f"), "inside");
  await writeFile(join(outside, "f"), SECRET);
  await writeFile(join(outside, "outside-only.txt"), SECRET);
  await symlink(outside, join(root, "l"));
  const before = await tree(outside);
  const swapper = startSwapper(join(root, "d"), join(root, "l"));
  const counts = { calls: 0, ok: 0, refused: 0, outsideReads: 0 };
  const started = performance.now();
  try {
    await swapper.ready;
    log(`security: fs race, ${RACE_ROUNDS * 8} calls against a ${swapper.how} loop`);
    const registry = registryOf("fs", { root, write: true });
    const call = (name, args) => registry.call(name, args, callContext());
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const batch = await Promise.all([
        call("fs.read", { path: "d/f" }),
        call("fs.read", { path: "l/f" }),
        call("fs.read", { path: "d/outside-only.txt" }),
        call("fs.list", { path: "d" }),
        call("fs.list", { path: "l" }),
        call("fs.write", { path: `d/new-${round}.txt`, content: "w" }),
        call("fs.write", { path: `d/sub-${round}/deep.txt`, content: "w" }),
        call("fs.write", { path: "d/f", content: "inside" }),
      ]);
      for (const result of batch) {
        counts.calls++;
        const text = JSON.stringify(result);
        if (text.includes(SECRET) || (result.ok && text.includes("outside-only"))) counts.outsideReads++;
        if (result.ok) counts.ok++;
        else counts.refused++;
      }
    }
  } finally {
    counts.swaps = await swapper.stop();
  }
  const after = await tree(outside);
  const created = after.filter((name) => !before.includes(name));
  const intact = (await readFile(join(outside, "f"), "utf8")) === SECRET;
  const raced = counts.swaps > 1_000 && counts.ok > 0 && counts.refused > 0;
  const held = counts.outsideReads === 0 && created.length === 0 && intact && raced;
  return {
    attack: "fs read/list/write while a directory and a symlink to the outside are swapped (renameat2 loop)",
    result: held ? "held" : "broken",
    detail: `${counts.calls} calls in ${Math.round(performance.now() - started)} ms against ${counts.swaps} swaps (${swapper.how}): ${counts.ok} ok, ${counts.refused} refused, ${counts.outsideReads} outside reads, ${created.length} created outside${created.length > 0 ? ` (${short(created.slice(0, 5))})` : ""}${intact ? "" : ", outside file CHANGED"}${raced ? "" : "; the race did not really run"}`,
  };
}

async function capAttacks(scratch) {
  const rows = [];
  const { root } = await sandbox(scratch);
  const controls = "\u0001".repeat(60_000);
  await writeFile(join(root, "ctl.bin"), controls);
  const read = await registryOf("fs", { root, maxBytes: 65_536 }).call(
    "fs.read",
    { path: "ctl.bin" },
    callContext(),
  );
  rows.push({
    attack: "fs.read of a 60,000-byte file of control characters under maxBytes 65536",
    result: read.ok && read.output.content === controls ? "held" : "broken",
    detail: read.ok ? `ok, ${read.output.content.length} characters` : describe(read),
  });

  // The shell tool's own sandbox is not what is tested here; where bubblewrap cannot run, opt out of it.
  const shellOptions = (extra) => ({ allow: ["cat"], timeoutMs: 10_000, root, ...extra });
  let shell;
  let how = "in its sandbox";
  try {
    shell = registryOf("shell", shellOptions({}));
  } catch {
    shell = registryOf("shell", shellOptions({ sandbox: "none" }));
    how = "with sandbox: none (no bubblewrap here)";
  }
  await writeFile(join(root, "ff.bin"), Buffer.alloc(64 * 1024, 0xff));
  for (const [label, args, expected] of [
    ["cat /dev/zero", ["/dev/zero"], (out) => out.stdout === "\0".repeat(64 * 1024)],
    // 0xFF decodes to U+FFFD: 3 bytes kept per byte read, over the tool's cap, so the registry cuts it.
    ["cat of 64 KiB of 0xFF bytes (invalid UTF-8)", ["ff.bin"], (out) => /^\uFFFD+$/.test(out.stdout)],
  ]) {
    const result = await shell.call("shell.run", { command: "cat", args }, callContext());
    rows.push({
      attack: `shell: ${label} (maxOutputBytes 64 KiB, ${how})`,
      result: result.ok && result.output.truncated === true && expected(result.output) ? "held" : "broken",
      detail: result.ok
        ? `ok, truncated ${result.output.truncated}, stdout ${result.output.stdout.length} characters`
        : describe(result),
    });
  }

  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/octet-stream" });
    response.end(Buffer.alloc(100_000));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const http = registryOf("http", { allow: [`${base}/*`], maxBytes: 65_536 });
    const result = await http.call("http.get", { url: `${base}/zero` }, callContext());
    rows.push({
      attack: "http.get of a 100,000-byte NUL body under maxBytes 65536",
      result:
        result.ok && result.output.truncated === true && result.output.body === "\0".repeat(65_536)
          ? "held"
          : "broken",
      detail: result.ok
        ? `ok, truncated ${result.output.truncated}, body ${result.output.body.length} characters`
        : describe(result),
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return rows;
}

/** Replays findings 3, 4 and 8; each row says whether the defence held. */
export async function attacks({ scratch, log = () => undefined } = {}) {
  log("security: fs special files, hard links, a swap race, and output caps (issue 12, findings 3, 4, 8)");
  const dir = await mkdtemp(join(scratch ?? tmpdir(), "security-fs-"));
  try {
    return [
      ...(await fifoAttacks(dir)),
      ...(await hardlinkAttacks(dir)),
      await raceAttack(dir, log),
      ...(await capAttacks(dir)),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Run alone: node chaos/security/fs.mjs (after npm run build).
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await attacks({ log: (line) => console.error(line) });
  for (const row of rows) console.log(`${row.result.padEnd(6)} ${row.attack}\n       ${row.detail}`);
  process.exitCode = rows.every((row) => row.result === "held") ? 0 : 1;
}

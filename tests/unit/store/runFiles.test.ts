/**
 * Issue 12, findings 6 and 7, at the store: a run directory is data that whoever can write it may have shaped.
 * - A snapshot.json of the wrong types (usage records that are null, token counts that are strings) crashed a
 *   resume at buildLedger after the work was done; it is now RUN_CORRUPT at load, and refused at write.
 * - A FIFO as meta.json made `inspect`, `runs` and `resume` hang; every run file that is not a regular file (a
 *   FIFO, a device, a socket, a symbolic link) is RUN_CORRUPT at once, and `list` skips it.
 * - The agent copy in meta.json is checked against its hash, and load says when someone other than this user
 *   could have written it (resume then refuses to run it).
 */
import { execFileSync } from "node:child_process";
import { chmod, chown, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import { agentCopyHash } from "../../../src/runtime/store/agentCopy.js";
import { FileRunStore, MemoryRunStore } from "../../../src/runtime/store/index.js";
import type { JsonValue } from "../../../src/types.js";
import {
  fixtureEvent,
  fixtureJournalEntry,
  fixtureMeta,
  fixturePlan,
  fixtureResult,
} from "../../helpers/storeFixtures.js";

let dir: string;
let root: string;
let store: FileRunStore;
const runDir = (runId = "run-1") => join(root, runId);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-runfiles-"));
  root = join(dir, "runs");
  store = new FileRunStore({ root });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function seedRun(): Promise<void> {
  await store.create(fixtureMeta("run-1"));
  await store.appendEvent("run-1", fixtureEvent("run-1", 1));
  await store.savePlan("run-1", 0, fixturePlan("s1", "s2"), []);
  await store.saveResult("run-1", 0, fixtureResult("s1"));
  await store.saveSnapshot("run-1", { state: '"executing"', revision: 0, completed: ["s1"], usage: [] });
  await store.journalTool("run-1", fixtureJournalEntry("s1", 1));
}

/** Settles `promise` or fails after `ms`: a load that blocks on a FIFO must not pass by hanging the test. */
function within<T>(promise: Promise<T>, ms = 3_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms).unref(),
    ),
  ]);
}

const usage = {
  model: "fixture:tiny",
  locality: "local",
  promptTokens: 3,
  completionTokens: 2,
  durationMs: 5,
  loadMs: 0,
};

describe("snapshot.json is schema-checked like every other run file", () => {
  it.each<[string, JsonValue]>([
    ["a null usage record", { state: '"executing"', usage: [null] }],
    ["string token counts", { usage: [{ ...usage, promptTokens: "12" }] }],
    ["a usage that is not a list", { usage: { promptTokens: 1 } }],
    ["a negative revision", { revision: -1 }],
    ["not an object", ["executing"]],
    ["null", null],
  ])("%s is RUN_CORRUPT naming snapshot.json, and nothing stored is lost", async (_, snapshot) => {
    await seedRun();
    await writeFile(join(runDir(), "snapshot.json"), JSON.stringify(snapshot));
    await expect(store.load("run-1")).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      context: expect.objectContaining({ file: "snapshot.json" }),
      message: expect.stringContaining("snapshot.json"),
    });
    expect(JSON.parse(await readFile(join(runDir(), "results/r0/s1.json"), "utf8"))).toEqual(
      fixtureResult("s1"),
    );
  });

  it("is refused at write by both stores (RUN_STORE_FAILED, invalid-record), keeping the previous one", async () => {
    await seedRun();
    const memory = new MemoryRunStore();
    await memory.create(fixtureMeta("run-1"));
    for (const target of [store, memory]) {
      await target.saveSnapshot("run-1", { usage: [usage] });
      await expect(target.saveSnapshot("run-1", { usage: [null] })).rejects.toMatchObject({
        code: ErrorCodes.RUN_STORE_FAILED,
        context: expect.objectContaining({ reason: "invalid-record" }),
      });
      expect((await target.load("run-1")).snapshot).toEqual({ usage: [usage] });
    }
  });
});

describe("run files that are not regular files", () => {
  it.each(["meta.json", "events.jsonl", "plan.json", "snapshot.json", "tools.jsonl", "results/r0/s1.json"])(
    "a FIFO as %s is RUN_CORRUPT at once, never waited on",
    async (file) => {
      await seedRun();
      await rm(join(runDir(), file));
      execFileSync("mkfifo", [join(runDir(), file)]);
      await expect(within(store.load("run-1"))).rejects.toMatchObject({
        code: ErrorCodes.RUN_CORRUPT,
        context: expect.objectContaining({ file }),
        message: expect.stringContaining("a FIFO, not a regular file"),
      });
    },
  );

  it("list skips a run whose meta.json is a FIFO and still lists the others", async () => {
    await seedRun();
    await store.create(fixtureMeta("run-2", 1_700_000_000_001));
    await rm(join(runDir("run-2"), "meta.json"));
    execFileSync("mkfifo", [join(runDir("run-2"), "meta.json")]);
    expect((await within(store.list())).map((meta) => meta.runId)).toEqual(["run-1"]);
  });

  it("a write is not built on a FIFO as plan.json either", async () => {
    await seedRun();
    await rm(join(runDir(), "plan.json"));
    execFileSync("mkfifo", [join(runDir(), "plan.json")]);
    await expect(within(store.saveResult("run-1", 0, fixtureResult("s2")))).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      context: expect.objectContaining({ file: "plan.json" }),
    });
  });

  it("a symbolic link (to a device, or to another run's file) is RUN_CORRUPT", async () => {
    await seedRun();
    await store.create(fixtureMeta("run-2"));
    await rm(join(runDir(), "meta.json"));
    await symlink("/dev/zero", join(runDir(), "meta.json"));
    await expect(within(store.load("run-1"))).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      message: expect.stringContaining("a symbolic link"),
    });
    await rm(join(runDir(), "meta.json"));
    await symlink(join(runDir("run-2"), "events.jsonl"), join(runDir(), "meta.json"));
    await expect(within(store.load("run-1"))).rejects.toMatchObject({ code: ErrorCodes.RUN_CORRUPT });
  });

  it("a socket as snapshot.json is RUN_CORRUPT", async () => {
    await seedRun();
    await rm(join(runDir(), "snapshot.json"));
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(runDir(), "snapshot.json"), resolve));
    try {
      await expect(within(store.load("run-1"))).rejects.toMatchObject({
        code: ErrorCodes.RUN_CORRUPT,
        message: expect.stringContaining("a socket"),
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a device node as events.jsonl is RUN_CORRUPT without being opened (where mknod is allowed)", async () => {
    await seedRun();
    await rm(join(runDir(), "events.jsonl"));
    try {
      execFileSync("mknod", [join(runDir(), "events.jsonl"), "c", "1", "5"], { stdio: "ignore" }); // /dev/zero
    } catch {
      return; // not root, or a container without CAP_MKNOD: the symlink case covers devices there
    }
    await expect(within(store.load("run-1"))).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      message: expect.stringContaining("a device, not a regular file"),
    });
  });
});

describe("the agent copy in meta.json", () => {
  const text = "name: fixture-agent\n";
  const copy = { file: "/agents/fixture.yaml", text, sha256: agentCopyHash(text) };

  it("is stored with the run and comes back from load", async () => {
    await store.create({ ...fixtureMeta("run-1"), agentCopy: copy });
    const run = await store.load("run-1");
    expect(run.meta.agentCopy).toEqual(copy);
    expect(run.foreignWriter).toBeUndefined();
  });

  it("that does not match its hash is RUN_CORRUPT", async () => {
    await store.create({ ...fixtureMeta("run-1"), agentCopy: copy });
    const path = join(runDir(), "meta.json");
    const meta = JSON.parse(await readFile(path, "utf8"));
    meta.agentCopy.text = "name: fixture-agent\ntools: [{ mcp: { name: x, command: sh } }]\n";
    await writeFile(path, JSON.stringify(meta));
    await expect(store.load("run-1")).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      context: expect.objectContaining({ file: "meta.json" }),
      message: expect.stringContaining("does not match its sha256"),
    });
    meta.agentCopy.sha256 = "not a hash";
    await writeFile(path, JSON.stringify(meta));
    await expect(store.load("run-1")).rejects.toMatchObject({ code: ErrorCodes.RUN_CORRUPT });
  });

  it("says when someone other than this user could have written meta.json", async () => {
    await store.create({ ...fixtureMeta("run-1"), agentCopy: copy });
    const path = join(runDir(), "meta.json");
    await chmod(path, 0o666);
    expect((await store.load("run-1")).foreignWriter).toMatch(/can be written by other users \(mode 666\)/);
    await chmod(path, 0o644);
    if (process.geteuid?.() !== 0) return; // only root can give a file away
    await chown(path, 65534, 65534);
    expect((await store.load("run-1")).foreignWriter).toMatch(
      /owned by user id 65534, not by this user \(0\)/,
    );
  });
});

describe("events.jsonl payloads are checked per event type", () => {
  it.each<[string, Record<string, unknown>]>([
    ["a completed subtask without its result", { type: "subtask.completed", subtaskId: "s1", result: null }],
    ["a plan that is null", { type: "plan.created", plan: null, attempt: 1 }],
    ["a tool result without a result", { type: "tool.result", subtaskId: "s1", tool: "fs.read", ms: 1 }],
    ["a failed run without its error", { type: "run.failed" }],
  ])("%s is RUN_CORRUPT naming the line; an unknown type passes", async (_, payload) => {
    await seedRun();
    const line = `${JSON.stringify({ ...payload, runId: "run-1", seq: 2, at: 2 })}\n`;
    await writeFile(join(runDir(), "events.jsonl"), `${JSON.stringify(fixtureEvent("run-1", 1))}\n${line}`);
    await expect(store.load("run-1")).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      context: expect.objectContaining({ file: "events.jsonl", line: 2 }),
      message: expect.stringContaining(`${String(payload.type)}: `),
    });
    await expect(
      store.appendEvent("run-1", { ...payload, runId: "run-1", seq: 3, at: 3 } as never),
    ).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
    });
    const future = { type: "tool.sandboxed", runId: "run-1", seq: 2, at: 2, anything: [1] };
    await writeFile(
      join(runDir(), "events.jsonl"),
      `${JSON.stringify(fixtureEvent("run-1", 1))}\n${JSON.stringify(future)}\n`,
    );
    expect((await store.load("run-1")).events[1]).toEqual(future);
  });
});

/**
 * What only the file store can get wrong: its layout on disk, what a crash or a damaged file looks like on load
 * (torn last lines tolerated, everything else RUN_CORRUPT naming the file), failing writes (RUN_STORE_FAILED,
 * nothing lost) and ids that try to leave the root. The shared contract is in conformance.test.ts.
 */
import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../../src/errors.js";
import { FileRunStore } from "../../../src/runtime/store/FileRunStore.js";
import {
  fixtureEvent,
  fixtureJournalEntry,
  fixtureMeta,
  fixtureOutcome,
  fixturePlan,
  fixtureResult,
} from "../../helpers/storeFixtures.js";

let dir: string;
let root: string;
let store: FileRunStore;
const runDir = (runId = "run-1") => join(root, runId);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-filestore-"));
  root = join(dir, "runs");
  store = new FileRunStore({ root });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectCorrupt(file: string, line?: number): Promise<void> {
  await expect(store.load("run-1")).rejects.toMatchObject({
    code: ErrorCodes.RUN_CORRUPT,
    context: line === undefined ? expect.objectContaining({ file }) : expect.objectContaining({ file, line }),
  });
}

/** A run with two events, plan revision 0 (s1, s2), the result of s1, a snapshot and a journaled call. */
async function seedRun(): Promise<void> {
  await store.create(fixtureMeta("run-1"));
  await store.appendEvent("run-1", fixtureEvent("run-1", 1));
  await store.appendEvent("run-1", fixtureEvent("run-1", 2));
  await store.savePlan("run-1", 0, fixturePlan("s1", "s2"), []);
  await store.saveResult("run-1", 0, fixtureResult("s1"));
  await store.saveSnapshot("run-1", { value: "executing" });
  await store.journalTool("run-1", fixtureJournalEntry("s1", 1));
}

/** Whether chmod can stop this process writing (not as root, which ignores permission bits). */
async function chmodStopsWrites(): Promise<boolean> {
  const probe = join(dir, "probe");
  await mkdir(probe, { mode: 0o555 });
  try {
    await writeFile(join(probe, "x"), "");
    return false;
  } catch {
    return true;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

describe("FileRunStore layout", () => {
  it("keeps each part of a run in its documented file, and leaves no temporary file behind", async () => {
    await seedRun();
    await store.savePlan("run-1", 1, fixturePlan("s1", "s3"), [fixtureResult("s1")]);
    await store.journalTool("run-1", fixtureJournalEntry("s1", 1, { ok: true, output: 1 }));
    await store.saveOutcome("run-1", fixtureOutcome("run-1", fixturePlan("s1", "s3"), [fixtureResult("s1")]));
    const read = async (file: string) => readFile(join(runDir(), file), "utf8");

    expect(await readdir(root)).toEqual(["run-1"]);
    expect((await readdir(runDir())).sort()).toEqual([
      "events.jsonl",
      "meta.json",
      "outcome.json",
      "plan.json",
      "results",
      "snapshot.json",
      "tools.jsonl",
    ]);
    expect(JSON.parse(await read("meta.json"))).toEqual(fixtureMeta("run-1"));
    expect((await read("events.jsonl")).split("\n")).toEqual([
      JSON.stringify(fixtureEvent("run-1", 1)),
      JSON.stringify(fixtureEvent("run-1", 2)),
      "",
    ]);
    expect(JSON.parse(await read("plan.json"))).toEqual({ revision: 1, plan: fixturePlan("s1", "s3") });
    expect((await readdir(join(runDir(), "results"))).sort()).toEqual(["r0", "r1"]);
    expect(await readdir(join(runDir(), "results/r0"))).toEqual(["s1.json"]);
    expect(JSON.parse(await read("results/r1/s1.json"))).toEqual(fixtureResult("s1"));
    expect(JSON.parse(await read("snapshot.json"))).toEqual({ value: "executing" });
    expect((await read("tools.jsonl")).trim().split("\n")).toHaveLength(2);
    expect(JSON.parse(await read("outcome.json")).status).toBe("completed");
    expect((await store.load("run-1")).warnings).toEqual([]);
  });

  it("names result files so that odd subtask ids stay inside their folder", async () => {
    await store.create(fixtureMeta("run-1"));
    await store.savePlan("run-1", 0, fixturePlan("../../escape", "S1", "s1"), []);
    for (const id of ["../../escape", "S1", "s1"]) await store.saveResult("run-1", 0, fixtureResult(id));
    expect((await readdir(join(runDir(), "results/r0"))).sort()).toEqual([
      "%2E%2E%2F%2E%2E%2Fescape.json",
      "%531.json",
      "s1.json",
    ]);
    expect(await readdir(root)).toEqual(["run-1"]);
  });

  it("refuses a relative root", () => {
    expect(() => new FileRunStore({ root: ".edgecrew/runs" })).toThrow(
      expect.objectContaining({ code: ErrorCodes.RUN_STORE_FAILED }),
    );
  });
});

describe("FileRunStore after a crash", () => {
  it("drops a torn last line of events.jsonl, says so, and the next append cuts it", async () => {
    await seedRun();
    await appendFile(join(runDir(), "events.jsonl"), '{"type":"subtask.sta');
    const run = await store.load("run-1");
    expect(run.events).toEqual([fixtureEvent("run-1", 1), fixtureEvent("run-1", 2)]);
    expect(run.warnings).toEqual([
      expect.stringMatching(/^events\.jsonl:3: dropped an unterminated last line/),
    ]);

    await store.appendEvent("run-1", fixtureEvent("run-1", 3));
    const after = await store.load("run-1");
    expect(after.events.map((event) => event.seq)).toEqual([1, 2, 3]);
    expect(after.warnings).toEqual([]);
  });

  it("cuts a torn tail even when this store appended to the file before (another writer tore it since)", async () => {
    await seedRun();
    // Another process resumed the run and was killed mid-append; this long-lived store then appends again.
    await appendFile(
      join(runDir(), "events.jsonl"),
      `${JSON.stringify(fixtureEvent("run-1", 3)).slice(0, 30)}`,
    );
    await store.appendEvent("run-1", fixtureEvent("run-1", 3));
    const run = await store.load("run-1");
    expect(run.events.map((event) => event.seq)).toEqual([1, 2, 3]);
    expect(run.warnings).toEqual([]);
  });

  it("treats a complete JSON line without its newline as torn: it was never acknowledged", async () => {
    await seedRun();
    await appendFile(join(runDir(), "tools.jsonl"), JSON.stringify(fixtureJournalEntry("s1", 2)));
    const run = await store.load("run-1");
    expect(run.toolJournal).toEqual([fixtureJournalEntry("s1", 1)]);
    expect(run.warnings).toEqual([expect.stringMatching(/^tools\.jsonl:2: dropped/)]);
  });

  it("ignores temporary files an interrupted atomic write or create left behind", async () => {
    await seedRun();
    await writeFile(join(runDir(), "results/r0/.s2.json.0a1b2c.tmp"), '{"subtaskId":"s2","wor');
    await writeFile(join(runDir(), ".snapshot.json.0a1b2c.tmp"), "{");
    await mkdir(join(root, ".new-run-2.0a1b2c"));
    await writeFile(join(root, ".new-run-2.0a1b2c/meta.json"), JSON.stringify(fixtureMeta("run-2")));
    const run = await store.load("run-1");
    expect(Object.keys(run.results)).toEqual(["s1"]);
    expect(run.warnings).toEqual([]);
    expect((await store.list()).map((meta) => meta.runId)).toEqual(["run-1"]);
    await store.create(fixtureMeta("run-2"));
    expect((await store.load("run-2")).meta).toEqual(fixtureMeta("run-2"));
  });
});

describe("FileRunStore with damaged files", () => {
  it("a broken line before the last one of a log is RUN_CORRUPT with the file and line", async () => {
    await seedRun();
    const events = join(runDir(), "events.jsonl");
    const lines = (await readFile(events, "utf8")).split("\n");
    await writeFile(events, [lines[0], "{not json", lines[1], ""].join("\n"));
    await expectCorrupt("events.jsonl", 2);
  });

  it("a log line that is JSON but not a record is RUN_CORRUPT", async () => {
    await seedRun();
    await appendFile(join(runDir(), "tools.jsonl"), '{"subtaskId":"s1"}\n');
    await expectCorrupt("tools.jsonl", 2);
    await rm(join(runDir(), "tools.jsonl"));
    await writeFile(join(runDir(), "tools.jsonl"), "");
    await appendFile(join(runDir(), "events.jsonl"), `${JSON.stringify(fixtureEvent("run-9", 3))}\n`);
    await expectCorrupt("events.jsonl", 3);
  });

  it.each([["meta.json"], ["plan.json"], ["snapshot.json"], ["outcome.json"], ["results/r0/s1.json"]])(
    "unparsable %s is RUN_CORRUPT naming it",
    async (file) => {
      await seedRun();
      await store.saveOutcome("run-1", fixtureOutcome("run-1", fixturePlan("s1", "s2"), []));
      await writeFile(join(runDir(), file), '{"half": ');
      await expectCorrupt(file);
    },
  );

  it.each([
    ["meta.json", { runId: "run-1" }],
    ["meta.json", fixtureMeta("run-2")],
    ["plan.json", { revision: -1, plan: fixturePlan("s1") }],
    ["outcome.json", { ...fixtureOutcome("run-1", fixturePlan(), []), status: "finished" }],
    ["results/r0/s1.json", { ...fixtureResult("s1"), usage: "none" }],
  ])("a %s of the wrong shape is RUN_CORRUPT", async (file, content) => {
    await seedRun();
    await writeFile(join(runDir(), file), JSON.stringify(content));
    await expectCorrupt(file);
  });

  it("a missing meta.json, event log or results folder is RUN_CORRUPT", async () => {
    await seedRun();
    await rm(join(runDir(), "results/r0"), { recursive: true });
    await expectCorrupt("results/r0");
    await rm(join(runDir(), "events.jsonl"));
    await expectCorrupt("events.jsonl");
    await rm(join(runDir(), "meta.json"));
    await expectCorrupt("meta.json");
    expect(await store.list()).toEqual([]);
  });

  it("a result that is not in the plan, or not under its own name, is RUN_CORRUPT", async () => {
    await seedRun();
    await writeFile(join(runDir(), "results/r0/s9.json"), JSON.stringify(fixtureResult("s9")));
    await expectCorrupt("results/r0/s9.json");
    await rm(join(runDir(), "results/r0/s9.json"));
    await writeFile(join(runDir(), "results/r0/s2.json"), JSON.stringify(fixtureResult("s1")));
    await expectCorrupt("results/r0/s2.json");
    await rm(join(runDir(), "results/r0/s2.json"));
    await writeFile(join(runDir(), "results/r0/S2.json"), JSON.stringify(fixtureResult("S2")));
    await expectCorrupt("results/r0/S2.json");
  });

  it("does not build a write on a damaged plan.json", async () => {
    await seedRun();
    await writeFile(join(runDir(), "plan.json"), "{");
    await expect(store.saveResult("run-1", 0, fixtureResult("s2"))).rejects.toMatchObject({
      code: ErrorCodes.RUN_CORRUPT,
      context: expect.objectContaining({ file: "plan.json" }),
    });
  });
});

describe("FileRunStore when writes fail", () => {
  it("a full disk is RUN_STORE_FAILED with the path and cause, and loses nothing", async () => {
    await seedRun();
    const events = join(runDir(), "events.jsonl");
    await rename(events, `${events}.aside`);
    await symlink("/dev/full", events); // every write to /dev/full fails with ENOSPC, even for root
    const failure = store.appendEvent("run-1", fixtureEvent("run-1", 3));
    await expect(failure).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
      context: expect.objectContaining({ runId: "run-1", reason: "io", errno: "ENOSPC" }),
    });
    await expect(failure).rejects.toHaveProperty("cause.code", "ENOSPC");
    await rm(events);
    await rename(`${events}.aside`, events);
    const run = await store.load("run-1");
    expect(run.events.map((event) => event.seq)).toEqual([1, 2]);
    await store.appendEvent("run-1", fixtureEvent("run-1", 3));
    expect((await store.load("run-1")).events.map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  it("a path that cannot be written (its folder is a file) is RUN_STORE_FAILED and loses nothing", async () => {
    await seedRun();
    const folder = join(runDir(), "results/r0");
    await rename(folder, `${folder}.aside`);
    await writeFile(folder, "not a folder");
    await expect(store.saveResult("run-1", 0, fixtureResult("s2"))).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
      context: expect.objectContaining({ reason: "io", errno: "ENOTDIR" }),
    });
    await rm(folder);
    await rename(`${folder}.aside`, folder);
    const run = await store.load("run-1");
    expect(run.results).toEqual({ s1: fixtureResult("s1") });
    expect(run.snapshot).toEqual({ value: "executing" });
  });

  it("a root that cannot be created is RUN_STORE_FAILED, not RUN_NOT_FOUND", async () => {
    await writeFile(join(dir, "file"), "");
    const blocked = new FileRunStore({ root: join(dir, "file", "runs") });
    await expect(blocked.create(fixtureMeta("run-1"))).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
      context: expect.objectContaining({ reason: "io", errno: "ENOTDIR" }),
    });
  });

  it("a read-only run directory is RUN_STORE_FAILED and loses nothing (needs a non-root user)", async (ctx) => {
    if (!(await chmodStopsWrites())) {
      ctx.skip(
        "running as root: chmod 0o555 does not stop root writing; the ENOSPC and ENOTDIR tests cover this",
      );
    }
    await seedRun();
    await chmod(runDir(), 0o555);
    try {
      await expect(store.saveSnapshot("run-1", { value: "joining" })).rejects.toMatchObject({
        code: ErrorCodes.RUN_STORE_FAILED,
        context: expect.objectContaining({ errno: "EACCES" }),
      });
    } finally {
      await chmod(runDir(), 0o755);
    }
    expect((await store.load("run-1")).snapshot).toEqual({ value: "executing" });
  });
});

describe("FileRunStore run ids", () => {
  it("never reads or writes outside its root, whatever the id", async () => {
    // A perfectly valid run sits next to the root: an id with `..` must still not reach it.
    const victim = join(dir, "victim");
    const other = new FileRunStore({ root: dir });
    await other.create(fixtureMeta("victim"));
    const before = await readFile(join(victim, "events.jsonl"), "utf8");
    for (const id of ["../victim", "..", `${dir}/victim`, "runs/../../victim", "victim/../../x"]) {
      await expect(store.load(id)).rejects.toMatchObject({ code: ErrorCodes.RUN_NOT_FOUND });
      await expect(store.appendEvent(id, fixtureEvent(id, 1))).rejects.toMatchObject({
        code: ErrorCodes.RUN_NOT_FOUND,
      });
      await expect(store.saveSnapshot(id, {})).rejects.toMatchObject({ code: ErrorCodes.RUN_NOT_FOUND });
      await expect(store.create(fixtureMeta(id))).rejects.toMatchObject({
        code: ErrorCodes.RUN_STORE_FAILED,
      });
    }
    expect(await readFile(join(victim, "events.jsonl"), "utf8")).toBe(before);
    expect((await readdir(dir)).sort()).toEqual(["victim"]);
  });

  it("lists only directories that hold a valid meta.json of their own name", async () => {
    await store.create(fixtureMeta("run-1", 10));
    await store.create(fixtureMeta("run-2", 20));
    await mkdir(join(root, "empty"));
    await mkdir(join(root, "bad-meta"));
    await writeFile(join(root, "bad-meta/meta.json"), "{");
    await mkdir(join(root, "other-name"));
    await writeFile(join(root, "other-name/meta.json"), JSON.stringify(fixtureMeta("run-3")));
    await writeFile(join(root, "stray-file"), "");
    expect((await store.list()).map((meta) => meta.runId)).toEqual(["run-2", "run-1"]);
  });

  it("refuses to create a run over an existing directory, even one without meta.json", async () => {
    await mkdir(join(root, "run-1"), { recursive: true });
    await writeFile(join(root, "run-1/keep.txt"), "precious");
    await expect(store.create(fixtureMeta("run-1"))).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
      context: expect.objectContaining({ reason: "exists" }),
    });
    expect(await readFile(join(root, "run-1/keep.txt"), "utf8")).toBe("precious");
    expect((await readdir(root)).sort()).toEqual(["run-1"]);
  });
});

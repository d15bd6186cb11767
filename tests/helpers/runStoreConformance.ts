/**
 * The RunStore conformance suite: what every store must do, written once and run against each store
 * (docs/ARCHITECTURE.md, convention 8). A store that passes it can back `crew.run` and `resume`: its writes
 * read back exactly, per-revision plans hide stale results, the tool journal folds intents into results,
 * concurrent appends neither lose nor reorder anything, and every misuse is a typed error.
 *
 * This module imports vitest: load it from test files only, never from library code.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCodes } from "../../src/errors.js";
import type { RunStore } from "../../src/types.js";
import {
  fixtureEvent,
  fixtureJournalEntry,
  fixtureMeta,
  fixtureOutcome,
  fixturePlan,
  fixtureResult,
} from "./storeFixtures.js";

/** A fresh, empty store for one test, and how to remove whatever it left behind. */
export interface RunStoreUnderTest {
  readonly store: RunStore;
  cleanup(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: string, reason?: string): Promise<void> {
  await expect(promise).rejects.toMatchObject(
    reason === undefined ? { code } : { code, context: expect.objectContaining({ reason }) },
  );
}

/**
 * Declares the conformance tests for one store. `makeStore` is called before each test and must return an
 * empty store; `cleanup` runs after it.
 *
 * @example
 * describeRunStoreConformance("MemoryRunStore", async () => ({
 *   store: new MemoryRunStore(),
 *   cleanup: async () => {},
 * }));
 */
export function describeRunStoreConformance(name: string, makeStore: () => Promise<RunStoreUnderTest>): void {
  describe(`RunStore conformance: ${name}`, () => {
    let subject: RunStoreUnderTest;
    let store: RunStore;
    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    it("creates a run and loads it back, empty", async () => {
      await store.create({ ...fixtureMeta("run-1"), agentSource: "/agents/demo.yaml" });
      const run = await store.load("run-1");
      expect(run).toMatchObject({
        meta: { ...fixtureMeta("run-1"), agentSource: "/agents/demo.yaml" },
        events: [],
        revision: 0,
        results: {},
        toolJournal: [],
      });
      expect(run.plan).toBeUndefined();
      expect(run.snapshot).toBeUndefined();
      expect(run.outcome).toBeUndefined();
    });

    it("returns events in the order they were appended", async () => {
      await store.create(fixtureMeta("run-1"));
      const events = [1, 2, 3, 4, 5].map((seq) => fixtureEvent("run-1", seq));
      for (const event of events) await store.appendEvent("run-1", event);
      expect((await store.load("run-1")).events).toEqual(events);
    });

    it("stores plan revision 0 and the results of its subtasks", async () => {
      await store.create(fixtureMeta("run-1"));
      await store.savePlan("run-1", 0, fixturePlan("s1", "s2", "s3"), []);
      await store.saveResult("run-1", 0, fixtureResult("s1"));
      await store.saveResult("run-1", 0, fixtureResult("s2"));
      const run = await store.load("run-1");
      expect(run.plan).toEqual(fixturePlan("s1", "s2", "s3"));
      expect(run.revision).toBe(0);
      expect(run.results).toEqual({ s1: fixtureResult("s1"), s2: fixtureResult("s2") });
    });

    it("a replan keeps only the results it carries; the old revision's others are no longer visible", async () => {
      await store.create(fixtureMeta("run-1"));
      await store.savePlan("run-1", 0, fixturePlan("s1", "s2"), []);
      await store.saveResult("run-1", 0, fixtureResult("s1"));
      await store.saveResult("run-1", 0, fixtureResult("s2"));
      await store.savePlan("run-1", 1, fixturePlan("s1", "s3"), [fixtureResult("s1")]);
      let run = await store.load("run-1");
      expect(run.revision).toBe(1);
      expect(run.plan).toEqual(fixturePlan("s1", "s3"));
      expect(run.results).toEqual({ s1: fixtureResult("s1") });

      await store.saveResult("run-1", 1, fixtureResult("s3"));
      await store.savePlan("run-1", 2, fixturePlan("s2", "s3"), [fixtureResult("s3")]);
      run = await store.load("run-1");
      expect(run.revision).toBe(2);
      // s2 of revision 0 must not come back: revision 2 planned s2 anew and carried only s3.
      expect(run.results).toEqual({ s3: fixtureResult("s3") });
    });

    it("accepts a late result of an older revision but never returns it", async () => {
      await store.create(fixtureMeta("run-1"));
      await store.savePlan("run-1", 0, fixturePlan("s1", "s2"), []);
      await store.savePlan("run-1", 1, fixturePlan("s1", "s2"), []);
      await store.saveResult("run-1", 0, fixtureResult("s1", "stale"));
      expect((await store.load("run-1")).results).toEqual({});
    });

    it("refuses plan revisions out of order", async () => {
      await store.create(fixtureMeta("run-1"));
      await expectCode(
        store.savePlan("run-1", 1, fixturePlan("s1"), []),
        ErrorCodes.RUN_STORE_FAILED,
        "revision",
      );
      await store.savePlan("run-1", 0, fixturePlan("s1"), []);
      await expectCode(
        store.savePlan("run-1", 0, fixturePlan("s2"), []),
        ErrorCodes.RUN_STORE_FAILED,
        "revision",
      );
      await expectCode(
        store.savePlan("run-1", 2, fixturePlan("s2"), []),
        ErrorCodes.RUN_STORE_FAILED,
        "revision",
      );
      await expectCode(
        store.savePlan("run-1", -1, fixturePlan("s2"), []),
        ErrorCodes.RUN_STORE_FAILED,
        "revision",
      );
      const run = await store.load("run-1");
      expect(run.revision).toBe(0);
      expect(run.plan).toEqual(fixturePlan("s1"));
    });

    it("refuses results outside the current plan, before any plan, or of a revision never planned", async () => {
      await store.create(fixtureMeta("run-1"));
      await expectCode(
        store.saveResult("run-1", 0, fixtureResult("s1")),
        ErrorCodes.RUN_STORE_FAILED,
        "no-plan",
      );
      await store.savePlan("run-1", 0, fixturePlan("s1"), []);
      await expectCode(
        store.saveResult("run-1", 0, fixtureResult("s9")),
        ErrorCodes.RUN_STORE_FAILED,
        "not-in-plan",
      );
      await expectCode(
        store.saveResult("run-1", 1, fixtureResult("s1")),
        ErrorCodes.RUN_STORE_FAILED,
        "revision",
      );
      await expectCode(
        store.savePlan("run-1", 1, fixturePlan("s2"), [fixtureResult("s1")]),
        ErrorCodes.RUN_STORE_FAILED,
        "not-in-plan",
      );
      const run = await store.load("run-1");
      expect(run.revision).toBe(0);
      expect(run.results).toEqual({});
    });

    it("refuses malformed records instead of storing what load would reject", async () => {
      await store.create(fixtureMeta("run-1"));
      await store.savePlan("run-1", 0, fixturePlan("s1"), []);
      const broken = { ...fixtureResult("s1"), attempts: "one" } as unknown as ReturnType<
        typeof fixtureResult
      >;
      await expectCode(store.saveResult("run-1", 0, broken), ErrorCodes.RUN_STORE_FAILED, "invalid-record");
      await expectCode(
        store.appendEvent("run-1", fixtureEvent("run-2", 1)),
        ErrorCodes.RUN_STORE_FAILED,
        "wrong-run",
      );
      const run = await store.load("run-1");
      expect(run.results).toEqual({});
      expect(run.events).toEqual([]);
    });

    it("folds the tool journal into one entry per call: intent, then result", async () => {
      await store.create(fixtureMeta("run-1"));
      const ok = { ok: true, output: { written: 5 } } as const;
      await store.journalTool("run-1", fixtureJournalEntry("s1", 1));
      await store.journalTool("run-1", fixtureJournalEntry("s1", 2));
      await store.journalTool("run-1", fixtureJournalEntry("s1", 1, ok));
      await store.journalTool("run-1", fixtureJournalEntry("s2", 1));
      expect((await store.load("run-1")).toolJournal).toEqual([
        fixtureJournalEntry("s1", 1, ok),
        fixtureJournalEntry("s1", 2),
        fixtureJournalEntry("s2", 1),
      ]);
    });

    it("never lets an intent recorded again erase a call's result", async () => {
      await store.create(fixtureMeta("run-1"));
      const failed = { ok: false, reason: "failed", error: "disk full" } as const;
      await store.journalTool("run-1", fixtureJournalEntry("s1", 1));
      await store.journalTool("run-1", fixtureJournalEntry("s1", 1, failed));
      await store.journalTool("run-1", fixtureJournalEntry("s1", 1));
      expect((await store.load("run-1")).toolJournal).toEqual([fixtureJournalEntry("s1", 1, failed)]);
    });

    it("keeps the latest snapshot", async () => {
      await store.create(fixtureMeta("run-1"));
      await store.saveSnapshot("run-1", { value: "planning", n: 1 });
      await store.saveSnapshot("run-1", { value: "executing", n: 2, nested: [null, true, "x"] });
      expect((await store.load("run-1")).snapshot).toEqual({
        value: "executing",
        n: 2,
        nested: [null, true, "x"],
      });
    });

    it("stores the outcome, and a later outcome replaces it", async () => {
      await store.create(fixtureMeta("run-1"));
      const plan = fixturePlan("s1");
      const { answer: _answer, ...ended } = fixtureOutcome("run-1", plan, []);
      await store.saveOutcome("run-1", { ...ended, status: "cancelled" });
      const outcome = fixtureOutcome("run-1", plan, [fixtureResult("s1")]);
      await store.saveOutcome("run-1", outcome);
      expect((await store.load("run-1")).outcome).toEqual(outcome);
    });

    it("lists runs newest first, and nothing when empty", async () => {
      expect(await store.list()).toEqual([]);
      await store.create(fixtureMeta("run-b", 2000));
      await store.create(fixtureMeta("run-c", 3000));
      await store.create(fixtureMeta("run-a", 1000));
      expect((await store.list()).map((meta) => meta.runId)).toEqual(["run-c", "run-b", "run-a"]);
      expect((await store.list())[0]).toEqual(fixtureMeta("run-c", 3000));
    });

    it("answers RUN_NOT_FOUND for a run that was never created", async () => {
      const NF = ErrorCodes.RUN_NOT_FOUND;
      await expectCode(store.load("nope"), NF);
      await expectCode(store.appendEvent("nope", fixtureEvent("nope", 1)), NF);
      await expectCode(store.savePlan("nope", 0, fixturePlan("s1"), []), NF);
      await expectCode(store.saveResult("nope", 0, fixtureResult("s1")), NF);
      await expectCode(store.saveSnapshot("nope", {}), NF);
      await expectCode(store.journalTool("nope", fixtureJournalEntry("s1", 1)), NF);
      await expectCode(store.saveOutcome("nope", fixtureOutcome("nope", fixturePlan(), [])), NF);
    });

    it("refuses ids that are not one safe path segment", async () => {
      for (const bad of ["", ".", "..", "../escape", "a/b", "a\\b", ".hidden", "-x", "a b", "x\u0000y"]) {
        await expectCode(store.create(fixtureMeta(bad)), ErrorCodes.RUN_STORE_FAILED, "invalid-run-id");
        await expectCode(store.load(bad), ErrorCodes.RUN_NOT_FOUND);
        await expectCode(store.appendEvent(bad, fixtureEvent(bad, 1)), ErrorCodes.RUN_NOT_FOUND);
      }
      expect(await store.list()).toEqual([]);
    });

    it("refuses to create a run twice and keeps the first one intact", async () => {
      await store.create(fixtureMeta("run-1", 1000));
      await store.appendEvent("run-1", fixtureEvent("run-1", 1));
      await expectCode(store.create(fixtureMeta("run-1", 2000)), ErrorCodes.RUN_STORE_FAILED, "exists");
      const run = await store.load("run-1");
      expect(run.meta).toEqual(fixtureMeta("run-1", 1000));
      expect(run.events).toEqual([fixtureEvent("run-1", 1)]);
    });

    it("keeps every concurrent append exactly once, in the order of the calls", async () => {
      await store.create(fixtureMeta("run-1"));
      const events = Array.from({ length: 200 }, (_, i) => fixtureEvent("run-1", i + 1));
      const entries = Array.from({ length: 50 }, (_, i) => fixtureJournalEntry("s1", i + 1));
      await Promise.all([
        ...events.map((event) => store.appendEvent("run-1", event)),
        ...entries.map((entry) => store.journalTool("run-1", entry)),
      ]);
      const run = await store.load("run-1");
      expect(run.events).toEqual(events);
      expect(run.toolJournal).toEqual(entries);
    });

    it("keeps concurrent writes to different runs apart", async () => {
      await Promise.all([store.create(fixtureMeta("run-1", 1)), store.create(fixtureMeta("run-2", 2))]);
      await Promise.all([
        store.appendEvent("run-1", fixtureEvent("run-1", 1)),
        store.appendEvent("run-2", fixtureEvent("run-2", 1)),
        store.savePlan("run-1", 0, fixturePlan("a"), []),
        store.savePlan("run-2", 0, fixturePlan("b"), []),
        store.saveSnapshot("run-1", { run: 1 }),
        store.saveSnapshot("run-2", { run: 2 }),
      ]);
      const [one, two] = await Promise.all([store.load("run-1"), store.load("run-2")]);
      expect([one.events, one.plan, one.snapshot]).toEqual([
        [fixtureEvent("run-1", 1)],
        fixturePlan("a"),
        { run: 1 },
      ]);
      expect([two.events, two.plan, two.snapshot]).toEqual([
        [fixtureEvent("run-2", 1)],
        fixturePlan("b"),
        { run: 2 },
      ]);
    });

    it("stores copies: changing what was saved or loaded changes nothing stored", async () => {
      await store.create(fixtureMeta("run-1"));
      const plan = { subtasks: [...fixturePlan("s1").subtasks] };
      const snapshot = { value: "executing" };
      await store.savePlan("run-1", 0, plan, []);
      await store.saveSnapshot("run-1", snapshot);
      plan.subtasks.push(...fixturePlan("s2").subtasks);
      snapshot.value = "changed";
      const loaded = await store.load("run-1");
      (loaded.snapshot as { value: string }).value = "changed again";
      const again = await store.load("run-1");
      expect(again.plan).toEqual(fixturePlan("s1"));
      expect(again.snapshot).toEqual({ value: "executing" });
    });

    it("round-trips subtask ids that are not plain names", async () => {
      const ids = ["S1", "s1", "a/b", "..", ".hidden", "ü-ñ", "x%41", "CON", "with space"];
      await store.create(fixtureMeta("run-1"));
      await store.savePlan("run-1", 0, fixturePlan(...ids), [fixtureResult("a/b")]);
      for (const id of ids.filter((id) => id !== "a/b"))
        await store.saveResult("run-1", 0, fixtureResult(id));
      const run = await store.load("run-1");
      expect(Object.keys(run.results).sort()).toEqual([...ids].sort());
      for (const id of ids) expect(run.results[id]).toEqual(fixtureResult(id));
    });
  });
}

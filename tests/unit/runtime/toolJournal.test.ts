/**
 * The tool journal wrapper: intents before calls and results after, reuse of journaled results on resume, the
 * "side effect uncertain" failure for a non-idempotent call cut off by a crash, divergent re-runs, grants and
 * store failures. A "crash" is a second wrapper (fresh call counts, as in a new process) given the first
 * one's stored journal.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { EdgecrewError, ErrorCodes, isAbortError } from "../../../src/errors.js";
import { MemoryRunStore } from "../../../src/runtime/store/index.js";
import {
  isSideEffectUncertain,
  type JournaledToolRegistry,
  journalTools,
} from "../../../src/runtime/toolJournal.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type {
  JsonValue,
  RunEventInput,
  RunStore,
  ToolCallContext,
  ToolCallResult,
  ToolJournalEntry,
  ToolRegistryPort,
} from "../../../src/types.js";

const RUN = "run-1";

/** How often each tool's `run` executed, and in which order with the journal writes. */
let runs: Record<string, number>;
let order: string[];

function tools() {
  const write = defineTool({
    name: "fs.write",
    description: "writes a file (not idempotent)",
    input: z.object({ path: z.string(), text: z.string() }),
    run: async ({ path }) => {
      runs["fs.write"] = (runs["fs.write"] ?? 0) + 1;
      order.push("run fs.write");
      return { wrote: path };
    },
  });
  const read = defineTool({
    name: "fs.read",
    description: "reads a file (idempotent)",
    input: z.object({ path: z.string() }),
    idempotent: true,
    run: async ({ path }) => {
      runs["fs.read"] = (runs["fs.read"] ?? 0) + 1;
      order.push("run fs.read");
      return { text: `contents of ${path}` };
    },
  });
  const hang = defineTool({
    name: "deploy",
    description: "never finishes until aborted (not idempotent)",
    input: z.object({ env: z.string() }),
    run: (_args, context) => {
      runs.deploy = (runs.deploy ?? 0) + 1;
      return new Promise<JsonValue>((_resolve, reject) => {
        context.signal.addEventListener("abort", () => reject(context.signal.reason), { once: true });
      });
    },
  });
  return new ToolRegistry().register(write).register(read).register(hang);
}

/** A MemoryRunStore that logs journal writes to `order`, and can be made to fail them. */
class RecordingStore extends MemoryRunStore {
  failJournal: "never" | "intent" | "result" = "never";

  override async journalTool(runId: string, entry: ToolJournalEntry): Promise<void> {
    const what = entry.result === undefined ? "intent" : "result";
    if (this.failJournal === what) {
      throw new EdgecrewError(ErrorCodes.RUN_STORE_FAILED, `disk full writing the ${what}`);
    }
    order.push(`${what} ${entry.callId}`);
    await super.journalTool(runId, entry);
  }
}

interface Caller {
  readonly events: RunEventInput[];
  call(name: string, args: unknown, subtaskId?: string): Promise<ToolCallResult>;
}

function caller(registry: ToolRegistryPort, signal: AbortSignal = new AbortController().signal): Caller {
  const events: RunEventInput[] = [];
  return {
    events,
    call: (name, args, subtaskId = "s1") => {
      const context: ToolCallContext = {
        signal,
        emit: (event) => events.push(event),
        runId: RUN,
        subtaskId,
        worker: "w",
      };
      return registry.call(name, args, context);
    },
  };
}

let store: RecordingStore;

beforeEach(async () => {
  runs = {};
  order = [];
  store = new RecordingStore();
  await store.create({ runId: RUN, agent: "demo", task: "t", createdAt: 1 });
});

/** The journal a resumed run would be given. */
async function storedJournal(): Promise<readonly ToolJournalEntry[]> {
  return (await store.load(RUN)).toolJournal;
}

/** A fresh wrapper, as a resumed process makes it, over the journal stored so far. */
async function resumed(): Promise<JournaledToolRegistry> {
  return journalTools(tools(), { store, prior: await storedJournal() });
}

async function expectUncertain(promise: Promise<unknown>, tool: string): Promise<EdgecrewError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isSideEffectUncertain(error), String(error)).toBe(true);
  const typed = error as EdgecrewError;
  expect(typed.code).toBe(ErrorCodes.SUBTASK_FAILED);
  expect(typed.message).toBe(
    `side effect uncertain: ${tool} may already have run before the crash (no result was journaled); not repeating a non-idempotent call`,
  );
  return typed;
}

describe("journalTools", () => {
  it("journals the intent before the call and the result after, with per-subtask call ids", async () => {
    const registry = caller(journalTools(tools(), { store }));
    await registry.call("fs.read", { path: "a" });
    await registry.call("fs.write", { path: "b", text: "x" });
    await registry.call("fs.read", { path: "c" }, "s2");

    expect(order).toEqual([
      "intent 1:fs.read",
      "run fs.read",
      "result 1:fs.read",
      "intent 2:fs.write",
      "run fs.write",
      "result 2:fs.write",
      "intent 1:fs.read",
      "run fs.read",
      "result 1:fs.read",
    ]);
    expect(await storedJournal()).toEqual([
      {
        subtaskId: "s1",
        callId: "1:fs.read",
        tool: "fs.read",
        args: { path: "a" },
        idempotent: true,
        result: { ok: true, output: { text: "contents of a" } },
      },
      {
        subtaskId: "s1",
        callId: "2:fs.write",
        tool: "fs.write",
        args: { path: "b", text: "x" },
        idempotent: false,
        result: { ok: true, output: { wrote: "b" } },
      },
      {
        subtaskId: "s2",
        callId: "1:fs.read",
        tool: "fs.read",
        args: { path: "c" },
        idempotent: true,
        result: { ok: true, output: { text: "contents of c" } },
      },
    ]);
  });

  it("on resume returns a journaled result without running the tool, with the usual events", async () => {
    const first = caller(journalTools(tools(), { store }));
    const original = await first.call("fs.write", { path: "b", text: "x" });
    const journal = await storedJournal();

    const again = caller(await resumed());
    // Key order differs from the journaled arguments: still the same call.
    expect(await again.call("fs.write", { text: "x", path: "b" })).toEqual(original);
    expect(runs["fs.write"]).toBe(1);
    expect(again.events).toEqual([
      { type: "tool.called", subtaskId: "s1", tool: "fs.write", args: { text: "x", path: "b" } },
      { type: "tool.result", subtaskId: "s1", tool: "fs.write", result: original, ms: 0 },
    ]);
    // Nothing new was journaled for a reused call.
    expect(await storedJournal()).toEqual(journal);
  });

  it("fails a non-idempotent call cut off by a crash as 'side effect uncertain', running it zero more times", async () => {
    const controller = new AbortController();
    const first = caller(journalTools(tools(), { store }), controller.signal);
    const cutOff = first.call("deploy", { env: "prod" });
    await expect.poll(() => runs.deploy).toBe(1);
    controller.abort(new Error("killed"));
    await expect(cutOff).rejects.toSatisfy(isAbortError);
    expect((await storedJournal()).map((entry) => entry.result)).toEqual([undefined]);

    const again = caller(await resumed());
    const error = await expectUncertain(again.call("deploy", { env: "prod" }), "deploy");
    expect(error.context).toMatchObject({ subtaskId: "s1", callId: "1:deploy", tool: "deploy" });
    expect(runs.deploy).toBe(1);
    expect(again.events.map((event) => event.type)).toEqual(["tool.called", "tool.result"]);
    expect(again.events[1]).toMatchObject({ result: { ok: false, reason: "failed", error: error.message } });
  });

  it("runs an idempotent call cut off by a crash once more, and journals its result", async () => {
    await store.journalTool(RUN, {
      subtaskId: "s1",
      callId: "1:fs.read",
      tool: "fs.read",
      args: { path: "a" },
      idempotent: true,
    });
    const again = caller(await resumed());
    expect(await again.call("fs.read", { path: "a" })).toEqual({
      ok: true,
      output: { text: "contents of a" },
    });
    expect(runs["fs.read"]).toBe(1);
    expect(await storedJournal()).toEqual([
      expect.objectContaining({
        callId: "1:fs.read",
        result: { ok: true, output: { text: "contents of a" } },
      }),
    ]);
  });

  describe("a re-run that diverges from the journal", () => {
    it("runs a call with other arguments at a journaled position as a new call, under its own id", async () => {
      await caller(journalTools(tools(), { store })).call("fs.write", { path: "a", text: "1" });

      const second = caller(await resumed());
      expect(await second.call("fs.write", { path: "b", text: "2" })).toEqual({
        ok: true,
        output: { wrote: "b" },
      });
      expect(runs["fs.write"]).toBe(2);
      // Both calls stay on record: the new one did not overwrite (nor get folded under) the first.
      expect((await storedJournal()).map((entry) => [entry.callId, entry.args])).toEqual([
        ["1:fs.write", { path: "a", text: "1" }],
        ["1:fs.write#2", { path: "b", text: "2" }],
      ]);

      // A third attempt reuses whichever of the two it makes again.
      const third = caller(await resumed());
      await third.call("fs.write", { path: "b", text: "2" });
      const fourth = caller(await resumed());
      await fourth.call("fs.write", { path: "a", text: "1" });
      expect(runs["fs.write"]).toBe(2);
    });

    it("treats any call of a non-idempotent tool with an unresulted intent in the subtask as uncertain", async () => {
      const open: ToolJournalEntry = {
        subtaskId: "s1",
        callId: "2:fs.write",
        tool: "fs.write",
        args: { path: "b", text: "2" },
        idempotent: false,
      };
      await store.journalTool(RUN, open);

      // Same position, other arguments: the cut-off call may have been this one, reworded.
      const reworded = caller(await resumed());
      await reworded.call("fs.read", { path: "a" });
      await expectUncertain(reworded.call("fs.write", { path: "b", text: "3" }), "fs.write");

      // Another position: the re-run may have reordered its calls.
      const reordered = caller(await resumed());
      await expectUncertain(reordered.call("fs.write", { path: "b", text: "2" }), "fs.write");
      expect(runs["fs.write"]).toBeUndefined();

      // Other subtasks and other tools are not affected.
      const other = caller(await resumed());
      expect((await other.call("fs.write", { path: "c", text: "4" }, "s2")).ok).toBe(true);
      expect(runs["fs.write"]).toBe(1);
    });

    it("runs an idempotent call with other arguments as a new call", async () => {
      await caller(journalTools(tools(), { store })).call("fs.read", { path: "a" });
      const again = caller(await resumed());
      expect(await again.call("fs.read", { path: "z" })).toEqual({
        ok: true,
        output: { text: "contents of z" },
      });
      expect(runs["fs.read"]).toBe(2);
    });

    it("treats a journaled intent as not idempotent when the tool no longer is, or was not then", async () => {
      await store.journalTool(RUN, {
        subtaskId: "s1",
        callId: "1:fs.read",
        tool: "fs.read",
        args: { path: "a" },
        idempotent: false,
      });
      await expectUncertain(caller(await resumed()).call("fs.read", { path: "a" }), "fs.read");
      expect(runs["fs.read"]).toBeUndefined();
    });
  });

  it("looks the prior journal up by run when given a function (one wrapper for every run of a crew)", async () => {
    await store.journalTool(RUN, {
      subtaskId: "s1",
      callId: "1:deploy",
      tool: "deploy",
      args: { env: "prod" },
      idempotent: false,
    });
    const journal = await storedJournal();
    const asked: string[] = [];
    const shared = journalTools(tools(), {
      store,
      prior: (runId) => {
        asked.push(runId);
        return runId === RUN ? journal : undefined;
      },
    });
    await expectUncertain(caller(shared).call("deploy", { env: "prod" }), "deploy");
    expect(asked).toEqual([RUN]);
  });

  it("keeps grants: a scoped view refuses ungranted tools as data, without journaling, and shares the counts", async () => {
    const journaled = journalTools(tools(), { store });
    const view = journaled.scoped?.(["fs.read"]);
    if (view === undefined) throw new Error("expected a scoped view");
    expect(view.list().map((spec) => spec.name)).toEqual(["fs.read"]);

    const viewCaller = caller(view);
    const refused = await viewCaller.call("fs.write", { path: "a", text: "1" });
    expect(refused).toMatchObject({ ok: false, reason: "not-granted" });
    expect(await caller(journaled).call("nope", {})).toMatchObject({ ok: false, reason: "not-granted" });
    expect(runs["fs.write"]).toBeUndefined();
    expect(order).toEqual([]);

    await viewCaller.call("fs.read", { path: "a" });
    await caller(journaled).call("fs.write", { path: "b", text: "2" });
    expect((await storedJournal()).map((entry) => entry.callId)).toEqual(["1:fs.read", "2:fs.write"]);

    // A narrower view can only narrow; a grant that matches nothing fails at once.
    expect(
      view
        .scoped?.(["fs"])
        .list()
        .map((spec) => spec.name),
    ).toEqual(["fs.read"]);
    expect(() => journaled.scoped?.(["fs.wirte"])).toThrow(/no tool `fs.wirte`/);
  });

  it("has no scoped view when the wrapped registry has none", () => {
    const registry = tools();
    const plain: ToolRegistryPort = {
      list: (names) => registry.list(names),
      call: (...a) => registry.call(...a),
    };
    expect(journalTools(plain, { store }).scoped).toBeUndefined();
  });

  it("rejects when the journal cannot be written: before the tool runs, or after it", async () => {
    store.failJournal = "intent";
    const registry = caller(journalTools(tools(), { store }));
    await expect(registry.call("fs.write", { path: "a", text: "1" })).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
    });
    expect(runs["fs.write"]).toBeUndefined();

    store.failJournal = "result";
    await expect(registry.call("fs.write", { path: "a", text: "1" })).rejects.toMatchObject({
      code: ErrorCodes.RUN_STORE_FAILED,
    });
    expect(runs["fs.write"]).toBe(1);
    // The intent stands without a result: a resume will not repeat the write.
    await expectUncertain(caller(await resumed()).call("fs.write", { path: "a", text: "1" }), "fs.write");
  });

  it("rejects a store that refuses the run (RUN_NOT_FOUND) before running the tool", async () => {
    const empty: RunStore = new MemoryRunStore();
    const registry = caller(journalTools(tools(), { store: empty }));
    await expect(registry.call("fs.read", { path: "a" })).rejects.toMatchObject({
      code: ErrorCodes.RUN_NOT_FOUND,
    });
    expect(runs["fs.read"]).toBeUndefined();
  });
});

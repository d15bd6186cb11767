// The fleet's tool journal against a real nats-server, with one subtask running on two devices at once (JetStream
// hands a job to another device when its device is late with its progress acks: seen in the fleet e2e test on a
// loaded machine, where the second device read an empty journal, booked a second time and completed the run).
// Each "device" is a journaled registry over the hub's journal that read the journal before the other called.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { openHub } from "../../../src/fleet/hub.js";
import { fleetJournalStore, readFleetJournal } from "../../../src/fleet/journal.js";
import { isSideEffectUncertain, journalTools } from "../../../src/runtime/toolJournal.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { ToolCallContext } from "../../../src/types.js";
import { type NatsServerHandle, startNatsServer } from "../../helpers/natsServer.mjs";

let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

/** A registry whose tools count their runs and hold until `release` is called. */
function tools() {
  const runs = { book: 0, look: 0 };
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const book = defineTool({
    name: "book",
    description: "books the room (not idempotent)",
    input: z.object({ room: z.string() }),
    run: async ({ room }) => {
      runs.book++;
      await held;
      return { booked: room };
    },
  });
  const look = defineTool({
    name: "look",
    description: "looks the room up (idempotent)",
    input: z.object({ room: z.string() }),
    idempotent: true,
    run: async ({ room }) => {
      runs.look++;
      await held;
      return { free: room };
    },
  });
  return { registry: new ToolRegistry().register(book).register(look), runs, release: () => release() };
}

const context = (runId: string): ToolCallContext => ({
  signal: new AbortController().signal,
  emit: () => {},
  runId,
  subtaskId: "s1",
  worker: "booker",
});

describe("the fleet's tool journal, one subtask on two devices at once", () => {
  it("the second device does not run a non-idempotent call the first has journaled: side effect uncertain", async () => {
    await using hub = await openHub({ url: server.url });
    const runId = "run-two-devices";
    const store = fleetJournalStore(hub);
    const { registry, runs, release } = tools();
    // Both executions read the journal before either called (it is empty).
    const first = journalTools(registry, { store, prior: await readFleetJournal(hub.journal, runId, "s1") });
    const second = journalTools(registry, { store, prior: await readFleetJournal(hub.journal, runId, "s1") });
    const running = first.call("book", { room: "12" }, context(runId));
    await expect.poll(() => runs.book).toBe(1);
    const error = await second.call("book", { room: "12" }, context(runId)).catch((e: unknown) => e);
    expect(isSideEffectUncertain(error), String(error)).toBe(true);
    release();
    expect(await running).toMatchObject({ ok: true, output: { booked: "12" } });
    expect(runs.book).toBe(1);
    // The first execution's result is journaled: a later execution reuses it.
    const journal = await readFleetJournal(hub.journal, runId, "s1");
    expect(journal).toEqual([
      expect.objectContaining({ callId: "1:book", result: expect.objectContaining({ ok: true }) }),
    ]);
  });

  it("an idempotent call runs on both", async () => {
    await using hub = await openHub({ url: server.url });
    const runId = "run-two-devices-idempotent";
    const store = fleetJournalStore(hub);
    const { registry, runs, release } = tools();
    const first = journalTools(registry, { store, prior: await readFleetJournal(hub.journal, runId, "s1") });
    const second = journalTools(registry, { store, prior: await readFleetJournal(hub.journal, runId, "s1") });
    const a = first.call("look", { room: "12" }, context(runId));
    await expect.poll(() => runs.look).toBe(1);
    const b = second.call("look", { room: "12" }, context(runId));
    await expect.poll(() => runs.look).toBe(2);
    release();
    expect(await a).toMatchObject({ ok: true });
    expect(await b).toMatchObject({ ok: true });
  });
});

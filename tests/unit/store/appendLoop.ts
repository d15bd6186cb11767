/**
 * The child process of the crash tests: resumes run `runId` under `root` from what the store holds and keeps
 * writing to it until it is killed. After each write it prints `ack <seq>`, so the parent knows which writes
 * were acknowledged before its SIGKILL.
 *
 * - mode `loop`: events (every fifth one above Node's 512 KiB write chunk, so one append takes several write
 *   calls), tool-journal intents and results, snapshots, forever.
 * - mode `huge`: a few small events, then appends one event of {@link HUGE} bytes (a hundred write calls) and
 *   prints `writing <seq>` as soon as the file starts to grow, so a kill sent on that line lands in the middle
 *   of the append.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { FileRunStore } from "../../../src/runtime/store/FileRunStore.js";
import type { RunEvent } from "../../../src/types.js";
import { fixtureEvent, fixtureJournalEntry } from "../../helpers/storeFixtures.js";

/** Filler bytes in every fifth event of mode `loop`. */
export const BIG = 1_200_000;
/** Filler bytes of the last event of mode `huge`. */
export const HUGE = 64_000_000;

function withFiller(event: RunEvent, bytes: number): RunEvent {
  return event.type === "subtask.started" ? { ...event, model: "x".repeat(bytes) } : event;
}

/** Writes to run `runId` under `root` in `mode` until the process is killed (see the file comment). */
export async function main(root: string, runId: string, mode: "loop" | "huge"): Promise<void> {
  const store = new FileRunStore({ root });
  const stored = await store.load(runId);
  let seq = stored.events.length;
  if (mode === "huge") {
    for (let i = 0; i < 3; i++) {
      seq += 1;
      await store.appendEvent(runId, fixtureEvent(runId, seq));
      process.stdout.write(`ack ${seq}\n`);
    }
    seq += 1;
    const event = withFiller(fixtureEvent(runId, seq), HUGE);
    const log = join(root, runId, "events.jsonl");
    const before = statSync(log).size;
    const huge = seq;
    // The append writes in 512 KiB chunks from libuv's thread pool, so this timer runs between them.
    const watch = setInterval(() => {
      if (statSync(log).size <= before) return;
      clearInterval(watch);
      process.stdout.write(`writing ${huge}\n`);
    }, 1);
    await store.appendEvent(runId, event);
    process.stdout.write(`ack ${seq}\n`);
    setInterval(() => {}, 60_000); // stay alive until the kill
    return;
  }
  for (;;) {
    seq += 1;
    const event = seq % 5 === 0 ? withFiller(fixtureEvent(runId, seq), BIG) : fixtureEvent(runId, seq);
    await store.journalTool(runId, fixtureJournalEntry("loop", seq));
    await store.appendEvent(runId, event);
    await store.journalTool(runId, fixtureJournalEntry("loop", seq, { ok: true, output: seq }));
    if (seq % 3 === 0) await store.saveSnapshot(runId, { seq });
    process.stdout.write(`ack ${seq}\n`);
  }
}

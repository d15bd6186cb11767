/**
 * The fleet's tool journal, in the hub's KV bucket: what a device reads before it runs a subtask (the calls of
 * earlier executions) and where each call's intent and then its result are written (runtime/toolJournal.ts says
 * how they are used).
 *
 * A subtask can run on two devices at once: JetStream hands a job to another device when its device stays quiet
 * for an ack wait, and a device starved of CPU is late without being dead. So an intent is created, never
 * overwritten, and a call that another execution has already journaled — after this one read the journal — is
 * not run blindly: a non-idempotent call fails its subtask as "side effect uncertain" (its twin may be running at
 * this moment); an idempotent one runs.
 */
import { JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { sideEffectUncertain } from "../runtime/toolJournal.js";
import type { RunStore, ToolJournalEntry } from "../types.js";
import type { Hub } from "./hub.js";
import { pause } from "./pause.js";
import { encode, journalKey, journalPrefix } from "./protocol.js";

/** How often a journal write is tried while the hub is away, half a second apart. */
const WRITE_TRIES = 60;

/** The journal's entries of one subtask, as `journalTools` wants its prior journal. */
export async function readFleetJournal(
  journal: KV,
  runId: string,
  subtaskId: string,
): Promise<ToolJournalEntry[]> {
  const keys: string[] = [];
  for await (const key of await journal.keys(`${journalPrefix(runId, subtaskId)}.>`)) keys.push(key);
  const entries = await Promise.all(keys.map((key) => journal.get(key)));
  return entries.flatMap((entry) => {
    if (entry === null || entry.operation !== "PUT") return [];
    try {
      return [entry.json<ToolJournalEntry>()];
    } catch {
      return [];
    }
  });
}

/**
 * The journal store of a device (see the file comment). Rejects with RUN_STORE_FAILED when the hub cannot take a
 * write for half a minute, and with the "side effect uncertain" SUBTASK_FAILED error when a non-idempotent call's
 * intent was journaled by another execution.
 */
export function fleetJournalStore(hub: Pick<Hub, "journal" | "address">): Pick<RunStore, "journalTool"> {
  /** Writes the entry: "written", or "taken" when an intent finds the call journaled already. */
  const write = async (key: string, entry: ToolJournalEntry): Promise<"written" | "taken"> => {
    if (entry.result !== undefined) {
      await hub.journal.put(key, encode(entry));
      return "written";
    }
    try {
      await hub.journal.create(key, encode(entry));
      return "written";
    } catch (error) {
      // create refuses a key that exists; any other refusal is retried like a hub that is away.
      if (error instanceof JetStreamApiError && (await hub.journal.get(key))?.operation === "PUT")
        return "taken";
      throw error;
    }
  };
  return {
    async journalTool(runId: string, entry: ToolJournalEntry): Promise<void> {
      const key = journalKey(runId, entry.subtaskId, entry.callId);
      for (let tries = 1; ; tries++) {
        let outcome: "written" | "taken";
        try {
          outcome = await write(key, entry);
        } catch (error) {
          if (tries >= WRITE_TRIES) {
            throw new EdgecrewError(
              ErrorCodes.RUN_STORE_FAILED,
              `cannot write the fleet's tool journal at ${hub.address}`,
              { cause: error },
            );
          }
          await pause(500);
          continue;
        }
        if (outcome === "taken" && !entry.idempotent) throw sideEffectUncertain(entry.tool, entry);
        return;
      }
    },
  };
}

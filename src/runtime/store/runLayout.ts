/**
 * Where the file store keeps each part of a run, in one place so that the writer and the reader cannot drift
 * apart. A run is one directory, `<root>/<runId>/`:
 *
 * ```
 * meta.json                       RunMeta (written once, when the run is created)
 * events.jsonl                    one RunEvent per line, append-only
 * plan.json                       { revision, plan }: the current plan
 * results/r<revision>/<id>.json   one SubtaskResult per file, per plan revision
 * snapshot.json                   the latest machine snapshot
 * tools.jsonl                     tool journal: intents and results, one entry per line, append-only
 * outcome.json                    the RunResult, once the run ended
 * ```
 */

/** The run's RunMeta, written once by `create`. */
export const META_FILE = "meta.json";
/** The event log: one RunEvent per line, append-only. */
export const EVENTS_FILE = "events.jsonl";
/** The current plan and its revision. */
export const PLAN_FILE = "plan.json";
/** The folder of per-revision result folders. */
export const RESULTS_DIR = "results";
/** The latest machine snapshot. */
export const SNAPSHOT_FILE = "snapshot.json";
/** The tool journal: intents and results, one entry per line, append-only. */
export const TOOLS_FILE = "tools.jsonl";
/** The run's final RunResult. */
export const OUTCOME_FILE = "outcome.json";

/** The directory of plan revision `revision`'s results, relative to the run directory. */
export function revisionDir(revision: number): string {
  return `${RESULTS_DIR}/r${revision}`;
}

/** Bytes that stand for themselves in a result file name; every other byte is percent-encoded. */
const PLAIN_BYTE = /^[a-z0-9_-]$/;

/**
 * The file name of subtask `subtaskId`'s result. Subtask ids come from a planner model and may hold anything,
 * so every byte outside `[a-z0-9_-]` is percent-encoded (upper-case hex): no `/`, no `..`, no leading dot, and
 * no two ids that differ only in case collide on a case-insensitive file system (macOS, Windows). Returns
 * undefined for a string that is not valid Unicode (a lone surrogate), which no file name can round-trip.
 *
 * @example
 * resultFileName("s1"); // "s1.json"
 * resultFileName("S1/x"); // "%531%2Fx.json"
 */
export function resultFileName(subtaskId: string): string | undefined {
  try {
    encodeURIComponent(subtaskId); // throws URIError on a lone surrogate
  } catch {
    return undefined;
  }
  let name = "";
  for (const byte of Buffer.from(subtaskId, "utf8")) {
    const char = String.fromCharCode(byte);
    name += PLAIN_BYTE.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `${name}.json`;
}

/**
 * The subtask id a result file name stands for (the inverse of {@link resultFileName}), or undefined when the
 * name is not one the store would have written.
 */
export function subtaskIdOfFileName(name: string): string | undefined {
  if (!name.endsWith(".json")) return undefined;
  const encoded = name.slice(0, -".json".length);
  try {
    const id = decodeURIComponent(encoded);
    return resultFileName(id) === name ? id : undefined;
  } catch {
    return undefined;
  }
}

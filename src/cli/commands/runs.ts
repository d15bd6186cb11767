/** `edgecrew runs`: the stored runs, newest first, with their status and duration. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { isEdgecrewError } from "../../errors.js";
import { FileRunStore } from "../../runtime/store/FileRunStore.js";
import type { RunMeta } from "../../types.js";
import { columns } from "../columns.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { buildTimeline, formatDuration, type TimelineStatus } from "../timeline.js";
import { parsePositiveInt } from "./run.js";

interface RunsOptions {
  json?: boolean;
  runDir?: string;
  limit: number;
}

/** One listed run; `status` is `corrupt` (with `error`) for a run the store cannot load. */
export interface RunSummary {
  readonly runId: string;
  readonly agent: string;
  readonly status: TimelineStatus | "corrupt";
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly durationMs?: number;
  readonly task: string;
  readonly error?: string;
}

async function summarize(store: FileRunStore, meta: RunMeta): Promise<RunSummary> {
  try {
    const t = buildTimeline(await store.load(meta.runId));
    return {
      runId: t.runId,
      agent: t.agent,
      status: t.status,
      startedAt: t.startedAt,
      durationMs: t.durationMs,
      task: t.task,
    };
  } catch (error) {
    // One damaged run must not hide the others, whatever failed on it: list it, and let `inspect` say what is
    // wrong with it (a run directory is data someone may have shaped to break the reader).
    return {
      runId: meta.runId,
      agent: meta.agent,
      status: "corrupt",
      startedAt: meta.createdAt,
      task: meta.task,
      error: isEdgecrewError(error) || error instanceof Error ? error.message : String(error),
    };
  }
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Local time without seconds' fractions, e.g. `2026-11-28 17:14:44`: what people compare runs by. */
function when(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Registers `runs`. */
export function registerRunsCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("runs")
    .description("list recent runs, newest first, with their status")
    .option("--json", "print one JSON array of runs (and nothing else) on stdout")
    .option("--run-dir <dir>", "where runs are kept (default .edgecrew/runs)")
    .option("--limit <n>", "show at most n runs", parsePositiveInt, 20)
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew runs\n  edgecrew runs --limit 5 --run-dir /data/runs --json",
    )
    .action(async (options: RunsOptions) => {
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const metas = (await store.list()).slice(0, options.limit);
      const runs: RunSummary[] = [];
      for (const meta of metas) runs.push(await summarize(store, meta));
      if (options.json) {
        io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      } else if (runs.length === 0) {
        io.stdout.write(`no runs in ${store.root}\n`);
      } else {
        const rows = [
          ["id", "agent", "status", "started", "took", "task"],
          ...runs.map((r) => [
            r.runId,
            r.agent,
            r.status,
            when(r.startedAt),
            r.durationMs === undefined ? "" : formatDuration(r.durationMs),
            clip(r.task, 60),
          ]),
        ];
        for (const line of columns(rows)) io.stdout.write(`${line}\n`);
      }
      outcome.code = ExitCode.OK;
    });
}

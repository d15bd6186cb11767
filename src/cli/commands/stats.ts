/** `edgecrew stats`: per-worker first-try validity, repairs, escalations, failures and latency over recent runs. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { FileRunStore } from "../../runtime/store/FileRunStore.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { buildStats, renderStats } from "../stats.js";
import { buildTimeline, type Timeline } from "../timeline.js";
import { parsePositiveInt } from "./run.js";

interface StatsOptions {
  worker?: string;
  last: number;
  json?: boolean;
  runDir?: string;
}

/** Registers `stats`. */
export function registerStatsCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("stats")
    .description("per worker over recent runs: first-try validity, repairs, escalations, failures, latency")
    .option("--worker <name>", "only this worker")
    .option("--last <n>", "look at the newest n runs", parsePositiveInt, 50)
    .option("--json", "print one JSON object (and nothing else) on stdout")
    .option("--run-dir <dir>", "where runs are kept (default .edgecrew/runs)")
    .addHelpText(
      "after",
      "\nfirst-try: answered validly by the worker with no repair turn. wall: dispatch to result; gen: time its" +
        "\nmodel spent generating. Percentiles are nearest-rank over completed subtasks. Runs that cannot be" +
        "\nread are skipped with a warning.\n\nExamples:\n  edgecrew stats\n  edgecrew stats --worker extractor --last 20 --json",
    )
    .action(async (options: StatsOptions) => {
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const timelines: Timeline[] = [];
      for (const meta of (await store.list()).slice(0, options.last)) {
        try {
          timelines.push(buildTimeline(await store.load(meta.runId)));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          io.stderr.write(`edgecrew: warning: run ${meta.runId} skipped: ${message}\n`);
        }
      }
      const report = buildStats(timelines, options.worker === undefined ? {} : { worker: options.worker });
      io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderStats(report));
      outcome.code = ExitCode.OK;
    });
}

/** `edgecrew inspect`: the timeline of a stored run (subtasks, a Gantt of parallelism, revisions, the ledger). */
import { resolve } from "node:path";
import type { Command } from "commander";
import { FileRunStore } from "../../runtime/store/FileRunStore.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { buildTimeline, renderTimeline } from "../timeline.js";

interface InspectOptions {
  json?: boolean;
  runDir?: string;
}

/** Registers `inspect <runId>`; an unknown or corrupt run surfaces as the store's error (exit 1). */
export function registerInspectCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("inspect")
    .description(
      "show the timeline of a stored run: subtasks, parallelism, plan revisions, escalations, tokens",
    )
    .argument("<runId>", "the run's id, as printed by `run` or listed by `runs`")
    .option("--json", "print one JSON object with the timeline (and nothing else) on stdout")
    .option("--run-dir <dir>", "where runs are kept (default .edgecrew/runs)")
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew inspect 20261128-153012-a1b2c3\n  edgecrew inspect 20261128-153012-a1b2c3 --run-dir /data/runs --json",
    )
    .action(async (runId: string, options: InspectOptions) => {
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const timeline = buildTimeline(await store.load(runId));
      io.stdout.write(
        options.json ? `${JSON.stringify(timeline, null, 2)}\n` : `${renderTimeline(timeline)}\n`,
      );
      outcome.code = ExitCode.OK;
    });
}

/** `edgecrew inspect`: the timeline of a stored run (subtasks, a Gantt of parallelism, revisions, the ledger). */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import { FileRunStore } from "../../runtime/store/FileRunStore.js";
import { buildFlows, renderFlows } from "../flows.js";
import { renderHtmlReport } from "../htmlReport.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { buildTimeline, renderTimeline } from "../timeline.js";

interface InspectOptions {
  json?: boolean;
  runDir?: string;
  html?: string;
  flows?: boolean;
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
    .option(
      "--html <file>",
      "write a self-contained HTML report (DAG, Gantt, ledger, tool calls) to <file> and print its path instead of the timeline (--json still prints the JSON)",
    )
    .option(
      "--flows",
      "print the data-flow ledger instead: each request to a remote planner, its bytes, tokens and origins (private ones marked); with --json as one JSON object",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew inspect 20261128-153012-a1b2c3\n  edgecrew inspect 20261128-153012-a1b2c3 --run-dir /data/runs --json\n  edgecrew inspect 20261128-153012-a1b2c3 --html report.html\n  edgecrew inspect 20261128-153012-a1b2c3 --flows",
    )
    .action(async (runId: string, options: InspectOptions) => {
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const run = await store.load(runId);
      if (options.flows === true) {
        const flows = buildFlows(runId, run.events);
        io.stdout.write(options.json ? `${JSON.stringify(flows, null, 2)}\n` : `${renderFlows(flows)}\n`);
        outcome.code = ExitCode.OK;
        return;
      }
      const timeline = buildTimeline(run);
      if (options.html !== undefined) {
        const file = resolve(io.cwd, options.html);
        try {
          await writeFile(file, renderHtmlReport(run, timeline), "utf8");
        } catch (cause) {
          throw new EdgecrewError(
            ErrorCodes.USAGE,
            `cannot write the HTML report to ${file}: ${(cause as Error).message}`,
            { cause },
          );
        }
        // --json keeps its promise of one JSON object on stdout; otherwise one line says where the page is.
        if (options.json !== true) {
          io.stdout.write(`wrote ${file}\n`);
          outcome.code = ExitCode.OK;
          return;
        }
      }
      io.stdout.write(
        options.json ? `${JSON.stringify(timeline, null, 2)}\n` : `${renderTimeline(timeline)}\n`,
      );
      outcome.code = ExitCode.OK;
    });
}

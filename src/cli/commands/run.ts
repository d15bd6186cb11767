/** `edgecrew run`: runs an agent on a task, printing progress, the answer and the token ledger. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadAgent, parseModelRef } from "../../config/index.js";
import { createCrew } from "../../crew.js";
import type { RunResult } from "../../types.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { renderEvent, renderResult } from "../render.js";

interface RunOptions {
  json?: boolean;
  quiet?: boolean;
  planner?: string;
}

function exitCodeOf(result: RunResult): number {
  if (result.status === "completed") return ExitCode.OK;
  return result.status === "cancelled" ? ExitCode.INTERRUPTED : ExitCode.RUN_FAILED;
}

export function registerRunCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("run")
    .description("run an agent on a task")
    .argument("<agent>", "agent YAML file")
    .argument("<task...>", "the task, in words")
    .option("--json", "print one JSON object with the whole result (and nothing else) on stdout")
    .option("-q, --quiet", "print only the answer")
    .option("--planner <ref>", "override the planner model (e.g. openai:gpt-4o-mini, ./big.gguf)")
    .addHelpText(
      "after",
      '\nExamples:\n  edgecrew run agents/offline-demo.yaml "Plan a weekend trip to the mountains"\n  edgecrew run agents/trip-planner.yaml --planner openai:gpt-4o-mini --json "3 days in Lisbon"',
    )
    .action(async (agentPath: string, taskWords: string[], options: RunOptions) => {
      const file = resolve(io.cwd, agentPath);
      let agent = await loadAgent(file);
      if (options.planner !== undefined) {
        agent = {
          ...agent,
          planner: { ...agent.planner, model: parseModelRef(options.planner, { baseDir: io.cwd }) },
        };
      }
      const task = taskWords.join(" ");
      const controller = new AbortController();
      let interrupts = 0;
      const removeInterrupt = io.onInterrupt(() => {
        interrupts++;
        if (interrupts === 1) {
          io.stderr.write("\ncancelling… (press ctrl-c again to force)\n");
          controller.abort(new Error("interrupted by SIGINT"));
        } else {
          io.forceExit(ExitCode.INTERRUPTED);
        }
      });
      await using crew = await createCrew(agent);
      try {
        const run = crew.run(task, { signal: controller.signal });
        const live = !options.json && !options.quiet;
        for await (const event of run.events) {
          const line = live ? renderEvent(event) : undefined;
          if (line !== undefined) io.stdout.write(`${line}\n`);
        }
        const result = await run.result;
        if (options.json) {
          io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else if (options.quiet) {
          if (result.status === "completed") {
            io.stdout.write(
              `${typeof result.answer === "string" ? result.answer : JSON.stringify(result.answer)}\n`,
            );
          } else {
            io.stderr.write(`edgecrew: run ${result.status}: ${result.error?.message ?? ""}\n`);
          }
        } else {
          io.stdout.write(`${renderResult(result)}\n`);
        }
        outcome.code = exitCodeOf(result);
      } finally {
        removeInterrupt();
      }
    });
}

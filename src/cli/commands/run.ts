/** `edgecrew run`: runs an agent on a task, printing progress, the answer and the token ledger. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadAgent, parseModelRef } from "../../config/index.js";
import { createCrew } from "../../crew.js";
import { followRun } from "../follow.js";
import type { CliIo } from "../io.js";
import type { CommandOutcome } from "../main.js";

interface RunOptions {
  json?: boolean;
  quiet?: boolean;
  planner?: string;
  runDir?: string;
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
    .option("--run-dir <dir>", "where runs are kept for resume and inspect (default .edgecrew/runs)")
    .addHelpText(
      "after",
      '\nExamples:\n  edgecrew run agents/offline-demo.yaml "Plan a weekend trip to the mountains"\n  edgecrew run agents/trip-planner-cloud.yaml --planner openai:gpt-4o-mini --json "3 days in Lisbon"',
    )
    .action(async (agentPath: string, taskWords: string[], options: RunOptions) => {
      let agent = await loadAgent(resolve(io.cwd, agentPath));
      if (options.planner !== undefined) {
        agent = {
          ...agent,
          planner: { ...agent.planner, model: parseModelRef(options.planner, { baseDir: io.cwd }) },
        };
      }
      const task = taskWords.join(" ");
      await using crew = await createCrew(agent, {
        runDir: resolve(io.cwd, options.runDir ?? ".edgecrew/runs"),
      });
      outcome.code = await followRun(io, (signal) => crew.run(task, { signal }), options);
    });
}

/**
 * `edgecrew validate`: checks agent files, including the headers of the local model files they name, whether each
 * model fits `device.memory`, and whether a local planner's plans and answers fit its `maxTokens`.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_LOCAL_PLANNER_MAX_TOKENS } from "../../config/defaults.js";
import { loadAgent } from "../../config/index.js";
import { AgentDefinitionError, isAgentDefinitionError } from "../../errors.js";
import { defaultFixtureCacheDir } from "../../testing/fixtureModel.js";
import { bubblewrapStatus } from "../../tools/builtins/sandbox.js";
import { createRegistryFromConfig, type Tool } from "../../tools/index.js";
import type { AgentDefinition, BuiltinToolConfig } from "../../types.js";
import { type CliIo, ExitCode, reportError } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { checkModelFile } from "../modelCheck.js";
import { checkLangChainTools, loadToolsModule } from "../toolsModule.js";

/**
 * The memory check of `validate`: a model that cannot fit `device.memory` even alone is an error now, not
 * mid-run, with its estimate (model and context) and the limit. Models not downloaded yet are left to
 * `edgecrew models estimate`. Fixtures come from the same cache as `edgecrew models` (`$EDGECREW_CACHE_DIR`).
 */
async function checkMemory(
  agent: AgentDefinition,
  env: CliIo["env"],
): Promise<{ ok: true; summary: string } | { ok: false; problems: string[] }> {
  const { estimateAgentMemory, formatBytes } = await import("../../workers/index.js");
  const estimate = await estimateAgentMemory(agent, { fixtureCacheDir: defaultFixtureCacheDir(env) });
  const problems = estimate.models
    .filter((m) => m.fits === false)
    .map(
      (m) =>
        `${m.model} (${m.usedBy.join(", ")}) needs about ${formatBytes(m.estimatedBytes ?? 0)}, more than ${estimate.limitSource} (${formatBytes(estimate.limitBytes)}): it can never be loaded (the estimate is the model with its context of ${m.contextSize} tokens × ${m.sequences} sequence${m.sequences === 1 ? "" : "s"}; see edgecrew models estimate)`,
    );
  if (problems.length > 0) return { ok: false, problems };
  const missing = estimate.models.filter((m) => m.status === "not-downloaded").length;
  if (missing > 0) {
    return {
      ok: true,
      summary: `memory not estimated: ${missing} model(s) not downloaded yet (edgecrew models estimate)`,
    };
  }
  return {
    ok: true,
    summary: `memory peak ${formatBytes(estimate.peakBytes)} of ${formatBytes(estimate.limitBytes)} (${estimate.limitSource})`,
  };
}

/**
 * The budget check of a local (grammar-constrained) planner: a plan of `maxSubtasks` subtasks and the final answer
 * must each be able to close within the planner's `maxTokens`. A cloud planner has no such bound to check.
 */
async function checkPlannerBudget(agent: AgentDefinition): Promise<string[]> {
  if (agent.planner.model.kind === "remote") return [];
  const { plannerBudgetProblems } = await import("../../planner/planSchema.js");
  const maxTokens = agent.planner.maxTokens ?? DEFAULT_LOCAL_PLANNER_MAX_TOKENS;
  return plannerBudgetProblems({
    workers: agent.workers.map((w) => ({
      name: w.name,
      description: w.description,
      output: w.output,
      tools: w.tools,
    })),
    maxSubtasks: agent.limits.maxSubtasks,
    maxTokens,
    answerSchema: agent.answer,
    allowReplan: agent.limits.maxReplans > 0,
  }).map((problem) => `planner.maxTokens (${maxTokens}): ${problem}`);
}

/**
 * The sandbox check of `validate`: a shell tool that runs in bubblewrap (the default) needs a bwrap that works
 * here; without one, the run would refuse to start the tool (SANDBOX_UNAVAILABLE), so say it now.
 */
function checkSandbox(agent: AgentDefinition, env: CliIo["env"]): string[] {
  const sandboxed = agent.tools.some(
    (tool) => tool.kind === "builtin" && tool.name === "shell" && tool.options.sandbox !== "none",
  );
  if (!sandboxed) return [];
  const status = bubblewrapStatus(env);
  return status.ok ? [] : [`tools.shell: ${status.problem}`];
}

/**
 * The context check of `validate`: each worker's first prompt (with the tools known before a run) and its
 * `maxTokens` must fit its context, which must not exceed what its model was trained for.
 */
async function checkContexts(agent: AgentDefinition, tools: readonly Tool[]): Promise<string[]> {
  const { checkPromptFit } = await import("../../workers/promptFit.js");
  const builtins = agent.tools.filter((tool): tool is BuiltinToolConfig => tool.kind === "builtin");
  const problems = await checkPromptFit(agent, { tools: createRegistryFromConfig(builtins, { tools }) });
  return problems.map((problem) => `workers.${problem.worker}: ${problem.message}`);
}

export function registerValidateCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("validate")
    .description("validate agent YAML files: every problem, as file:line:col: path: message")
    .argument("<files...>", "agent YAML files")
    .option("--no-models", "skip reading the headers of local model files")
    .option(
      "--tools <module>",
      "an ES module whose default (or `tools`) export is an array of tools the agent may grant: defineTool() results or LangChain tools",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew validate agents/*.yaml\n  edgecrew validate --tools ./tools.mjs agents/glossary.yaml",
    )
    .action(async (files: string[], options: { models: boolean; tools?: string }) => {
      // Tools defined in code: the files may grant them, and their descriptions count in the context check.
      const tools = options.tools === undefined ? [] : await loadToolsModule(options.tools, io.cwd);
      let failed = 0;
      for (const file of files) {
        try {
          const path = resolve(io.cwd, file);
          const agent = await loadAgent(path, { ...(options.models ? { checkModelFile } : {}), tools });
          // `- langchain:` entries: their modules are imported, exports checked, grants of their tools matched.
          const langchain = await checkLangChainTools(
            agent,
            path,
            tools.map((tool) => tool.spec.name),
          );
          if (langchain.issues.length > 0) throw new AgentDefinitionError(langchain.issues, { file: path });
          const budget = await checkPlannerBudget(agent);
          const sandbox = checkSandbox(agent, io.env);
          // The context check builds the tools, which a missing sandbox would stop: that is reported already.
          const contexts =
            options.models && sandbox.length === 0
              ? await checkContexts(agent, [...tools, ...langchain.tools])
              : [];
          const memory = options.models ? await checkMemory(agent, io.env) : undefined;
          const problems = [
            ...budget,
            ...sandbox,
            ...contexts,
            ...(memory?.ok === false ? memory.problems : []),
          ];
          if (problems.length > 0) {
            failed++;
            io.stderr.write(`${file}: ${problems.join(`\n${file}: `)}\n`);
            continue;
          }
          io.stdout.write(
            `ok ${file}: agent ${agent.name}, ${agent.workers.length} worker${agent.workers.length === 1 ? "" : "s"}, planner ${agent.planner.model.raw}${memory?.ok === true ? `; ${memory.summary}` : ""}\n`,
          );
        } catch (error) {
          failed++;
          if (isAgentDefinitionError(error)) {
            // Issues carry the absolute path; show the file as the user typed it.
            const absolute = resolve(io.cwd, file);
            io.stderr.write(`${error.message.split(absolute).join(file)}\n`);
          } else {
            reportError(io, error, program.opts<{ debug?: boolean }>().debug === true);
          }
        }
      }
      if (failed > 0) outcome.code = ExitCode.USAGE;
    });
}

/**
 * `edgecrew models`: the local models an agent needs and what they cost. `estimate` prints each model's
 * memory estimate and the peak against `device.memory` before any run (GGUF headers only, nothing loaded);
 * `list` shows the model files already on this machine. The workers' modules are imported lazily, so other
 * commands never load llama.cpp.
 */
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { loadAgent } from "../../config/index.js";
import { isAgentDefinitionError } from "../../errors.js";
import { defaultFixtureCacheDir } from "../../testing/fixtureModel.js";
import type { AgentMemoryEstimate, ModelMemoryRow } from "../../workers/agentMemory.js";
import { columns } from "../columns.js";
import { type CliIo, ExitCode, reportError } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { checkModelFile } from "../modelCheck.js";

function verdict(report: AgentMemoryEstimate): string {
  if (report.peakBytes > report.limitBytes) return "does not fit";
  return report.complete ? "fits" : "cannot tell yet";
}

function renderEstimate(report: AgentMemoryEstimate, format: (bytes: number) => string): string {
  const size = (bytes: number | undefined) => (bytes === undefined ? "-" : format(bytes));
  const fits = (row: ModelMemoryRow) => (row.fits === undefined ? "?" : row.fits ? "yes" : "NO");
  const rows = [
    ["model", "used by", "file", "context×seq", "estimate", "fits"],
    ...report.models.map((row) => [
      row.model,
      row.usedBy.join(", "),
      size(row.fileBytes),
      `${row.contextSize}×${row.sequences}`,
      row.status === "not-downloaded" ? "not downloaded" : size(row.estimatedBytes),
      fits(row),
    ]),
  ];
  const limit =
    report.limitSource === "device.memory"
      ? `device.memory ${format(report.limitBytes)}`
      : `this machine's memory ${format(report.limitBytes)} (no device.memory set)`;
  const counted = report.peakModels.length;
  const why =
    counted <= 1
      ? "the largest model"
      : `the ${counted} largest models resident at once, limits.maxParallel ${report.maxParallel}`;
  const lines = [
    `agent ${report.agent}: ${report.models.length} local model${report.models.length === 1 ? "" : "s"}`,
    ...columns(rows),
    `peak ${format(report.peakBytes)} (${why}) of ${limit}: ${verdict(report)}`,
  ];
  const missing = report.models.filter((row) => row.status === "not-downloaded").length;
  if (missing > 0) {
    lines.push(
      `incomplete: ${missing} model${missing === 1 ? " is" : "s are"} not downloaded; the peak counts only the others`,
    );
  }
  if (!report.runnable) {
    lines.push("a model does not fit even alone: it can never load (use a smaller model or context)");
  } else if (report.peakBytes > report.limitBytes) {
    lines.push("every model fits alone: runs work, but subtasks on different models will wait for memory");
  }
  return `${lines.join("\n")}\n`;
}

async function ggufFiles(dir: string): Promise<{ name: string; path: string; bytes: number }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = await Promise.all(
    names
      .filter((name) => name.endsWith(".gguf"))
      .sort()
      .map(async (name) => {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        return info?.isFile() ? { name, path, bytes: info.size } : undefined;
      }),
  );
  return files.filter((file) => file !== undefined);
}

/** Registers `edgecrew models estimate` and `edgecrew models list`. */
export function registerModelsCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const debug = () => program.opts<{ debug?: boolean }>().debug === true;
  const models = program
    .command("models")
    .description("the local models an agent needs, and what they cost")
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew models estimate agents/jetson-local.yaml\n  edgecrew models list",
    );

  models
    .command("estimate")
    .description("estimate each local model's memory (model + context) and the agent's peak vs device.memory")
    .argument("<agent>", "agent YAML file")
    .option("--json", "print the estimate as JSON")
    .option("--models-dir <dir>", "directory of downloaded hf: models (default $EDGECREW_MODELS_DIR)")
    .addHelpText(
      "after",
      [
        "",
        "Reads GGUF headers only: nothing is loaded and nothing is downloaded (fixture: models are generated).",
        "The peak is the sum of the limits.maxParallel largest models: what may be resident at once.",
        "Exit codes: 0 the peak fits, 1 it does not (or a model is not downloaded yet), 2 invalid definition.",
        "",
        "Example:",
        "  edgecrew models estimate agents/offline-demo.yaml",
        "  edgecrew models estimate agents/jetson-local.yaml --json",
      ].join("\n"),
    )
    .action(async (file: string, options: { json?: boolean; modelsDir?: string }) => {
      const absolute = resolve(io.cwd, file);
      let report: AgentMemoryEstimate;
      try {
        const agent = await loadAgent(absolute, { checkModelFile });
        const { estimateAgentMemory } = await import("../../workers/agentMemory.js");
        const { defaultModelsDir } = await import("../../workers/resolveModel.js");
        report = await estimateAgentMemory(agent, {
          fixtureCacheDir: defaultFixtureCacheDir(io.env),
          modelsDir:
            options.modelsDir === undefined ? defaultModelsDir(io.env) : resolve(io.cwd, options.modelsDir),
        });
      } catch (error) {
        if (isAgentDefinitionError(error)) {
          io.stderr.write(`${error.message.split(absolute).join(file)}\n`);
          outcome.code = ExitCode.USAGE;
        } else {
          outcome.code = reportError(io, error, debug());
        }
        return;
      }
      if (options.json === true) {
        io.stdout.write(`${JSON.stringify({ file, ...report }, null, 2)}\n`);
      } else {
        const { formatBytes } = await import("../../workers/formatBytes.js");
        io.stdout.write(renderEstimate(report, formatBytes));
      }
      outcome.code = report.fits ? ExitCode.OK : ExitCode.RUN_FAILED;
    });

  models
    .command("list")
    .description("list the model files on this machine: generated fixtures and downloaded models, with sizes")
    .option("--json", "print the list as JSON")
    .option("--models-dir <dir>", "directory of downloaded hf: models (default $EDGECREW_MODELS_DIR)")
    .addHelpText("after", "\nExample:\n  edgecrew models list")
    .action(async (options: { json?: boolean; modelsDir?: string }) => {
      const { defaultModelsDir } = await import("../../workers/resolveModel.js");
      const { formatBytes } = await import("../../workers/formatBytes.js");
      const places = [
        { kind: "fixtures", dir: defaultFixtureCacheDir(io.env) },
        {
          kind: "models",
          dir:
            options.modelsDir === undefined ? defaultModelsDir(io.env) : resolve(io.cwd, options.modelsDir),
        },
      ];
      const listed = await Promise.all(
        places.map(async (place) => ({ ...place, files: await ggufFiles(place.dir) })),
      );
      if (options.json === true) {
        io.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      for (const place of listed) {
        lines.push(`${place.kind} (${place.dir}):`);
        if (place.files.length === 0) lines.push("  (none)");
        else lines.push(...columns(place.files.map((f) => [`  ${f.name}`, formatBytes(f.bytes)])));
      }
      io.stdout.write(`${lines.join("\n")}\n`);
    });
}

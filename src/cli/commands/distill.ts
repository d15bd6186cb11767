/** `edgecrew distill export`: a fine-tuning dataset (JSONL) of one worker's subtasks from the stored runs. */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { FileRunStore } from "../../runtime/store/FileRunStore.js";
import { type DistillFormat, exportDataset, parseSince } from "../distill.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";

interface ExportOptions {
  worker: string;
  since?: string;
  format: DistillFormat;
  out?: string;
  runDir?: string;
  includeEscalatedOnly?: boolean;
}

const HELP = `
Each line is one completed subtask of the worker: the conversation it saw (system prompt, user prompt with the
task, its instruction and its dependencies' answers, its tool calls and their results, in order) and the
validated answer as the last assistant turn. Answers the planner gave after an escalation are the teacher's
examples: their "metadata" has "escalated": true (and the worker's "reason"); they carry no tool calls. Same
conversation and answer appear once. Secrets are redacted (the store already did; the agent copy's secrets:
env vars and key-shaped strings are redacted again). Runs that cannot be read are skipped with a warning.

Formats:
  openai    {"messages":[{"role":"system",…},{"role":"user",…},{"role":"assistant","tool_calls":[…]},
            {"role":"tool",…},{"role":"assistant","content":"<answer JSON>"}],"metadata":{…}}
  sharegpt  {"system":"…","conversations":[{"from":"human",…},{"from":"function_call",…},
            {"from":"observation",…},{"from":"gpt",…}],"metadata":{…}}   (LLaMA-Factory's ShareGPT layout)
  "metadata" is a top-level key next to the conversation: trainers that read the messages/conversations
  column ignore it; drop it (jq -c 'del(.metadata)') for a service that refuses unknown keys.

Training a LoRA adapter on it (training stays outside edgecrew):
  - Hugging Face TRL / PEFT:   load with datasets.load_dataset("json", data_files="extractor.jsonl"),
    SFTTrainer(model=BASE, train_dataset=ds, peft_config=LoraConfig(r=16, lora_alpha=32,
    target_modules="all-linear")) reads the "messages" column and applies the base model's chat template;
    then convert the adapter for llama.cpp: python convert_lora_to_gguf.py ADAPTER_DIR --base BASE_HF_DIR
    --outfile adapter.gguf
  - LLaMA-Factory: register the file in data/dataset_info.json with "formatting": "sharegpt" and
    "columns": {"messages": "conversations", "system": "system"}, then
    llamafactory-cli train --stage sft --finetuning_type lora --dataset NAME --template qwen …
  - Axolotl / Unsloth: a chat_template dataset with field_messages: messages (openai format).
  - llama.cpp's own finetune example (examples/training) trains on plain text: render each line with the
    model's chat template first (e.g. a short script using tokenizer.apply_chat_template).

Examples:
  edgecrew distill export --worker extractor --out extractor.jsonl
  edgecrew distill export --worker extractor --since 2026-11-01 --format sharegpt --out extractor.sharegpt.jsonl
  edgecrew distill export --worker extractor --include-escalated-only > teacher.jsonl`;

/** Registers `distill` and its `export` subcommand. */
export function registerDistillCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const distill = program
    .command("distill")
    .description("turn stored runs into fine-tuning data for a worker (export)");
  distill
    .command("export")
    .description("write a JSONL fine-tuning dataset of one worker's subtasks from the stored runs")
    .requiredOption("--worker <name>", "the worker whose subtasks become examples")
    .option("--since <date>", "only runs started at or after this date (2026-11-01, 2026-11-01T08:00:00Z)")
    .addOption(
      new Option("--format <format>", "dataset layout").choices(["openai", "sharegpt"]).default("openai"),
    )
    .option("--out <file>", "write the dataset here instead of stdout")
    .option("--run-dir <dir>", "where runs are kept (default .edgecrew/runs)")
    .option("--include-escalated-only", "only the examples the planner answered after an escalation")
    .addHelpText("after", HELP)
    .action(async (options: ExportOptions) => {
      const since = options.since === undefined ? undefined : parseSince(options.since);
      const store = new FileRunStore({ root: resolve(io.cwd, options.runDir ?? ".edgecrew/runs") });
      const dataset = await exportDataset(store, {
        worker: options.worker,
        format: options.format,
        ...(since === undefined ? {} : { since }),
        ...(options.includeEscalatedOnly === true ? { escalatedOnly: true } : {}),
        warn: (message) => io.stderr.write(`edgecrew: warning: ${message}\n`),
      });
      const text = dataset.lines.map((line) => `${line}\n`).join("");
      if (options.out === undefined) io.stdout.write(text);
      else await writeFile(resolve(io.cwd, options.out), text, "utf8");
      io.stderr.write(
        `${dataset.examples} example(s) of worker ${options.worker} from ${dataset.runs} run(s)` +
          ` (${dataset.escalated} escalated, ${dataset.duplicates} duplicate(s) dropped)` +
          `${options.out === undefined ? "" : ` written to ${options.out}`}\n`,
      );
      outcome.code = ExitCode.OK;
    });
}

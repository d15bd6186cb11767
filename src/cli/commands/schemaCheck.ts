/**
 * `edgecrew schema check <schema.json | file.jsonl>`: what a schema will get before a run. For each schema, how
 * each keyword is enforced (by the grammar, by the validator after decoding, unsupported, or an annotation),
 * the longest output in tokens the grammar admits (the worst case a worker's or tool's `maxTokens` must cover),
 * and with `--gbnf` the grammar itself. A `.jsonl` file holds one schema per line, bare or as `{ id, schema }`
 * (the JSONSchemaBench format); it gets one line per schema and a summary.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { EdgecrewError, ErrorCodes, isEdgecrewError } from "../../errors.js";
import { compileSchema } from "../../schema/compile.js";
import { compileGrammar, type KeywordReport, type SchemaGrammar } from "../../schema/grammar/index.js";
import type { JsonSchema } from "../../types.js";
import { columns } from "../columns.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";

interface CheckOptions {
  readonly gbnf?: boolean;
  readonly maxTokens?: string;
  readonly json?: boolean;
}

/** One schema's check: the grammar (or why there is none) and whether the validator can use it. */
interface Checked {
  readonly id: string;
  readonly grammar?: SchemaGrammar;
  readonly error?: { readonly code: string; readonly message: string };
  readonly validatorError?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function check(id: string, schema: JsonSchema, maxTokens: number | undefined): Checked {
  let validatorError: string | undefined;
  try {
    compileSchema(schema);
  } catch (error) {
    validatorError = error instanceof Error ? error.message : String(error);
  }
  const base = validatorError === undefined ? {} : { validatorError };
  try {
    return { id, grammar: compileGrammar(schema, maxTokens === undefined ? {} : { maxTokens }), ...base };
  } catch (error) {
    if (!isEdgecrewError(error)) throw error;
    return { id, error: { code: error.code, message: error.message }, ...base };
  }
}

/** The schemas of a file: one `.json` schema, or one per line of a `.jsonl` file. */
async function readSchemas(path: string): Promise<{ id: string; schema: JsonSchema }[]> {
  const text = await readFile(path, "utf8");
  const parse = (line: string, where: string): unknown => {
    try {
      return JSON.parse(line) as unknown;
    } catch (cause) {
      throw new EdgecrewError(ErrorCodes.USAGE, `${where}: not JSON (${(cause as Error).message})`, {
        cause,
      });
    }
  };
  if (!path.endsWith(".jsonl")) {
    const schema = parse(text, path);
    if (!isObject(schema) && typeof schema !== "boolean") {
      throw new EdgecrewError(ErrorCodes.USAGE, `${path}: a JSON Schema must be an object`);
    }
    return [{ id: path, schema: schema as JsonSchema }];
  }
  return text
    .split("\n")
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => line.trim() !== "")
    .map(({ line, number }) => {
      const value = parse(line, `${path}:${number}`);
      if (!isObject(value))
        throw new EdgecrewError(ErrorCodes.USAGE, `${path}:${number}: expected a JSON object`);
      const wrapped = isObject(value.schema) && value.id !== undefined;
      return {
        id: wrapped ? String(value.id) : `line ${number}`,
        schema: (wrapped ? value.schema : value) as JsonSchema,
      };
    });
}

function counts(report: readonly KeywordReport[]): Record<string, number> {
  const out: Record<string, number> = { grammar: 0, validator: 0, unsupported: 0, annotation: 0 };
  for (const entry of report) out[entry.enforcement] = (out[entry.enforcement] ?? 0) + 1;
  return out;
}

function writeOne(io: CliIo, result: Checked, options: CheckOptions): void {
  if (result.validatorError !== undefined)
    io.stdout.write(`validator: cannot use the schema: ${result.validatorError}\n`);
  if (result.grammar === undefined) {
    io.stdout.write(`grammar: ${result.error?.code}: ${result.error?.message}\n`);
    return;
  }
  const grammar = result.grammar;
  const fitted = grammar.fitted
    ? ` (open lengths fitted: strings ≤ ${grammar.caps.stringMax}, arrays ≤ ${grammar.caps.arrayMax})`
    : "";
  io.stdout.write(
    `worst case: ${grammar.maxTokens} tokens (shortest ${grammar.minTokens})${fitted}; grammar ${(grammar.gbnf.length / 1024).toFixed(1)} KiB, ${grammar.rules} rules\n\n`,
  );
  const rows = grammar.report
    .filter((entry) => entry.enforcement !== "annotation" || entry.note !== undefined)
    .map((entry) => [entry.pointer, entry.keyword, entry.enforcement, entry.note ?? ""]);
  io.stdout.write(`${columns([["path", "keyword", "enforced by", "note"], ...rows]).join("\n")}\n`);
  if (options.gbnf === true) io.stdout.write(`\n${grammar.gbnf}`);
}

function summaryLine(result: Checked): string[] {
  if (result.grammar === undefined)
    return [result.id, "error", "", `${result.error?.code}: ${result.error?.message ?? ""}`];
  const tally = counts(result.grammar.report);
  const unsupported = result.grammar.report.filter((entry) => entry.enforcement === "unsupported");
  const status = unsupported.length > 0 || result.validatorError !== undefined ? "unsupported" : "compiled";
  const why =
    result.validatorError ??
    unsupported.map((entry) => `${entry.pointer} ${entry.keyword}: ${entry.note ?? ""}`).join("; ");
  return [
    result.id,
    status,
    String(result.grammar.maxTokens),
    why || `${tally.validator} keyword(s) left to the validator`,
  ];
}

/** Registers `edgecrew schema check` under the `schema` command. */
export function registerSchemaCheckCommand(schema: Command, io: CliIo, outcome: CommandOutcome): void {
  schema
    .command("check")
    .description(
      "show how each keyword of a JSON Schema is enforced (grammar / validator / unsupported) and its worst-case length in tokens",
    )
    .argument("<file>", "a JSON Schema (.json) or one schema per line (.jsonl, bare or { id, schema })")
    .option("--gbnf", "also print the grammar (one schema only)")
    .option(
      "--max-tokens <n>",
      "fit open lengths to this token budget, as a worker with that maxTokens would",
    )
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  edgecrew schema check answer.schema.json --max-tokens 512\n  edgecrew schema check tools.jsonl",
    )
    .action(async (file: string, options: CheckOptions) => {
      const maxTokens = options.maxTokens === undefined ? undefined : Number(options.maxTokens);
      if (maxTokens !== undefined && (!Number.isSafeInteger(maxTokens) || maxTokens < 1)) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          `--max-tokens must be a positive integer, got "${options.maxTokens}"`,
        );
      }
      const path = resolve(io.cwd, file);
      const results = (await readSchemas(path)).map(({ id, schema: one }) => check(id, one, maxTokens));
      const failed = results.some(
        (result) =>
          result.grammar === undefined ||
          result.validatorError !== undefined ||
          result.grammar.report.some((e) => e.enforcement === "unsupported"),
      );
      if (options.json === true) {
        io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      } else if (results.length === 1 && !path.endsWith(".jsonl")) {
        writeOne(io, results[0] as Checked, options);
      } else {
        const header = ["schema", "status", "worst-case tokens", "detail"];
        io.stdout.write(`${columns([header, ...results.map(summaryLine)]).join("\n")}\n`);
        const compiled = results.filter((result) => summaryLine(result)[1] === "compiled").length;
        io.stdout.write(
          `\n${results.length} schemas: ${compiled} compiled, ${results.length - compiled} unsupported or failed\n`,
        );
      }
      outcome.code = failed ? ExitCode.USAGE : ExitCode.OK;
    });
}

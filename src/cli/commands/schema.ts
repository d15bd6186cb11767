/**
 * `edgecrew schema`: prints the JSON Schema of agent YAML files, for editors; `edgecrew schema check` shows how a
 * JSON Schema will be enforced (schemaCheck.ts).
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { agentJsonSchema } from "../../config/index.js";
import type { CliIo } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { registerSchemaCheckCommand } from "./schemaCheck.js";

export function registerSchemaCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  const schema = program
    .command("schema")
    .description("print the JSON Schema of agent YAML files (for editor completion and validation)")
    .option("-o, --out <file>", "write it to a file instead of stdout")
    .addHelpText(
      "after",
      '\nExample:\n  edgecrew schema --out edgecrew.schema.json\n  # then in .vscode/settings.json: "yaml.schemas": { "./edgecrew.schema.json": "agents/*.yaml" }',
    )
    .action(async (options: { out?: string }) => {
      const text = `${JSON.stringify(agentJsonSchema(), null, 2)}\n`;
      if (options.out === undefined) io.stdout.write(text);
      else await writeFile(resolve(io.cwd, options.out), text);
    });
  registerSchemaCheckCommand(schema, io, outcome);
}

/**
 * The agent YAML format as a JSON Schema, for editors: with it, yaml-language-server (VS Code, Neovim, …)
 * completes keys, shows each key's description and flags typos while typing. Generated from the same zod
 * schema the loader validates with, so the two cannot drift apart.
 */
import { z } from "zod";
import type { JsonObject } from "../types.js";
import { agentInputSchema } from "./agentSchema.js";

/**
 * The JSON Schema (draft 2020-12) of an agent YAML file: the input shape, with descriptions and defaults.
 * Checks that relate keys to each other (declared tools, unique names, existing files) are not expressible in
 * it and are left to `loadAgent`.
 *
 * @example
 * await writeFile("agent.schema.json", JSON.stringify(agentJsonSchema(), null, 2));
 * // then, first line of an agent file: # yaml-language-server: $schema=./agent.schema.json
 */
export function agentJsonSchema(): JsonObject {
  const schema = z.toJSONSchema(agentInputSchema, { io: "input", target: "draft-2020-12" });
  // A round trip through JSON drops anything that is not plain JSON and gives the caller its own copy.
  return JSON.parse(JSON.stringify(schema)) as JsonObject;
}

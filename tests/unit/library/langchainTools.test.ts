/**
 * Issue 14, finding 3: LangChain tools handed to edgecrew as they are. A `DynamicStructuredTool` in `tools:`
 * did not type-check and failed in JavaScript with `Cannot destructure property 'name' of 'tool.spec'`; a tool
 * defined in code could be granted in YAML only through an undocumented option taking names.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicStructuredTool, StructuredTool } from "@langchain/core/tools";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { loadAgent, parseAgent } from "../../../src/config/index.js";
import type { CrewOptions } from "../../../src/crew.js";
import { ErrorCodes, isEdgecrewError } from "../../../src/errors.js";
import type { AnyTool, LoadAgentOptions } from "../../../src/index.js";
import { defineTool, ToolRegistry, toolNames, toTool } from "../../../src/tools/index.js";
import { callContext, expectOk } from "../tools/helpers.js";

const lookup = new DynamicStructuredTool({
  name: "lookup",
  description: "Looks a word up in the glossary.",
  schema: z.object({ word: z.string().min(1) }),
  func: async ({ word }) => JSON.stringify({ word, meaning: `the meaning of ${word}` }),
});

class Shout extends StructuredTool {
  name = "shout";
  description = "Upper-cases a text.";
  schema = z.object({ text: z.string() });
  protected async _call({ text }: { text: string }): Promise<string> {
    return text.toUpperCase();
  }
}

const count = defineTool({
  name: "count",
  description: "Counts letters.",
  input: z.object({ text: z.string() }),
  run: async ({ text }) => ({ letters: text.length }),
});

const yaml = `name: glossary
description: Explains words
planner: { model: "openai:gpt-4o-mini" }
workers:
  - { name: w, description: d, model: "fixture:w", tools: [lookup, shout, count] }
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-lc-tools-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LangChain tools given directly", () => {
  it("are accepted by the type of createCrew's and loadAgent's tools, next to defineTool results", () => {
    const options: CrewOptions = { tools: [lookup, new Shout(), count] };
    expect(options.tools).toHaveLength(3);
    expectTypeOf<DynamicStructuredTool>().toExtend<AnyTool>();
    expectTypeOf<Shout>().toExtend<AnyTool>();
    expectTypeOf<[typeof lookup, Shout, typeof count, "by-name"]>().toExtend<
      NonNullable<LoadAgentOptions["tools"]>
    >();
  });

  it("declare themselves to loadAgent, so a YAML file may grant them (the documented `tools` option)", async () => {
    const file = join(dir, "glossary.yaml");
    await writeFile(file, yaml);
    await expect(loadAgent(file)).rejects.toThrow(/unknown tool `lookup` \(declared tools: none\)/);
    const agent = await loadAgent(file, { tools: [lookup, new Shout(), count] });
    expect(agent.workers[0]?.tools).toEqual(["lookup", "shout", "count"]);
    expect(parseAgent(yaml, { tools: [lookup, "shout", count] }).workers[0]?.tools).toHaveLength(3);
  });

  it("are adapted to edgecrew tools and run through the registry with validated arguments", async () => {
    expect(toolNames([lookup, new Shout(), count, "named"])).toEqual(["lookup", "shout", "count", "named"]);
    const registry = new ToolRegistry().register(toTool(lookup)).register(toTool(new Shout()));
    expect(toTool(count)).toBe(count);
    expect(toTool(lookup).spec).toMatchObject({
      name: "lookup",
      input: { type: "object", required: ["word"] },
      idempotent: false,
    });
    expect(expectOk(await registry.call("lookup", { word: "edge" }, callContext().context))).toEqual({
      word: "edge",
      meaning: "the meaning of edge",
    });
    expect(expectOk(await registry.call("shout", { text: "hi" }, callContext().context))).toEqual({
      output: "HI",
    });
    const invalid = await registry.call("lookup", { word: "" }, callContext().context);
    expect(invalid).toMatchObject({ ok: false, reason: "invalid-input" });
  });

  it("anything else is a TOOL_INVALID error saying what it got", () => {
    let error: unknown;
    try {
      toTool({ name: "x" } as unknown as AnyTool, "CrewOptions.tools[2]");
    } catch (caught) {
      error = caught;
    }
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.TOOL_INVALID);
    expect(String(error)).toContain(
      "CrewOptions.tools[2] is an object, not a tool: expected a defineTool() result or a LangChain tool",
    );
  });
});

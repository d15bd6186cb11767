/**
 * Issue 14 leftover, first-class LangChain tools, through the library on a real fixture worker: an agent YAML
 * declares a LangChain tool living in a JS module (`- langchain: { module, export, options }`, a factory called
 * with the options), createCrew imports it, and a worker with `toolChoice: required` calls it: the tool runs (its
 * side effect, a line in the log file its options name, is there). A bad export fails createCrew with
 * TOOL_INVALID naming the agent file, module and export, before any model loads.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ErrorCodes } from "../../../src/errors.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { RunEvent } from "../../../src/types.js";

const fixtureDir = resolve(import.meta.dirname, "../../fixtures/langchainTools");
// Never written: the agent's relative paths resolve against its directory, the fixture's.
const agentFile = join(fixtureDir, "agent.yaml");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-langchain-yaml-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function agentText(tool: string, log: string): string {
  return `name: forecaster
description: Tells the weather with a LangChain tool from a module
planner: { model: "scripted:planner" }
workers:
  - name: forecaster
    description: Tells the weather of a city
    model: fixture:forecaster?seed=3
    tools: [forecast]
    toolChoice: required
    maxToolCalls: 1
    maxTokens: 96
    output:
      type: object
      properties: { done: { type: boolean } }
      required: [done]
      additionalProperties: false
tools:
  - langchain:
      module: ./tools.mjs
      export: ${tool}
      options: { units: imperial, log: ${JSON.stringify(log)} }
      name: forecast
limits: { maxReplans: 0, maxSubtasks: 1, maxParallel: 1, timeoutSeconds: 60, subtaskTimeoutSeconds: 45 }
device: { threads: 1, gpu: false }
escalation: { retries: 0, to: planner }
`;
}

describe("a LangChain tool declared in agent YAML", () => {
  it("is imported at crew start and called by a worker forced to call a tool", async () => {
    const log = join(dir, "calls.jsonl");
    const agent = parseAgent(agentText("makeWeatherTool", log), { file: agentFile });
    await using crew = await createCrew(agent, {
      planner: new ScriptedChatModel([
        JSON.stringify({
          subtasks: [{ id: "s1", worker: "forecaster", instruction: "Weather in Rome", dependsOn: [] }],
        }),
        JSON.stringify({ answer: "sunny in Rome" }),
      ]),
      fixtureCacheDir: join(dir, "fixtures"),
      store: false,
    });
    const events: RunEvent[] = [];
    const result = await crew.run("Weather in Rome?", { onEvent: (e) => events.push(e) }).result;
    if (result.status !== "completed")
      throw new Error(`the run ${result.status}: ${JSON.stringify(result.error)}`);
    expect(result.answer).toBe("sunny in Rome");
    // The tool ran: the factory got the options (units, log) and the call wrote its line.
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(1);
    const call = JSON.parse(lines[0] ?? "{}") as { name: string; args: { city: string; units: string } };
    expect(call.name).toBe("forecast");
    expect(call.args.units).toBe("imperial");
    expect(typeof call.args.city).toBe("string");
    const toolResult = events.find((e) => e.type === "tool.result");
    expect(toolResult?.type === "tool.result" && toolResult.tool).toBe("forecast");
    expect(toolResult?.type === "tool.result" && toolResult.result).toEqual({
      ok: true,
      output: { city: call.args.city, units: "imperial", sky: "clear" },
    });
  });

  it("a bad export fails createCrew with TOOL_INVALID naming the agent file, module and export", async () => {
    const agent = parseAgent(agentText("notATool", join(dir, "never.jsonl")), { file: agentFile });
    await expect(
      createCrew(agent, { store: false, fixtureCacheDir: join(dir, "fixtures") }),
    ).rejects.toMatchObject({
      code: ErrorCodes.TOOL_INVALID,
      message: `${agentFile}: tools[0] (langchain module ./tools.mjs, export \`notATool\`): the export is an object, not a LangChain tool (tool(), StructuredTool, DynamicStructuredTool) nor a factory of one`,
      context: { module: "./tools.mjs", export: "notATool", field: "export" },
    });
  });
});

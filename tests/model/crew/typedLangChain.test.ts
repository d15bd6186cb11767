/**
 * Issue 14, findings 3 and 4, through the library on a real fixture worker: a zod worker output and a zod final
 * answer in defineAgent (it failed with `expected a mapping, got a mapping`), a LangChain DynamicStructuredTool
 * passed to createCrew as it is (it failed with `Cannot destructure property 'name' of 'tool.spec'`), and the
 * result typed by the schemas.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicStructuredTool } from "@langchain/core/tools";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { RunEvent } from "../../../src/types.js";

let fixtureCacheDir: string;
beforeAll(async () => {
  fixtureCacheDir = await mkdtemp(join(tmpdir(), "edgecrew-typed-fixtures-"));
});
afterAll(async () => {
  await rm(fixtureCacheDir, { recursive: true, force: true });
});

const calls: string[] = [];
const lookup = new DynamicStructuredTool({
  name: "lookup",
  description: "Looks the glossary up",
  schema: z.object({}),
  func: async () => {
    calls.push("lookup");
    return JSON.stringify({ meaning: "a thing at the edge" });
  },
});

const agent = defineAgent(
  {
    name: "glossary",
    description: "Explains words",
    planner: { model: "scripted:planner" },
    workers: [
      {
        name: "explainer",
        description: "Explains a word with lookup",
        model: "fixture:explainer?seed=3",
        tools: ["lookup"],
        toolChoice: "required",
        maxToolCalls: 1,
        maxTokens: 96,
        output: z.object({ done: z.boolean() }),
      },
    ],
    answer: z.object({ summary: z.string().max(40) }),
    limits: { maxReplans: 0, maxSubtasks: 1, maxParallel: 1, timeoutSeconds: 60, subtaskTimeoutSeconds: 45 },
    device: { threads: 1, gpu: false },
    escalation: { retries: 0, to: "planner" },
  },
  { tools: [lookup] },
);

describe("a typed agent with a LangChain tool", () => {
  it("runs: the DynamicStructuredTool is called, answers follow their zod schemas and types", async () => {
    await using crew = await createCrew(agent, {
      planner: new ScriptedChatModel([
        JSON.stringify({
          subtasks: [{ id: "s1", worker: "explainer", instruction: "Explain edge", dependsOn: [] }],
        }),
        JSON.stringify({ answer: { summary: "edge: at the border" } }),
      ]),
      fixtureCacheDir,
      store: false,
      tools: [lookup],
    });
    const events: RunEvent[] = [];
    const result = await crew.run("Explain edge", { onEvent: (e) => events.push(e) }).result;
    if (result.status !== "completed")
      throw new Error(`the run ${result.status}: ${JSON.stringify(result.error)}`);
    expectTypeOf(result.answer).toEqualTypeOf<{ summary: string }>();
    expect(result.answer.summary).toBe("edge: at the border");
    const [first] = result.results;
    expectTypeOf(first?.answer).toEqualTypeOf<{ done: boolean } | undefined>();
    expect(typeof first?.answer.done).toBe("boolean");
    expect(calls).toEqual(["lookup"]);
    const toolResult = events.find((e) => e.type === "tool.result");
    expect(toolResult?.type === "tool.result" && toolResult.result).toEqual({
      ok: true,
      output: { meaning: "a thing at the edge" },
    });
  });
});

import { AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import type { SubtaskRequest, WorkerDefinition } from "../../../src/types.js";
import { toChatHistory } from "../../../src/workers/chatHistory.js";
import { repairPrompt, workerSystemPrompt, workerUserPrompt } from "../../../src/workers/workerPrompts.js";

const worker: WorkerDefinition = {
  name: "weather",
  description: "forecasts",
  model: { kind: "fixture", raw: "fixture:tiny?seed=1", name: "fixture", seed: 1, size: "tiny" },
  system: "You forecast mountain weather.",
  tools: [],
  output: {
    type: "object",
    properties: { sky: { type: "string", enum: ["sun", "rain"], description: "the sky" } },
    required: ["sky"],
  },
  contextSize: 512,
  maxTokens: 64,
  temperature: 0.2,
  parallel: 1,
};

const request: SubtaskRequest = {
  runId: "r",
  task: "Plan a weekend in Chamonix",
  subtask: { id: "s2", worker: "weather", instruction: "Forecast for Saturday", dependsOn: ["s1"] },
  worker,
  dependencies: { s1: { city: "Chamonix" } },
};

describe("worker prompts", () => {
  it("system prompt: the worker's instructions, the fields in words, and JSON only", () => {
    const text = workerSystemPrompt(request);
    expect(text.startsWith("You forecast mountain weather.")).toBe(true);
    expect(text).toContain('"sky"');
    expect(text).toContain("the sky");
    expect(text).toMatch(/JSON only/);
    expect(workerSystemPrompt({ ...request, worker: { ...worker, system: undefined } })).not.toMatch(/^\n/);
  });

  it("user prompt: task, instruction and the dependencies' answers as JSON", () => {
    const text = workerUserPrompt(request);
    expect(text).toContain("Plan a weekend in Chamonix");
    expect(text).toContain("Forecast for Saturday");
    expect(text).toContain('s1: {"city":"Chamonix"}');
    expect(workerUserPrompt({ ...request, dependencies: {} })).not.toContain("earlier steps");
  });

  it("repair prompt lists every error", () => {
    const text = repairPrompt(["sky: Invalid option", "(root): extra key"]);
    expect(text).toContain("- sky: Invalid option\n- (root): extra key");
    expect(text).toMatch(/JSON only/);
  });
});

describe("toChatHistory", () => {
  it("maps system, human, ai, tool and generic messages to node-llama-cpp history", () => {
    const history = toChatHistory([
      new SystemMessage("plan"),
      new HumanMessage("trip"),
      new AIMessage({ content: "ok", tool_calls: [{ name: "fs", args: { path: "a" }, id: "c1" }] }),
      new ToolMessage({ content: "42", tool_call_id: "c1" }),
      new ChatMessage("more", "assistant"),
      new ChatMessage("also", "user"),
    ]);
    expect(history).toEqual([
      { type: "system", text: "plan" },
      { type: "user", text: "trip" },
      {
        type: "model",
        response: [
          "ok",
          { type: "functionCall", name: "fs", params: { path: "a" }, result: 42, startsNewChunk: true },
          "more",
        ],
      },
      { type: "user", text: "also" },
    ]);
  });
});

import { type ChatHistoryItem, ChatMLChatWrapper, type ChatModelFunctions } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import type { SubtaskRequest, WorkerDefinition } from "../../../src/types.js";
import { ToolChatWrapper } from "../../../src/workers/ToolChatWrapper.js";
import { workerSystemPrompt } from "../../../src/workers/workerPrompts.js";

const functions: ChatModelFunctions = {
  "trip.plan": {
    description: "Plans a trip.",
    params: { type: "object", properties: { nights: { enum: [1, 2, 3] } } },
  },
};

const start: ChatHistoryItem[] = [
  { type: "system", text: "You plan trips." },
  { type: "user", text: "Plan a weekend." },
  { type: "model", response: [] },
];

describe("ToolChatWrapper", () => {
  it("documents the tools on every turn, so tool turns and the answer turn render the same prompt", () => {
    const wrapper = new ToolChatWrapper(new ChatMLChatWrapper(), functions);
    const toolTurn = wrapper.generateContextState({ chatHistory: start, availableFunctions: functions });
    const answerTurn = wrapper.generateContextState({ chatHistory: start });
    expect(answerTurn.contextText.toString()).toBe(toolTurn.contextText.toString());
    expect(answerTurn.contextText.toString()).toContain("trip.plan");
    // The plain wrapper documents nothing on a turn without functions: that is why the wrapper exists.
    const plain = new ChatMLChatWrapper().generateContextState({ chatHistory: start });
    expect(plain.contextText.toString()).not.toContain("trip.plan");
  });

  it("forwards the model wrapper's settings and name", () => {
    const inner = new ChatMLChatWrapper();
    const wrapper = new ToolChatWrapper(inner, functions);
    expect(wrapper.settings).toBe(inner.settings);
    expect(wrapper.wrapperName).toBe(inner.wrapperName);
    expect(wrapper.generateFunctionCall("trip.plan", { nights: 2 }).toString()).toBe(
      inner.generateFunctionCall("trip.plan", { nights: 2 }).toString(),
    );
  });
});

describe("worker system prompt with tools", () => {
  const worker: WorkerDefinition = {
    name: "planner",
    description: "plans",
    model: { kind: "fixture", raw: "fixture:tiny", name: "tiny", seed: 1, size: "tiny" },
    system: "You plan trips.",
    tools: ["trip.plan"],
    output: { type: "object", properties: { day: { type: "integer" } }, required: ["day"] },
    contextSize: 512,
    maxTokens: 64,
    temperature: 0,
    parallel: 1,
  };
  const subtask = (w: WorkerDefinition): SubtaskRequest => ({
    runId: "r",
    task: "t",
    subtask: { id: "s1", worker: w.name, instruction: "i", dependsOn: [] },
    worker: w,
    dependencies: {},
  });

  it("says how to use the tools, and insists on a call when toolChoice is required", () => {
    expect(workerSystemPrompt(subtask(worker), { hasTools: true })).toMatch(
      /may call the provided functions/,
    );
    expect(workerSystemPrompt(subtask({ ...worker, toolChoice: "required" }), { hasTools: true })).toMatch(
      /Call at least one/,
    );
    expect(workerSystemPrompt(subtask(worker))).not.toMatch(/functions/);
  });

  it("depends on the worker only, never on the subtask (so its tokens can be reused)", () => {
    const other = {
      ...subtask(worker),
      subtask: { id: "s9", worker: "planner", instruction: "x", dependsOn: [] },
    };
    expect(workerSystemPrompt(other, { hasTools: true })).toBe(
      workerSystemPrompt(subtask(worker), { hasTools: true }),
    );
  });
});

/**
 * Issue 14, Streaming: `planner.delta` from any LangChain chat model that streams (here LangChain's own
 * FakeStreamingChatModel, whose structured output is a tool call): with `stream: true` in the call context the
 * planner's reply text is streamed through `invoke` and emitted; without it, nothing is.
 */
import { FakeStreamingChatModel } from "@langchain/core/utils/testing";
import { describe, expect, it } from "vitest";
import { createLangChainPlanner } from "../../../src/planner/LangChainPlanner.js";
import type { RunEventInput } from "../../../src/types.js";

const plan = { subtasks: [{ id: "s1", worker: "w", instruction: "Do it.", dependsOn: [] }] };
const request = {
  task: "t",
  workers: [{ name: "w", description: "d", output: { type: "object" }, tools: [] }],
  maxSubtasks: 2,
};

function model() {
  return new FakeStreamingChatModel({
    sleep: 0,
    chunks: [
      {
        content: "Planning ",
        tool_calls: [{ name: "plan", args: plan, id: "c1", type: "tool_call" }],
      } as never,
      { content: "one subtask." } as never,
    ],
  });
}

describe("planner.delta from a streaming LangChain model", () => {
  it("streams the reply's text with stream: true and still returns the plan", async () => {
    const events: RunEventInput[] = [];
    const planner = createLangChainPlanner({ model: model(), label: "fake", locality: "remote" });
    const produced = await planner.plan(request, {
      signal: new AbortController().signal,
      emit: (e) => events.push(e),
      stream: true,
    });
    expect(produced.value).toEqual(plan);
    const text = events.flatMap((e) => (e.type === "planner.delta" ? [e.text] : [])).join("");
    expect(text).toBe("Planning one subtask.");
  });

  it("emits no delta without the opt-in", async () => {
    const events: RunEventInput[] = [];
    const planner = createLangChainPlanner({ model: model(), label: "fake", locality: "remote" });
    // This fake's unstreamed reply carries no tool call its parser accepts, so the plan fails here: proof that,
    // without the opt-in, the call was not streamed (streamed, the same model plans, as above).
    await expect(
      planner.plan(request, { signal: new AbortController().signal, emit: (e) => events.push(e) }),
    ).rejects.toThrow(/no valid plan/);
    expect(events.filter((e) => e.type === "planner.delta")).toEqual([]);
  });
});

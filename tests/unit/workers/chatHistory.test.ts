import { AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { type ChatHistoryItem, ChatMLChatWrapper } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { toChatHistory, toolResultValue } from "../../../src/workers/chatHistory.js";

const call = (name: string, params: unknown, result: unknown, startsNewChunk = true) => ({
  type: "functionCall",
  name,
  params,
  result,
  startsNewChunk,
});

describe("toChatHistory", () => {
  it("maps system, developer, human, ai and generic roles to history items", () => {
    expect(
      toChatHistory([
        new SystemMessage("plan"),
        new ChatMessage("be brief", "developer"),
        new HumanMessage("trip"),
        new AIMessage("where?"),
        new ChatMessage("more", "assistant"),
        new ChatMessage("also", "user"),
      ]),
    ).toEqual([
      { type: "system", text: "plan" },
      { type: "system", text: "be brief" },
      { type: "user", text: "trip" },
      { type: "model", response: ["where?"] },
      { type: "model", response: ["more"] },
      { type: "user", text: "also" },
    ]);
  });

  it("puts tool calls and their results (matched by tool_call_id, in any order) into one model response", () => {
    const history = toChatHistory([
      new HumanMessage("weather and time in Oslo?"),
      new AIMessage({
        content: "Let me check.",
        tool_calls: [
          { id: "c1", name: "weather", args: { city: "Oslo" } },
          { id: "c2", name: "time", args: { zone: "CET" } },
        ],
      }),
      new ToolMessage({ content: "12:00", tool_call_id: "c2" }),
      new ToolMessage({ content: '{"celsius":4}', tool_call_id: "c1" }),
      new AIMessage("4 °C at noon."),
      new HumanMessage("thanks"),
    ]);
    expect(history).toEqual([
      { type: "user", text: "weather and time in Oslo?" },
      {
        type: "model",
        response: [
          "Let me check.",
          call("weather", { city: "Oslo" }, { celsius: 4 }),
          call("time", { zone: "CET" }, "12:00", false),
          "4 °C at noon.",
        ],
      },
      { type: "user", text: "thanks" },
    ]);
  });

  it("ends in the open model response after the last results, so the next generation continues it", () => {
    const history = toChatHistory([
      new HumanMessage("2+3?"),
      new AIMessage({ content: "", tool_calls: [{ id: "a", name: "add", args: { a: 2, b: 3 } }] }),
      new ToolMessage({ content: "5", tool_call_id: "a" }),
    ]);
    expect(history.at(-1)).toEqual({ type: "model", response: [call("add", { a: 2, b: 3 }, 5)] });
  });

  it("chains several tool rounds into the same response", () => {
    const history = toChatHistory([
      new HumanMessage("go"),
      new AIMessage({ content: "", tool_calls: [{ id: "1", name: "a", args: {} }] }),
      new ToolMessage({ content: "x", tool_call_id: "1" }),
      new AIMessage({ content: "then", tool_calls: [{ id: "2", name: "b", args: { n: 1 } }] }),
      new ToolMessage({ content: "y", tool_call_id: "2" }),
      new AIMessage("done"),
    ]);
    expect(history).toEqual([
      { type: "user", text: "go" },
      { type: "model", response: [call("a", {}, "x"), "then", call("b", { n: 1 }, "y"), "done"] },
    ]);
  });

  it("answers calls without ids in order, leaves unanswered calls without a result, and keeps stray results as text", () => {
    const history = toChatHistory([
      new AIMessage({
        content: "",
        tool_calls: [
          { name: "a", args: {} },
          { name: "b", args: {} },
        ],
      }),
      new ToolMessage({ content: "first", tool_call_id: "" }),
      new HumanMessage("hm"),
      new ToolMessage({ content: "late", tool_call_id: "zz" }),
    ]);
    expect(history).toEqual([
      { type: "model", response: [call("a", {}, "first"), call("b", {}, undefined, false)] },
      { type: "user", text: "hm" },
      { type: "user", text: "Tool result (zz): late" },
    ]);
  });

  it("does not merge an AI message into a response whose calls got no results", () => {
    const history = toChatHistory([
      new AIMessage({ content: "", tool_calls: [{ id: "1", name: "a", args: {} }] }),
      new AIMessage("next"),
    ]);
    expect(history).toHaveLength(2);
  });

  it("tool results: JSON parsed, text kept, errors wrapped", () => {
    expect(toolResultValue(new ToolMessage({ content: "[1,2]", tool_call_id: "x" }))).toEqual([1, 2]);
    expect(toolResultValue(new ToolMessage({ content: "sunny", tool_call_id: "x" }))).toBe("sunny");
    expect(
      toolResultValue(new ToolMessage({ content: "no such city", tool_call_id: "x", status: "error" })),
    ).toEqual({ error: "no such city" });
  });

  it("renders calls and results inside the assistant turn through the model's chat wrapper", () => {
    const history: ChatHistoryItem[] = toChatHistory([
      new SystemMessage("You help."),
      new HumanMessage("2+3?"),
      new AIMessage({ content: "", tool_calls: [{ id: "a", name: "add", args: { a: 2, b: 3 } }] }),
      new ToolMessage({ content: "5", tool_call_id: "a" }),
    ]);
    const text = new ChatMLChatWrapper()
      .generateContextState({ chatHistory: history })
      .contextText.toString();
    const assistant = text.slice(text.lastIndexOf("<|im_start|>assistant"));
    // The call and its result are in the (still open) assistant turn, as node-llama-cpp renders its own calls.
    expect(assistant).toBe('<|im_start|>assistant\n||call: add({"a": 2, "b": 3})\n||result: 5\n');
    expect(assistant).not.toContain("<|im_end|>");
    expect(text.match(/<\|im_start\|>assistant/g)).toHaveLength(1);
  });
});

/**
 * Maps LangChain messages to node-llama-cpp chat history. node-llama-cpp's chat wrappers render the model's own
 * template from this history, so system, user and model turns must land in the right item types; tool turns
 * (no tool calling yet on local models) are shown to the model as user text.
 */
import type { BaseMessage } from "@langchain/core/messages";
import type { ChatHistoryItem } from "node-llama-cpp";

function textOf(message: BaseMessage): string {
  return message.text;
}

/** The node-llama-cpp history for a list of LangChain messages (system, human, ai, tool, generic roles). */
export function toChatHistory(messages: readonly BaseMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    const type = message.getType();
    const role =
      type === "generic" ? String((message as BaseMessage & { role?: unknown }).role ?? "user") : type;
    switch (role) {
      case "system":
      case "developer":
        history.push({ type: "system", text: textOf(message) });
        break;
      case "ai":
      case "assistant": {
        const calls =
          (message as BaseMessage & { tool_calls?: { name: string; args: unknown }[] }).tool_calls ?? [];
        const notes = calls.map((call) => `[called ${call.name} with ${JSON.stringify(call.args)}]`);
        history.push({
          type: "model",
          response: [[textOf(message), ...notes].filter((part) => part !== "").join("\n")],
        });
        break;
      }
      case "tool": {
        const id = (message as BaseMessage & { tool_call_id?: string }).tool_call_id;
        history.push({ type: "user", text: `Tool result${id ? ` (${id})` : ""}: ${textOf(message)}` });
        break;
      }
      default:
        history.push({ type: "user", text: textOf(message) });
    }
  }
  return history;
}

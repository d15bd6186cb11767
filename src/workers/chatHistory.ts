/**
 * Maps LangChain messages to node-llama-cpp chat history. node-llama-cpp's chat wrappers render the model's own
 * template from this history, so system, user and model turns must land in the right item types.
 *
 * Tool turns use node-llama-cpp's own representation, so that a multi-turn tool conversation renders the way
 * the model's wrapper renders the calls it generated itself: an AI message's `tool_calls` become
 * `functionCall` items of a model response, and each following ToolMessage (matched by `tool_call_id`) becomes
 * the `result` of its call. An AI message right after those results continues the same model response — in
 * node-llama-cpp a function's result sits inside the model's turn and the model goes on after it — and a
 * history that ends there is continued by the next generation, which is how the model answers from the results.
 */
import type { AIMessage, BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse } from "node-llama-cpp";

/** The calls of the model response being built, with the ids LangChain gave them, waiting for results. */
interface OpenCalls {
  readonly response: ChatModelResponse;
  readonly calls: { readonly id: string | undefined; readonly item: ChatModelFunctionCall }[];
  readonly answered: Set<ChatModelFunctionCall>;
}

function roleOf(message: BaseMessage): string {
  const type = message.getType();
  return type === "generic" ? String((message as BaseMessage & { role?: unknown }).role ?? "user") : type;
}

/**
 * A tool message's content as the call's result: JSON content is parsed, so the wrapper renders the value
 * itself rather than a quoted string of it; an error result (`status: "error"`) is rendered as `{ error }`.
 */
export function toolResultValue(message: ToolMessage): unknown {
  const text = message.text;
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // Plain text stays text.
  }
  return message.status === "error" ? { error: value } : value;
}

/** The unanswered call a tool message answers: the one with its id, else the first unanswered call with no id. */
function callFor(open: OpenCalls, id: string | undefined): ChatModelFunctionCall | undefined {
  const unanswered = open.calls.filter((call) => !open.answered.has(call.item));
  const byId = id === undefined || id === "" ? undefined : unanswered.find((call) => call.id === id)?.item;
  return byId ?? unanswered.find((call) => call.id === undefined || call.id === "")?.item;
}

/**
 * The node-llama-cpp history for a list of LangChain messages (system, developer, human, ai, tool and generic
 * roles; see the file comment for tool calls). A tool message that answers no open call is shown to the model
 * as user text, so nothing the caller sent is lost.
 */
export function toChatHistory(messages: readonly BaseMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  let open: OpenCalls | undefined;
  for (const message of messages) {
    switch (roleOf(message)) {
      case "system":
      case "developer":
        history.push({ type: "system", text: message.text });
        open = undefined;
        break;
      case "ai":
      case "assistant": {
        const toolCalls = (message as Partial<AIMessage>).tool_calls ?? [];
        const text = message.text;
        const calls = toolCalls.map((call, index) => {
          const item: ChatModelFunctionCall = {
            type: "functionCall",
            name: call.name,
            params: call.args,
            // Filled in by the call's ToolMessage; a call left without one renders as "void".
            result: undefined,
            // Wrappers with parallel calls render one message's calls as one section.
            startsNewChunk: index === 0,
          };
          return { id: call.id, item };
        });
        const items: ChatModelResponse["response"] =
          calls.length === 0 ? [text] : [...(text === "" ? [] : [text]), ...calls.map((call) => call.item)];
        const continues = open !== undefined && open.answered.size > 0 && history.at(-1) === open.response;
        let response: ChatModelResponse;
        if (continues && open !== undefined) {
          response = open.response;
          response.response.push(...items);
        } else {
          response = { type: "model", response: items };
          history.push(response);
        }
        open = calls.length === 0 ? undefined : { response, calls, answered: new Set() };
        break;
      }
      case "tool": {
        const tool = message as ToolMessage;
        const id = typeof tool.tool_call_id === "string" ? tool.tool_call_id : undefined;
        const call = open === undefined ? undefined : callFor(open, id);
        if (open !== undefined && call !== undefined) {
          call.result = toolResultValue(tool);
          open.answered.add(call);
        } else {
          history.push({ type: "user", text: `Tool result${id ? ` (${id})` : ""}: ${message.text}` });
          open = undefined;
        }
        break;
      }
      default:
        history.push({ type: "user", text: message.text });
        open = undefined;
    }
  }
  return history;
}

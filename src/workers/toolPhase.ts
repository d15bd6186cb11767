/**
 * The tool phase of a subtask: model turns that may call the worker's tools, before the answer. Each turn
 * offers the granted tools as chat functions; a call ends the turn, runs through the registry (which validates
 * the arguments with zod, emits `tool.called` / `tool.result`, and turns every failure into a result), and
 * the result is appended to the model's response as data for the next turn. The phase ends when the model
 * writes text instead of a call (it is ready to answer), stops, runs out of tokens, or reaches the call bound;
 * the answer is then generated under the output grammar, continuing the same model response.
 *
 * `toolChoice: required` forces the first turn to be a call; the call is still bounded by the worker's
 * `maxTokens`, and one cut off there (arguments longer than the budget) ends the phase without a call, so the
 * subtask answers rather than looping: size `maxTokens` for the longest arguments the tools accept.
 */
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse, ChatWrapper } from "node-llama-cpp";
import type { ToolCallContext, ToolCallResult } from "../types.js";
import { type GeneratedCall, type Generation, generateTurn } from "./generate.js";
import type { SequenceLease } from "./ModelManager.js";
import { ToolChatWrapper } from "./ToolChatWrapper.js";
import type { WorkerTools } from "./workerTools.js";

/** Default bound on tool calls in one subtask. */
export const DEFAULT_MAX_TOOL_CALLS = 8;

/** How one tool phase runs. */
export interface ToolPhaseOptions {
  readonly tools: WorkerTools;
  /** `required`: the first turn is forced to be a call. */
  readonly toolChoice: "auto" | "required";
  /** Most calls run in the phase; calls beyond it are answered with a refusal, and the phase ends. */
  readonly maxCalls: number;
  /** The model's own chat wrapper (wrapped here to document and, when required, force calls). */
  readonly chatWrapper: ChatWrapper;
  /** Signal, event sink, subtask and worker of the calls. */
  readonly call: ToolCallContext;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed?: number;
  /** Receives every generation of the phase, for the usage ledger. */
  readonly onGeneration: (generation: Generation) => void;
}

/** What a tool phase leaves for the answer. */
export interface ToolPhaseResult {
  /** The conversation with the calls and their results in the final model response. */
  readonly history: ChatHistoryItem[];
  /** Tool calls run (through the registry). */
  readonly calls: number;
}

function limitResult(maxCalls: number): ToolCallResult {
  return {
    ok: false,
    reason: "denied",
    error: `this subtask may call tools at most ${maxCalls} times; give your answer now`,
  };
}

/** The history with `items` appended to its final model response (started when there is none). */
function appendToResponse(
  history: readonly ChatHistoryItem[],
  items: readonly ChatModelFunctionCall[],
): ChatHistoryItem[] {
  const last = history.at(-1);
  if (last?.type !== "model") return [...history, { type: "model", response: [...items] }];
  const response: ChatModelResponse["response"] = [...last.response, ...items];
  return [...history.slice(0, -1), { ...last, response }];
}

/**
 * Runs the tool phase (see the file comment) on `history` (system and user turns, or a model response to
 * continue). Rejects with an AbortError when the call context's signal fires — during generation or a call.
 */
export async function runToolPhase(
  lease: SequenceLease,
  history: readonly ChatHistoryItem[],
  options: ToolPhaseOptions,
): Promise<ToolPhaseResult> {
  const { tools, maxCalls, call } = options;
  let current: ChatHistoryItem[] = [...history];
  let calls = 0;
  while (calls < maxCalls) {
    const chatWrapper = new ToolChatWrapper(options.chatWrapper, {
      functions: tools.functions,
      forceCall: options.toolChoice === "required" && calls === 0,
    });
    const generation = await generateTurn(lease, current, {
      chatWrapper,
      functions: tools.functions,
      endOnText: true,
      reusePrefix: true,
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      signal: call.signal,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    options.onGeneration(generation);
    // No call: the model started answering (its text is dropped; the answer turn regenerates it under the
    // grammar from here), stopped, or ran out of tokens mid-call.
    if (generation.functionCalls.length === 0) break;
    const items: ChatModelFunctionCall[] = [];
    for (const [index, generated] of generation.functionCalls.entries()) {
      const allowed = calls < maxCalls;
      const result = allowed ? await runCall(generated, options) : limitResult(maxCalls);
      if (allowed) calls++;
      items.push({
        type: "functionCall",
        name: generated.name,
        description: tools.functions[generated.name]?.description,
        params: generated.params,
        result,
        rawCall: generated.raw,
        // Wrappers with parallel calls render each turn's calls as one section.
        startsNewChunk: index === 0,
      });
    }
    current = appendToResponse(current, items);
  }
  return { history: current, calls };
}

function runCall(generated: GeneratedCall, options: ToolPhaseOptions): Promise<ToolCallResult> {
  return options.tools.registry.call(generated.name, generated.params, options.call);
}

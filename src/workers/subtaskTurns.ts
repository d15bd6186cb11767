/**
 * The turns of one subtask on a local model: each turn is generated under a turn grammar (turnGrammar.ts) that
 * lets the model call one of its granted tools, answer, or — with `toolChoice: required`, before the first call
 * — only call. A call runs through the tool registry (which validates the arguments, emits `tool.called` /
 * `tool.result`, and turns every failure into a result), and its result joins the model's response as data for
 * the next turn. An answer is validated against the worker's output schema.
 *
 * A failed attempt — an answer the validator rejects, or a generation cut off at `maxTokens` before its call or
 * answer was complete — is an event (`subtask.repairing`) and a repair turn with the exact problems, up to
 * `retries` times; after that the subtask's outcome is `invalid-output`, which the runtime escalates. A subtask
 * never "completes" without the call it was required to make.
 *
 * Every turn must fit the worker's context (contextRoom.ts): a tool result too big for the room left is shown
 * cut (`tool.shortened`), after which the model may only answer; a repair turn that no longer fits ends the
 * attempts (`invalid-output`, with the errors and why); a first turn, or a turn after a call, that cannot fit
 * rejects with CONTEXT_TOO_SMALL and the numbers.
 */
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse, ChatWrapper } from "node-llama-cpp";
import { coalesceText } from "../deltas.js";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { type CompiledSchema, parseJsonAgainst } from "../schema/compile.js";
import type { JsonSchema, JsonValue, ToolCallContext } from "../types.js";
import { safeEmit } from "./asyncGuards.js";
import { fitCallResult, roomFor } from "./contextRoom.js";
import type { CompiledTurn } from "./GrammarCache.js";
import { type Generation, generateTurn } from "./generate.js";
import type { SequenceLease } from "./ModelManager.js";
import type { CallSyntax, TurnSpec } from "./turnGrammar.js";
import { repairPrompt } from "./workerPrompts.js";
import type { WorkerTools } from "./workerTools.js";

/** Default bound on tool calls in one subtask. */
export const DEFAULT_MAX_TOOL_CALLS = 8;

/** How one subtask's turns run. */
export interface SubtaskTurnsOptions {
  /** The granted tools and the call syntax of the model's chat wrapper; undefined: no tools. */
  readonly tools?: { readonly tools: WorkerTools; readonly syntax: CallSyntax };
  /** `required`: the first call must come before any answer. */
  readonly toolChoice: "auto" | "required";
  /** Most calls in the subtask; after them the model may only answer. */
  readonly maxCalls: number;
  /** The answer's schema and its validator. */
  readonly output: JsonSchema;
  readonly validator: CompiledSchema;
  /** Repair turns after a failed attempt. */
  readonly retries: number;
  /** The chat wrapper the history is rendered with (documenting the tools, when there are any). */
  readonly chatWrapper: ChatWrapper;
  /** Signal, event sink, subtask and worker of the calls. */
  readonly call: ToolCallContext;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed?: number;
  /** The compiled grammar of a turn (cached by the model manager). */
  readonly grammarFor: (spec: TurnSpec) => Promise<CompiledTurn>;
  /** Receives every generation, for the usage ledger. */
  readonly onGeneration: (generation: Generation) => void;
  /** Emit the generated text as `subtask.delta` events as it comes (coalesced; flushed at each turn's end). */
  readonly stream?: boolean;
}

/** How a subtask's turns ended. */
export type SubtaskTurnsResult =
  | { readonly ok: true; readonly answer: JsonValue; readonly attempts: number; readonly calls: number }
  | {
      readonly ok: false;
      readonly errors: readonly string[];
      readonly attempts: number;
      readonly calls: number;
    };

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

/** A coalescer of one turn's text into `subtask.delta` events of the call's subtask. */
function streamText(call: ToolCallContext, turn: number) {
  return coalesceText((text) =>
    safeEmit(call.emit, { type: "subtask.delta", subtaskId: call.subtaskId, text, turn }),
  );
}

/**
 * Runs a subtask's turns on `history` (system and user turns) until an answer passes validation or the
 * attempts run out (see the file comment). Rejects with an AbortError when the call context's signal fires,
 * and with whatever the tool registry throws for a call that must end the subtask.
 */
export async function runSubtaskTurns(
  lease: SequenceLease,
  history: readonly ChatHistoryItem[],
  options: SubtaskTurnsOptions,
): Promise<SubtaskTurnsResult> {
  let current: ChatHistoryItem[] = [...history];
  let calls = 0;
  let failures = 0;
  let lastErrors: readonly string[] = [];
  // Set once a result had to be cut: the context is full, so the model answers from what it has.
  let full = false;
  let turn = 0;
  for (;;) {
    const room = roomFor(lease, options.chatWrapper, current, options.maxTokens);
    if (!room.fits) {
      const rest = `and maxTokens ${options.maxTokens} do not fit its context of ${room.contextSize} tokens`;
      if (failures > 0) {
        const why = `(root): no room for another repair turn: the conversation (${room.promptTokens} tokens) ${rest}`;
        return { ok: false, errors: [...lastErrors, why], attempts: failures, calls };
      }
      const what =
        calls === 0
          ? `its prompt (${room.promptTokens} tokens: system prompt, tool descriptions and instruction) ${rest}; raise context.size, lower maxTokens or grant fewer tools`
          : `its conversation after ${calls} tool call${calls === 1 ? "" : "s"} (${room.promptTokens} tokens) ${rest}; raise context.size or lower maxTokens`;
      throw new EdgecrewError(ErrorCodes.CONTEXT_TOO_SMALL, `worker \`${options.call.worker}\`: ${what}`, {
        context: {
          worker: options.call.worker,
          promptTokens: room.promptTokens,
          maxTokens: options.maxTokens,
          contextSize: room.contextSize,
        },
      });
    }
    const canCall = options.tools !== undefined && calls < options.maxCalls && !full;
    const mustCall = canCall && options.toolChoice === "required" && calls === 0;
    const spec: TurnSpec = {
      ...(canCall && options.tools !== undefined
        ? { call: { tools: options.tools.tools.callable, syntax: options.tools.syntax } }
        : {}),
      ...(mustCall ? {} : { answer: options.output }),
      maxTokens: options.maxTokens,
    };
    const grammar = await options.grammarFor(spec);
    turn++;
    const text = options.stream === true ? streamText(options.call, turn) : undefined;
    let generation: Generation;
    try {
      generation = await generateTurn(lease, current, {
        grammar,
        chatWrapper: options.chatWrapper,
        reusePrefix: true,
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        signal: options.call.signal,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        ...(text === undefined ? {} : { onTextChunk: text.push }),
      });
    } finally {
      // What was generated is sent even when the turn failed; an aborted run's hub drops it.
      text?.flush();
    }
    options.onGeneration(generation);
    const attempt = failures + 1;
    let errors: readonly string[];
    if (generation.stopReason === "maxTokens") {
      const what = mustCall ? "the tool call" : canCall ? "the tool call or answer" : "the answer";
      errors = [
        `(root): ${what} was cut off at ${options.maxTokens} tokens before it was complete; write it more briefly`,
      ];
    } else {
      const parsed = grammar.turn.parse(generation.text);
      if (parsed.kind === "call" && options.tools !== undefined) {
        const result = await options.tools.tools.registry.call(parsed.name, parsed.params, options.call);
        calls++;
        const before = current;
        const append = (item: ChatModelFunctionCall) => appendToResponse(before, [item]);
        const call: ChatModelFunctionCall = {
          type: "functionCall",
          name: parsed.name,
          description: options.tools.tools.functions[parsed.name]?.description,
          params: parsed.params,
          result,
        };
        const fitted = fitCallResult(lease, options.chatWrapper, call, append, options.maxTokens);
        current = append({ ...call, result: fitted.result });
        if (fitted.cut !== undefined) {
          full = true;
          safeEmit(options.call.emit, {
            type: "tool.shortened",
            subtaskId: options.call.subtaskId,
            tool: parsed.name,
            ...fitted.cut,
            contextSize: lease.sequence.context.contextSize,
          });
        }
        continue;
      }
      const checked = parseJsonAgainst(options.validator, generation.text);
      if (checked.ok) return { ok: true, answer: checked.value, attempts: attempt, calls };
      errors = checked.errors;
    }
    lastErrors = errors;
    failures++;
    if (failures > options.retries) return { ok: false, errors, attempts: attempt, calls };
    safeEmit(options.call.emit, {
      type: "subtask.repairing",
      subtaskId: options.call.subtaskId,
      attempt: attempt + 1,
      errors,
    });
    current = [...generation.history, { type: "user", text: repairPrompt(errors) }];
  }
}

/**
 * A chat wrapper around the one node-llama-cpp picks for a model, for turns that have tools: the tools are
 * documented in the system message on *every* turn — the tool turns, the answer turn and the repairs — so the
 * rendered prompt is the same in every phase of a subtask and in every subtask of the worker, and the evaluated
 * prefix can be reused. What the model may write (a call in the wrapper's call syntax, an answer, or either) is
 * the turn grammar's business (turnGrammar.ts), not node-llama-cpp's function calling.
 *
 * It forwards to the wrapped instance rather than subclassing one wrapper class, so it works for every
 * template node-llama-cpp resolves (ChatML, Qwen, Llama 3, Jinja, …), not only the fixtures' ChatML.
 */
import {
  type ChatHistoryItem,
  type ChatModelFunctionCall,
  type ChatModelFunctions,
  type ChatModelResponse,
  ChatWrapper,
  type ChatWrapperGenerateContextStateOptions,
  type ChatWrapperGeneratedContextState,
  type ChatWrapperGenerateInitialHistoryOptions,
  type ChatWrapperSettings,
  type LlamaText,
} from "node-llama-cpp";

/**
 * Wraps a model's chat wrapper so that `functions` are documented on every turn (see the file comment).
 *
 * @example
 * const base = resolveChatWrapper(model);
 * const wrapper = new ToolChatWrapper(base, functions);
 * const chat = new LlamaChat({ contextSequence, chatWrapper: wrapper });
 * await chat.generateResponse(history, { grammar }); // the tools are in the system message
 */
export class ToolChatWrapper extends ChatWrapper {
  readonly wrapperName: string;
  override readonly settings: ChatWrapperSettings;
  /** The model's own wrapper, which renders everything. */
  readonly inner: ChatWrapper;
  readonly #functions: ChatModelFunctions;

  constructor(inner: ChatWrapper, functions: ChatModelFunctions) {
    super();
    this.inner = inner;
    this.wrapperName = inner.wrapperName;
    this.settings = inner.settings;
    this.#functions = functions;
  }

  override generateContextState(
    options: ChatWrapperGenerateContextStateOptions,
  ): ChatWrapperGeneratedContextState {
    return this.inner.generateContextState({ ...options, availableFunctions: this.#functions });
  }

  override generateFunctionCallsAndResults(
    functionCalls: ChatModelFunctionCall[],
    useRawCall?: boolean,
  ): LlamaText {
    return this.inner.generateFunctionCallsAndResults(functionCalls, useRawCall);
  }

  override generateFunctionCall(name: string, params: unknown): LlamaText {
    return this.inner.generateFunctionCall(name, params);
  }

  override generateFunctionCallResult(
    functionName: string,
    functionParams: unknown,
    result: unknown,
  ): LlamaText {
    return this.inner.generateFunctionCallResult(functionName, functionParams, result);
  }

  override generateModelResponseText(
    modelResponse: ChatModelResponse["response"],
    useRawValues?: boolean,
  ): LlamaText {
    return this.inner.generateModelResponseText(modelResponse, useRawValues);
  }

  override generateAvailableFunctionsSystemText(
    availableFunctions: ChatModelFunctions,
    options: { documentParams?: boolean },
  ): LlamaText {
    return this.inner.generateAvailableFunctionsSystemText(availableFunctions, options);
  }

  override addAvailableFunctionsSystemMessageToHistory(
    history: readonly ChatHistoryItem[],
    availableFunctions?: ChatModelFunctions,
    options?: { documentParams?: boolean },
  ): readonly ChatHistoryItem[] {
    return this.inner.addAvailableFunctionsSystemMessageToHistory(history, availableFunctions, options);
  }

  override generateInitialChatHistory(options?: ChatWrapperGenerateInitialHistoryOptions): ChatHistoryItem[] {
    return this.inner.generateInitialChatHistory(options);
  }
}

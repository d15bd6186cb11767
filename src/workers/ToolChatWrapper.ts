/**
 * A chat wrapper around the one node-llama-cpp picks for a model, for workers that have tools. It changes two
 * things and forwards everything else to the model's own wrapper:
 *
 * - the granted tools are documented in the system message on *every* turn — also the answer turn, where
 *   node-llama-cpp cannot offer functions next to a grammar — so the rendered prompt is the same in every phase
 *   of a subtask and in every subtask of the worker, and the evaluated prefix can be reused;
 * - with `forceCall`, a model response that holds no function call yet starts in function-calling mode: the
 *   wrapper's function-call prefix is generated for the model, which then only chooses which granted tool to
 *   call and its arguments (both under node-llama-cpp's call grammar). A random-weight model never chooses to
 *   call on its own, and small real models often answer instead of calling; this is `toolChoice: required`.
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
  type ChatWrapperGeneratedPrefixTriggersContextState,
  type ChatWrapperGenerateInitialHistoryOptions,
  type ChatWrapperSettings,
  isChatModelResponseFunctionCall,
  LlamaText,
} from "node-llama-cpp";

/** Options of {@link ToolChatWrapper}. */
export interface ToolChatWrapperOptions {
  /** The tools to document on every turn (the same set the tool turns offer as callable functions). */
  readonly functions: ChatModelFunctions;
  /** Force a function call at the start of a model response until the response holds one (default false). */
  readonly forceCall?: boolean;
}

/** Whether the model response being continued already holds a function call. */
export function responseHasCall(history: readonly ChatHistoryItem[]): boolean {
  const last = history.at(-1);
  return last?.type === "model" && last.response.some((item) => isChatModelResponseFunctionCall(item));
}

/**
 * The context state with function-calling mode engaged from the first generated token. Wrappers come in two
 * kinds: those that enter calls through prefix triggers (ChatML and most others) get a `noPrefixTrigger` of
 * type `functionCall` and no other triggers; those whose functions are "initially engaged" (Functionary) are
 * engaged with nothing that disengages them. The injected text is empty because node-llama-cpp itself puts the
 * call prefix into the context when it enters function-calling mode.
 */
function forcedCallState(state: ChatWrapperGeneratedContextState): ChatWrapperGeneratedContextState {
  if (state.functionCall !== undefined) {
    return { ...state, functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] } };
  }
  const forced: ChatWrapperGeneratedPrefixTriggersContextState = {
    contextText: state.contextText,
    stopGenerationTriggers: state.stopGenerationTriggers,
    ...(state.rerender === undefined ? {} : { rerender: state.rerender }),
    noPrefixTrigger: { type: "functionCall", inject: LlamaText([]) },
    detectFunctionCalls: true,
  };
  return forced;
}

/**
 * Wraps a model's chat wrapper to document a worker's tools on every turn and, optionally, to force a call
 * (see the file comment). Create one per model turn kind; it holds no state between turns.
 *
 * @example
 * const base = resolveChatWrapper(model);
 * const forcing = new ToolChatWrapper(base, { functions, forceCall: true });
 * const chat = new LlamaChat({ contextSequence, chatWrapper: forcing });
 * const { functionCalls } = await chat.generateResponse(history, { functions }); // always one call
 */
export class ToolChatWrapper extends ChatWrapper {
  readonly wrapperName: string;
  override readonly settings: ChatWrapperSettings;
  /** The model's own wrapper, which renders everything. */
  readonly inner: ChatWrapper;
  readonly #functions: ChatModelFunctions;
  readonly #forceCall: boolean;

  constructor(inner: ChatWrapper, options: ToolChatWrapperOptions) {
    super();
    this.inner = inner;
    this.wrapperName = inner.wrapperName;
    this.settings = inner.settings;
    this.#functions = options.functions;
    this.#forceCall = options.forceCall === true;
  }

  override generateContextState(
    options: ChatWrapperGenerateContextStateOptions,
  ): ChatWrapperGeneratedContextState {
    // node-llama-cpp passes the functions only when the turn may call them; it is the flag for forcing.
    const callable = Object.keys(options.availableFunctions ?? {}).length > 0;
    const state = this.inner.generateContextState({ ...options, availableFunctions: this.#functions });
    if (!this.#forceCall || !callable || responseHasCall(options.chatHistory)) return state;
    return forcedCallState(state);
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

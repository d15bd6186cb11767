/**
 * Creates a cloud planner model from a `provider:model` reference with LangChain's `initChatModel`, which
 * loads the provider's package on demand (`@langchain/openai` ships with edgecrew; others are installed by the
 * user). A missing provider package or API key becomes a typed error that says what to install or set.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AsyncCaller } from "@langchain/core/utils/async_caller";
import { ErrorCodes, ModelError } from "../errors.js";
import type { ModelRef } from "../types.js";

/**
 * Errors that come from the reply itself, not from the transport: the same request would fail the same way,
 * so retrying it only burns time and tokens. OpenAI's client parses `json_schema` replies inside LangChain's
 * retrying caller, so a reply that is not JSON would otherwise be re-sent six times with exponential backoff
 * (about a minute) before the planner sees it and repairs.
 */
function isDeterministicReplyError(error: unknown): boolean {
  if (error instanceof SyntaxError) return true;
  const name = error instanceof Error ? error.name : "";
  return name === "LengthFinishReasonError" || name === "ContentFilterFinishReasonError";
}

/** Reads LangChain's default retry policy (4xx other than 429 are final, rate limits wait, the rest back off). */
class LangChainRetryPolicy extends AsyncCaller {
  static readonly default = new LangChainRetryPolicy({}).onFailedAttempt;
}

/** The retry policy of planner models edgecrew creates: LangChain's, except that bad replies are not re-sent. */
export function plannerRetryPolicy(error: unknown): void {
  if (isDeterministicReplyError(error)) throw error;
  LangChainRetryPolicy.default?.(error);
}

export interface RemoteModelOptions {
  readonly temperature?: number;
  readonly maxTokens?: number;
}

/**
 * Instantiates the chat model for a remote reference.
 *
 * @example
 * const model = await createRemoteChatModel(parseModelRef("openai:gpt-4o-mini"), { temperature: 0 });
 */
export async function createRemoteChatModel(
  ref: Extract<ModelRef, { kind: "remote" }>,
  options: RemoteModelOptions = {},
): Promise<BaseChatModel> {
  const { initChatModel } = await import("langchain/chat_models/universal");
  try {
    const fields: Record<string, number> = {};
    if (options.temperature !== undefined) fields.temperature = options.temperature;
    if (options.maxTokens !== undefined) fields.maxTokens = options.maxTokens;
    return (await initChatModel(ref.model, {
      modelProvider: ref.provider,
      onFailedAttempt: plannerRetryPolicy,
      ...fields,
    })) as unknown as BaseChatModel;
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new ModelError(
      ErrorCodes.MODEL_REF_INVALID,
      `cannot create planner model "${ref.raw}": ${message}`,
      {
        cause,
        context: { model: ref.raw, provider: ref.provider },
      },
    );
  }
}

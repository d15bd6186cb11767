/**
 * Creates a cloud planner model from a `provider:model` reference with LangChain's `initChatModel`, which
 * loads the provider's package on demand (`@langchain/openai` ships with edgecrew; others are installed by the
 * user). A missing provider package or API key becomes a typed error that says what to install or set.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ErrorCodes, ModelError } from "../errors.js";
import type { ModelRef } from "../types.js";

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

/**
 * Prefix reuse across a worker's subtasks. A sequence keeps the tokens it evaluated, and node-llama-cpp
 * evaluates only what follows the longest common prefix of those tokens and the new prompt. Before a subtask,
 * the sequence is cut back to the part of that common prefix that belongs to the *worker* — its rendered
 * system prompt and tool documentation, up to where the user turn's text starts — so:
 *
 * - a worker's next subtask on the same sequence evaluates only its own user turn (the system prompt and tool
 *   descriptions, often hundreds of tokens, are evaluated once per sequence);
 * - a subtask of another worker sharing the model (another prompt) keeps only the few template tokens the two
 *   prompts share, and evaluates the rest: correct either way, since reuse is decided on tokens, not names;
 * - a subtask's own prompt is always evaluated in full, whatever ran before, so its prompt-token usage and its
 *   numerics do not depend on which subtask happened to run on the sequence last.
 */
import type { ChatHistoryItem, ChatWrapper, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";

/** Length of the common prefix of two token lists. */
export function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const limit = Math.min(a.length, b.length);
  let length = 0;
  while (length < limit && a[length] === b[length]) length++;
  return length;
}

function render(model: LlamaModel, wrapper: ChatWrapper, system: string, user: string): Token[] {
  const history: ChatHistoryItem[] = [
    { type: "system", text: system },
    { type: "user", text: user },
    { type: "model", response: [] },
  ];
  return wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer);
}

/**
 * The tokens every subtask of a worker starts with: the template rendered with the worker's system prompt (and,
 * through a ToolChatWrapper, its tool documentation), up to where the user's text begins. Found by rendering two
 * user texts that differ in their first character and keeping what the two token lists share, so it holds for
 * any chat template without knowing its markup.
 */
export function workerPrefixTokens(model: LlamaModel, wrapper: ChatWrapper, system: string): Token[] {
  const first = render(model, wrapper, system, "A");
  const second = render(model, wrapper, system, "B");
  return first.slice(0, commonPrefixLength(first, second));
}

/**
 * Cuts the sequence back to the part of the worker's prefix it already holds (see the file comment) and
 * returns how many tokens were kept: those the coming generation will not evaluate again.
 */
export async function keepWorkerPrefix(
  sequence: LlamaContextSequence,
  prefix: readonly Token[],
): Promise<number> {
  const kept = commonPrefixLength(sequence.contextTokens, prefix);
  if (kept < sequence.nextTokenIndex) {
    await sequence.eraseContextTokenRanges([{ start: kept, end: sequence.nextTokenIndex }]);
  }
  return kept;
}

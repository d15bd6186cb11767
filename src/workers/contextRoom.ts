/**
 * Room in a worker's context. A subtask's conversation grows with each tool result and repair turn, and
 * node-llama-cpp, once the history and the next generation no longer fit, fails mid-way with "Failed to compress
 * chat history for context shift". edgecrew measures instead, with the model's own template and tokenizer:
 *
 * - a turn whose history and `maxTokens` do not fit is never started (`roomFor` says so, with the numbers);
 * - a tool result bigger than the room left is shown to the model cut to fit (`fitCallResult`): the beginning
 *   of the value in document order, still JSON, with a note saying how much was left out. The run's record
 *   (`tool.result`) keeps the whole result; a `tool.shortened` event says what the model saw.
 */
import type { ChatHistoryItem, ChatModelFunctionCall, ChatWrapper } from "node-llama-cpp";
import type { JsonValue } from "../types.js";
import type { SequenceLease } from "./ModelManager.js";

/** The prompt a history renders to for the next model turn, in tokens. */
export function promptTokens(
  lease: SequenceLease,
  chatWrapper: ChatWrapper,
  history: readonly ChatHistoryItem[],
): number {
  const next: ChatHistoryItem[] =
    history.at(-1)?.type === "model" ? [...history] : [...history, { type: "model", response: [] }];
  const rendered = chatWrapper.generateContextState({ chatHistory: next });
  return rendered.contextText.tokenize(lease.model.tokenizer).length;
}

/** Whether a turn on `history` with up to `maxTokens` fits the context, with the numbers either way. */
export interface Room {
  readonly fits: boolean;
  readonly promptTokens: number;
  readonly contextSize: number;
}

export function roomFor(
  lease: SequenceLease,
  chatWrapper: ChatWrapper,
  history: readonly ChatHistoryItem[],
  maxTokens: number,
): Room {
  const tokens = promptTokens(lease, chatWrapper, history);
  const contextSize = lease.sequence.context.contextSize;
  return { fits: tokens + maxTokens <= contextSize, promptTokens: tokens, contextSize };
}

/** A call result as shown to the model, and how much of it was left out. */
export interface FittedResult {
  readonly result: JsonValue;
  /** Set when the result was cut: characters of its JSON text shown and in all. */
  readonly cut?: { readonly shownCharacters: number; readonly totalCharacters: number };
}

const MORE = "…";
/** Characters kept back for the note that closes a cut array or object. */
const NOTE = 32;

/** A prefix of a value: what is kept, about how many characters of JSON it takes, and whether it is all of it. */
interface Prefix {
  readonly value: JsonValue;
  readonly used: number;
  readonly whole: boolean;
}

function more(left: number, what: string): string {
  return `${MORE} ${left} more ${what}${left === 1 ? "" : "s"}`;
}

/**
 * The beginning of `value` in document order within about `budget` characters of JSON text, still a JSON value:
 * a string is cut between characters and ends with "…", an array keeps its first items and then an item saying
 * how many more there were, an object its first members and then a `"…"` member saying the same.
 *
 * @example
 * prefixOfValue({ a: "abcdefgh", b: [1, 2] }, 12).value; // { a: "abc…", "…": "… 1 more member" }
 */
export function prefixOfValue(value: JsonValue, budget: number): Prefix {
  if (typeof value === "string") {
    const whole = JSON.stringify(value).length;
    if (whole <= budget) return { value, used: whole, whole: true };
    let end = 0;
    let used = 2 + MORE.length;
    for (const char of value) {
      // Escapes make a character cost up to 6.
      const cost = JSON.stringify(char).length - 2;
      if (used + cost > budget) break;
      used += cost;
      end += char.length;
    }
    return { value: `${value.slice(0, end)}${MORE}`, used, whole: false };
  }
  const size = JSON.stringify(value).length;
  if (size <= budget || value === null || typeof value !== "object") {
    return { value, used: size, whole: size <= budget };
  }
  const array = Array.isArray(value);
  const entries: [string, JsonValue][] = array
    ? value.map((item, i) => [String(i), item])
    : Object.entries(value);
  const items: JsonValue[] = [];
  const members: Record<string, JsonValue> = {};
  let used = 2;
  let cutAt: number | undefined;
  for (const [index, [key, item]] of entries.entries()) {
    const head = (index > 0 ? 1 : 0) + (array ? 0 : JSON.stringify(key).length + 1);
    const room = budget - used - head - (index < entries.length - 1 ? NOTE : 0);
    const part = room > 0 ? prefixOfValue(item, room) : undefined;
    if (part === undefined || part.used > room) {
      cutAt = index;
      break;
    }
    if (array) items.push(part.value);
    else members[key] = part.value;
    used += head + part.used;
    if (!part.whole) {
      cutAt = index + 1;
      break;
    }
  }
  if (cutAt === undefined) return { value: array ? items : members, used, whole: true };
  const left = entries.length - cutAt;
  if (left > 0) {
    const note = more(left, array ? "item" : "member");
    if (array) items.push(note);
    else members[MORE] = note;
    used += NOTE;
  }
  return { value: array ? items : members, used, whole: false };
}

/**
 * `call`'s result (already in `call.result`) as it can be shown to the model: whole when `history` with it
 * appended (`append`) leaves room for a turn of `maxTokens`, else the longest beginning of it that does, found by
 * bisection on its JSON length, with a `cut` note naming the sizes. A result that cannot fit even empty comes
 * back as the note alone; the next turn's room check then ends the subtask with the numbers.
 */
export function fitCallResult(
  lease: SequenceLease,
  chatWrapper: ChatWrapper,
  call: ChatModelFunctionCall,
  append: (call: ChatModelFunctionCall) => ChatHistoryItem[],
  maxTokens: number,
): FittedResult {
  const whole = call.result as JsonValue;
  if (roomFor(lease, chatWrapper, append(call), maxTokens).fits) return { result: whole };
  const total = JSON.stringify(whole).length;
  const contextSize = lease.sequence.context.contextSize;
  const shown = (budget: number) => {
    const part = prefixOfValue(whole, budget);
    const shownCharacters = Math.min(total, JSON.stringify(part.value).length);
    const result: JsonValue = {
      shown: part.value,
      cut: `the result has ${total} characters; this worker's context (${contextSize} tokens) holds the first ${shownCharacters}. Ask for less, or answer from what is shown.`,
    };
    return { result, shownCharacters };
  };
  const fits = (budget: number) =>
    roomFor(lease, chatWrapper, append({ ...call, result: shown(budget).result }), maxTokens).fits;
  let low = 0;
  let high = total;
  if (!fits(low)) {
    const note = shown(0);
    return { result: note.result, cut: { shownCharacters: 0, totalCharacters: total } };
  }
  while (high - low > Math.max(8, Math.floor(total / 4096))) {
    const middle = Math.floor((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle;
  }
  const best = shown(low);
  return { result: best.result, cut: { shownCharacters: best.shownCharacters, totalCharacters: total } };
}

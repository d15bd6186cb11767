/**
 * Bridges a generation that reports its text through a callback (node-llama-cpp's `onTextChunk`) to an async
 * iterator, for {@link ChatNodeLlamaCpp}'s streaming. node-llama-cpp pushes text while it generates; LangChain
 * pulls chunks. Text is queued until the consumer asks for it (the queue never outgrows one response), and a
 * consumer that stops early — `break` out of `for await`, or an error downstream — stops the generation, so
 * the borrowed sequence is released rather than left generating for nobody.
 */
import { AbortError } from "../errors.js";

/** What the stream yields: text as it is generated, then the generation's result once, last. */
export type StreamItem<T> =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "done"; readonly result: T };

/**
 * Runs `run` and yields its text chunks as they come, then `{ type: "done", result }`. `run` gets the callback
 * for its text and the signal it must honour: the caller's `signal`, or the stream's own when the consumer
 * stops. Rejections of `run` (an AbortError when `signal` fires) are thrown from the iteration once the text
 * before them has been yielded.
 *
 * @example
 * for await (const item of textStream((onText, signal) => generateTurn(lease, history, { …, onTextChunk: onText, signal }), options.signal)) {
 *   if (item.type === "text") process.stdout.write(item.text);
 * }
 */
export async function* textStream<T>(
  run: (onText: (text: string) => void, signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): AsyncGenerator<StreamItem<T>, void, undefined> {
  const stopped = new AbortController();
  const combined = signal === undefined ? stopped.signal : AbortSignal.any([signal, stopped.signal]);
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const result = run((text) => {
    if (text === "") return;
    queue.push(text);
    notify();
  }, combined);
  const settle = (): void => {
    settled = true;
    notify();
  };
  result.then(settle, settle);
  try {
    for (;;) {
      const text = queue.shift();
      if (text !== undefined) {
        yield { type: "text", text };
        continue;
      }
      if (settled) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    yield { type: "done", result: await result };
  } finally {
    if (!settled) {
      stopped.abort(new AbortError("the stream's consumer stopped reading"));
      await result.catch(() => undefined);
    }
  }
}

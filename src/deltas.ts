/**
 * Coalescing of streamed text into `*.delta` events (`subtask.delta`, `planner.delta`). A model releases text
 * about a token at a time; one event per token would flood a run's event stream (and every listener, the
 * redaction transform and the live view with it), so pieces are gathered and handed on at most once per
 * `intervalMs`, sooner when `maxChars` have gathered, and whenever the caller flushes (at the end of each turn).
 * No timer: a piece that arrives after the interval sends what has gathered at once, and the end-of-turn flush
 * sends the rest, so nothing is left behind and nothing needs disposing. Pure: used by planner/ and workers/.
 */

/** Options of {@link coalesceText}. */
export interface CoalesceOptions {
  /** Least time between two deliveries (default 50 ms); the first piece is delivered at once. */
  readonly intervalMs?: number;
  /** Deliver as soon as this many characters have gathered, whatever the time (default 256). */
  readonly maxChars?: number;
  /** The clock (default `performance.now`). */
  readonly now?: () => number;
}

/** Gathers text pieces and hands them on coalesced (see the file comment). */
export interface TextCoalescer {
  /** Adds a piece; may deliver what has gathered. An empty piece is ignored. */
  push(text: string): void;
  /** Delivers what has gathered, if anything (the end of a turn). */
  flush(): void;
}

/** Default least time between two deltas of one stream, in milliseconds. */
export const DELTA_INTERVAL_MS = 50;
/** Default most characters gathered before a delta is sent regardless of time. */
export const DELTA_MAX_CHARS = 256;

/**
 * A coalescer that hands gathered text to `deliver` (see the file comment). `deliver` is called synchronously
 * from `push` / `flush` with a non-empty string.
 *
 * @example
 * const text = coalesceText((piece) => emit({ type: "planner.delta", text: piece }));
 * await generate({ onTextChunk: text.push });
 * text.flush();
 */
export function coalesceText(deliver: (text: string) => void, options: CoalesceOptions = {}): TextCoalescer {
  const intervalMs = options.intervalMs ?? DELTA_INTERVAL_MS;
  const maxChars = Math.max(1, options.maxChars ?? DELTA_MAX_CHARS);
  const now = options.now ?? (() => performance.now());
  let gathered = "";
  let last = Number.NEGATIVE_INFINITY;
  const flush = (): void => {
    if (gathered === "") return;
    const text = gathered;
    gathered = "";
    last = now();
    deliver(text);
  };
  return {
    push(text: string): void {
      if (text === "") return;
      gathered += text;
      if (gathered.length >= maxChars || now() - last >= intervalMs) flush();
    },
    flush,
  };
}

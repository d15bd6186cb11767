/**
 * Runs one tool function under a deadline and the run's cancellation. The two endings differ on purpose: a
 * timeout is the tool's problem, reported to the model as data (`timeout`) so it can try something else; a
 * cancelled run is everyone's problem, so the call rejects with an AbortError and the subtask stops. Either way
 * the tool's own signal is aborted, and the caller does not wait for a tool that ignores it.
 */
import { abortErrorFor, throwIfAborted } from "../errors.js";

/** How a limited run ended: the tool's value, its error, or the deadline. */
export type LimitedOutcome<T> =
  | { readonly kind: "value"; readonly value: T }
  | { readonly kind: "error"; readonly error: unknown }
  | { readonly kind: "timeout" };

/**
 * Calls `work` with a signal that aborts after `timeoutMs` or when `signal` aborts. Resolves with what
 * happened; rejects only with an AbortError when `signal` aborts (before or during the call).
 *
 * @example
 * const outcome = await runWithLimits((s) => fetch(url, { signal: s }), { signal, timeoutMs: 5_000 });
 * if (outcome.kind === "timeout") return { ok: false, reason: "timeout", error: "took over 5 s" };
 */
export async function runWithLimits<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: { readonly signal: AbortSignal; readonly timeoutMs: number },
): Promise<LimitedOutcome<T>> {
  const { signal, timeoutMs } = options;
  throwIfAborted(signal);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;

  const deadline = new Promise<LimitedOutcome<T>>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`the tool call timed out after ${timeoutMs} ms`));
      resolve({ kind: "timeout" });
    }, timeoutMs);
  });
  const cancelled = new Promise<never>((_, reject) => {
    onAbort = () => {
      controller.abort(signal.reason);
      reject(abortErrorFor(signal, "the tool call"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  // Started after the listeners exist, so an abort that happens while `work` starts is not missed; wrapped so
  // that a synchronous throw becomes an outcome like any other failure.
  const running = (async (): Promise<LimitedOutcome<T>> => {
    try {
      return { kind: "value", value: await work(controller.signal) };
    } catch (error) {
      return { kind: "error", error };
    }
  })();

  try {
    return await Promise.race([running, deadline, cancelled]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    // Whatever won, the tool must stop: a finished tool ignores this, a runaway one is told to quit.
    if (!controller.signal.aborted) controller.abort(new Error("the tool call is over"));
  }
}

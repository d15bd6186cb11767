/**
 * Small guards for the asynchronous edges of llama.cpp: waiting abortably, bounding a disposal that may never
 * settle (measured: after a failed `createContext`, `model.dispose()` once never resolved), and calling user
 * callbacks so that they cannot break the caller.
 */
import { AbortError } from "../errors.js";
import type { RunEventInput } from "../types.js";

/** The AbortError for a fired signal, keeping its reason as the cause. */
export function abortErrorFor(signal: AbortSignal, what = "the operation"): AbortError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error && reason.message !== "" ? `: ${reason.message}` : "";
  return new AbortError(`${what} was aborted${detail}`, { cause: reason });
}

/**
 * Waits for a promise, or rejects with an AbortError as soon as the signal fires. The promise itself keeps
 * running (callers clean up after it where that matters).
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what?: string,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortErrorFor(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortErrorFor(signal, what));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Waits for a promise to settle, but at most `ms` milliseconds; never rejects. Returns whether it settled in
 * time. Used for every disposal so that `dispose()` itself always finishes.
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls an event callback, swallowing whatever it throws: a listener must not break a run. */
export function safeEmit(emit: ((event: RunEventInput) => void) | undefined, event: RunEventInput): void {
  if (emit === undefined) return;
  try {
    emit(event);
  } catch {
    // Listener errors are the listener's problem; the model lifecycle goes on.
  }
}

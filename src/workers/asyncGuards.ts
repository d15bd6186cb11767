/**
 * Small guards for the asynchronous edges of llama.cpp: waiting abortably, bounding a disposal that may never
 * settle (measured: after a failed `createContext`, `model.dispose()` once never resolved), and calling user
 * callbacks so that they cannot break the caller.
 */
import type { RunEventInput } from "../types.js";

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

/**
 * Waits `ms`, or less when `signal` fires first; never rejects. The fleet's retry loops use it to wait out a hub
 * that is away, and stop waiting as soon as their caller gives up.
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

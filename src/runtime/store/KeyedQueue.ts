/**
 * Runs async tasks one after another per key, and tasks of different keys independently. The file store uses
 * one key per file (or per run, for writes that read before they write) so that two concurrent appends can never
 * interleave their bytes and a read-check-write sequence never races another write to the same run.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` once every task queued earlier under `key` has settled (whether it resolved or rejected), and
   * resolves or rejects as `task` does. A failing task does not block the ones queued after it.
   *
   * @example
   * const queue = new KeyedQueue();
   * await Promise.all([queue.run("a", first), queue.run("a", second)]); // second starts after first settles
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(() => task());
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    // Forget a key once its queue drains, so a long-lived store does not keep one entry per run forever.
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Number of keys with queued or running tasks (for tests and diagnostics). */
  get activeKeys(): number {
    return this.#tails.size;
  }
}

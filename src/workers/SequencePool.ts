/**
 * The sequences of one context, lent to one caller at a time. A context has a fixed number of sequences
 * (parallel generations); when all are busy, borrowers wait in order, abortably, and a returned sequence goes
 * straight to the next waiter. An embedding context is lent the same way, as its own one "sequence".
 */

import type { LlamaContextSequence } from "node-llama-cpp";
import { abortErrorFor } from "../errors.js";

interface Waiter<S> {
  readonly resolve: (sequence: S) => void;
  readonly reject: (error: unknown) => void;
}

/** What a pool lends from: a llama.cpp context (its sequences), or anything shaped like one. */
export interface SequenceSource<S> {
  readonly totalSequences: number;
  readonly sequencesLeft: number;
  getSequence(): S;
}

/** Lends a context's sequences (see the file comment). */
export class SequencePool<S extends { readonly disposed: boolean } = LlamaContextSequence> {
  readonly #context: SequenceSource<S>;
  readonly #free: S[] = [];
  readonly #busy = new Set<S>();
  readonly #waiters: Waiter<S>[] = [];
  readonly #idle: Array<() => void> = [];
  #draining = false;
  #closed: { readonly error: unknown } | undefined;

  constructor(context: SequenceSource<S>) {
    this.#context = context;
  }

  /** Sequences the context has in all. */
  get size(): number {
    return this.#context.totalSequences;
  }

  /** Sequences lent out now. */
  get busy(): number {
    return this.#busy.size;
  }

  /**
   * Borrows a sequence: a returned one, a new one while the context has sequences left, or the next one
   * returned (waiting; rejects with an AbortError when the signal fires first).
   */
  take(signal?: AbortSignal): Promise<S> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed.error);
    const ready =
      this.#free.pop() ?? (this.#context.sequencesLeft > 0 ? this.#context.getSequence() : undefined);
    if (ready !== undefined) {
      this.#busy.add(ready);
      return Promise.resolve(ready);
    }
    if (signal?.aborted) return Promise.reject(abortErrorFor(signal, "waiting for a sequence"));
    return new Promise<S>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(abortErrorFor(signal as AbortSignal, "waiting for a sequence"));
      };
      const waiter: Waiter<S> = {
        resolve: (sequence) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(sequence);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Returns a borrowed sequence: to the next waiter, else to the free list (unless draining). */
  give(sequence: S): void {
    if (!this.#busy.delete(sequence)) return;
    if (!sequence.disposed) {
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) {
        this.#busy.add(sequence);
        waiter.resolve(sequence);
        return;
      }
      if (!this.#draining) this.#free.push(sequence);
    }
    if (this.#busy.size === 0) for (const idle of this.#idle.splice(0)) idle();
  }

  /**
   * Stops lending free sequences and resolves once none is busy (waiters already queued are still served).
   * Used before the context is disposed.
   */
  drain(): Promise<void> {
    this.#draining = true;
    this.#free.length = 0;
    if (this.#busy.size === 0 && this.#waiters.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Rejects every waiter (and every later `take`) with `error`, and releases anyone waiting for the drain. */
  close(error: unknown): void {
    this.#closed = { error };
    this.#draining = true;
    this.#free.length = 0;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    for (const idle of this.#idle.splice(0)) idle();
  }
}

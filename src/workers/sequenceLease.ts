/**
 * The lease the model manager hands out for one borrowed sequence: what a generation needs (the sequence, its
 * model, the `Llama`) and an idempotent release that returns the sequence to its pool. Releasing twice, or
 * after the manager was disposed, is harmless.
 */
import type { LlamaContextSequence } from "node-llama-cpp";
import type { LocalModelRef } from "../types.js";
import type { LoadedChatModel } from "./budgetedLoad.js";
import type { SequenceLease } from "./modelManagerTypes.js";

/** What a lease is made of. */
export interface LeaseParts {
  readonly ref: LocalModelRef;
  readonly loaded: LoadedChatModel;
  readonly sequence: LlamaContextSequence;
  /** Milliseconds this acquire spent loading the model; 0 when it was already resident. */
  readonly loadMs: number;
  /** Called once, after the sequence is back in its pool (the manager updates last use and the budget). */
  readonly onRelease: () => void;
}

/** Builds a {@link SequenceLease} whose `release()` (and `[Symbol.dispose]`) gives the sequence back once. */
export function leaseSequence(parts: LeaseParts): SequenceLease {
  const { ref, loaded, sequence } = parts;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    loaded.pool.give(sequence);
    parts.onRelease();
  };
  return {
    ref,
    llama: loaded.model.llama,
    model: loaded.model,
    sequence,
    loadMs: parts.loadMs,
    randomWeights: ref.kind === "fixture" || loaded.info.isFixture,
    release,
    [Symbol.dispose]: release,
  };
}

/**
 * The model manager's bookkeeping of `device.memory`: reservations for loads in progress, and the wait for room
 * when the only way to make it is for busy models to become idle. The decisions themselves are
 * {@link planRoom}'s; this class applies them at the right moments. A reservation is taken in the same
 * synchronous step as the plan that allowed it, so two concurrent loads can never both count the same free
 * bytes.
 */
import { abortErrorFor, ErrorCodes, ModelError } from "../errors.js";
import { formatBytes } from "./formatBytes.js";
import { type EvictionCandidate, planRoom } from "./memoryPolicy.js";

/** Bytes held for a load in progress, until it becomes a resident model or fails. */
export interface Reservation {
  readonly bytes: number;
  /** Gives the bytes back (idempotent): on failure, or at the moment the loaded model is counted instead. */
  release(): void;
}

/** What the budget needs to know about the manager's resident models, at the moment it decides. */
export interface ResidentSnapshot {
  /** Loaded models that may be evicted once idle. */
  readonly resident: readonly EvictionCandidate[];
  /** Bytes of models still allocated but already on their way out (being unloaded). */
  readonly unloadingBytes: number;
}

/** What a load asks for room. */
export interface RoomOptions {
  /** The model's key, for the error message. */
  readonly model: string;
  readonly bytes: number;
  /** Reads the manager's state; called again after every wait. */
  readonly snapshot: () => ResidentSnapshot;
  /** Starts unloading the given models (removing them from the manager at once); resolves when freed. */
  readonly evict: (keys: readonly string[]) => Promise<void>;
  readonly signal: AbortSignal;
}

/** Reservations and waiters under one budget (see the file comment). */
export class MemoryBudget {
  /** The budget in bytes. */
  readonly budgetBytes: number;
  readonly #reservations = new Set<Reservation>();
  #waiters: Array<() => void> = [];

  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
  }

  /** Bytes reserved by loads in progress. */
  get reservedBytes(): number {
    let total = 0;
    for (const reservation of this.#reservations) total += reservation.bytes;
    return total;
  }

  /**
   * Throws a ModelError MEMORY_BUDGET_EXCEEDED when `bytes` exceed the whole budget, naming the model, its
   * estimate and the budget: such a model can never load, so it fails before anything waits or is evicted.
   * `lowerBound`: the estimate is only a floor (see `estimateModelMemory`), and the message says so.
   */
  assertFits(model: string, bytes: number, lowerBound = false): void {
    if (bytes <= this.budgetBytes) return;
    const amount = lowerBound ? `at least ${formatBytes(bytes)}` : `an estimated ${formatBytes(bytes)}`;
    throw new ModelError(
      ErrorCodes.MEMORY_BUDGET_EXCEEDED,
      `${model} needs ${amount} (model and context), more than device.memory ${formatBytes(this.budgetBytes)} allows`,
      { context: { model, estimatedBytes: bytes, budgetBytes: this.budgetBytes } },
    );
  }

  /**
   * Makes room for a load and reserves it: evicts least-recently-used idle models as {@link planRoom} says, or
   * waits (abortably) until something changes — a model becomes idle, a load finishes or fails, an unload
   * completes — and plans again. Resolves once the evicted models are freed, with the reservation to release
   * when the load ends. Throws MEMORY_BUDGET_EXCEEDED when the model exceeds the budget alone, an AbortError
   * when the signal fires.
   */
  async reserve(options: RoomOptions): Promise<Reservation> {
    this.assertFits(options.model, options.bytes);
    for (;;) {
      if (options.signal.aborted)
        throw abortErrorFor(options.signal, `waiting for memory for ${options.model}`);
      const { resident, unloadingBytes } = options.snapshot();
      const plan = planRoom({
        budgetBytes: this.budgetBytes,
        needBytes: options.bytes,
        resident,
        pendingBytes: unloadingBytes + this.reservedBytes,
      });
      if (plan.kind === "load") {
        const reservation = this.#reserve(options.bytes);
        try {
          if (plan.evict.length > 0) await options.evict(plan.evict);
        } catch (error) {
          reservation.release();
          throw error;
        }
        return reservation;
      }
      // "never" cannot happen here (assertFits ran), so this is "wait".
      await this.#changed(options.signal, options.model);
    }
  }

  /** Wakes every load waiting for room, to plan again: call whenever a model may have become evictable or freed. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #reserve(bytes: number): Reservation {
    let released = false;
    const reservation: Reservation = {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.#reservations.delete(reservation);
        this.notify();
      },
    };
    this.#reservations.add(reservation);
    return reservation;
  }

  #changed(signal: AbortSignal, model: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== wake);
        reject(abortErrorFor(signal, `waiting for memory for ${model}`));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(wake);
    });
  }
}

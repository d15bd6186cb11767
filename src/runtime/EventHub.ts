/**
 * The event stream of one run. Ports emit bare events; the hub stamps them (run id, sequence number, time),
 * keeps them in order, calls listeners (a throwing listener is reported, never allowed to break the run) and
 * serves any number of async iterators, each of which sees every event from the start and ends with the run.
 */
import type { RunEvent, RunEventInput } from "../types.js";

/**
 * Whether an event is transient: the opt-in streamed text (`subtask.delta`, `planner.delta`, any `*.delta`). The
 * hub delivers it like any other, but it is not part of the run's record: the run store never writes it, and it
 * takes no sequence number of its own (it repeats the `seq` of the event before it), so the stored events stay
 * numbered without gaps and a resumed run continues that numbering.
 */
export function isTransientEvent(event: { readonly type: string }): boolean {
  return event.type.endsWith(".delta");
}

/** A callback that receives every event of a run. */
export type RunEventListener = (event: RunEvent) => void;

export class EventHub {
  readonly #runId: string;
  readonly #clock: () => number;
  readonly #log: RunEvent[] = [];
  readonly #listeners = new Set<RunEventListener>();
  readonly #onListenerError: (error: unknown, event: RunEvent) => void;
  readonly #firstSeq: number;
  readonly #transform: (event: RunEventInput) => RunEventInput;
  /** Events recorded so far that are not transient: what the next sequence number counts. */
  #numbered = 0;
  #closed = false;
  #wake: (() => void) | undefined;
  #changed: Promise<void>;

  constructor(
    runId: string,
    options: {
      clock?: () => number;
      onListenerError?: ((error: unknown, event: RunEvent) => void) | undefined;
      /** Sequence number of the first event (a resumed run continues its stored numbering). */
      firstSeq?: number;
      /** Applied to every event before it is recorded and delivered (secret redaction). */
      transform?: (event: RunEventInput) => RunEventInput;
    } = {},
  ) {
    this.#runId = runId;
    this.#firstSeq = options.firstSeq ?? 1;
    this.#transform = options.transform ?? ((event) => event);
    this.#clock = options.clock ?? Date.now;
    this.#onListenerError = options.onListenerError ?? (() => {});
    this.#changed = this.#nextChange();
  }

  #nextChange(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#changed = this.#nextChange();
    wake?.();
  }

  /** Every event so far, in order. */
  get events(): readonly RunEvent[] {
    return this.#log;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stamps and records an event, then delivers it. Events after `close()` are dropped. A transient event (see
   * {@link isTransientEvent}) repeats the sequence number of the event before it.
   */
  emit(input: RunEventInput): RunEvent | undefined {
    if (this.#closed) return undefined;
    const transient = isTransientEvent(input);
    const event = {
      ...this.#transform(input),
      runId: this.#runId,
      seq: this.#firstSeq + this.#numbered - (transient ? 1 : 0),
      at: this.#clock(),
    } as RunEvent;
    if (!transient) this.#numbered++;
    this.#log.push(event);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
    this.#notify();
    return event;
  }

  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: RunEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends the stream: iterators finish once they have delivered every recorded event. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
  }

  /** An async iterable over all events, from the first; it completes when the hub is closed. */
  iterate(): AsyncIterable<RunEvent> {
    return {
      [Symbol.asyncIterator]: async function* (this: EventHub) {
        let index = 0;
        while (true) {
          while (index < this.#log.length) {
            const event = this.#log[index++];
            if (event !== undefined) yield event;
          }
          if (this.#closed) return;
          await this.#changed;
        }
      }.bind(this),
    };
  }
}

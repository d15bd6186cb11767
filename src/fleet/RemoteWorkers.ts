/**
 * The worker port of a fleet: each subtask becomes a job on the hub (protocol.ts), run by a device that serves its
 * worker (`edgecrew device`). The runtime does not know the difference: it gets a WorkerOutcome, as from local
 * workers, with the device's name on it.
 *
 * Exactly-once effect over at-least-once delivery: the job key is (run, plan revision, subtask, attempt); a result
 * already stored under it is taken as it is (a resumed orchestrator, or a job that finished while it was down),
 * a re-published job within the hub's duplicate window is the same job, and a job that was consumed without a
 * result (cancelled) is published again under the next attempt. The answer is validated here again against the
 * orchestrator's own schema of the worker: a device is another machine.
 */
import {
  DisposedError,
  EdgecrewError,
  ErrorCodes,
  errorFromInfo,
  isEdgecrewError,
  throwIfAborted,
} from "../errors.js";
import { compileSchema } from "../schema/index.js";
import type {
  AgentDefinition,
  CallContext,
  RunEventInput,
  SubtaskRequest,
  WorkerOutcome,
  WorkerPort,
} from "../types.js";
import type { Hub } from "./hub.js";
import { pause } from "./pause.js";
import {
  cancelSubject,
  consumerName,
  type DeviceInfo,
  decodeJobEvent,
  decodeResult,
  doneSubject,
  encode,
  eventsSubject,
  type Job,
  type JobResult,
  jobKey,
  PROTOCOL_VERSION,
  SUBTASK_STREAM,
  subtaskSubject,
} from "./protocol.js";
import { DeviceRegistry } from "./registry.js";

/** Options of {@link RemoteWorkers}. */
export interface RemoteWorkersOptions {
  /** The open hub; the port owns it from now on and closes it on dispose. */
  readonly hub: Hub;
  readonly agent: AgentDefinition;
  /** How long a device may stay silent on a job before the hub redelivers it (default: the agent's fleet setting). */
  readonly ackWaitSeconds?: number;
  /** How long a job waits for a live device that serves its worker (default: the agent's fleet setting). */
  readonly deviceWaitSeconds?: number;
  /** How often the device registry and a job's result are read when no notification came (default 1000 ms). */
  readonly pollMs?: number;
  /** Local clock (ms), for liveness. */
  readonly clock?: () => number;
}

export class RemoteWorkers implements WorkerPort {
  readonly #hub: Hub;
  readonly #agent: AgentDefinition;
  readonly #ackWaitSeconds: number;
  readonly #deviceWaitMs: number;
  readonly #pollMs: number;
  readonly #clock: () => number;
  readonly #registry: DeviceRegistry;
  readonly #inFlight = new Set<AbortController>();
  readonly #consumers = new Map<string, Promise<void>>();
  #disposing: Promise<void> | undefined;

  constructor(options: RemoteWorkersOptions) {
    this.#hub = options.hub;
    this.#agent = options.agent;
    this.#ackWaitSeconds = options.ackWaitSeconds ?? options.agent.fleet?.ackWaitSeconds ?? 30;
    this.#deviceWaitMs = (options.deviceWaitSeconds ?? options.agent.fleet?.deviceWaitSeconds ?? 60) * 1000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#clock = options.clock ?? Date.now;
    this.#registry = new DeviceRegistry(options.hub.devices, {
      pollMs: this.#pollMs,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }

  /** The live devices that serve `worker` of this agent, as last read from the registry. */
  devicesFor(worker: string): DeviceInfo[] {
    return this.#registry.live({ agent: this.#agent.name, worker });
  }

  isResident(worker: string): boolean {
    return this.#registry.residentElsewhere(this.#agent.name, worker);
  }

  async execute(request: SubtaskRequest, context: CallContext): Promise<WorkerOutcome> {
    if (this.#disposing !== undefined) throw new DisposedError("RemoteWorkers");
    throwIfAborted(context.signal);
    const controller = new AbortController();
    const signal = AbortSignal.any([context.signal, controller.signal]);
    this.#inFlight.add(controller);
    try {
      return await this.#run(request, { ...context, signal });
    } finally {
      this.#inFlight.delete(controller);
    }
  }

  async #run(request: SubtaskRequest, context: CallContext): Promise<WorkerOutcome> {
    const { signal } = context;
    const worker = request.subtask.worker;
    const revision = request.revision ?? 0;
    await this.#consumer(worker);
    // Attempts count from 1 in every process: a resumed orchestrator finds what the one before it stored.
    for (let attempt = 1; ; attempt++) {
      const key = jobKey(request.runId, revision, request.subtask.id, attempt);
      const stored = await this.#readResult(key, signal);
      if (stored !== undefined) return this.#accept(stored, request);
      const job: Job = {
        v: PROTOCOL_VERSION,
        key,
        agent: this.#agent.name,
        revision,
        attempt,
        request,
        stream: context.stream === true,
      };
      const outcome = await this.#dispatch(job, context);
      if (outcome !== "consumed") return outcome;
      // The same key was published before and its job is gone without a result (it was cancelled): the
      // subtask runs again under the next attempt.
    }
  }

  /** Publishes a job and waits for its result; "consumed" when the key's job already left the stream unanswered. */
  async #dispatch(job: Job, context: CallContext): Promise<WorkerOutcome | "consumed"> {
    const { signal } = context;
    const { nc, js, jsm } = this.#hub;
    const worker = job.request.subtask.worker;
    let notify: (() => void) | undefined;
    let activeAt: number | undefined;
    const done = nc.subscribe(doneSubject(job.key), { callback: () => notify?.() });
    const events = nc.subscribe(eventsSubject(job.key), {
      callback: (_error, msg) => {
        activeAt = this.#clock();
        const forwarded = decodeJobEvent(msg.data);
        if (forwarded !== undefined && isDeviceEvent(forwarded.event, job.request.subtask.id)) {
          context.emit({ ...forwarded.event, device: forwarded.device });
        }
      },
    });
    let seq: number | undefined;
    try {
      const ack = await untilPublished(
        () => js.publish(subtaskSubject(this.#agent.name, worker), encode(job), { msgID: job.key }),
        signal,
      );
      seq = ack.seq;
      if (ack.duplicate) {
        const pending = await jsm.streams.getMessage(SUBTASK_STREAM, { seq: ack.seq }).catch(() => null);
        if (pending === null) {
          const late = await this.#readResult(job.key, signal);
          if (late !== undefined) return this.#accept(late, job.request);
          return "consumed";
        }
      }
      let waitingSince: number | undefined;
      for (;;) {
        const stored = await this.#readResult(job.key, signal);
        if (stored !== undefined) return this.#accept(stored, job.request);
        // No live device for the worker: wait for one for deviceWaitSeconds (counted only while the registry
        // can be read, so a hub restart is not mistaken for an empty fleet), then fail the subtask clearly. A
        // device busy with a job is served too, whatever its heartbeat says (a loaded machine beats late): its
        // events, or a job of this worker held unacked at the hub, count as a device.
        if (this.#registry.ok && this.devicesFor(worker).length === 0) {
          const now = this.#clock();
          const busy =
            (activeAt !== undefined && now - activeAt < this.#deviceWaitMs) || (await this.#held(worker));
          waitingSince = busy ? undefined : (waitingSince ?? now);
          if (waitingSince !== undefined && now - waitingSince >= this.#deviceWaitMs)
            throw this.#noDevice(worker);
        } else if (this.#registry.ok) {
          waitingSince = undefined;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#pollMs);
          const wake = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", wake);
            resolve();
          };
          notify = wake;
          signal.addEventListener("abort", wake, { once: true });
        });
        throwIfAborted(signal);
      }
    } catch (error) {
      // Cancelled, timed out or given up: the job must not run later, or must stop where it runs.
      if (seq !== undefined) {
        await jsm.streams.deleteMessage(SUBTASK_STREAM, seq, false).catch(() => false);
        nc.publish(cancelSubject(job.key));
      }
      throw error;
    } finally {
      done.unsubscribe();
      events.unsubscribe();
    }
  }

  /** Whether a device holds a job of this worker now (delivered, not yet acked, within the ack wait). */
  async #held(worker: string): Promise<boolean> {
    try {
      const info = await this.#hub.jsm.consumers.info(SUBTASK_STREAM, consumerName(this.#agent.name, worker));
      return info.num_ack_pending > 0;
    } catch {
      return false;
    }
  }

  #noDevice(worker: string): EdgecrewError {
    const devices = this.#registry.names();
    return new EdgecrewError(
      ErrorCodes.NO_DEVICE,
      `no device serves worker "${worker}" of agent "${this.#agent.name}" at ${this.#hub.address}: waited ${this.#deviceWaitMs / 1000} s (devices seen: ${devices.length === 0 ? "none" : devices.join(", ")}); start one with \`edgecrew device --hub ${this.#hub.address} <agent.yaml>\``,
      { context: { worker, agent: this.#agent.name, hub: this.#hub.address, devices } },
    );
  }

  /** The outcome a device stored, checked against this side's schema of the worker. */
  #accept(result: JobResult, request: SubtaskRequest): WorkerOutcome {
    if ("error" in result) throw errorFromInfo(result.error);
    const { outcome, device } = result;
    if (!outcome.ok) return { ...outcome, device };
    const checked = compileSchema(request.worker.output).validate(outcome.answer);
    if (checked.ok) return { ...outcome, answer: checked.value, device };
    return {
      ok: false,
      reason: "invalid-output",
      errors: [
        `device ${device} returned an answer that does not match the worker's schema:`,
        ...checked.errors,
      ],
      attempts: outcome.attempts,
      usage: outcome.usage,
      device,
    };
  }

  async #readResult(key: string, signal: AbortSignal): Promise<JobResult | undefined> {
    for (;;) {
      throwIfAborted(signal);
      try {
        const entry = await this.#hub.results.get(key);
        if (entry === null || entry.operation !== "PUT") return undefined;
        const result = decodeResult(entry.value);
        if (result === undefined) {
          throw new EdgecrewError(ErrorCodes.INTERNAL, `the hub holds an unreadable result for job ${key}`);
        }
        return result;
      } catch (error) {
        if (isEdgecrewError(error)) throw error;
        // The hub is away (restarting): try again shortly.
        await pause(this.#pollMs, signal);
      }
    }
  }

  #consumer(worker: string): Promise<void> {
    let ready = this.#consumers.get(worker);
    if (ready === undefined) {
      ready = this.#hub.ensureConsumer(this.#agent.name, worker, this.#ackWaitSeconds);
      ready.catch(() => this.#consumers.delete(worker));
      this.#consumers.set(worker, ready);
    }
    return ready;
  }

  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      for (const controller of this.#inFlight) controller.abort(new DisposedError("RemoteWorkers"));
      await this.#registry.close();
      await this.#hub.close();
    })();
    return this.#disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/**
 * The events a device may report for a job: what a local worker emits about its subtask (models, tools, repairs,
 * streamed text) — never the run's own (plan, completion, failure), which only the orchestrator decides.
 */
const DEVICE_EVENTS = new Set<RunEventInput["type"]>([
  "model.loading",
  "model.loaded",
  "model.unloaded",
  "tool.called",
  "tool.result",
  "tool.shortened",
  "tool.progress",
  "tools.offered",
  "subtask.repairing",
  "subtask.delta",
]);

function isDeviceEvent(event: { readonly type: string; readonly [key: string]: unknown }, subtaskId: string) {
  if (!DEVICE_EVENTS.has(event.type as RunEventInput["type"])) return false;
  return !("subtaskId" in event) || event.subtaskId === subtaskId;
}

/** Publishes, retrying while the hub is away (a restart), until the signal fires. */
async function untilPublished<T>(publish: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let delay = 100; ; delay = Math.min(2000, delay * 2)) {
    throwIfAborted(signal);
    try {
      return await publish();
    } catch (error) {
      if (signal.aborted) throw error;
      await pause(delay, signal);
    }
  }
}

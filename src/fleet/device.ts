/**
 * A fleet device (`edgecrew device`): serves the workers of some agents whose models it has, within its own
 * memory budget, to the orchestrators of a hub.
 *
 * For each served worker it pulls jobs from the worker's shared durable consumer, one per free slot (the worker's
 * `parallel`), and for each job: skips it when a result is already stored (a duplicate delivery); tells the hub
 * it is working every quarter of the ack wait, so a long generation is not redelivered; runs it on its own local
 * workers (its own definition of the worker: its model paths, its tools) with the fleet's tool journal, so the
 * calls a dead device made are known; stores the result with `create` (the first result wins: a late one is
 * dropped and logged), announces it, and acks. A job cancelled by its orchestrator is terminated; on shutdown a
 * running job is handed back (nak) for another device. A device that dies simply stops acking: the hub redelivers.
 *
 * It registers itself in the devices bucket and rewrites its entry every `heartbeatSeconds` (workers, memory,
 * resident models, busy slots). A device whose model for a worker is not resident waits a moment before pulling
 * a job of that worker when another live device has it resident, so that device usually gets it.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { AbortError, EdgecrewError, ErrorCodes, toEdgecrewError } from "../errors.js";
import { createRedactor, secretValuesFrom } from "../runtime/redact.js";
import { journalTools, type ScopableToolRegistry } from "../runtime/toolJournal.js";
import type { AnyTool, ApprovalCallback } from "../tools/index.js";
import type {
  AgentDefinition,
  DeviceConfig,
  RunEventInput,
  ToolCallContext,
  ToolJournalEntry,
  ToolRegistryPort,
  WorkerDefinition,
} from "../types.js";
import { startWorkerSide, type WorkerSide } from "../workerSide.js";
import type { ModelManager } from "../workers/index.js";
import { type Hub, openHub } from "./hub.js";
import { fleetJournalStore, readFleetJournal } from "./journal.js";
import { pause } from "./pause.js";
import {
  cancelSubject,
  consumerName,
  type DeviceInfo,
  decodeJob,
  doneSubject,
  encode,
  eventsSubject,
  type Job,
  type JobResult,
  PROTOCOL_VERSION,
  type ServedWorker,
  SUBTASK_STREAM,
} from "./protocol.js";
import { DeviceRegistry } from "./registry.js";

/** Options of {@link startDevice}. */
export interface DeviceOptions {
  /** The hub URL (credentials in it or in EDGECREW_HUB_* are used, never stored). */
  readonly hub: string;
  /** The agents whose workers this device may serve. */
  readonly agents: readonly AgentDefinition[];
  /** The device's name in the registry and on events (default: the host name). */
  readonly name?: string;
  /** Serve only these workers (default: every worker whose model this device has). */
  readonly workers?: readonly string[];
  /** Memory budget, threads and GPU (default: the first agent's `device:` section). */
  readonly device?: Partial<DeviceConfig>;
  /** Tools defined in code (`--tools <module>`), for workers that grant them. */
  readonly tools?: readonly AnyTool[];
  /** Asked before each call of a tool marked `approve`; without it such calls are denied (as data). */
  readonly onApproval?: ApprovalCallback;
  /** Seconds between heartbeats (default 5). */
  readonly heartbeatSeconds?: number;
  /** Where `fixture:` models are generated, and `hf:` models looked up (never downloaded here). */
  readonly fixtureCacheDir?: string;
  readonly modelsDir?: string;
  /** Receives one line per thing worth saying (jobs taken, finished, dropped). */
  readonly log?: (line: string) => void;
}

/** A running device. */
export interface Device extends AsyncDisposable {
  readonly name: string;
  /** The workers it serves, per agent. */
  readonly served: readonly ServedWorker[];
  /** Resolves when the device has stopped (after `stop()`, or when the hub connection closed for good). */
  readonly stopped: Promise<void>;
  /** Hands running jobs back to the hub, deregisters and frees the models. Idempotent. */
  stop(): Promise<void>;
}

interface Served {
  readonly agent: AgentDefinition;
  readonly worker: WorkerDefinition;
  readonly side: WorkerSide;
  readonly router: JobToolRouter;
  readonly ackWaitSeconds: number;
}

/**
 * Connects to the hub, starts the served workers and begins pulling jobs. Throws HUB_FAILED when the hub cannot
 * be used, USAGE when this device has no model of any worker it was asked to serve.
 */
export async function startDevice(options: DeviceOptions): Promise<Device> {
  const name = options.name ?? hostname();
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new EdgecrewError(ErrorCodes.USAGE, `a device name has only letters, digits, - and _ ("${name}")`);
  }
  const log = options.log ?? (() => {});
  const heartbeatSeconds = options.heartbeatSeconds ?? 5;
  const first = options.agents[0];
  if (first === undefined) throw new EdgecrewError(ErrorCodes.USAGE, "a device needs at least one agent");
  const workersModule = await import("../workers/index.js");
  const device: DeviceConfig = { ...first.device, ...options.device };
  // The jobs running now, by key: model events go to one job per run (the models are shared by every job).
  const active = new Map<string, { readonly runId: string; readonly emit: (event: RunEventInput) => void }>();
  const manager: ModelManager = new workersModule.ModelManager({
    device,
    resolve: {
      download: false,
      ...(options.fixtureCacheDir === undefined ? {} : { fixtureCacheDir: options.fixtureCacheDir }),
      ...(options.modelsDir === undefined ? {} : { modelsDir: options.modelsDir }),
    },
    // The models are shared by every job: their events go to each job running now.
    onEvent: (event) => {
      const told = new Set<string>();
      for (const job of active.values()) {
        if (told.has(job.runId)) continue;
        told.add(job.runId);
        job.emit(event);
      }
    },
  });
  const sides: WorkerSide[] = [];
  let hub: Hub | undefined;
  const cleanup = async () => {
    for (const side of sides) await side.close().catch(() => {});
    await manager.dispose().catch(() => {});
    await hub?.close().catch(() => {});
  };
  const served: Served[] = [];
  try {
    hub = await openHub({ url: options.hub, name: `edgecrew-device-${name}` });
    for (const agent of options.agents) {
      const wanted = agent.workers.filter(
        (worker) => options.workers === undefined || options.workers.includes(worker.name),
      );
      const available: WorkerDefinition[] = [];
      for (const worker of wanted) {
        if (await hasModel(workersModule, worker, options)) available.push(worker);
        else log(`not serving ${agent.name}/${worker.name}: model ${worker.model.raw} is not on this device`);
      }
      if (available.length === 0) continue;
      const router = new JobToolRouter();
      const redactor = createRedactor(secretValuesFrom(agent.secrets ?? []));
      const side = await startWorkerSide(
        { ...agent, workers: available },
        {
          manager,
          ...(options.tools === undefined ? {} : { tools: options.tools, toolsLabel: "--tools" }),
          ...(options.onApproval === undefined ? {} : { onApproval: options.onApproval }),
          wrapTools: (registry) => router.wrap(registry, hub as Hub, redactor.json),
        },
      );
      sides.push(side);
      for (const worker of available) {
        const ackWaitSeconds = agent.fleet?.ackWaitSeconds ?? 30;
        await hub.ensureConsumer(agent.name, worker.name, ackWaitSeconds);
        served.push({ agent, worker, side, router, ackWaitSeconds });
      }
    }
    if (served.length === 0) {
      throw new EdgecrewError(
        ErrorCodes.USAGE,
        `device ${name} has the model of none of the workers it was asked to serve (${options.agents.map((a) => a.name).join(", ")})`,
      );
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  const open = hub;
  const registry = new DeviceRegistry(open.devices, { pollMs: 1000 });
  const instance = randomBytes(6).toString("hex");
  const startedAt = Date.now();
  let busy = 0;
  let stopping: Promise<void> | undefined;
  const shutdown = new AbortController();
  const servedWorkers: ServedWorker[] = served.map((s) => ({
    agent: s.agent.name,
    worker: s.worker.name,
    model: s.worker.model.raw,
  }));

  const entry = (): DeviceInfo => ({
    v: PROTOCOL_VERSION,
    name,
    instance,
    workers: servedWorkers,
    memory: {
      ...(manager.budgetBytes === undefined ? {} : { budgetBytes: manager.budgetBytes }),
      residentBytes: manager.residentBytes(),
    },
    resident: manager.residentModels().map((model) => model.model),
    gpu: device.gpu === false ? false : String(device.gpu),
    busy,
    startedAt,
    heartbeatAt: Date.now(),
    heartbeatSeconds,
  });
  const beat = async () => {
    try {
      await open.devices.put(name, encode(entry()));
    } catch {
      // The hub is away; the next beat tries again.
    }
  };
  await beat();
  const heart = setInterval(() => void beat(), heartbeatSeconds * 1000);

  const handle = async (s: Served, msg: JsMsg): Promise<void> => {
    const job = decodeJob(msg.data);
    if (job === undefined || job.agent !== s.agent.name || job.request.subtask.worker !== s.worker.name) {
      log(`dropped an unreadable job on ${msg.subject}`);
      msg.term();
      return;
    }
    if (await resultExists(open.results, job.key)) {
      log(`${job.key}: already answered, acked (a duplicate delivery)`);
      msg.ack();
      return;
    }
    busy++;
    void beat();
    const cancelled = new AbortController();
    const cancel = open.nc.subscribe(cancelSubject(job.key), {
      callback: () => cancelled.abort(new AbortError("the orchestrator cancelled the subtask")),
    });
    // Neither may throw out of a timer or into the worker: with the hub away they are simply lost.
    const working = setInterval(
      () => {
        try {
          msg.working();
        } catch {}
      },
      Math.max(200, (s.ackWaitSeconds * 1000) / 4),
    );
    const emit = (event: RunEventInput) => {
      try {
        open.nc.publish(eventsSubject(job.key), encode({ device: name, event }));
      } catch {}
    };
    active.set(job.key, { runId: job.request.runId, emit });
    const label = `${job.request.runId}/${job.request.subtask.id} (${s.agent.name}/${s.worker.name})`;
    log(`running ${label}${msg.info.deliveryCount > 1 ? ` (delivery ${msg.info.deliveryCount})` : ""}`);
    try {
      const prior = await readFleetJournal(open.journal, job.request.runId, job.request.subtask.id);
      s.router.begin(job, prior);
      let result: JobResult;
      try {
        const outcome = await s.side.workers.execute(
          { ...job.request, worker: s.worker },
          { signal: AbortSignal.any([cancelled.signal, shutdown.signal]), emit, stream: job.stream },
        );
        result = { v: PROTOCOL_VERSION, device: name, outcome };
      } catch (error) {
        if (cancelled.signal.aborted) {
          log(`${label}: cancelled by the orchestrator`);
          msg.term();
          return;
        }
        if (shutdown.signal.aborted) {
          log(`${label}: handed back (the device is stopping)`);
          msg.nak();
          return;
        }
        result = { v: PROTOCOL_VERSION, device: name, error: toEdgecrewError(error).toInfo() };
      }
      if (await storeResult(open.results, job.key, result)) {
        log(
          `${label}: ${"error" in result ? `failed: ${result.error.message}` : result.outcome.ok ? "answered" : "no valid answer"}`,
        );
      } else {
        log(`${label}: another device answered first; this result is dropped`);
      }
      try {
        open.nc.publish(doneSubject(job.key));
        msg.ack();
      } catch {
        // The result is stored: the orchestrator's poll finds it, and a redelivery sees it and acks.
      }
    } finally {
      s.router.end(job);
      clearInterval(working);
      cancel.unsubscribe();
      active.delete(job.key);
      busy--;
      void beat();
    }
  };

  const pull = async (s: Served): Promise<void> => {
    let consumer: Consumer | undefined;
    while (!shutdown.signal.aborted) {
      try {
        consumer ??= await open.js.consumers.get(SUBTASK_STREAM, consumerName(s.agent.name, s.worker.name));
        if (
          !s.side.workers.isResident(s.worker.name) &&
          registry.residentElsewhere(s.agent.name, s.worker.name, name)
        ) {
          await pause(500, shutdown.signal);
          if (shutdown.signal.aborted) break;
        }
        const msg = await consumer.next({ expires: 2000 });
        if (msg === null) continue;
        if (shutdown.signal.aborted) {
          msg.nak();
          break;
        }
        await handle(s, msg);
      } catch {
        // The hub is away (restarting) or the consumer is being recreated: try again shortly.
        consumer = undefined;
        await pause(500, shutdown.signal);
      }
    }
  };

  const loops = served.flatMap((s) => Array.from({ length: Math.max(1, s.worker.parallel) }, () => pull(s)));
  log(
    `device ${name} serves ${servedWorkers.map((w) => `${w.agent}/${w.worker}`).join(", ")} at ${open.address}`,
  );
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const stop = () => {
    stopping ??= (async () => {
      shutdown.abort(new AbortError("the device is stopping"));
      clearInterval(heart);
      await Promise.allSettled(loops);
      await registry.close();
      await open.devices.delete(name).catch(() => {});
      await cleanup();
      resolveStopped();
    })();
    return stopping;
  };
  const result: Device = {
    name,
    served: servedWorkers,
    stopped,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
  return result;
}

/** Whether this device has the worker's model: a file that exists, a cached `hf:` model, a fixture (generated). */
async function hasModel(
  workersModule: typeof import("../workers/index.js"),
  worker: WorkerDefinition,
  options: DeviceOptions,
): Promise<boolean> {
  try {
    const path = await workersModule.resolveModelPath(worker.model, {
      download: false,
      ...(options.fixtureCacheDir === undefined ? {} : { fixtureCacheDir: options.fixtureCacheDir }),
      ...(options.modelsDir === undefined ? {} : { modelsDir: options.modelsDir }),
    });
    await workersModule.inspectModelFile(path);
    return true;
  } catch {
    return false;
  }
}

async function resultExists(results: KV, key: string): Promise<boolean> {
  const entry = await results.get(key).catch(() => null);
  return entry !== null && entry.operation === "PUT";
}

/** Stores a job's result unless one is there already; false when another device's result won. */
async function storeResult(results: KV, key: string, result: JobResult): Promise<boolean> {
  for (let tries = 0; ; tries++) {
    try {
      await results.create(key, encode(result));
      return true;
    } catch (error) {
      if (error instanceof JetStreamApiError && (await resultExists(results, key))) return false;
      // The hub is away: a result must not be lost, so keep trying for a while (the job stays unacked meanwhile).
      if (tries >= 120) throw error;
      await pause(500);
    }
  }
}

/**
 * The tool journal of a device: one journaled registry per job (so call ids count from 1 for each execution, as
 * a resumed subtask's do), writing to the hub's journal bucket, and a router in front of them that the local
 * workers hold (they get their registry once, at construction).
 */
class JobToolRouter {
  readonly #jobs = new Map<string, { readonly job: Job; readonly prior: readonly ToolJournalEntry[] }>();
  readonly #journaled = new Map<string, ScopableToolRegistry>();

  begin(job: Job, prior: readonly ToolJournalEntry[]): void {
    this.#jobs.set(slot(job.request.runId, job.request.subtask.id), { job, prior });
  }

  end(job: Job): void {
    const key = slot(job.request.runId, job.request.subtask.id);
    this.#jobs.delete(key);
    this.#journaled.delete(key);
  }

  wrap(registry: ScopableToolRegistry, hub: Hub, redact: Parameters<typeof journalTools>[1]["redact"]) {
    const store = fleetJournalStore(hub);
    const journaledFor = (context: ToolCallContext): ScopableToolRegistry => {
      const key = slot(context.runId, context.subtaskId);
      let journaled = this.#journaled.get(key);
      if (journaled === undefined) {
        const prior = this.#jobs.get(key)?.prior ?? [];
        journaled = journalTools(registry, { store, prior, ...(redact === undefined ? {} : { redact }) });
        this.#journaled.set(key, journaled);
      }
      return journaled;
    };
    const routed = (names?: readonly string[]): ScopableToolRegistry & ToolRegistryPort => ({
      list: (listed?: readonly string[]) =>
        (names === undefined ? registry : (registry.scoped?.(names) ?? registry)).list(listed),
      call: (name, args, context) => {
        const journaled = journaledFor(context);
        const view = names === undefined ? journaled : (journaled.scoped?.(names) ?? journaled);
        return view.call(name, args, context);
      },
      scoped: (scope: readonly string[]) => routed(scope),
    });
    return routed();
  }
}

const slot = (runId: string, subtaskId: string) => `${runId}\u0000${subtaskId}`;

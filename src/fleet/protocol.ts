/**
 * What crosses the hub in a fleet, and under which names. Pure: no NATS client here, so the names and message
 * shapes can be tested and documented on their own.
 *
 * - A subtask is a **job** published to the work-queue stream `EDGECREW_SUBTASKS` on
 *   `edgecrew.subtasks.<agent>.<worker>`, with the job key as its `Nats-Msg-Id` (the hub drops a re-publish
 *   within its duplicate window). One durable pull consumer per (agent, worker) is shared by every device that
 *   serves the worker: each job goes to one of them, explicitly acked; an unacked job (a dead device) is
 *   redelivered after the ack wait.
 * - A job's **result** is written to the KV bucket `edgecrew-results` under the job key with `create`, which fails
 *   when the key exists: the first result wins, a duplicate delivery or a late device never replaces it. The
 *   device then publishes `edgecrew.done.<key>` so that the orchestrator need not poll.
 * - A device's **events** (model loads, tool calls, generated text) go to `edgecrew.events.<key>`; the orchestrator
 *   cancels a job on `edgecrew.cancel.<key>`.
 * - The **tool journal** of fleet runs is the KV bucket `edgecrew-journal` (key `<run>.<subtask>.<call>`), so a
 *   device that picks up a redelivered subtask sees the calls the dead device made.
 * - **Devices** register in the KV bucket `edgecrew-devices` (key: the device name) with a heartbeat; the bucket's
 *   TTL removes a device that stopped beating.
 *
 * The job key is `<run>.<revision>.<subtask>.<attempt>`: run and subtask ids base64url-encoded (NATS tokens and
 * KV keys allow only a few characters), the plan revision and the orchestrator's attempt as numbers.
 */
import { z } from "zod";
import type { ErrorInfo } from "../errors.js";
import type { RunEventInput, SubtaskRequest, WorkerOutcome } from "../types.js";

/** Version of the messages below; a device refuses (terminates) a job of another version. */
export const PROTOCOL_VERSION = 1;

export const SUBTASK_STREAM = "EDGECREW_SUBTASKS";
export const RESULTS_BUCKET = "edgecrew-results";
export const JOURNAL_BUCKET = "edgecrew-journal";
export const DEVICES_BUCKET = "edgecrew-devices";
/** How long results and journal entries stay in the hub (the orchestrator's run store keeps them for good). */
export const KEEP_SECONDS = 7 * 24 * 3600;

/** A NATS subject token / KV key part for any string. */
export function token(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}

/** The subject a worker's jobs are published on; agent and worker names are already NATS-safe (see config). */
export function subtaskSubject(agent: string, worker: string): string {
  return `edgecrew.subtasks.${agent}.${worker}`;
}

/** The durable consumer shared by the devices that serve a worker. */
export function consumerName(agent: string, worker: string): string {
  return `edgecrew_${agent}_${worker}`;
}

/** Identifies one execution of a subtask: see the file comment. */
export function jobKey(runId: string, revision: number, subtaskId: string, attempt: number): string {
  return `${token(runId)}.${revision}.${token(subtaskId)}.${attempt}`;
}

export const eventsSubject = (key: string) => `edgecrew.events.${key}`;
export const doneSubject = (key: string) => `edgecrew.done.${key}`;
export const cancelSubject = (key: string) => `edgecrew.cancel.${key}`;

/** The journal's keys of one subtask, and of one of its calls. */
export function journalPrefix(runId: string, subtaskId: string): string {
  return `${token(runId)}.${token(subtaskId)}`;
}
export function journalKey(runId: string, subtaskId: string, callId: string): string {
  return `${journalPrefix(runId, subtaskId)}.${token(callId)}`;
}

/** A subtask sent to the devices. */
export interface Job {
  readonly v: typeof PROTOCOL_VERSION;
  readonly key: string;
  readonly agent: string;
  readonly revision: number;
  readonly attempt: number;
  /** The subtask as a local worker would get it; the device runs it with its own definition of the worker. */
  readonly request: SubtaskRequest;
  /** Whether the run streams generated text (`subtask.delta` events). */
  readonly stream: boolean;
}

/** What a device stores for a job: the worker's outcome, or the error that ended the subtask. */
export type JobResult =
  | { readonly v: typeof PROTOCOL_VERSION; readonly device: string; readonly outcome: WorkerOutcome }
  | { readonly v: typeof PROTOCOL_VERSION; readonly device: string; readonly error: ErrorInfo };

/** An event a device forwards to the run. */
export interface JobEvent {
  readonly device: string;
  readonly event: RunEventInput;
}

/** A worker as a device announces it. */
export interface ServedWorker {
  readonly agent: string;
  readonly worker: string;
  /** The model reference as written in the device's agent file. */
  readonly model: string;
}

/** A device's entry in the registry, rewritten at each heartbeat. */
export interface DeviceInfo {
  readonly v: typeof PROTOCOL_VERSION;
  readonly name: string;
  /** Random per process: tells a restarted device from the one before it. */
  readonly instance: string;
  readonly workers: readonly ServedWorker[];
  /** The device's memory budget and the bytes its resident models take (estimates). */
  readonly memory: { readonly budgetBytes?: number; readonly residentBytes: number };
  /** Model references resident now. */
  readonly resident: readonly string[];
  readonly gpu: string | false;
  /** Subtasks running now. */
  readonly busy: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  /** Seconds between heartbeats; the entry expires after three missed ones. */
  readonly heartbeatSeconds: number;
}

const errorInfoSchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  context: z.record(z.string(), z.unknown()).optional(),
});
const usageSchema = z.array(z.looseObject({ model: z.string() }));
const outcomeSchema = z.union([
  z.looseObject({
    ok: z.literal(true),
    answer: z.json(),
    attempts: z.number().int().min(0),
    usage: usageSchema,
  }),
  z.looseObject({
    ok: z.literal(false),
    reason: z.enum(["invalid-output", "model-failed"]),
    errors: z.array(z.string()),
    attempts: z.number().int().min(0),
    usage: usageSchema,
  }),
]);

const jobSchema = z.looseObject({
  v: z.literal(PROTOCOL_VERSION),
  key: z.string().min(1),
  agent: z.string().min(1),
  revision: z.number().int().min(0),
  attempt: z.number().int().min(1),
  request: z.looseObject({
    runId: z.string().min(1),
    task: z.string(),
    subtask: z.looseObject({ id: z.string().min(1), worker: z.string().min(1), instruction: z.string() }),
    worker: z.looseObject({ name: z.string().min(1) }),
    dependencies: z.record(z.string(), z.json()),
  }),
  stream: z.boolean(),
});

const resultSchema = z.union([
  z.looseObject({ v: z.literal(PROTOCOL_VERSION), device: z.string(), outcome: outcomeSchema }),
  z.looseObject({ v: z.literal(PROTOCOL_VERSION), device: z.string(), error: errorInfoSchema }),
]);

const eventSchema = z.looseObject({
  device: z.string(),
  event: z.looseObject({ type: z.string() }),
});

const deviceSchema = z.looseObject({
  v: z.literal(PROTOCOL_VERSION),
  name: z.string().min(1),
  instance: z.string(),
  workers: z.array(z.looseObject({ agent: z.string(), worker: z.string(), model: z.string() })),
  memory: z.looseObject({ budgetBytes: z.number().optional(), residentBytes: z.number() }),
  resident: z.array(z.string()),
  gpu: z.union([z.string(), z.literal(false)]),
  busy: z.number().int().min(0),
  startedAt: z.number(),
  heartbeatAt: z.number(),
  heartbeatSeconds: z.number().positive(),
});

/** Parses one message body; `undefined` for anything that is not JSON of that shape (a foreign or old message). */
function decoder<T>(schema: z.ZodType) {
  return (data: Uint8Array | string): T | undefined => {
    try {
      const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? (parsed.data as T) : undefined;
    } catch {
      return undefined;
    }
  };
}

export const decodeJob = decoder<Job>(jobSchema);
export const decodeResult = decoder<JobResult>(resultSchema);
export const decodeJobEvent = decoder<JobEvent>(eventSchema);
export const decodeDevice = decoder<DeviceInfo>(deviceSchema);

/** The JSON bytes of a message (a job, result, event, device entry or journal entry). */
export function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

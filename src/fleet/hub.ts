/**
 * The connection to a fleet's NATS hub: credentials from the URL or the environment (never stored), TLS files,
 * reconnection for ever (a hub restart is an interruption, not a failure), and the stream, consumers and KV
 * buckets of the protocol (protocol.ts), created when missing. Both sides use it: the orchestrator's
 * RemoteWorkers and the device process.
 */
import {
  AckPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection, nanos } from "@nats-io/transport-node";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import {
  consumerName,
  DEVICES_BUCKET,
  JOURNAL_BUCKET,
  KEEP_SECONDS,
  RESULTS_BUCKET,
  SUBTASK_STREAM,
  subtaskSubject,
} from "./protocol.js";

/** How to reach a hub. */
export interface HubOptions {
  /**
   * `nats://host:port` or `tls://host:port`, possibly with `user:password@` or `token@` (kept in memory only).
   * Without credentials in the URL, `EDGECREW_HUB_USER` / `EDGECREW_HUB_PASSWORD` or `EDGECREW_HUB_TOKEN` are used.
   */
  readonly url: string;
  /** Shown in the hub's connection list. */
  readonly name?: string;
  /** How long the first connection may take (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Where credentials and TLS file paths come from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** An open hub: the connection, JetStream, and the protocol's KV buckets. */
export interface Hub extends AsyncDisposable {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly results: KV;
  readonly journal: KV;
  readonly devices: KV;
  /** The URL without credentials, for messages and events. */
  readonly address: string;
  /** Creates the durable consumer of a worker's jobs when it is missing. */
  ensureConsumer(agent: string, worker: string, ackWaitSeconds: number): Promise<void>;
  close(): Promise<void>;
}

/** A hub URL with its credentials taken out: what may be printed and what the client is given. */
export function parseHubUrl(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): { server: string; address: string; user?: string; pass?: string; token?: string; tls: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EdgecrewError(
      ErrorCodes.USAGE,
      `not a hub URL: "${redactUrl(url)}" (e.g. nats://hub.local:4222)`,
    );
  }
  if (parsed.protocol !== "nats:" && parsed.protocol !== "tls:") {
    throw new EdgecrewError(
      ErrorCodes.USAGE,
      `a hub URL starts with nats:// or tls://, not ${parsed.protocol}// ("${redactUrl(url)}")`,
    );
  }
  const port = parsed.port === "" ? "4222" : parsed.port;
  const address = `${parsed.protocol}//${parsed.hostname}:${port}`;
  const user = decodeURIComponent(parsed.username);
  const secret = decodeURIComponent(parsed.password);
  const credentials =
    user !== "" && secret !== ""
      ? { user, pass: secret }
      : user !== ""
        ? { token: user }
        : env.EDGECREW_HUB_TOKEN
          ? { token: env.EDGECREW_HUB_TOKEN }
          : env.EDGECREW_HUB_USER
            ? { user: env.EDGECREW_HUB_USER, pass: env.EDGECREW_HUB_PASSWORD ?? "" }
            : {};
  return { server: `${parsed.hostname}:${port}`, address, ...credentials, tls: parsed.protocol === "tls:" };
}

/** The URL with any credentials replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^/@]*@/i, "$1***@");
}

/**
 * Connects to a hub and makes sure the protocol's stream and buckets exist. Throws HUB_FAILED when the hub cannot
 * be reached in time, refuses the credentials (`context.reason: "auth"`) or has no JetStream (`-js`).
 */
export async function openHub(options: HubOptions): Promise<Hub> {
  const env = options.env ?? process.env;
  const target = parseHubUrl(options.url, env);
  const tlsFiles = {
    ...(env.EDGECREW_HUB_CA ? { caFile: env.EDGECREW_HUB_CA } : {}),
    ...(env.EDGECREW_HUB_CERT ? { certFile: env.EDGECREW_HUB_CERT } : {}),
    ...(env.EDGECREW_HUB_KEY ? { keyFile: env.EDGECREW_HUB_KEY } : {}),
  };
  const useTls = target.tls || Object.keys(tlsFiles).length > 0;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: target.server,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(target.user === undefined ? {} : { user: target.user, pass: target.pass ?? "" }),
      ...(target.token === undefined ? {} : { token: target.token }),
      ...(useTls ? { tls: tlsFiles } : {}),
      timeout: options.connectTimeoutMs ?? 5000,
      // A hub restart or a flaky link is waited out: the client reconnects for ever, buffering what it sends.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const auth =
      /authori[sz]ation|auth/i.test(message) || (error as { name?: string }).name === "AuthorizationError";
    throw new EdgecrewError(
      ErrorCodes.HUB_FAILED,
      auth
        ? `the hub at ${target.address} refused the credentials (${message})`
        : `cannot reach the hub at ${target.address}: ${message}`,
      { cause: error, context: { hub: target.address, reason: auth ? "auth" : "unreachable" } },
    );
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    await ensureStream(jsm);
    const kvm = new Kvm(nc);
    const bucket = (name: string, ttlSeconds: number) =>
      kvm.create(name, { history: 1, ttl: ttlSeconds * 1000, storage: "file" });
    const [results, journal, devices] = await Promise.all([
      bucket(RESULTS_BUCKET, KEEP_SECONDS),
      bucket(JOURNAL_BUCKET, KEEP_SECONDS),
      // A device rewrites its entry every few seconds and counts as gone after three missed beats; the hub drops
      // an entry a minute after its last beat.
      bucket(DEVICES_BUCKET, 60),
    ]);
    const js = jetstream(nc);
    const hub: Hub = {
      nc,
      js,
      jsm,
      results,
      journal,
      devices,
      address: target.address,
      ensureConsumer: (agent, worker, ackWaitSeconds) => ensureConsumer(jsm, agent, worker, ackWaitSeconds),
      async close() {
        if (nc.isClosed()) return;
        // Draining waits for the hub; a hub that is away must not keep the process alive: close after 2 s.
        const drained = nc.drain().then(
          () => true,
          () => false,
        );
        const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref());
        if (!(await Promise.race([drained, timer]))) await nc.close().catch(() => {});
      },
      async [Symbol.asyncDispose]() {
        await hub.close();
      },
    };
    return hub;
  } catch (error) {
    await nc.close().catch(() => {});
    const message = error instanceof Error ? error.message : String(error);
    throw new EdgecrewError(
      ErrorCodes.HUB_FAILED,
      `the hub at ${target.address} has no usable JetStream (start nats-server with -js -sd <dir>): ${message}`,
      { cause: error, context: { hub: target.address, reason: "jetstream" } },
    );
  }
}

async function ensureStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(SUBTASK_STREAM);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await jsm.streams.add({
      name: SUBTASK_STREAM,
      subjects: ["edgecrew.subtasks.>"],
      retention: "workqueue",
      storage: "file",
      // A job published twice within this window (a resumed orchestrator) is stored once.
      duplicate_window: nanos(10 * 60 * 1000),
    });
  } catch (error) {
    // Another process created it in between.
    if (!/already in use|exists/i.test(String(error))) throw error;
  }
}

async function ensureConsumer(
  jsm: JetStreamManager,
  agent: string,
  worker: string,
  ackWaitSeconds: number,
): Promise<void> {
  const name = consumerName(agent, worker);
  try {
    await jsm.consumers.info(SUBTASK_STREAM, name);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await jsm.consumers.add(SUBTASK_STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitSeconds * 1000),
      filter_subject: subtaskSubject(agent, worker),
      max_ack_pending: -1,
    });
  } catch (error) {
    if (!/already in use|exists/i.test(String(error))) throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test(error instanceof Error ? error.message : String(error));
}

/**
 * The fleet's NATS primitives against a real `nats-server` (JetStream, file storage) and the real npm clients:
 * a work-queue stream with a durable pull consumer (dedupe, redelivery after ack wait, `working()`), a KV bucket
 * with a TTL (`create` as "first result wins", expiry), a hub restart that keeps streams and KV, and auth.
 * Without `nats-server` these tests fail with the helper's "not installed" message; they never skip.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AckPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { AuthorizationError, connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { findNatsServer, type NatsServerHandle, startNatsServer } from "../../helpers/natsServer.mjs";

const SECOND_NS = 1_000_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options?: Parameters<typeof startNatsServer>[0]): Promise<NatsServerHandle> {
  const nats = await startNatsServer(options);
  cleanups.push(() => nats[Symbol.asyncDispose]());
  return nats;
}

/** Resolves on the connection's next "reconnect" status: call before the restart, await after it. */
function nextReconnect(nc: NatsConnection): Promise<void> {
  return (async () => {
    for await (const status of nc.status()) if (status.type === "reconnect") return;
  })();
}

async function client(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  cleanups.push(() => nc.close());
  return nc;
}

/** A work-queue stream `WORK` on `work.>` (file storage) and a durable pull consumer with a 2 s ack wait. */
async function workQueue(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: "WORK",
    subjects: ["work.>"],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 60 * SECOND_NS,
  });
  await jsm.consumers.add("WORK", {
    durable_name: "workers",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 2 * SECOND_NS,
  });
  return jsm;
}

describe("natsServer helper", () => {
  it("starts a JetStream server on a free port, restarts it on the same port and stops it", async () => {
    const nats = await server();
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    const nc = await client(nats.url);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.getAccountInfo()).streams).toBe(0);
    const reconnected = nextReconnect(nc);
    await nats.restart();
    await reconnected;
    expect(nats.log()).toContain("--- restart ---");
    await nc.flush();
    await nats.stop();
    await expect(connect({ servers: nats.url, maxReconnectAttempts: 0, timeout: 1_000 })).rejects.toThrow();
  });

  it("fails with the server's log when nats-server cannot start", async () => {
    // A store "directory" that is a file: the server exits at once ("Can't start JetStream").
    const dir = mkdtempSync(join(tmpdir(), "edgecrew-nats-bad-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    await expect(startNatsServer({ storeDir: file, readyTimeoutMs: 5_000 })).rejects.toThrow(
      /nats-server exited with code 1 before it was ready[\s\S]*storage directory is not a directory/,
    );
  });

  it("throws the install hint when nats-server is nowhere to be found", async () => {
    const path = process.env.PATH;
    // An empty PATH and no extra directories: what a machine without the package looks like to the helper.
    process.env.PATH = "";
    try {
      let message: string | undefined;
      try {
        findNatsServer(["/nonexistent"]);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe(
        "nats-server is not installed: the fleet tests need the real server (Debian: apt-get install nats-server; .ci/run installs it)",
      );
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("NATS JetStream primitives for the fleet", () => {
  it("stores a message published twice with the same Nats-Msg-Id once", async () => {
    const nats = await server();
    const nc = await client(nats.url);
    const jsm = await workQueue(nc);
    const js = jetstream(nc);
    const h = headers();
    h.set("Nats-Msg-Id", "subtask-1");
    const first = await js.publish("work.s1", "payload", { headers: h });
    const second = await js.publish("work.s1", "payload", { msgID: "subtask-1" });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
    expect((await jsm.streams.info("WORK")).state.messages).toBe(1);
  });

  it("redelivers an unacked message after the ack wait, and not while working() extends it", async () => {
    const nats = await server();
    const nc = await client(nats.url);
    await workQueue(nc);
    const js = jetstream(nc);
    await js.publish("work.s1", "one", { msgID: "s1" });
    const consumer = await js.consumers.get("WORK", "workers");

    const taken = await consumer.next({ expires: 1_000 });
    expect(taken?.string()).toBe("one");
    expect(taken?.info.deliveryCount).toBe(1);
    const started = Date.now();
    const again = await consumer.next({ expires: 5_000 });
    expect(again?.string()).toBe("one");
    expect(again?.redelivered).toBe(true);
    expect(again?.info.deliveryCount).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);

    // Keep it in progress for 4 s (twice the ack wait): nothing comes back meanwhile.
    const timer = setInterval(() => again?.working(), 500);
    try {
      expect(await consumer.next({ expires: 4_000 })).toBeNull();
    } finally {
      clearInterval(timer);
    }
    again?.ack();
    expect(await consumer.next({ expires: 3_000 })).toBeNull();
  });

  it("KV: create of an existing key fails (first result wins) and a key expires after the bucket TTL", async () => {
    const nats = await server();
    const nc = await client(nats.url);
    const kv = await new Kvm(nc).create("results", { ttl: 1_500 });
    expect(await kv.create("s1", "first")).toBe(1);
    const error = await kv.create("s1", "second").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JetStreamApiError);
    expect((error as JetStreamApiError).code).toBe(JetStreamApiCodes.StreamWrongLastSequence);
    expect((await kv.get("s1"))?.string()).toBe("first");
    await sleep(2_500);
    expect(await kv.get("s1")).toBeNull();
    expect(await kv.create("s1", "after expiry")).toBeGreaterThan(1);
  });

  it("keeps the pending message and the KV value across a server restart; a reconnecting client sees them", async () => {
    const nats = await server();
    const nc = await client(nats.url);
    const jsm = await workQueue(nc);
    const js = jetstream(nc);
    const kv = await new Kvm(nc).create("state");
    await js.publish("work.s2", "pending", { msgID: "s2" });
    await kv.put("run", "planned");

    const reconnected = nextReconnect(nc);
    await nats.restart();
    await reconnected;

    expect((await jsm.streams.info("WORK")).state.messages).toBe(1);
    const msg = await (await js.consumers.get("WORK", "workers")).next({ expires: 2_000 });
    expect(msg?.subject).toBe("work.s2");
    expect(msg?.string()).toBe("pending");
    msg?.ack();
    expect((await kv.get("run"))?.string()).toBe("planned");
  });

  it("a running consume() and a KV watcher keep delivering after a server restart, by themselves", async () => {
    const nats = await server();
    const nc = await client(nats.url);
    const jsm = await workQueue(nc);
    const js = jetstream(nc);
    const kv = await new Kvm(nc).create("state");
    await kv.put("a", "1");

    const consumed: string[] = [];
    const messages = await (await js.consumers.get("WORK", "workers")).consume({ max_messages: 10 });
    const consuming = (async () => {
      for await (const m of messages) {
        consumed.push(m.string());
        m.ack();
      }
    })();
    const watched: string[] = [];
    const watch = await kv.watch({ key: ">" });
    const watching = (async () => {
      for await (const e of watch) watched.push(`${e.key}=${e.string()}@${e.revision}`);
    })();

    await js.publish("work.s1", "before", { msgID: "before" });
    await expect.poll(() => consumed, { timeout: 5_000 }).toEqual(["before"]);
    await expect.poll(() => watched, { timeout: 5_000 }).toEqual(["a=1@1"]);

    const reconnected = nextReconnect(nc);
    await nats.restart();
    await reconnected;
    await js.publish("work.s2", "after", { msgID: "after" });
    await kv.put("a", "2");
    await expect.poll(() => consumed, { timeout: 10_000 }).toEqual(["before", "after"]);
    // The ordered watcher resumes after the last revision it saw: no replay of a=1.
    await expect.poll(() => watched, { timeout: 10_000 }).toEqual(["a=1@1", "a=2@2"]);
    expect((await jsm.streams.info("WORK")).state.messages).toBe(0);

    messages.stop();
    watch.stop();
    await Promise.all([consuming, watching]);
  });

  it("an auth-enabled server refuses wrong credentials and accepts the right ones", async () => {
    const nats = await server({ user: "hub", password: "s3cret" });
    await expect(connect({ servers: nats.url, user: "hub", pass: "wrong" })).rejects.toBeInstanceOf(
      AuthorizationError,
    );
    await expect(connect({ servers: nats.url })).rejects.toBeInstanceOf(AuthorizationError);
    const nc = await connect({ servers: nats.url, user: "hub", pass: "s3cret" });
    cleanups.push(() => nc.close());
    await nc.flush();

    const tokenServer = await server({ token: "t0ken" });
    await expect(connect({ servers: tokenServer.url, token: "nope" })).rejects.toBeInstanceOf(
      AuthorizationError,
    );
    const tc = await connect({ servers: tokenServer.url, token: "t0ken" });
    cleanups.push(() => tc.close());
    await tc.flush();
  });
});

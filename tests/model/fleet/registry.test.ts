// The device registry against a real nats-server: a listing taken while devices keep beating names each device
// once (the KV listing is a live consumer, so a key rewritten during it came back twice: `edgecrew fleet` showed
// a device two times).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openHub } from "../../../src/fleet/hub.js";
import { encode, PROTOCOL_VERSION } from "../../../src/fleet/protocol.js";
import { listDevices } from "../../../src/fleet/registry.js";
import { type NatsServerHandle, startNatsServer } from "../../helpers/natsServer.mjs";

let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

const entry = (name: string) =>
  encode({
    v: PROTOCOL_VERSION,
    name,
    instance: `${name}-1`,
    workers: [{ agent: "a", worker: "w", model: "m" }],
    memory: { residentBytes: 0 },
    resident: [],
    gpu: false,
    busy: 0,
    startedAt: Date.now(),
    heartbeatAt: Date.now(),
    heartbeatSeconds: 1,
  });

describe("listDevices", () => {
  it("names each device once while the devices keep rewriting their entries", async () => {
    await using hub = await openHub({ url: server.url });
    const names = Array.from({ length: 8 }, (_, i) => `dev-${i}`);
    for (const name of names) await hub.devices.put(name, entry(name));
    let beating = true;
    const beats = (async () => {
      for (let n = 0; beating; n++) {
        const name = names[n % names.length] as string;
        await hub.devices.put(name, entry(name));
      }
    })();
    try {
      for (let i = 0; i < 30; i++) {
        const listed = (await listDevices(hub.devices)).map((d) => d.name);
        expect(listed).toEqual([...new Set(listed)].sort());
        expect(new Set(listed)).toEqual(new Set(names));
      }
    } finally {
      beating = false;
      await beats;
    }
  });
});

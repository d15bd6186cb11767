/**
 * The device registry as one process sees it: the `edgecrew-devices` KV bucket read every `pollMs`. A device is
 * live while its entry keeps changing (a heartbeat rewrites it): liveness is judged on this process's clock, from
 * when an entry was last seen to change, since device clocks may be off.
 */
import type { KV } from "@nats-io/kv";
import { type DeviceInfo, decodeDevice } from "./protocol.js";

interface Seen {
  readonly info: DeviceInfo;
  readonly revision: number;
  /** When this process last saw the entry change. */
  readonly seenAt: number;
  /** The hub's time of the entry's last write. */
  readonly writtenAt: Date;
}

/** A device as `edgecrew fleet` lists it. */
export interface ListedDevice extends DeviceInfo {
  /** When the hub received the last heartbeat. */
  readonly lastHeartbeat: Date;
}

/** Reads every entry of the registry once. */
export async function listDevices(kv: KV): Promise<ListedDevice[]> {
  const found: ListedDevice[] = [];
  for (const entry of await readEntries(kv)) {
    found.push({ ...entry.info, lastHeartbeat: entry.writtenAt });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

async function readEntries(
  kv: KV,
  known: Iterable<string> = [],
): Promise<{ key: string; info: DeviceInfo; revision: number; writtenAt: Date }[]> {
  // The listing is a live consumer that ends when it has caught up: a key rewritten while it runs (a heartbeat)
  // can come back twice, or not at all (its old revision is purged before the listing reaches it and the new one
  // lands after the end). So keys are collected from two listings and from what the caller already knows, and
  // each is read with get, which sees the latest revision.
  const keys = new Set<string>(known);
  for (let pass = 0; pass < 2; pass++) for await (const key of await kv.keys()) keys.add(key);
  const entries = await Promise.all([...keys].map((key) => kv.get(key)));
  return entries.flatMap((entry) => {
    if (entry === null || entry.operation !== "PUT") return [];
    const info = decodeDevice(entry.value);
    return info === undefined
      ? []
      : [{ key: entry.key, info, revision: entry.revision, writtenAt: entry.created }];
  });
}

/** Keeps a view of the live devices, refreshed in the background until closed. */
export class DeviceRegistry {
  readonly #kv: KV;
  readonly #pollMs: number;
  readonly #clock: () => number;
  readonly #seen = new Map<string, Seen>();
  #ok = false;
  #refreshing: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(kv: KV, options: { readonly pollMs?: number; readonly clock?: () => number } = {}) {
    this.#kv = kv;
    this.#pollMs = options.pollMs ?? 1000;
    this.#clock = options.clock ?? Date.now;
    this.#timer = setInterval(() => void this.refresh(), this.#pollMs);
    this.#timer.unref();
    void this.refresh();
  }

  /** Whether the last read of the registry succeeded (false while the hub is away). */
  get ok(): boolean {
    return this.#ok;
  }

  /** Every device seen, live or not. */
  names(): string[] {
    return [...this.#seen.values()].map((seen) => seen.info.name);
  }

  /** The live devices (optionally only those that serve `worker` of `agent`). */
  live(filter?: { readonly agent: string; readonly worker: string }): DeviceInfo[] {
    const now = this.#clock();
    return [...this.#seen.values()]
      .filter((seen) => now - seen.seenAt <= 3 * seen.info.heartbeatSeconds * 1000 + 2 * this.#pollMs)
      .map((seen) => seen.info)
      .filter(
        (info) =>
          filter === undefined ||
          info.workers.some((w) => w.agent === filter.agent && w.worker === filter.worker),
      );
  }

  /** Whether a live device other than `except` has the worker's model resident. */
  residentElsewhere(agent: string, worker: string, except?: string): boolean {
    return this.live({ agent, worker }).some(
      (info) =>
        info.name !== except &&
        info.workers.some((w) => w.agent === agent && w.worker === worker && info.resident.includes(w.model)),
    );
  }

  /** Reads the registry now (also done every `pollMs`). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const entries = await readEntries(this.#kv, this.#seen.keys());
        const now = this.#clock();
        const present = new Set<string>();
        for (const entry of entries) {
          present.add(entry.key);
          const before = this.#seen.get(entry.key);
          if (before === undefined || before.revision !== entry.revision) {
            this.#seen.set(entry.key, {
              info: entry.info,
              revision: entry.revision,
              seenAt: now,
              writtenAt: entry.writtenAt,
            });
          }
        }
        for (const key of this.#seen.keys()) if (!present.has(key)) this.#seen.delete(key);
        this.#ok = true;
      } catch {
        this.#ok = false;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    // A read in flight against a hub that is away is not waited for long.
    await Promise.race([this.#refreshing, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
}

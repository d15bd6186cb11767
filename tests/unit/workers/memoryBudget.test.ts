import { describe, expect, it } from "vitest";
import { isAbortError } from "../../../src/errors.js";
import { MemoryBudget, type ResidentSnapshot } from "../../../src/workers/MemoryBudget.js";
import type { EvictionCandidate } from "../../../src/workers/memoryPolicy.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A fake manager: resident models the budget may evict, and a log of evictions. */
function fakeManager(initial: EvictionCandidate[]) {
  const resident = new Map(initial.map((m) => [m.key, m]));
  const evicted: string[] = [];
  return {
    evicted,
    resident,
    setBusy(key: string, busy: boolean) {
      const known = resident.get(key);
      if (known !== undefined) resident.set(key, { ...known, busy });
    },
    snapshot: (): ResidentSnapshot => ({ resident: [...resident.values()], unloadingBytes: 0 }),
    evict: async (keys: readonly string[]) => {
      for (const key of keys) {
        resident.delete(key);
        evicted.push(key);
      }
    },
  };
}

describe("MemoryBudget", () => {
  it("fails at once, naming the model, its estimate and the budget, when a model exceeds the budget alone", async () => {
    const budget = new MemoryBudget(1000);
    const manager = fakeManager([]);
    const error = await budget
      .reserve({ model: "fixture:big", bytes: 5000, ...manager, signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "MEMORY_BUDGET_EXCEEDED",
      context: { model: "fixture:big", estimatedBytes: 5000, budgetBytes: 1000 },
    });
    expect((error as Error).message).toMatch(/fixture:big.*4\.9 KiB.*1000 B/);
  });

  it("evicts the LRU idle model, then reserves, so a concurrent load sees the room as taken", async () => {
    const budget = new MemoryBudget(100);
    const manager = fakeManager([
      { key: "a", bytes: 40, busy: false, lastUsedAt: 1 },
      { key: "b", bytes: 40, busy: false, lastUsedAt: 2 },
    ]);
    const signal = new AbortController().signal;
    const first = await budget.reserve({ model: "c", bytes: 50, ...manager, signal });
    expect(manager.evicted).toEqual(["a"]);
    expect(budget.reservedBytes).toBe(50);
    // b (40) + the reservation (50) leave 10: a second 50-byte load must evict b as well.
    const second = await budget.reserve({ model: "d", bytes: 50, ...manager, signal });
    expect(manager.evicted).toEqual(["a", "b"]);
    expect(budget.reservedBytes).toBe(100);
    first.release();
    first.release(); // idempotent
    second.release();
    expect(budget.reservedBytes).toBe(0);
  });

  it("waits while only a busy model holds the room, and proceeds once it is idle", async () => {
    const budget = new MemoryBudget(100);
    const manager = fakeManager([{ key: "a", bytes: 80, busy: true, lastUsedAt: 1 }]);
    let done = false;
    const pending = budget
      .reserve({ model: "b", bytes: 50, ...manager, signal: new AbortController().signal })
      .then((reservation) => {
        done = true;
        return reservation;
      });
    await tick();
    budget.notify(); // a change that does not help: still waiting
    await tick();
    expect(done).toBe(false);
    expect(manager.evicted).toEqual([]);
    manager.setBusy("a", false);
    budget.notify();
    const reservation = await pending;
    expect(manager.evicted).toEqual(["a"]);
    reservation.release();
  });

  it("a released reservation wakes a load that waits for it", async () => {
    const budget = new MemoryBudget(100);
    const manager = fakeManager([]);
    const signal = new AbortController().signal;
    const first = await budget.reserve({ model: "a", bytes: 70, ...manager, signal });
    const second = budget.reserve({ model: "b", bytes: 70, ...manager, signal });
    await tick();
    first.release(); // the first load failed: its room is free again
    (await second).release();
  });

  it("rejects a wait for room with an AbortError when the signal fires", async () => {
    const budget = new MemoryBudget(100);
    const manager = fakeManager([{ key: "a", bytes: 80, busy: true, lastUsedAt: 1 }]);
    const controller = new AbortController();
    const pending = budget.reserve({ model: "b", bytes: 50, ...manager, signal: controller.signal });
    await tick();
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(budget.reservedBytes).toBe(0);
    // The aborted waiter is gone: a later notify has nothing to wake.
    budget.notify();
  });
});

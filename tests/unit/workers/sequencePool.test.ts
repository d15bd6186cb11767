import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { isAbortError } from "../../../src/errors.js";
import { SequencePool } from "../../../src/workers/SequencePool.js";

/** A stand-in for a LlamaContext with `total` sequences: only what the pool uses. */
function fakeContext(total: number) {
  let made = 0;
  const context = {
    totalSequences: total,
    get sequencesLeft() {
      return total - made;
    },
    getSequence() {
      made++;
      return { id: made, disposed: false } as unknown as LlamaContextSequence;
    },
  };
  return context as unknown as LlamaContext;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("SequencePool", () => {
  it("creates sequences up to the context's count, then lends returned ones first-in first-out", async () => {
    const pool = new SequencePool(fakeContext(2));
    const a = await pool.take();
    const b = await pool.take();
    expect(a).not.toBe(b);
    expect(pool.busy).toBe(2);
    const order: string[] = [];
    const first = pool.take().then((s) => {
      order.push("first");
      return s;
    });
    const second = pool.take().then((s) => {
      order.push("second");
      return s;
    });
    await tick();
    expect(order).toEqual([]);
    pool.give(b);
    expect(await first).toBe(b);
    pool.give(a);
    expect(await second).toBe(a);
    expect(order).toEqual(["first", "second"]);
    expect(pool.busy).toBe(2);
  });

  it("ignores a sequence given back twice", async () => {
    const pool = new SequencePool(fakeContext(1));
    const a = await pool.take();
    pool.give(a);
    pool.give(a);
    expect(pool.busy).toBe(0);
    expect(await pool.take()).toBe(a);
    expect(pool.busy).toBe(1);
  });

  it("drops an aborted waiter from the queue", async () => {
    const pool = new SequencePool(fakeContext(1));
    const a = await pool.take();
    const controller = new AbortController();
    const aborted = pool.take(controller.signal).catch((e: unknown) => e);
    const next = pool.take();
    controller.abort();
    expect(isAbortError(await aborted)).toBe(true);
    pool.give(a);
    expect(await next).toBe(a);
    await expect(pool.take(AbortSignal.abort())).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("drain resolves once every borrowed sequence is back, and close rejects waiters and later takes", async () => {
    const pool = new SequencePool(fakeContext(1));
    const a = await pool.take();
    const waiter = pool.take().catch((e: unknown) => e);
    let drained = false;
    const draining = pool.drain().then(() => {
      drained = true;
    });
    await tick();
    expect(drained).toBe(false);
    pool.give(a); // served to the waiter first
    await tick();
    expect(drained).toBe(false);
    expect(await waiter).toBe(a);
    pool.give(a);
    await draining;
    expect(drained).toBe(true);

    const closed = new SequencePool(fakeContext(1));
    await closed.take();
    const pending = closed.take().catch((e: unknown) => e);
    const error = new Error("gone");
    closed.close(error);
    expect(await pending).toBe(error);
    await expect(closed.take()).rejects.toBe(error);
  });
});

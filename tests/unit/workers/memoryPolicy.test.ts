import { describe, expect, it } from "vitest";
import { formatBytes } from "../../../src/workers/formatBytes.js";
import { type EvictionCandidate, peakMemory, planRoom } from "../../../src/workers/memoryPolicy.js";

const model = (key: string, bytes: number, lastUsedAt: number, busy = false): EvictionCandidate => ({
  key,
  bytes,
  lastUsedAt,
  busy,
});

describe("planRoom (LRU eviction under a budget)", () => {
  it("loads without evicting when the free room is enough", () => {
    expect(planRoom({ budgetBytes: 100, needBytes: 40, resident: [model("a", 60, 1)] })).toEqual({
      kind: "load",
      evict: [],
    });
    // Exactly at the budget still fits.
    expect(planRoom({ budgetBytes: 100, needBytes: 40, resident: [model("a", 60, 1)] }).kind).toBe("load");
  });

  it("evicts least recently used idle models first, and only as many as needed", () => {
    const resident = [model("new", 30, 30), model("old", 30, 10), model("mid", 30, 20)];
    expect(planRoom({ budgetBytes: 100, needBytes: 30, resident })).toEqual({ kind: "load", evict: ["old"] });
    expect(planRoom({ budgetBytes: 100, needBytes: 60, resident })).toEqual({
      kind: "load",
      evict: ["old", "mid"],
    });
    expect(planRoom({ budgetBytes: 100, needBytes: 100, resident })).toEqual({
      kind: "load",
      evict: ["old", "mid", "new"],
    });
  });

  it("follows strict LRU order even when a more recent model alone would free enough", () => {
    // Evicting "big" alone would do, but "small" is older: LRU evicts it first, then "big".
    const resident = [model("small", 10, 1), model("big", 60, 2)];
    expect(planRoom({ budgetBytes: 100, needBytes: 60, resident })).toEqual({
      kind: "load",
      evict: ["small", "big"],
    });
  });

  it("never evicts a busy model, however old", () => {
    const resident = [model("busy-old", 50, 1, true), model("idle", 40, 5)];
    expect(planRoom({ budgetBytes: 100, needBytes: 45, resident })).toEqual({
      kind: "load",
      evict: ["idle"],
    });
  });

  it("waits when only busy models or loads in progress hold the room", () => {
    expect(planRoom({ budgetBytes: 100, needBytes: 60, resident: [model("a", 50, 1, true)] })).toEqual({
      kind: "wait",
    });
    // Evicting the idle one is not enough either: wait, and evict nothing yet.
    expect(
      planRoom({
        budgetBytes: 100,
        needBytes: 60,
        resident: [model("busy", 50, 1, true), model("idle", 20, 2)],
      }),
    ).toEqual({ kind: "wait" });
    // A reservation of another load counts as used.
    expect(planRoom({ budgetBytes: 100, needBytes: 60, resident: [], pendingBytes: 50 })).toEqual({
      kind: "wait",
    });
  });

  it("answers never for a model larger than the whole budget, whatever is resident", () => {
    expect(planRoom({ budgetBytes: 100, needBytes: 101, resident: [] })).toEqual({ kind: "never" });
  });
});

describe("peakMemory", () => {
  const models = [
    { key: "a", bytes: 10 },
    { key: "b", bytes: 40 },
    { key: "c", bytes: 25 },
  ];

  it("is the largest single model when one subtask runs at a time", () => {
    expect(peakMemory(models, 1)).toEqual({ bytes: 40, models: ["b"] });
  });

  it("is the sum of the maxParallel largest models, at most all of them", () => {
    expect(peakMemory(models, 2)).toEqual({ bytes: 65, models: ["b", "c"] });
    expect(peakMemory(models, 8)).toEqual({ bytes: 75, models: ["b", "c", "a"] });
  });

  it("is zero for an agent without local models", () => {
    expect(peakMemory([], 4)).toEqual({ bytes: 0, models: [] });
  });
});

describe("formatBytes", () => {
  it("uses binary units with one decimal", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(6 * 1024 ** 3)).toBe("6.0 GiB");
  });
});

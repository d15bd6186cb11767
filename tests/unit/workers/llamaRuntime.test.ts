import os from "node:os";
import type { Llama } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import {
  type LlamaRuntime,
  parseCpuinfoCores,
  physicalCoreCount,
  resolveThreads,
  SINGLE_THREAD_MAX_PARAMETERS,
  threadsForModel,
} from "../../../src/workers/llamaRuntime.js";

const block = (processor: number, physical: number, core: number) =>
  `processor\t: ${processor}\nvendor_id\t: GenuineIntel\nphysical id\t: ${physical}\nsiblings\t: 4\ncore id\t\t: ${core}\ncpu cores\t: 2\n`;

describe("parseCpuinfoCores", () => {
  it("counts unique (physical id, core id) pairs, so hyper-threads count once", () => {
    const text = [block(0, 0, 0), block(1, 0, 1), block(2, 0, 0), block(3, 0, 1)].join("\n");
    expect(parseCpuinfoCores(text)).toBe(2);
  });

  it("counts cores of every socket", () => {
    const text = [block(0, 0, 0), block(1, 0, 1), block(2, 1, 0), block(3, 1, 1)].join("\n");
    expect(parseCpuinfoCores(text)).toBe(4);
  });

  it("returns undefined when the topology fields are missing (e.g. ARM boards)", () => {
    expect(
      parseCpuinfoCores("processor\t: 0\nBogoMIPS\t: 62.50\n\nprocessor\t: 1\nBogoMIPS\t: 62.50\n"),
    ).toBeUndefined();
    expect(parseCpuinfoCores("")).toBeUndefined();
  });
});

describe("physicalCoreCount", () => {
  it("is at least 1 and never above the usable parallelism", () => {
    const cores = physicalCoreCount();
    expect(cores).toBeGreaterThanOrEqual(1);
    expect(cores).toBeLessThanOrEqual(os.availableParallelism());
  });

  it("falls back to availableParallelism when /proc/cpuinfo cannot be read", () => {
    expect(physicalCoreCount("/nonexistent/cpuinfo")).toBe(os.availableParallelism());
  });
});

describe("resolveThreads", () => {
  it("defaults to the physical cores", () => {
    expect(resolveThreads(undefined, 6)).toBe(6);
  });

  it("never exceeds the physical cores and never goes below 1", () => {
    expect(resolveThreads(16, 4)).toBe(4);
    expect(resolveThreads(0, 4)).toBe(1);
    expect(resolveThreads(2.7, 4)).toBe(2);
    expect(resolveThreads(1, 4)).toBe(1);
  });
});

describe("threadsForModel", () => {
  const runtime = (threads: number, explicitThreads: boolean): LlamaRuntime => ({
    llama: {} as Llama,
    threads,
    explicitThreads,
  });

  it("gives tiny models one thread unless the user chose a count", () => {
    expect(threadsForModel(runtime(8, false), 1_000_000)).toBe(1);
    expect(threadsForModel(runtime(8, false), SINGLE_THREAD_MAX_PARAMETERS)).toBe(8);
    expect(threadsForModel(runtime(8, false), 1_500_000_000)).toBe(8);
    expect(threadsForModel(runtime(4, true), 1_000_000)).toBe(4);
  });
});

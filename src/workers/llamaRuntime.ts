/**
 * Obtains the node-llama-cpp `Llama` instance (the loaded llama.cpp backend) with a deliberate thread count.
 * Oversubscribing cores is catastrophic for llama.cpp (measured: 4 threads on 2 cores ran 500× slower than 1),
 * and node-llama-cpp's own default can exceed the machine's cores, so edgecrew never lets it choose: threads are
 * `device.threads` or the machine's physical core count, and never more than the physical cores.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { getLlama, type Llama, type LlamaLogLevel } from "node-llama-cpp";
import { ErrorCodes, ModelError } from "../errors.js";
import type { GpuSetting } from "../types.js";

/**
 * Counts distinct physical cores in a Linux `/proc/cpuinfo` text: the unique (`physical id`, `core id`) pairs,
 * so hyper-threads sharing a core count once. Returns `undefined` when the text has no such fields (ARM boards
 * such as Jetsons list processors without them).
 */
export function parseCpuinfoCores(cpuinfo: string): number | undefined {
  const cores = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const physical = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (physical !== undefined && core !== undefined) cores.add(`${physical}:${core}`);
  }
  return cores.size > 0 ? cores.size : undefined;
}

/**
 * The machine's physical core count, capped by the cores this process may use (`os.availableParallelism()`,
 * which honours CPU affinity). Parses `/proc/cpuinfo` on Linux and falls back to `availableParallelism()`
 * where that is not possible.
 */
export function physicalCoreCount(cpuinfoPath = "/proc/cpuinfo"): number {
  const usable = Math.max(1, os.availableParallelism());
  if (process.platform !== "linux") return usable;
  try {
    const physical = parseCpuinfoCores(readFileSync(cpuinfoPath, "utf8"));
    return physical === undefined ? usable : Math.max(1, Math.min(physical, usable));
  } catch {
    return usable;
  }
}

/**
 * The thread count to give llama.cpp: the requested count (`device.threads`) clamped to `[1, physical cores]`,
 * or the physical core count when none is requested.
 */
export function resolveThreads(requested: number | undefined, physicalCores = physicalCoreCount()): number {
  if (requested === undefined || !Number.isFinite(requested)) return physicalCores;
  return Math.max(1, Math.min(Math.floor(requested), physicalCores));
}

/** How to start llama.cpp. */
export interface LlamaRuntimeOptions {
  /** `false`: CPU only; `"auto"`: node-llama-cpp picks the best available backend; or a specific backend. */
  readonly gpu: GpuSetting;
  /** Threads for llama.cpp (clamped to the physical cores); `undefined`: the physical core count. */
  readonly threads?: number;
  /** llama.cpp's log level (default `"warn"`). */
  readonly logLevel?: `${LlamaLogLevel}`;
}

/** A started llama.cpp backend and the thread count it was started with. */
export interface LlamaRuntime {
  readonly llama: Llama;
  readonly threads: number;
  /** Whether `threads` was set by the user (`device.threads`) rather than derived from the machine. */
  readonly explicitThreads: boolean;
}

/**
 * Below this many parameters one thread beats several: synchronising threads costs more than a token's compute.
 * Measured on a 2-core machine with a 0.5 MB fixture model: 1 thread about 2000 tok/s, 2 threads about 94 tok/s.
 */
export const SINGLE_THREAD_MAX_PARAMETERS = 50_000_000;

/**
 * Threads for one model's context: `device.threads` when the user set it; otherwise the physical cores, except
 * for tiny models (fewer than {@link SINGLE_THREAD_MAX_PARAMETERS} parameters), which get one.
 */
export function threadsForModel(runtime: LlamaRuntime, parameters: number): number {
  if (runtime.explicitThreads) return runtime.threads;
  return parameters < SINGLE_THREAD_MAX_PARAMETERS ? 1 : runtime.threads;
}

/**
 * Starts llama.cpp once (≈1 s): call it once per model manager. Never builds llama.cpp from source at run time
 * (`build: "never"`): a missing binary is a MODEL_LOAD_FAILED error, not a minutes-long compile mid-run.
 */
export async function startLlama(options: LlamaRuntimeOptions): Promise<LlamaRuntime> {
  const threads = resolveThreads(options.threads);
  try {
    const llama = await getLlama({
      gpu: options.gpu,
      maxThreads: threads,
      build: "never",
      logLevel: (options.logLevel ?? "warn") as LlamaLogLevel,
    });
    return { llama, threads, explicitThreads: options.threads !== undefined };
  } catch (cause) {
    throw new ModelError(
      ErrorCodes.MODEL_LOAD_FAILED,
      `could not start llama.cpp (gpu: ${String(options.gpu)}): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, context: { gpu: options.gpu, threads } },
    );
  }
}

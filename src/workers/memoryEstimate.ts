/**
 * Estimates the memory a model and its context will hold once loaded, from the GGUF header alone, with
 * node-llama-cpp's `GgufInsights`. The budget's unit is RAM + VRAM together: `device.memory` bounds what edgecrew
 * keeps resident, whatever the device (on the CPU the whole model is RAM; with a GPU, the bytes moved to VRAM
 * still count, and on unified-memory boards such as Jetsons they are the same memory anyway).
 *
 * Two passes, because the precise one is not safe for every request: node-llama-cpp's simulation (V2) loads the
 * model and creates the context in llama.cpp with allocation turned off, and matched `model.memoryUsage` +
 * `context.memoryUsage` exactly on the fixture models — but llama.cpp still allocates per-token bookkeeping while
 * simulating, so a huge context costs real memory (measured: 2.6 GB of RSS for a 50M-token context; a GGUF
 * claiming a 500M-token context once killed a process). So a cheap arithmetic lower bound (weights plus the
 * KV cache, no compute buffers) comes first, and a request whose lower bound already exceeds the limit is
 * answered with that bound, never simulated.
 */
import os from "node:os";
import { GgufInsights, type Llama, readGgufFileInfo } from "node-llama-cpp";
import { ErrorCodes, ModelError, throwIfAborted } from "../errors.js";

/** What to estimate: the context the model manager would create for it. */
export interface MemoryEstimateRequest {
  /** Tokens per sequence asked for; capped at the model's trained context. */
  readonly contextSize: number;
  /** Sequences (parallel generations) of the one context. */
  readonly sequences: number;
  /** Whether layers go to a GPU: `false` estimates a CPU-only load, otherwise every layer offloaded. */
  readonly gpu: boolean;
  /**
   * Bytes beyond which the estimate is not refined by simulation (the budget, else the machine's memory):
   * a request whose lower bound exceeds it is reported with `method: "lower-bound"`.
   */
  readonly limitBytes?: number;
  /** A started llama.cpp backend to simulate on; default node-llama-cpp's backend-less instance (CPU view). */
  readonly llama?: Llama;
  readonly signal?: AbortSignal;
}

/** The estimated resident memory of a model with its context. */
export interface MemoryEstimate {
  /** Weights, RAM + VRAM. */
  readonly modelBytes: number;
  /** The context (KV cache, compute and output buffers) for all its sequences, RAM + VRAM. */
  readonly contextBytes: number;
  /** `modelBytes + contextBytes`: what the budget counts. */
  readonly totalBytes: number;
  /** Tokens per sequence after capping at the trained context. */
  readonly contextSize: number;
  /** Tokens per sequence that were asked for. */
  readonly requestedContextSize: number;
  readonly sequences: number;
  /** The context length the model was trained on (`<arch>.context_length`). */
  readonly trainContextSize: number;
  /** Layers counted on the GPU (0 on the CPU). */
  readonly gpuLayers: number;
  /**
   * `simulated`: llama.cpp's own accounting, without allocating (exact on the fixture models); `lower-bound`:
   * the arithmetic floor only, because even that exceeds `limitBytes` (the real need is larger).
   */
  readonly method: "simulated" | "lower-bound";
}

/**
 * Estimates the resident bytes of the model at `path` with a context of `contextSize` × `sequences`, reading
 * only its GGUF header (check the file with `inspectModelFile` first: simulation loads it into llama.cpp
 * without allocating, and llama.cpp aborts the process on some malformed files). Throws a ModelError
 * MODEL_INVALID when the header cannot be read, an AbortError when the signal fires.
 *
 * @example
 * const estimate = await estimateModelMemory(path, { contextSize: 2048, sequences: 2, gpu: false });
 * console.log(estimate.totalBytes, estimate.contextSize);
 */
export async function estimateModelMemory(
  path: string,
  request: MemoryEstimateRequest,
): Promise<MemoryEstimate> {
  const { signal } = request;
  throwIfAborted(signal);
  let insights: GgufInsights;
  try {
    const info = await readGgufFileInfo(path, {
      sourceType: "filesystem",
      readTensorInfo: true,
      logWarnings: false,
      signal,
    });
    insights = await GgufInsights.from(info, request.llama);
  } catch (cause) {
    throwIfAborted(signal);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ModelError(ErrorCodes.MODEL_INVALID, `${path}: cannot read the GGUF header: ${reason}`, {
      cause,
      context: { path },
    });
  }
  const trainContextSize = insights.trainContextSize ?? request.contextSize;
  const contextSize = Math.max(1, Math.min(request.contextSize, trainContextSize));
  const sequences = Math.max(1, request.sequences);
  const gpuLayers = request.gpu ? insights.totalLayers : 0;
  const shape = { contextSize, sequences, modelGpuLayers: gpuLayers };
  const base = {
    requestedContextSize: request.contextSize,
    contextSize,
    sequences,
    trainContextSize,
    gpuLayers,
  };

  const floorModel = sum(insights.estimateModelResourceRequirements({ gpuLayers }));
  const floorContext = sum(
    insights.estimateContextResourceRequirements({ ...shape, includeGraphOverhead: false }),
  );
  if (request.limitBytes !== undefined && floorModel + floorContext > request.limitBytes) {
    return {
      ...base,
      modelBytes: floorModel,
      contextBytes: floorContext,
      totalBytes: floorModel + floorContext,
      method: "lower-bound",
    };
  }
  const modelBytes = sum(await insights.estimateModelResourceRequirementsV2({ gpuLayers }));
  throwIfAborted(signal);
  const contextBytes = sum(await insights.estimateContextResourceRequirementsV2(shape));
  throwIfAborted(signal);
  return { ...base, modelBytes, contextBytes, totalBytes: modelBytes + contextBytes, method: "simulated" };
}

/** VRAM does not change while a backend runs: asked once per `Llama`. */
const machineBytesByLlama = new WeakMap<Llama, Promise<number>>();

/**
 * The memory this machine has for models: its RAM, plus the GPU's VRAM when `llama` runs on a GPU with memory
 * of its own (unified memory is counted once). The limit an estimate is held to when no budget is set, so that
 * an impossible request fails as a typed error instead of being attempted.
 */
export function machineMemoryBytes(llama?: Llama): Promise<number> {
  const ram = os.totalmem();
  if (llama === undefined || llama.gpu === false) return Promise.resolve(ram);
  let known = machineBytesByLlama.get(llama);
  if (known === undefined) {
    known = llama.getVramState().then(
      (vram) => ram + Math.max(0, vram.total - vram.unifiedSize),
      () => ram,
    );
    machineBytesByLlama.set(llama, known);
  }
  return known;
}

/** RAM + VRAM of a node-llama-cpp requirement, rounded up to whole bytes (the heuristics return fractions). */
function sum(requirements: { readonly cpuRam: number; readonly gpuVram: number }): number {
  return Math.ceil(requirements.cpuRam + requirements.gpuVram);
}

/**
 * An agent's memory before any run: each local model's estimate with the context the model manager would give
 * it, the peak the agent can need at once, and whether that fits `device.memory`. Reads GGUF headers only —
 * nothing is loaded — so `edgecrew models estimate` and `validate`-time checks can answer in a second on the
 * device or off it. `fixture:` models are generated when missing (they are tiny and local); `hf:` models that
 * are not downloaded yet are reported as such, without touching the network.
 */
import { dirname } from "node:path";
import type { Llama } from "node-llama-cpp";
import { ErrorCodes, isEdgecrewError, throwIfAborted } from "../errors.js";
import type { AgentDefinition, LocalModelRef, LoraAdapter } from "../types.js";
import { EMBEDDING_CONTEXT_SIZE } from "./embeddingRanker.js";
import { inspectLoraFile, inspectModelFile } from "./ggufCheck.js";
import { embeddingModelKey, modelKey } from "./ModelManager.js";
import {
  estimateModelMemory,
  loraBytes,
  type MemoryBreakdown,
  type MemoryEstimate,
  machineMemoryBytes,
} from "./memoryEstimate.js";
import { peakMemory } from "./memoryPolicy.js";
import { type ResolveModelOptions, resolveModelPath } from "./resolveModel.js";

/**
 * The context a local planner gets when its definition sets none; the same default as `ChatNodeLlamaCpp`'s
 * `contextSize`, so the estimate matches what a run creates.
 */
export const DEFAULT_PLANNER_CONTEXT_SIZE = 4096;
/** llama.cpp's most sequences per context, as the model manager caps them. */
const MAX_SEQUENCES = 256;

/** Where models are looked for, and what to estimate with. */
export interface AgentMemoryOptions {
  /** Fixture cache directory (default the fixture generator's). */
  readonly fixtureCacheDir?: string;
  /** Directory of downloaded `hf:` models (default `defaultModelsDir()`). */
  readonly modelsDir?: string;
  /** Base for relative `file` paths; default the directory of `agent.source`, else the working directory. */
  readonly baseDir?: string;
  /** A started backend to simulate on; default node-llama-cpp's backend-less instance (the CPU's view). */
  readonly llama?: Llama;
  readonly signal?: AbortSignal;
}

/** One local model of an agent and its estimate. */
export interface ModelMemoryRow {
  /**
   * The reference as written (with `+lora(path@scale,…)` for a worker's model with LoRA adapters, `+embedding`
   * for a Tool RAG embedding model: its embedding context is an entry of its own).
   */
  readonly model: string;
  /** Who runs on it: `planner` and/or worker names (`name (toolSearch)` for a worker's embedding model). */
  readonly usedBy: readonly string[];
  /** `estimated`, or `not-downloaded` for an `hf:` model not in the models directory (no numbers then). */
  readonly status: "estimated" | "not-downloaded";
  readonly path?: string;
  /** Size of the GGUF file. */
  readonly fileBytes?: number;
  /** Model plus context for all its sequences (plus its LoRA adapters), RAM + VRAM: what becomes resident. */
  readonly estimatedBytes?: number;
  /** The LoRA adapters' tensor bytes included in `estimatedBytes`; absent without adapters. */
  readonly loraBytes?: number;
  /** The parts of `estimatedBytes` (weights, vocabulary, overhead, KV cache, compute, sampling). */
  readonly breakdown?: MemoryBreakdown;
  /** How the estimate was made (see `estimateModelMemory`). */
  readonly method?: MemoryEstimate["method"];
  /** Tokens per sequence the context gets: the largest asked for, capped at the trained context when known. */
  readonly contextSize: number;
  /** Sequences of its one context: the largest `parallel` among its users (1 for the planner). */
  readonly sequences: number;
  /** Whether it fits the limit on its own; absent when not estimated. */
  readonly fits?: boolean;
}

/** An agent's memory picture (see {@link estimateAgentMemory}). */
export interface AgentMemoryEstimate {
  readonly agent: string;
  readonly models: readonly ModelMemoryRow[];
  /**
   * The most the agent can need resident at once: the sum of the `min(maxParallel, models)` largest estimates
   * (see `peakMemory`), over the models that could be estimated.
   */
  readonly peakBytes: number;
  /** The models counted in the peak, largest first. */
  readonly peakModels: readonly string[];
  readonly maxParallel: number;
  /** `device.memory` in bytes; absent when the agent sets none. */
  readonly budgetBytes?: number;
  /** What `fits` is measured against: `device.memory`, else this machine's memory. */
  readonly limitBytes: number;
  readonly limitSource: "device.memory" | "machine";
  /** Every local model was estimated (none awaits a download). */
  readonly complete: boolean;
  /**
   * Every estimated model fits alone: runs can complete, though when the peak does not fit, loads wait for busy
   * models (less parallelism).
   */
  readonly runnable: boolean;
  /** `complete`, and the peak fits the limit: no load ever waits for memory. */
  readonly fits: boolean;
}

interface Need {
  readonly key: string;
  readonly ref: LocalModelRef;
  readonly lora: readonly LoraAdapter[];
  readonly usedBy: string[];
  contextSize: number;
  sequences: number;
}

/** The local models of an agent with the context each gets, merged the way the model manager merges them. */
function localNeeds(agent: AgentDefinition): Need[] {
  const needs = new Map<string, Need>();
  const add = (
    ref: LocalModelRef,
    user: string,
    contextSize: number,
    sequences: number,
    lora: readonly LoraAdapter[] = [],
    key = modelKey(ref, lora),
  ) => {
    const known = needs.get(key);
    if (known === undefined) {
      needs.set(key, {
        key,
        ref,
        lora,
        usedBy: [user],
        contextSize,
        sequences: Math.min(MAX_SEQUENCES, sequences),
      });
      return;
    }
    known.usedBy.push(user);
    known.contextSize = Math.max(known.contextSize, contextSize);
    known.sequences = Math.min(MAX_SEQUENCES, Math.max(known.sequences, sequences));
  };
  const planner = agent.planner.model;
  if (planner.kind !== "remote") {
    add(planner, "planner", agent.planner.contextSize ?? DEFAULT_PLANNER_CONTEXT_SIZE, 1);
  }
  for (const worker of agent.workers) {
    add(worker.model, worker.name, worker.contextSize, Math.max(1, worker.parallel), worker.lora);
  }
  // Tool RAG's embedding models: one embedding context each (one sequence), shared by the workers naming it.
  for (const worker of agent.workers) {
    const embedding = worker.toolSearch?.model;
    if (embedding === undefined) continue;
    add(
      embedding,
      `${worker.name} (toolSearch)`,
      EMBEDDING_CONTEXT_SIZE,
      1,
      [],
      embeddingModelKey(embedding),
    );
  }
  return [...needs.values()];
}

function baseDirOf(agent: AgentDefinition, options: AgentMemoryOptions): string | undefined {
  // Loaded definitions already carry absolute paths; this only matters for relative paths written in code.
  return options.baseDir ?? (agent.source === undefined ? undefined : dirname(agent.source));
}

/**
 * Estimates every local model of an agent (the planner when it is local, each worker model once, each Tool RAG
 * embedding model once) and the peak
 * it can need, without loading anything. Throws a ModelError when a `file:` model is missing or not a usable
 * GGUF (MODEL_NOT_FOUND / MODEL_INVALID) or a fixture cannot be written; an AbortError when the signal fires.
 *
 * @example
 * const report = await estimateAgentMemory(await loadAgent("agents/offline-demo.yaml"));
 * if (!report.fits) console.log(`peak ${report.peakBytes} > ${report.limitBytes}`);
 */
export async function estimateAgentMemory(
  agent: AgentDefinition,
  options: AgentMemoryOptions = {},
): Promise<AgentMemoryEstimate> {
  const budgetBytes = agent.device.memoryBytes;
  const limitBytes = budgetBytes ?? (await machineMemoryBytes(options.llama));
  const baseDir = baseDirOf(agent, options);
  const resolve: ResolveModelOptions = {
    download: false,
    ...(options.fixtureCacheDir === undefined ? {} : { fixtureCacheDir: options.fixtureCacheDir }),
    ...(options.modelsDir === undefined ? {} : { modelsDir: options.modelsDir }),
    ...(baseDir === undefined ? {} : { baseDir }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const rows: ModelMemoryRow[] = [];
  for (const need of localNeeds(agent)) {
    throwIfAborted(options.signal);
    rows.push(await estimateNeed(need, agent, resolve, limitBytes, options));
  }
  const estimated = rows.flatMap((row) =>
    row.estimatedBytes === undefined ? [] : [{ key: row.model, bytes: row.estimatedBytes }],
  );
  const peak = peakMemory(estimated, agent.limits.maxParallel);
  const complete = rows.every((row) => row.status === "estimated");
  return {
    agent: agent.name,
    models: rows,
    peakBytes: peak.bytes,
    peakModels: peak.models,
    maxParallel: agent.limits.maxParallel,
    ...(budgetBytes === undefined ? {} : { budgetBytes }),
    limitBytes,
    limitSource: budgetBytes === undefined ? "machine" : "device.memory",
    complete,
    runnable: rows.every((row) => row.fits !== false),
    fits: complete && peak.bytes <= limitBytes,
  };
}

async function estimateNeed(
  need: Need,
  agent: AgentDefinition,
  resolve: ResolveModelOptions,
  limitBytes: number,
  options: AgentMemoryOptions,
): Promise<ModelMemoryRow> {
  const common = { model: need.key, usedBy: need.usedBy, sequences: need.sequences };
  let path: string;
  try {
    path = await resolveModelPath(need.ref, resolve);
  } catch (error) {
    // Downloads are off here, so a missing hf: model is "not yet", not an error of the definition.
    if (need.ref.kind === "hf" && isEdgecrewError(error) && error.code === ErrorCodes.MODEL_NOT_FOUND) {
      return { ...common, status: "not-downloaded", contextSize: need.contextSize };
    }
    throw error;
  }
  const info = await inspectModelFile(path, options.signal === undefined ? {} : { signal: options.signal });
  const estimate = await estimateModelMemory(path, {
    contextSize: need.contextSize,
    sequences: need.sequences,
    gpu: agent.device.gpu !== false,
    limitBytes,
    ...(options.llama === undefined ? {} : { llama: options.llama }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const adapters = [];
  for (const adapter of need.lora) {
    adapters.push(
      await inspectLoraFile(adapter.path, {
        base: info,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }),
    );
  }
  const adapterBytes = loraBytes(adapters);
  const totalBytes = estimate.totalBytes + adapterBytes;
  return {
    ...common,
    status: "estimated",
    path,
    fileBytes: info.bytes,
    estimatedBytes: totalBytes,
    ...(need.lora.length === 0 ? {} : { loraBytes: adapterBytes }),
    breakdown: estimate.breakdown,
    method: estimate.method,
    contextSize: estimate.contextSize,
    fits: totalBytes <= limitBytes,
  };
}

/**
 * Loads a checked GGUF file into llama.cpp and creates its one context. Either step can fail (memory, a
 * backend error); a half-opened model is disposed with a bounded wait, because after a failed `createContext`
 * `model.dispose()` was once seen never to resolve.
 */
import type { Llama, LlamaContext, LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
import { abortErrorFor, ErrorCodes, ModelError, throwIfAborted } from "../errors.js";
import type { LoraAdapter } from "../types.js";
import { settleWithin } from "./asyncGuards.js";

/** What to open and how. */
export interface OpenModelOptions {
  /** The model's reference as written, for error messages. */
  readonly model: string;
  readonly path: string;
  /** Tokens per sequence. */
  readonly contextSize: number;
  readonly sequences: number;
  /** LoRA adapters applied to the context (already checked by inspectLoraFile); absent or empty: none. */
  readonly lora?: readonly LoraAdapter[];
  readonly threads: number;
  readonly signal: AbortSignal;
  readonly disposeTimeoutMs: number;
}

/** An opened model with its context and the memory node-llama-cpp accounts for both. */
export interface OpenedModel {
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  /** RAM + VRAM node-llama-cpp reserved for the weights and the context (0 when it reports nothing). */
  readonly bytes: number;
}

function loadFailed(
  options: Pick<OpenModelOptions, "model" | "path">,
  what: string,
  cause: unknown,
): ModelError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ModelError(ErrorCodes.MODEL_LOAD_FAILED, `${options.model}: ${what}: ${reason}`, {
    cause,
    context: { model: options.model, path: options.path },
  });
}

/**
 * Loads the model's weights (no context). Throws a ModelError MODEL_LOAD_FAILED (with the cause), or an
 * AbortError when the signal fires.
 */
export async function loadModelFile(
  llama: Llama,
  options: Pick<OpenModelOptions, "model" | "path" | "signal">,
): Promise<LlamaModel> {
  try {
    return await llama.loadModel({ modelPath: options.path, loadSignal: options.signal });
  } catch (cause) {
    throwIfAborted(options.signal);
    throw loadFailed(options, "could not load the model", cause);
  }
}

/**
 * Creates a context on a loaded model, with the LoRA adapters applied to it (the model itself is not changed,
 * so other contexts on it stay plain or carry their own adapters). Throws a ModelError MODEL_LOAD_FAILED, or an
 * AbortError when the signal fires; the model is left loaded either way (its owner disposes it).
 */
export async function createModelContext(
  model: LlamaModel,
  options: Omit<OpenModelOptions, "path"> & { readonly path?: string },
): Promise<LlamaContext> {
  const { signal } = options;
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize: options.contextSize,
      sequences: options.sequences,
      threads: options.threads,
      createSignal: signal,
      failedCreationRemedy: false,
      ...(options.lora === undefined || options.lora.length === 0
        ? {}
        : {
            lora: {
              adapters: options.lora.map((adapter) => ({ filePath: adapter.path, scale: adapter.scale })),
            },
          }),
    });
  } catch (cause) {
    throwIfAborted(signal);
    throw loadFailed({ model: options.model, path: options.path ?? "" }, "could not create a context", cause);
  }
  if (signal.aborted) {
    await settleWithin(context.dispose(), options.disposeTimeoutMs);
    throw abortErrorFor(signal, `loading ${options.model}`);
  }
  return context;
}

/**
 * Creates an embedding context (node-llama-cpp's `createEmbeddingContext`: a context of one sequence that
 * returns the model's embedding of an input) on a loaded model. Throws a ModelError MODEL_LOAD_FAILED (an
 * encoder-decoder model, memory, a backend error), or an AbortError when the signal fires; the model is left
 * loaded either way (its owner disposes it).
 */
export async function createEmbeddingModelContext(
  model: LlamaModel,
  options: Pick<OpenModelOptions, "model" | "contextSize" | "threads" | "signal" | "disposeTimeoutMs"> & {
    readonly path?: string;
  },
): Promise<LlamaEmbeddingContext> {
  const { signal } = options;
  let context: LlamaEmbeddingContext;
  try {
    context = await model.createEmbeddingContext({
      contextSize: options.contextSize,
      threads: options.threads,
      createSignal: signal,
    });
  } catch (cause) {
    throwIfAborted(signal);
    throw loadFailed(
      { model: options.model, path: options.path ?? "" },
      "could not create an embedding context",
      cause,
    );
  }
  if (signal.aborted) {
    await settleWithin(context.dispose(), options.disposeTimeoutMs);
    throw abortErrorFor(signal, `loading ${options.model}`);
  }
  return context;
}

/**
 * Loads the model and creates its context. Throws a ModelError MODEL_LOAD_FAILED (with the cause) when either
 * fails, an AbortError when the signal fires; nothing stays allocated in either case.
 */
export async function openModel(llama: Llama, options: OpenModelOptions): Promise<OpenedModel> {
  const model = await loadModelFile(llama, options);
  let context: LlamaContext;
  try {
    context = await createModelContext(model, options);
  } catch (error) {
    await settleWithin(model.dispose(), options.disposeTimeoutMs);
    throw error;
  }
  const bytes =
    model.memoryUsage.ram + model.memoryUsage.vram + context.memoryUsage.ram + context.memoryUsage.vram;
  return { model, context, bytes };
}

/**
 * Turns a local model reference into an absolute file path: `file` refs are resolved against a base directory,
 * `fixture` refs are generated on first use into the fixture cache, and `hf:` refs are looked up in the models
 * directory and downloaded by node-llama-cpp when missing. Every failure is a ModelError, and every wait is
 * bounded: node-llama-cpp's downloader ignores the abort signal once it runs and retries for minutes without a
 * network, so the download is raced against the caller's signal and a stall timeout.
 */
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { AbortError, ErrorCodes, ModelError, throwIfAborted } from "../errors.js";
import { resolveFixtureModel } from "../testing/fixtureModel.js";
import type { LocalModelRef } from "../types.js";

/** Where models come from and how long a download may stall. */
export interface ResolveModelOptions {
  /** Directory of downloaded `hf:` models; default {@link defaultModelsDir}. */
  readonly modelsDir?: string;
  /** Fixture cache directory; default the fixture generator's (`$EDGECREW_CACHE_DIR/fixtures`, …). */
  readonly fixtureCacheDir?: string;
  /** Base for relative `file` paths; default the current working directory. */
  readonly baseDir?: string;
  /** Whether a missing `hf:` model may be downloaded (default true). */
  readonly download?: boolean;
  /** A download that reports no progress for this long fails with MODEL_NOT_FOUND (default 60 s). */
  readonly stallTimeoutMs?: number;
  /** Download progress of an `hf:` model, in bytes. */
  readonly onProgress?: (progress: { readonly downloadedBytes: number; readonly totalBytes: number }) => void;
  readonly signal?: AbortSignal;
}

/** The default directory for downloaded models: `$EDGECREW_MODELS_DIR`, else `~/.cache/edgecrew/models`. */
export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.EDGECREW_MODELS_DIR;
  if (configured !== undefined && configured !== "") return resolve(configured);
  return join(homedir(), ".cache", "edgecrew", "models");
}

const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/**
 * Resolves a local model reference to an absolute path of a file that exists (its contents are checked later,
 * by `inspectModelFile`). Throws a ModelError: MODEL_NOT_FOUND when the model is not there and cannot be
 * fetched (for a family fixture, also when the family's tokenizer package, a devDependency of edgecrew, is not
 * installed: the message names it), MODEL_REF_INVALID for a malformed fixture reference; an AbortError when
 * the signal fires.
 *
 * @example
 * const path = await resolveModelPath({ kind: "hf", raw: "hf:bartowski/x-GGUF:Q4_K_M", uri: "hf:bartowski/x-GGUF:Q4_K_M" });
 */
export async function resolveModelPath(
  ref: LocalModelRef,
  options: ResolveModelOptions = {},
): Promise<string> {
  throwIfAborted(options.signal);
  switch (ref.kind) {
    case "file":
      return isAbsolute(ref.path) ? ref.path : resolve(options.baseDir ?? process.cwd(), ref.path);
    case "fixture":
      return await resolveFixtureModel(
        {
          name: ref.name,
          seed: ref.seed,
          size: ref.size,
          ...(ref.family === undefined ? {} : { family: ref.family }),
        },
        options.fixtureCacheDir === undefined ? {} : { cacheDir: options.fixtureCacheDir },
      );
    case "hf":
      return await resolveHuggingFace(ref, options);
  }
}

async function resolveHuggingFace(ref: Extract<LocalModelRef, { kind: "hf" }>, options: ResolveModelOptions) {
  const uri = ref.uri.startsWith("hf:") ? ref.uri : `hf:${ref.uri}`;
  const directory = options.modelsDir ?? defaultModelsDir();
  const notFound = (message: string, cause?: unknown) =>
    new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${ref.raw}: ${message}`, {
      cause,
      context: { model: ref.raw, directory },
    });
  // A model already in the directory resolves without touching the network.
  try {
    return await resolveModelFile(uri, { directory, download: false, cli: false });
  } catch (cause) {
    if (options.download === false) throw notFound(`not found in ${directory} (downloads disabled)`, cause);
  }
  throwIfAborted(options.signal);
  return await boundedDownload(uri, directory, options, notFound);
}

function boundedDownload(
  uri: string,
  directory: string,
  options: ResolveModelOptions,
  notFound: (message: string, cause?: unknown) => ModelError,
): Promise<string> {
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  return new Promise<string>((resolvePath, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      action();
    };
    const armStallTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        finish(() =>
          reject(notFound(`download made no progress for ${stallMs} ms (is the network reachable?)`)),
        );
      }, stallMs);
      timer.unref();
    };
    const onAbort = () =>
      finish(() => reject(new AbortError("model download aborted", { cause: options.signal?.reason })));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    armStallTimer();
    resolveModelFile(uri, {
      directory,
      cli: false,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: ({ totalSize, downloadedSize }) => {
        armStallTimer();
        try {
          options.onProgress?.({ downloadedBytes: downloadedSize, totalBytes: totalSize });
        } catch {
          // A progress callback must not break the download.
        }
      },
    }).then(
      (path) => finish(() => resolvePath(path)),
      (cause: unknown) =>
        finish(() =>
          reject(
            notFound(`could not download: ${cause instanceof Error ? cause.message : String(cause)}`, cause),
          ),
        ),
    );
  });
}

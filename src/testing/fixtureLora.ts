/**
 * Generated LoRA adapters for the toy fixture model: seeded, deterministic GGUF files in the layout llama.cpp's
 * `llama_adapter_lora_init` reads (`general.type = "adapter"`, `adapter.type = "lora"`, `adapter.lora.alpha`,
 * and for each adapted weight `W` of shape `[in, out]` (ggml order) a pair `W.lora_a` `[in, rank]` and
 * `W.lora_b` `[rank, out]`). The weights are random, so an adapter changes what the model generates — which is
 * all tests need to see that it is applied.
 *
 * Like fixtureModel.ts this imports only `node:` built-ins and edgecrew's own GGUF writer and errors.
 */
import { resolve } from "node:path";
import { ErrorCodes, isEdgecrewError, ModelError } from "../errors.js";
import { FIXTURE_MODEL_CONFIGS, type FixtureModelRef } from "./fixtureModel.js";
import {
  type GgufDocument,
  type GgufTensor,
  type GgufValue,
  type GgufWriteResult,
  planGgufLayout,
  writeGgufFile,
} from "./gguf/ggufWriter.js";
import { tensorSeed, uniformWeightChunks } from "./seededWeights.js";

/** Which of a layer's weights an adapter adapts. */
export type FixtureLoraTarget =
  | "attn_q"
  | "attn_k"
  | "attn_v"
  | "attn_output"
  | "ffn_gate"
  | "ffn_up"
  | "ffn_down";

/** Options of {@link fixtureLoraGgufDocument} and {@link createFixtureLora}. */
export interface FixtureLoraOptions {
  /** PRNG seed of the adapter's weights (integer 0…2³²−1); default 1. */
  readonly seed?: number;
  /** LoRA rank r; default 4. */
  readonly rank?: number;
  /** `adapter.lora.alpha`; llama.cpp scales the update by alpha / rank. Default: the rank (a factor of 1). */
  readonly alpha?: number;
  /** The weights adapted in every layer; default the attention projections and the feed-forward weights. */
  readonly targets?: readonly FixtureLoraTarget[];
  /**
   * Amplitude of the uniform `lora_b` values (`lora_a` uses sqrt(3 / in)); default 0.5, large enough that the
   * random-weight model's next tokens change.
   */
  readonly amplitude?: number;
}

const DEFAULT_TARGETS: readonly FixtureLoraTarget[] = [
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
];

function invalid(message: string, context: Record<string, unknown>): ModelError {
  return new ModelError(ErrorCodes.MODEL_REF_INVALID, message, { context });
}

/** `[in, out]` of a target weight in the toy fixture of `base` (ggml order). */
function targetShape(base: FixtureModelRef, target: FixtureLoraTarget): readonly [number, number] {
  const config = FIXTURE_MODEL_CONFIGS[base.size];
  const e = config.embeddingLength;
  const f = config.feedForwardLength;
  const kvDim = (e / config.headCount) * config.headCountKv;
  switch (target) {
    case "attn_q":
    case "attn_output":
      return [e, e];
    case "attn_k":
    case "attn_v":
      return [e, kvDim];
    case "ffn_gate":
    case "ffn_up":
      return [e, f];
    case "ffn_down":
      return [f, e];
  }
}

function randomTensor(seed: number, name: string, shape: readonly number[], amplitude: number): GgufTensor {
  const count = shape.reduce((product, dim) => product * dim, 1);
  return {
    name,
    shape,
    type: "f32",
    data: () => uniformWeightChunks(count, tensorSeed(seed, name), amplitude),
  };
}

/**
 * The GGUF document of a LoRA adapter for the toy fixture model `base` (the family fixtures are refused with
 * MODEL_REF_INVALID). Equal arguments give byte-identical documents.
 */
export function fixtureLoraGgufDocument(
  base: FixtureModelRef,
  options: FixtureLoraOptions = {},
): GgufDocument {
  if (base.family !== undefined) {
    throw invalid(
      `fixture LoRA adapters are generated for the toy fixture only, not family "${base.family}"`,
      {
        family: base.family,
      },
    );
  }
  const config = FIXTURE_MODEL_CONFIGS[base.size];
  if (config === undefined) throw invalid(`unknown fixture size "${String(base.size)}"`, { size: base.size });
  const seed = options.seed ?? 1;
  const rank = options.rank ?? 4;
  const alpha = options.alpha ?? rank;
  const amplitude = options.amplitude ?? 0.5;
  const targets = options.targets ?? DEFAULT_TARGETS;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw invalid(`fixture LoRA seed must be an integer from 0 to 4294967295, got ${seed}`, { seed });
  }
  if (!Number.isInteger(rank) || rank < 1 || rank > 256) {
    throw invalid(`fixture LoRA rank must be an integer from 1 to 256, got ${rank}`, { rank });
  }
  if (!Number.isFinite(alpha) || !Number.isFinite(amplitude) || targets.length === 0) {
    throw invalid("fixture LoRA alpha and amplitude must be finite and targets non-empty", {
      alpha,
      amplitude,
    });
  }
  const str = (value: string): GgufValue => ({ type: "string", value });
  const metadata: Array<readonly [string, GgufValue]> = [
    ["general.architecture", str("llama")],
    ["general.type", str("adapter")],
    ["general.name", str(`${base.name}-lora`)],
    ["general.alignment", { type: "uint32", value: 32 }],
    ["adapter.type", str("lora")],
    ["adapter.lora.alpha", { type: "float32", value: alpha }],
    ["edgecrew.fixture.seed", { type: "uint32", value: seed }],
  ];
  const tensors: GgufTensor[] = [];
  for (let layer = 0; layer < config.blockCount; layer++) {
    for (const target of targets) {
      const name = `blk.${layer}.${target}.weight`;
      const [inputs, outputs] = targetShape(base, target);
      tensors.push(
        randomTensor(seed, `${name}.lora_a`, [inputs, rank], Math.sqrt(3 / inputs)),
        randomTensor(seed, `${name}.lora_b`, [rank, outputs], amplitude),
      );
    }
  }
  return { metadata, tensors, alignment: 32 };
}

/** The bytes of the adapter's tensors (f32), the part llama.cpp copies into memory. */
export function fixtureLoraTensorBytes(base: FixtureModelRef, options: FixtureLoraOptions = {}): number {
  return planGgufLayout(fixtureLoraGgufDocument(base, options)).tensors.reduce(
    (sum, tensor) => sum + tensor.byteLength,
    0,
  );
}

/**
 * Writes a LoRA adapter GGUF for the toy fixture `base` to `path` (atomically, like fixture models). Throws a
 * ModelError MODEL_REF_INVALID for bad options, MODEL_NOT_FOUND when the file system refuses the write.
 *
 * @example
 * ```ts
 * import { createFixtureLora } from "edgecrew/testing";
 * await createFixtureLora({ name: "fixture", seed: 1, size: "tiny" }, { seed: 7, path: "/tmp/a.gguf" });
 * ```
 */
export async function createFixtureLora(
  base: FixtureModelRef,
  options: FixtureLoraOptions & { readonly path: string },
): Promise<GgufWriteResult> {
  const path = resolve(options.path);
  const document = fixtureLoraGgufDocument(base, options);
  try {
    return await writeGgufFile(path, document);
  } catch (error) {
    if (isEdgecrewError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelError(
      ErrorCodes.MODEL_NOT_FOUND,
      `could not write fixture LoRA adapter to ${path}: ${reason}`,
      {
        cause: error,
        context: { path },
      },
    );
  }
}

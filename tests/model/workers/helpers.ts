/**
 * Shared setup of the workers' model tests: a temporary fixture cache, fixture model references, worker
 * definitions and requests, and a recording event sink.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  DeviceConfig,
  JsonSchema,
  LocalModelRef,
  RunEventInput,
  SubtaskRequest,
  WorkerDefinition,
} from "../../../src/types.js";

/** Tests run llama.cpp on one CPU thread, never the GPU (see NODE-LLAMA-CPP-NOTES: the threads trap). */
export const TEST_DEVICE: DeviceConfig = { gpu: false, threads: 1 };

/**
 * An answer schema with a rule only the validator enforces (`uniqueItems`): the grammar lets any four codes from 1
 * to 4 through, and 24 of those 256 are distinct, so a random-weights model's answers often need a repair.
 */
export const DISTINCT_CODES: JsonSchema = {
  type: "object",
  properties: {
    codes: {
      type: "array",
      items: { type: "integer", minimum: 1, maximum: 4 },
      minItems: 4,
      maxItems: 4,
      uniqueItems: true,
    },
  },
  required: ["codes"],
};

/**
 * An answer a random-weights model all but never gets right, by a rule only the validator enforces: ten codes from
 * ten letters, all different (`uniqueItems`; 10!/10^10, about 1 answer in 2,800, passes). A worker with it is repaired
 * and then escalated; {@link ALL_CODES} is a valid answer for the planner to give.
 */
export const TEN_DISTINCT_CODES = {
  type: "object",
  properties: {
    code: {
      type: "array",
      items: { enum: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] },
      minItems: 10,
      maxItems: 10,
      uniqueItems: true,
    },
  },
  required: ["code"],
  additionalProperties: false,
} as const satisfies JsonSchema;

/** A valid answer of {@link TEN_DISTINCT_CODES}. */
export const ALL_CODES = { code: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] };

export function fixtureRef(seed = 1): LocalModelRef {
  return { kind: "fixture", raw: `fixture:tiny?seed=${seed}`, name: "fixture", seed, size: "tiny" };
}

export function fileRef(path: string): LocalModelRef {
  return { kind: "file", raw: path, path };
}

export async function tempDir(
  prefix = "edgecrew-workers-",
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function workerDef(output: JsonSchema, overrides: Partial<WorkerDefinition> = {}): WorkerDefinition {
  return {
    name: "w",
    description: "test worker",
    model: fixtureRef(),
    tools: [],
    output,
    contextSize: 1024,
    maxTokens: 256,
    temperature: 0.8,
    parallel: 1,
    ...overrides,
  };
}

export function request(
  worker: WorkerDefinition,
  id = "s1",
  dependencies: SubtaskRequest["dependencies"] = {},
): SubtaskRequest {
  return {
    runId: "run-1",
    task: "Plan a weekend trip to the mountains",
    subtask: {
      id,
      worker: worker.name,
      instruction: "Answer for your part of the trip.",
      dependsOn: Object.keys(dependencies),
    },
    worker,
    dependencies,
  };
}

/** A CallContext that records events. */
export function recorder(signal: AbortSignal = new AbortController().signal) {
  const events: RunEventInput[] = [];
  return { events, context: { signal, emit: (event: RunEventInput) => events.push(event) } };
}

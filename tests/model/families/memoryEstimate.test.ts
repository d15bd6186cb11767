/**
 * Memory you can plan with, on family fixtures (size tiny, where the 151k–262k-token vocabulary weighs far more
 * than the weights): edgecrew's estimate of a model with its context against the peak RSS growth of a process
 * that loads it and generates under a grammar, and `validate` refusing an agent whose family model cannot fit
 * `device.memory`, with the numbers.
 *
 * RSS, not node-llama-cpp's accounting, because what the estimate promises is resident memory (llama.cpp's own
 * accounting counts 300–500 MiB of reserved, never-touched logits and none of the vocabulary). The measurement
 * runs in a child process of its own with MALLOC_MMAP_THRESHOLD_=131072 and takes the highest of three runs (a
 * peak is what a budget must hold; at this size the JavaScript heap's garbage collection moves a single run's
 * peak by up to 10 %).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";
import type { FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import { resolveFixtureModel } from "../../../src/testing/fixtureModel.js";
import type { JsonSchema } from "../../../src/types.js";
import { formatBytes } from "../../../src/workers/formatBytes.js";
import { estimateModelMemory } from "../../../src/workers/memoryEstimate.js";
import { compileTurnGrammar } from "../../../src/workers/turnGrammar.js";
import { FAMILY_ANSWER } from "./familyHelpers.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const CHILD = join(here, "peakMemoryChild.mjs");
const MiB = 2 ** 20;
const CONTEXT_SIZE = 2048;
// As many tokens as the bench generates (its measurements are the unit test's table).
const TOKENS = 128;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-family-memory-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ANSWER: JsonSchema = FAMILY_ANSWER;

function measurePeakGrowth(path: string, gbnf: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const config = JSON.stringify({ path, gbnf, contextSize: CONTEXT_SIZE, tokens: TOKENS });
    const child = spawn(process.execPath, [CHILD, config], {
      cwd: repoRoot,
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "131072" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || line === undefined) {
        reject(new Error(`measurement child exited with ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const result = JSON.parse(line) as { peakGrowthBytes: number; generated: number };
      if (result.generated < TOKENS) reject(new Error(`generated ${result.generated} of ${TOKENS} tokens`));
      else resolvePromise(result.peakGrowthBytes);
    });
  });
}

async function familyFixture(family: FixtureFamily): Promise<string> {
  return await resolveFixtureModel({ name: "mem", seed: 1, size: "tiny", family }, { cacheDir: dir });
}

describe("memory estimate on family fixtures", () => {
  const { gbnf } = compileTurnGrammar({ answer: ANSWER, maxTokens: 256 });

  for (const family of ["qwen3", "gemma3"] as const) {
    it(`${family} tiny: the estimate is within ±15 % of the measured peak growth (highest of 3)`, async () => {
      const path = await familyFixture(family);
      const estimate = await estimateModelMemory(path, {
        contextSize: CONTEXT_SIZE,
        sequences: 1,
        gpu: false,
      });
      expect(estimate.method).toBe("arithmetic");
      // The vocabulary, not the weights, dominates a tiny family model.
      expect(estimate.breakdown.vocabulary).toBeGreaterThan(estimate.breakdown.weights);
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) runs.push(await measurePeakGrowth(path, gbnf));
      const measured = Math.max(...runs);
      const ratio = estimate.totalBytes / measured;
      console.info(
        `[measure] ${family} tiny: estimate ${(estimate.totalBytes / MiB).toFixed(1)} MiB (${Object.entries(
          estimate.breakdown,
        )
          .map(([part, bytes]) => `${part} ${(bytes / MiB).toFixed(1)}`)
          .join(
            ", ",
          )}); peak growth ${runs.map((b) => (b / MiB).toFixed(1)).join(", ")} MiB; ratio ${ratio.toFixed(2)}`,
      );
      expect(ratio).toBeGreaterThanOrEqual(0.85);
      expect(ratio).toBeLessThanOrEqual(1.15);
    }, 300_000);
  }
});

/** Runs the CLI in-process, collecting its output. */
async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: {
      write: (text: string) => {
        stdout += text;
      },
    },
    stderr: {
      write: (text: string) => {
        stderr += text;
      },
    },
    env: { EDGECREW_CACHE_DIR: dir },
    cwd: dir,
    onInterrupt: () => () => undefined,
    forceExit: () => undefined,
  };
  const code = await main(["node", "edgecrew", ...args], io);
  return { code, stdout, stderr };
}

describe("validate with a family model", () => {
  const agent = (memory: string) => `name: fam
description: d
planner: { model: "openai:gpt-4o-mini" }
workers:
  - { name: w, description: d, model: "fixture:w?family=qwen3&size=tiny", context: { size: 2048 } }
device: { memory: ${memory}, gpu: false, threads: 1 }
`;

  it("refuses an agent whose family model cannot fit device.memory, with the estimate and the limit", async () => {
    const file = join(dir, "tight.yaml");
    await writeFile(file, agent("128MiB"));
    const result = await cli(["validate", file]);
    expect(result.code).toBe(2);
    const path = await resolveFixtureModel(
      { name: "w", seed: 1, size: "tiny", family: "qwen3" },
      { cacheDir: join(dir, "fixtures") },
    );
    const estimate = await estimateModelMemory(path, { contextSize: 2048, sequences: 1, gpu: false });
    // The weights are 19 MiB; the vocabulary and the sampling over it make the model need ~240 MiB.
    expect(estimate.totalBytes).toBeGreaterThan(200 * MiB);
    expect(result.stderr).toContain(
      `tight.yaml: fixture:w?family=qwen3&size=tiny (w) needs about ${formatBytes(estimate.totalBytes)}, more than device.memory (128.0 MiB): it can never be loaded`,
    );
    expect(result.stderr).toContain("context of 2048 tokens × 1 sequence");
  });

  it("accepts it under a device.memory that holds the estimate, and reports the peak", async () => {
    const file = join(dir, "roomy.yaml");
    await writeFile(file, agent("512MiB"));
    const result = await cli(["validate", file]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^ok .*roomy\.yaml: .*memory peak [\d.]+ MiB of 512\.0 MiB \(device\.memory\)$/m,
    );
  });
});

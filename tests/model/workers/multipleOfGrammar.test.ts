/**
 * `multipleOf` written by the grammar (schema/grammar/numbers.ts): 30 generations, each with its own sampling
 * seed, of a random-weight fixture model under `{type: integer, multipleOf: 7, minimum: -50, maximum: 500}` are
 * all multiples of 7 within the bounds at the first attempt — with `retries: 0`, so no repair could have helped.
 * Under a grammar that left `multipleOf` to the validator, a random answer is a multiple of 7 one time in seven:
 * thirty in a row would be a chance of about 10^-25.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileGrammar } from "../../../src/schema/grammar/index.js";
import type { JsonSchema, WorkerOutcome } from "../../../src/types.js";
import { createLocalWorkers } from "../../../src/workers/LocalWorker.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import { fixtureRef, recorder, request, TEST_DEVICE, tempDir, workerDef } from "./helpers.js";

const GENERATIONS = 30;
const SEVENS: JsonSchema = { type: "integer", multipleOf: 7, minimum: -50, maximum: 500 };

let dir: string;
let cleanup: () => Promise<void>;
let manager: ModelManager;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("edgecrew-multipleof-"));
  manager = new ModelManager({ device: TEST_DEVICE, resolve: { fixtureCacheDir: dir } });
});

afterAll(async () => {
  await manager?.dispose();
  await cleanup?.();
});

describe("multipleOf under the grammar, on a fixture model", () => {
  it("the report says the grammar writes multipleOf", () => {
    const { report } = compileGrammar(SEVENS);
    expect(report.find((entry) => entry.keyword === "multipleOf")?.enforcement).toBe("grammar");
  });

  it(`${GENERATIONS} seeded generations are all multiples of 7 in [-50, 500], none repaired`, async () => {
    const worker = workerDef(SEVENS, { name: "sevens", model: fixtureRef(7), maxTokens: 16 });
    const outcomes: WorkerOutcome[] = [];
    for (let seed = 1; seed <= GENERATIONS; seed++) {
      const port = createLocalWorkers({ manager, workers: [worker], retries: 0, seed });
      try {
        outcomes.push(await port.execute(request(worker, `s${seed}`), recorder().context));
      } finally {
        await port.dispose();
      }
    }
    const answers = outcomes.map((outcome) =>
      outcome.ok ? outcome.answer : `${outcome.reason}: ${outcome.errors.join("; ")}`,
    );
    for (const answer of answers) {
      expect(typeof answer, String(answer)).toBe("number");
      const value = answer as number;
      expect(Number.isInteger(value) && value % 7 === 0, String(value)).toBe(true);
      expect(value >= -50 && value <= 500, String(value)).toBe(true);
    }
    expect(outcomes.every((outcome) => outcome.attempts === 1)).toBe(true);
    // Random weights write varied values, not one value thirty times.
    expect(new Set(answers).size).toBeGreaterThan(3);
  });
});

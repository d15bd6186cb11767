/**
 * The CI slice of `npm run chaos`: the same harness (chaos/run.mjs, the built CLI in child processes), short.
 * Three SIGKILL-and-resume runs at random kill points, the cloud-planner faults and the tool faults. A failure
 * prints the harness's own report (and its seed, to replay the kill points with CHAOS_SEED).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runNode } from "./cli.js";

const scratch = mkdtempSync(join(tmpdir(), "edgecrew-chaos-slice-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface ChaosCase {
  readonly name: string;
  readonly pass: boolean;
  readonly problems: readonly string[];
}
interface ChaosResults {
  readonly pass: boolean;
  readonly seed: number;
  readonly crash?: {
    readonly runs: number;
    readonly passed: number;
    readonly durableSubtasksKept: number;
    readonly details: readonly ChaosCase[];
  };
  readonly planner?: { readonly cases: readonly ChaosCase[] };
  readonly tools?: { readonly cases: readonly ChaosCase[] };
}

async function chaos(section: string, env: Record<string, string> = {}): Promise<ChaosResults> {
  const out = join(scratch, `${section}.json`);
  const r = await runNode(["chaos/run.mjs"], {
    env: { CHAOS_ONLY: section, CHAOS_OUT: out, ...env },
    timeoutMs: 170_000,
  });
  const report = `${r.stdout}\n${r.stderr}`;
  expect(r.signal, report).toBeNull();
  expect(r.code, report).toBe(0);
  return JSON.parse(readFileSync(out, "utf8")) as ChaosResults;
}

const failures = (cases: readonly ChaosCase[] = []) =>
  cases.filter((c) => !c.pass).map((c) => `${c.name}: ${c.problems.join("; ")}`);

describe("chaos slice", () => {
  it("3 runs SIGKILLed at random points all complete on resume, no durable subtask run twice", async () => {
    const results = await chaos("crash", { CHAOS_RUNS: "3" });
    expect(results.crash?.runs).toBe(3);
    expect(failures(results.crash?.details), `seed ${results.seed}`).toEqual([]);
    expect(results.crash?.passed).toBe(3);
  });

  it("a cloud planner that answers badly ends repaired or with a typed error, fast", async () => {
    const results = await chaos("planner");
    expect(results.planner?.cases.length).toBeGreaterThanOrEqual(8);
    expect(failures(results.planner?.cases)).toEqual([]);
  });

  it("tools that throw, hang, flood or die end the run cleanly, and it reads back", async () => {
    const results = await chaos("tools");
    expect(results.tools?.cases.length).toBeGreaterThanOrEqual(7);
    expect(failures(results.tools?.cases)).toEqual([]);
  });
});

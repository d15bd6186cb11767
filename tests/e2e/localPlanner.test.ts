/**
 * A local planner with default settings must never be cut off (the structured-output issue): the plan grammar's
 * longest output fits the planner's maxTokens, so every plan closes, and the run completes. Killed with SIGKILL
 * at 1.5, 3 and 5 seconds, `edgecrew resume` completes it each time.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunEvent, RunResult } from "../../src/types.js";
import { repoRoot, runCli } from "./cli.js";

const agentFile = join(repoRoot, "tests/fixtures/agents/local-planner.yaml");
const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };

function events(runDir: string, runId: string): RunEvent[] {
  return readFileSync(join(runDir, runId, "events.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as RunEvent);
}

describe("a local planner with default maxTokens (2 workers, maxSubtasks 6)", () => {
  it("validates, completes, and no planner reply is cut off", async () => {
    const validate = await runCli(["validate", agentFile], { env });
    expect(validate.stderr).toBe("");
    expect(validate.code).toBe(0);
    const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
    const run = await runCli(["run", agentFile, "--run-dir", runDir, "--json", "A day in Oslo"], { env });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as RunResult;
    expect(result.status).toBe("completed");
    const rejected = events(runDir, result.runId).filter((e) => e.type === "plan.rejected");
    expect(rejected.map((e) => JSON.stringify(e))).toEqual([]);
  });

  for (const seconds of [1.5, 3, 5]) {
    it(`killed with SIGKILL at ${seconds} s, resume completes the run`, async () => {
      const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
      let output = "";
      let started = 0;
      let timer: NodeJS.Timeout | undefined;
      const first = await runCli(["run", agentFile, "--run-dir", runDir, "A weekend in Bergen"], {
        env,
        onStdout: (chunk, kill) => {
          output += chunk;
          // The clock starts when the run exists (its id is printed first), so the kill lands inside the run.
          if (started === 0 && /^run \S+ · agent/m.test(output)) {
            started = performance.now();
            timer = setTimeout(() => kill("SIGKILL"), seconds * 1000);
          }
        },
      });
      clearTimeout(timer);
      const runId = /^run (\S+) · agent/m.exec(output)?.[1];
      expect(runId, first.stdout + first.stderr).toBeDefined();
      if (runId === undefined) return;
      const resumed = await runCli(["resume", runId, "--run-dir", runDir, "--json"], { env });
      expect(resumed.stderr).toBe("");
      expect(resumed.code).toBe(0);
      const result = JSON.parse(resumed.stdout) as RunResult;
      expect(result.status).toBe("completed");
      if (first.signal !== "SIGKILL")
        console.info(`[measure] the run ended before ${seconds} s: nothing to kill`);
      const rejected = events(runDir, runId).filter((e) => e.type === "plan.rejected");
      expect(rejected).toEqual([]);
    });
  }
});

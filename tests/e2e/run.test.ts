import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../src/types.js";
import { runCli } from "./cli.js";

const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };
const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));

describe("edgecrew run (child process, real inference on fixture models)", () => {
  it("runs the offline demo and prints the plan, each subtask's worker and answer, and tokens", async () => {
    const result = await runCli(
      ["run", "agents/offline-demo.yaml", "--run-dir", runDir, "Plan a weekend trip to the mountains"],
      {
        env,
      },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^plan \(\d+ subtasks?\):$/m);
    expect(result.stdout).toMatch(/^✓ s1 \[(researcher|scheduler|budgeter)\] \{/m);
    expect(result.stdout).toMatch(/^answer: /m);
    expect(result.stdout).toMatch(/^ {2}total local \d+\+\d+, remote 0\+0$/m);
    expect(result.stdout).toMatch(/^completed in [\d.]+ s \(run /m);
  });

  it("--json prints exactly one JSON object with the whole result", async () => {
    const result = await runCli(
      ["run", "agents/offline-demo.yaml", "--run-dir", runDir, "--json", "Three days in Lisbon"],
      {
        env,
      },
    );
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as RunResult;
    expect(parsed.status).toBe("completed");
    expect(parsed.task).toBe("Three days in Lisbon");
    expect(parsed.results.length).toBe(parsed.plan?.subtasks.length);
    expect(parsed.ledger.local.completionTokens).toBeGreaterThan(0);
  });

  it("cancels cleanly on SIGINT with exit code 130", async () => {
    let sent = false;
    const result = await runCli(
      ["run", "agents/offline-demo.yaml", "--run-dir", runDir, "A road trip through Scotland"],
      {
        env,
        onStdout: (chunk, kill) => {
          if (!sent && chunk.includes("plan (")) {
            sent = true;
            kill("SIGINT");
          }
        },
      },
    );
    expect(sent).toBe(true);
    expect(result.code).toBe(130);
    expect(result.stderr).toContain("cancelling");
    expect(result.stdout).toMatch(/run cancelled: ABORTED/);
  });

  it("fails with exit 1 and one clear line when a model file is corrupt", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-"));
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "broken.gguf"), Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(200, 1)]));
    writeFileSync(
      join(dir, "agent.yaml"),
      'name: t\ndescription: d\nplanner: { model: "fixture:p", maxTokens: 256 }\nworkers:\n  - { name: w, description: d, model: ./broken.gguf }\nlimits: { maxSubtasks: 2 }\ndevice: { threads: 1, gpu: false }\n',
    );
    const result = await runCli(["run", join(dir, "agent.yaml"), "--run-dir", runDir, "anything"], { env });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/MODEL_INVALID|not a (valid )?GGUF|broken\.gguf/);
  });
});

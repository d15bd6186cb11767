/**
 * `edgecrew distill export` and `edgecrew stats` on real runs of the built CLI: the offline demo, and an agent
 * whose worker can never answer (its context cannot hold its prompt: CONTEXT_TOO_SMALL, model-failed) so the
 * local fixture planner answers instead — run twice with a greedy planner, so the two escalated examples are the
 * same and one is dropped. A secret listed under `secrets:` is planted in the task through its env var.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

const SECRET = "tok-e2e-distill-secret-9876";
const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-distill-"));
const runDir = join(dir, "runs");
const env = {
  EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")),
  DISTILL_E2E_TOKEN: SECRET,
};
const ESCALATING = `name: esc
description: a worker whose context cannot hold its prompt, so the planner answers for it
secrets: [DISTILL_E2E_TOKEN]
planner: { model: "fixture:planner?seed=7&size=tiny", maxTokens: 768, temperature: 0 }
workers:
  - name: researcher
    description: Lists candidate destinations.
    model: fixture:researcher?seed=11
    system: You find destinations for trips.
    maxTokens: 128
    context: { size: 256 }
    output:
      type: object
      properties: { note: { type: string, maxLength: 40 } }
      required: [note]
      additionalProperties: false
escalation: { to: planner, retries: 1 }
limits: { maxSubtasks: 2 }
device: { threads: 1, gpu: false }
`;
const TASK = `Trip with token ${SECRET}. ${Array(25).fill("mountain lake village").join(" ")}`;

interface Event {
  type: string;
  worker?: string;
  reason?: string;
  subtaskId: string;
  result?: { worker: string; by: string; attempts: number };
}

/** Every stored event of every run, read straight from the files (not through the code under test). */
function storedEvents(): Event[] {
  return readdirSync(runDir).flatMap((id) =>
    readFileSync(join(runDir, id, "events.jsonl"), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Event),
  );
}

beforeAll(async () => {
  writeFileSync(join(dir, "esc.yaml"), ESCALATING);
  const demo = await runCli(["run", "agents/offline-demo.yaml", "--run-dir", runDir, "A weekend in Porto"], {
    env,
  });
  expect(demo.code, demo.stderr).toBe(0);
  for (let i = 0; i < 2; i++) {
    const esc = await runCli(["run", join(dir, "esc.yaml"), "--run-dir", runDir, TASK], { env });
    expect(esc.code, esc.stderr).toBe(0);
    expect(esc.stdout).toMatch(/escalated to the planner \(model-failed\)/);
  }
}, 110_000);

describe("edgecrew distill export and stats on real runs", () => {
  it("exports valid JSONL in both formats, escalated examples marked, no secret, duplicates dropped", async () => {
    const out = join(dir, "researcher.jsonl");
    const openai = await runCli(
      ["distill", "export", "--worker", "researcher", "--run-dir", runDir, "--out", out],
      {
        env,
      },
    );
    expect(openai.code, openai.stderr).toBe(0);
    const lines = readFileSync(out, "utf8").trimEnd().split("\n");
    const records = lines.map((line) => JSON.parse(line));
    // The demo's researcher subtasks and one escalated example: the second escalated run is the same example.
    const completed = storedEvents().filter(
      (e) => e.type === "subtask.completed" && e.result?.worker === "researcher",
    );
    expect(records).toHaveLength(completed.length - 1);
    expect(openai.stderr).toMatch(/1 escalated, 1 duplicate\(s\) dropped/);
    for (const record of records) {
      expect(record.messages[0].role).toBe("system");
      expect(record.messages[1].role).toBe("user");
      const last = record.messages.at(-1);
      expect(last.role).toBe("assistant");
      expect(() => JSON.parse(last.content)).not.toThrow();
      expect(record.metadata.worker).toBe("researcher");
    }
    const escalated = records.filter((r) => r.metadata.escalated === true);
    expect(escalated).toHaveLength(1);
    expect(escalated[0].metadata.reason).toBe("model-failed");
    expect(escalated[0].messages[1].content).toContain("Overall task: Trip with token [redacted].");
    expect(records.filter((r) => r.metadata.escalated === false)).toHaveLength(completed.length - 2);

    const sharegpt = await runCli(
      ["distill", "export", "--worker", "researcher", "--run-dir", runDir, "--format", "sharegpt"],
      { env },
    );
    expect(sharegpt.code, sharegpt.stderr).toBe(0);
    const shared = sharegpt.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(shared).toHaveLength(records.length);
    for (const record of shared) {
      expect(typeof record.system).toBe("string");
      expect(record.conversations[0].from).toBe("human");
      expect(record.conversations.at(-1).from).toBe("gpt");
    }
    const teacher = await runCli(
      ["distill", "export", "--worker", "researcher", "--run-dir", runDir, "--include-escalated-only"],
      { env },
    );
    expect(teacher.stdout.trimEnd().split("\n")).toHaveLength(1);
    for (const text of [readFileSync(out, "utf8"), sharegpt.stdout, teacher.stdout])
      expect(text).not.toContain(SECRET);
  }, 30_000);

  it("stats --json counts what the stored events record", async () => {
    const stats = await runCli(["stats", "--json", "--run-dir", runDir], { env });
    expect(stats.code, stats.stderr).toBe(0);
    const report = JSON.parse(stats.stdout) as {
      runs: string[];
      workers: {
        worker: string;
        subtasks: number;
        firstTry: number;
        repairs: number;
        failures: number;
        escalations: { total: number; modelFailed: number; invalidOutput: number };
        wall: { count: number; medianMs?: number; p95Ms?: number };
      }[];
    };
    expect(report.runs).toHaveLength(3);
    const events = storedEvents();
    for (const w of report.workers) {
      const of = (type: string) =>
        events.filter((e) => e.type === type && (e.worker ?? e.result?.worker) === w.worker);
      const started = of("subtask.started");
      expect(w.subtasks).toBe(started.length);
      expect(w.firstTry).toBe(
        of("subtask.completed").filter((e) => e.result?.by === "worker" && e.result.attempts === 1).length,
      );
      expect(w.escalations.modelFailed).toBe(
        of("subtask.escalated").filter((e) => e.reason === "model-failed").length,
      );
      expect(w.escalations.invalidOutput).toBe(
        of("subtask.escalated").filter((e) => e.reason === "invalid-output").length,
      );
      expect(w.failures).toBe(0);
      expect(w.wall.count).toBe(of("subtask.completed").length);
      expect(w.wall.p95Ms).toBeGreaterThanOrEqual(w.wall.medianMs ?? 0);
    }
    const repairs = report.workers.reduce((sum, w) => sum + w.repairs, 0);
    expect(repairs).toBe(events.filter((e) => e.type === "subtask.repairing").length);
    const researcher = report.workers.find((w) => w.worker === "researcher");
    expect(researcher?.escalations).toEqual({ total: 2, invalidOutput: 0, modelFailed: 2 });
    const table = await runCli(["stats", "--worker", "researcher", "--run-dir", runDir], { env });
    expect(table.stdout).toMatch(/researcher\s+\d+\s+\d+ \(\d+%\)/);
    expect(table.stdout).not.toMatch(/scheduler/);
  }, 30_000);
});

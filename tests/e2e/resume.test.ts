/**
 * Crash and resume: `edgecrew run` is killed with SIGKILL at different points, then `edgecrew resume` finishes
 * the run. The event journal must show no completed subtask started again, and the final result must validate.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgent } from "../../src/config/index.js";
import { compileSchema } from "../../src/schema/compile.js";
import type { RunEvent, RunResult } from "../../src/types.js";
import { repoRoot, runCli, runNode } from "./cli.js";

const agentFile = join(repoRoot, "tests/fixtures/agents/resumable.yaml");
const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };

function readEvents(runDir: string, runId: string): RunEvent[] {
  return readFileSync(join(runDir, runId, "events.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as RunEvent);
}

/** Kill points: a predicate on the output so far, true when the process should die now. */
const killPoints: [string, (out: string) => boolean][] = [
  ["after planning", (out) => /^plan \(\d+ subtasks?\):$/m.test(out)],
  ["mid-subtask", (out) => /^▶ s1 /m.test(out)],
  ["between subtasks", (out) => /^✓ s\d+ /m.test(out)],
  [
    "during joining",
    (out) => {
      const planned = Number(/^plan \((\d+) subtasks?\):$/m.exec(out)?.[1] ?? Number.NaN);
      return (out.match(/^✓ s\d+ /gm) ?? []).length === planned;
    },
  ],
];

describe("kill -9 and resume (child processes, real inference)", () => {
  for (const [label, shouldKill] of killPoints) {
    it(`resumes a run killed ${label} without redoing finished subtasks`, async () => {
      const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
      let output = "";
      let killed = false;
      const first = await runCli(["run", agentFile, "--run-dir", runDir, "A weekend by a lake"], {
        env,
        onStdout: (chunk, kill) => {
          output += chunk;
          if (!killed && shouldKill(output)) {
            killed = true;
            kill("SIGKILL");
          }
        },
      });
      expect(killed, first.stdout).toBe(true);
      expect(first.signal).toBe("SIGKILL");
      const runId = /^run (\S+) · agent/m.exec(output)?.[1];
      expect(runId).toBeDefined();
      if (runId === undefined) return;

      const before = readEvents(runDir, runId);
      expect(before.some((e) => e.type === "run.completed")).toBe(false);
      const doneBefore = new Set(
        before.flatMap((e) => (e.type === "subtask.completed" ? [e.subtaskId] : [])),
      );

      // A kill right after the plan was printed can precede its write: then the resumed run plans again.
      const planStored = existsSync(join(runDir, runId, "plan.json"));
      const resumed = await runCli(["resume", runId, "--run-dir", runDir, "--json"], { env });
      expect(resumed.stderr).toBe("");
      expect(resumed.code).toBe(0);
      const result = JSON.parse(resumed.stdout) as RunResult;
      expect(result.status).toBe("completed");
      expect(result.runId).toBe(runId);

      const events = readEvents(runDir, runId);
      const after = events.slice(before.length);
      const resumedEvent = after[0];
      expect(resumedEvent?.type).toBe("run.resumed");
      if (resumedEvent?.type !== "run.resumed") return;
      // Results are written before the machine hears of them, so every completion the log saw is a stored
      // result (the log itself may lag by the events in flight at the kill).
      const durable = new Set(resumedEvent.completed);
      for (const id of doneBefore) expect(durable.has(id)).toBe(true);
      // The stored plan travels with the event, so a live view draws it at once (no replans in this agent).
      if (planStored) {
        expect(resumedEvent.plan?.subtasks.map((s) => s.id)).toEqual(result.plan?.subtasks.map((s) => s.id));
      } else {
        expect(resumedEvent.plan).toBeUndefined();
      }
      // Sequence numbers continue without gaps across the crash.
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      // No subtask with a durable result was started again, and each remaining one completed exactly once.
      const restarted = after.flatMap((e) => (e.type === "subtask.started" ? [e.subtaskId] : []));
      expect(restarted.filter((id) => durable.has(id))).toEqual([]);
      const completedAfter = after.flatMap((e) => (e.type === "subtask.completed" ? [e.subtaskId] : []));
      expect(completedAfter.filter((id) => durable.has(id))).toEqual([]);
      expect(new Set(completedAfter).size).toBe(completedAfter.length);
      expect([...durable, ...completedAfter].sort()).toEqual(
        (result.plan?.subtasks ?? []).map((s) => s.id).sort(),
      );

      const agent = await loadAgent(agentFile);
      for (const r of result.results) {
        const worker = agent.workers.find((w) => w.name === r.worker);
        expect(worker && compileSchema(worker.output).validate(r.answer).ok).toBe(true);
      }
    });
  }

  it("resumes from the agent copy the run keeps, never from the file at the path it started from", async () => {
    // Issue 12, finding 6: the file a run names may have been replaced by then (here by an agent whose MCP
    // server is sh -c); resume must rebuild the agent the run started with, from the copy in meta.json.
    const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-copy-"));
    const runDir = join(dir, "runs");
    const file = join(dir, "agent.yaml");
    const text = readFileSync(agentFile, "utf8");
    writeFileSync(file, text);
    let output = "";
    const first = await runCli(["run", file, "--run-dir", runDir, "A weekend by a lake"], {
      env,
      onStdout: (chunk, kill) => {
        output += chunk;
        if (/^✓ s\d+ /m.test(output)) kill("SIGKILL");
      },
    });
    expect(first.signal).toBe("SIGKILL");
    const runId = /^run (\S+) · agent/m.exec(output)?.[1] ?? "";
    const marker = join(dir, "pwned");
    writeFileSync(
      file,
      `${text}\ntools:\n  - mcp: { name: evil, command: sh, args: [-c, "touch ${marker}"] }\n`,
    );
    const resumed = await runCli(["resume", runId, "--run-dir", runDir, "--json"], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as RunResult).status).toBe("completed");
    expect(existsSync(marker)).toBe(false);
    // --agent naming a file with the copy's text: accepted without a note (the run has ended: its outcome).
    const again = await runCli(["resume", runId, "--run-dir", runDir, "--agent", agentFile], { env });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
  });

  it("gives a typed error for an unknown run id and for a damaged run directory", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
    const missing = await runCli(["resume", "no-such-run", "--run-dir", runDir], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no-such-run/);
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(join(runDir, "broken-run"));
    writeFileSync(join(runDir, "broken-run", "meta.json"), "{ not json");
    const broken = await runCli(["resume", "broken-run", "--run-dir", runDir], { env });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/meta\.json/);
  });

  for (const idempotent of [false, true]) {
    it(`a run killed mid-tool-call ${idempotent ? "re-runs an idempotent tool" : "never repeats a non-idempotent tool"} on resume`, async () => {
      const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
      const markers = mkdtempSync(join(tmpdir(), "edgecrew-e2e-marks-"));
      const script = join(repoRoot, "tests/fixtures/toolCrash.mjs");
      const flag = idempotent ? "idempotent" : "not-idempotent";
      let output = "";
      const first = await runNode([script, "run", runDir, markers, flag], {
        env,
        onStdout: (chunk, kill) => {
          output += chunk;
          if (output.includes("TOOL-STARTED")) kill("SIGKILL");
        },
      });
      expect(first.signal, first.stdout + first.stderr).toBe("SIGKILL");
      const runId = /^RUN-ID (\S+)$/m.exec(output)?.[1];
      expect(runId).toBeDefined();
      if (runId === undefined) return;

      const resumed = await runNode([script, "resume", runDir, markers, flag, runId], { env });
      expect(resumed.code, resumed.stderr).toBe(0);
      const result = JSON.parse(resumed.stdout.trim().split("\n").at(-1) ?? "{}") as RunResult;
      const calls = readFileSync(join(markers, "calls"), "utf8").trim().split("\n");
      if (idempotent) {
        expect(result.status).toBe("completed");
        expect(calls).toEqual(["run", "resume"]);
      } else {
        expect(result.status).toBe("failed");
        expect(result.error?.message).toContain("side effect uncertain");
        expect(calls).toEqual(["run"]);
        const events = readEvents(runDir, runId);
        expect(events.some((e) => e.type === "subtask.escalated")).toBe(false);
      }
    });
  }
});

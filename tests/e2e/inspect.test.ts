/**
 * `inspect` and `runs` on runs made by the built CLI in child processes, and the device flags of `run`
 * (`--memory`, `--threads`, `--max-parallel`) as a user passes them.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/cli/commands/runs.js";
import type { Timeline } from "../../src/cli/timeline.js";
import type { RunResult } from "../../src/types.js";
import { runCli } from "./cli.js";

const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };
const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
const demo = "agents/offline-demo.yaml";

describe("edgecrew run device flags, inspect and runs (child processes, real inference)", () => {
  let finished: RunResult;

  beforeAll(async () => {
    const result = await runCli(
      [
        "run",
        demo,
        "--run-dir",
        runDir,
        "--max-parallel",
        "1",
        "--threads",
        "1",
        "--json",
        "A weekend by the sea",
      ],
      { env },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    finished = JSON.parse(result.stdout) as RunResult;
  });

  it("runs with --max-parallel 1: no two subtasks overlap", () => {
    expect(finished.status).toBe("completed");
    const spans = [...finished.results].sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]?.startedAt).toBeGreaterThanOrEqual(spans[i - 1]?.endedAt ?? 0);
    }
  });

  it("inspect shows the status, every subtask row, a Gantt and the ledger", async () => {
    const result = await runCli(["inspect", finished.runId, "--run-dir", runDir], { env });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`run ${finished.runId} · agent offline-demo`);
    expect(result.stdout).toMatch(/^status: completed$/m);
    expect(result.stdout).toMatch(/up to 1 subtask at once/);
    const timeline = JSON.parse(
      (await runCli(["inspect", finished.runId, "--run-dir", runDir, "--json"], { env })).stdout,
    ) as Timeline;
    // Random weights may make the joiner replan: rows are then labelled r<revision>:<id>.
    const label = (s: Timeline["subtasks"][number]) =>
      timeline.revisions.length > 0 ? `r${s.revision}:${s.id}` : s.id;
    for (const s of timeline.subtasks) {
      expect(result.stdout).toMatch(new RegExp(`^ {2}${label(s)} +${s.worker} .*completed`, "m"));
      if (s.startMs !== undefined)
        expect(result.stdout).toMatch(new RegExp(`^ {2}${label(s)} +[░█▓▒✗]{40}`, "m"));
    }
    const current = timeline.subtasks.filter((s) => s.revision === timeline.revision);
    expect(current.map((s) => s.id).sort()).toEqual((finished.plan?.subtasks ?? []).map((s) => s.id).sort());
    expect(result.stdout).toMatch(/^ {2}total local \d+\+\d+, remote 0\+0$/m);
  });

  it("inspect --json prints one JSON object with the same data", async () => {
    const result = await runCli(["inspect", finished.runId, "--run-dir", runDir, "--json"], { env });
    expect(result.code).toBe(0);
    const timeline = JSON.parse(result.stdout) as Timeline;
    expect(timeline.runId).toBe(finished.runId);
    expect(timeline.status).toBe("completed");
    expect(timeline.maxParallel).toBe(1);
    expect(timeline.subtasks.every((s) => s.state === "completed")).toBe(true);
    expect(timeline.ledger).toEqual(finished.ledger);
    expect(timeline.durationMs).toBe(finished.endedAt - finished.startedAt);
  });

  it("runs lists it, newest first, in text and JSON", async () => {
    const text = await runCli(["runs", "--run-dir", runDir], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^id +agent +status +started +took +task$/m);
    expect(text.stdout).toMatch(
      new RegExp(
        `^${finished.runId} +offline-demo +completed +\\S+ \\S+ +[\\d.]+ m?s +A weekend by the sea$`,
        "m",
      ),
    );
    const json = await runCli(["runs", "--run-dir", runDir, "--json", "--limit", "1"], { env });
    const runs = JSON.parse(json.stdout) as RunSummary[];
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ agent: "offline-demo" });
  });

  it("inspect of a killed run says it is interrupted and how to resume it", async () => {
    let output = "";
    let killed = false;
    const first = await runCli(["run", demo, "--run-dir", runDir, "--max-parallel", "1", "A lake"], {
      env,
      onStdout: (chunk, kill) => {
        output += chunk;
        if (!killed && /^✓ s1 /m.test(output)) {
          killed = true;
          kill("SIGKILL");
        }
      },
    });
    expect(first.signal).toBe("SIGKILL");
    const runId = /^run (\S+) · agent/m.exec(output)?.[1] ?? "";
    const result = await runCli(["inspect", runId, "--run-dir", runDir], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`status: interrupted (resume with edgecrew resume ${runId})`);
    expect(result.stdout).toMatch(/^ {2}s1 +\S+ +\S+ +(worker|planner ↑ \(\S+\)) +completed/m);
    const list = await runCli(["runs", "--run-dir", runDir], { env });
    // Newest first: the killed run heads the list, above the run of beforeAll.
    expect(list.stdout.split("\n")[1]).toMatch(new RegExp(`^${runId} +offline-demo +interrupted `));
    expect(list.stdout.indexOf(runId)).toBeLessThan(list.stdout.indexOf(finished.runId));

    // A damaged run is one line and exit 1 for inspect, and a `corrupt` row for runs (the others still listed).
    writeFileSync(join(runDir, runId, "plan.json"), "{");
    const corrupt = await runCli(["inspect", runId, "--run-dir", runDir], { env });
    expect(corrupt.code).toBe(1);
    expect(corrupt.stdout).toBe("");
    expect(corrupt.stderr).toBe(`edgecrew: run ${runId} is corrupt: plan.json: not valid JSON\n`);
    const after = await runCli(["runs", "--run-dir", runDir], { env });
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(new RegExp(`^${runId} +offline-demo +corrupt `, "m"));
    expect(after.stdout).toContain(finished.runId);
  });

  it("inspect of an unknown id exits 1 with one line", async () => {
    const result = await runCli(["inspect", "20990101-000000-000000", "--run-dir", runDir], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe('edgecrew: no stored run has the id "20990101-000000-000000"\n');
  });

  it("--memory 1B fails the run on the memory budget (exit 1)", async () => {
    const result = await runCli(["run", demo, "--run-dir", runDir, "--memory", "1B", "--json", "x"], { env });
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as RunResult;
    expect(parsed.status).toBe("failed");
    expect(parsed.error?.code).toBe("MEMORY_BUDGET_EXCEEDED");
    expect(parsed.error?.message).toMatch(/more than device\.memory 1 B allows/);
  });

  it("bad flag values exit 2 with a clear line", async () => {
    for (const [flag, value] of [
      ["--max-parallel", "0"],
      ["--threads", "two"],
      ["--memory", "lots"],
    ] as const) {
      const result = await runCli(["run", demo, "--run-dir", runDir, flag, value, "x"], { env });
      expect(result.code, `${flag} ${value}`).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(
        new RegExp(`^error: option '${flag} <\\w+>' argument '${value}' is invalid\\.`),
      );
    }
  });
});

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../src/types.js";
import { ANSI, runCli, runInPty } from "./cli.js";

const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };
const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));

const DELTA = /^ {2}(s\d+|planner) ┆ /;
describe("edgecrew run --stream (child process, real inference on fixture models)", () => {
  it("prints the planner's and each subtask's text as delta lines; the stored events hold none", async () => {
    const result = await runCli(
      [
        "run",
        "agents/offline-demo.yaml",
        "--run-dir",
        runDir,
        "--stream",
        "Plan a weekend trip to the mountains",
      ],
      { env },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    const deltas = lines.filter((line) => DELTA.test(line));
    expect(deltas.some((line) => line.startsWith("  planner ┆ "))).toBe(true);
    // Every subtask that ran printed its text before its ✓ line.
    const done = lines.flatMap((line) => /^✓ (s\d+) /.exec(line)?.[1] ?? []);
    expect(done.length).toBeGreaterThan(0);
    for (const id of done) {
      const first = lines.findIndex((line) => line.startsWith(`  ${id} ┆ `));
      expect(first, `no delta line of ${id}`).toBeGreaterThan(-1);
      expect(first).toBeLessThan(lines.findIndex((line) => line.startsWith(`✓ ${id} `)));
    }
    expect(result.stdout).toMatch(/^completed in [\d.]+ s \(run /m);

    const runId = /\(run ([^)]+)\)\s*$/.exec(result.stdout.trim())?.[1] ?? "";
    const stored = readFileSync(join(runDir, runId, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; seq: number });
    expect(stored.length).toBeGreaterThan(3);
    expect(stored.filter((e) => e.type.endsWith(".delta"))).toEqual([]);
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
  });

  it("--json --stream prints exactly one JSON object and nothing else", async () => {
    const result = await runCli(
      ["run", "agents/offline-demo.yaml", "--run-dir", runDir, "--json", "--stream", "Three days in Lisbon"],
      { env },
    );
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as RunResult;
    expect(parsed.status).toBe("completed");
    expect(result.stdout.trim().startsWith("{")).toBe(true);
  });

  it("without --stream, no delta line", async () => {
    const result = await runCli(["run", "agents/offline-demo.yaml", "--run-dir", runDir, "A day in Rome"], {
      env,
    });
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n").filter((line) => DELTA.test(line))).toEqual([]);
  });

  it("on a terminal, the live view shows the running subtask's text under its row, clipped to the width", async () => {
    const result = await runInPty(
      ["run", "agents/offline-demo.yaml", "--run-dir", runDir, "--stream", "A week in Norway"],
      { env },
    );
    expect(result.code).toBe(0);
    const text = result.output.replace(/\r/g, "").replace(ANSI, "");
    const lines = text.split("\n");
    // A frame's running subtask row, then its streamed line (the tree's rail, `┆`, the text).
    const under = lines.filter((line, i) => /┆ /.test(line) && /▶ s\d+ /.test(lines[i - 1] ?? ""));
    expect(under.length).toBeGreaterThan(0);
    expect(under.every((line) => Array.from(line).length <= 99)).toBe(true);
    expect(lines.some((line) => line.startsWith("planner ┆ "))).toBe(true);
    // The last frame: nothing running, no streamed line.
    expect(text).toMatch(/^completed in [\d.]+ s · (\d+)\/\1 done/m);
  });
});

/**
 * Auto-escalation through the built CLI: an agent whose worker can never answer (its context cannot hold its
 * prompt: model-failed) and `escalation.auto`. The first run tries the worker and escalates; the second reads
 * that history at its start, routes the subtask straight to the local fixture planner (`subtask.routed`, printed
 * by `run`, stored in events.jsonl, shown by `inspect`), and never loads the worker's model. `stats` leaves the
 * routed subtask out of the worker's figures.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-auto-"));
const runDir = join(dir, "runs");
const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };
const AGENT = `name: auto
description: a worker whose context cannot hold its prompt, routed to the planner once its history says so
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
escalation: { to: planner, retries: 1, auto: { below: 0.5, window: 10, min: 1 } }
limits: { maxSubtasks: 1, maxReplans: 0 }
device: { threads: 1, gpu: false }
`;
const TASK = `Trip ideas. ${Array(25).fill("mountain lake village").join(" ")}`;

interface StoredEvent {
  type: string;
  model?: string;
  worker?: string;
  subtaskId?: string;
  rate?: number;
  subtasks?: number;
  window?: number;
  below?: number;
  identity?: string;
  result?: { by: string; worker: string };
}

function eventsOf(runId: string): StoredEvent[] {
  return readFileSync(join(runDir, runId, "events.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as StoredEvent);
}

let first = "";
let second = "";
let secondStdout = "";

beforeAll(async () => {
  writeFileSync(join(dir, "auto.yaml"), AGENT);
  const one = await runCli(["run", join(dir, "auto.yaml"), "--run-dir", runDir, TASK], { env });
  expect(one.code, one.stderr).toBe(0);
  expect(one.stdout).toMatch(/escalated to the planner \(model-failed\)/);
  first = readdirSync(runDir)[0] ?? "";
  const two = await runCli(["run", join(dir, "auto.yaml"), "--run-dir", runDir, TASK], { env });
  expect(two.code, two.stderr).toBe(0);
  secondStdout = two.stdout;
  second = readdirSync(runDir).find((id) => id !== first) ?? "";
}, 110_000);

describe("auto-escalation through the built CLI", () => {
  it("the second run routes the subtask to the planner, which answers; the worker's model is never loaded", () => {
    expect(eventsOf(first).some((e) => e.type === "subtask.routed")).toBe(false);
    expect(secondStdout).toMatch(
      /↷ s1 \[researcher\] routed to the planner: not run: researcher's first-try rate is 0%/,
    );
    const events = eventsOf(second);
    const routed = events.find((e) => e.type === "subtask.routed");
    expect(routed).toMatchObject({
      subtaskId: "s1",
      worker: "researcher",
      identity: "fixture:researcher?seed=11",
      rate: 0,
      // Every subtask of the first run, none answered first try.
      subtasks: eventsOf(first).filter((e) => e.type === "subtask.started").length,
      window: 10,
      below: 0.5,
    });
    const completed = events.find((e) => e.type === "subtask.completed");
    expect(completed?.result).toMatchObject({ by: "planner", worker: "researcher" });
    expect(events.some((e) => e.type === "subtask.escalated")).toBe(false);
    expect(events.filter((e) => e.type.startsWith("model.")).map((e) => e.model)).not.toContain(
      "fixture:researcher?seed=11",
    );
    expect(events.at(-1)?.type).toBe("run.completed");
  });

  it("inspect shows the subtask answered by the planner; stats leaves the routed subtask out", async () => {
    const inspect = await runCli(["inspect", second, "--json", "--run-dir", runDir], { env });
    expect(inspect.code, inspect.stderr).toBe(0);
    const timeline = JSON.parse(inspect.stdout) as {
      subtasks: { id: string; by?: string; escalated?: string }[];
    };
    expect(timeline.subtasks.length).toBeGreaterThan(0);
    for (const s of timeline.subtasks) {
      expect(s).toMatchObject({ by: "planner" });
      expect(s.escalated).toBeUndefined();
    }
    const stats = await runCli(["stats", "--json", "--run-dir", runDir], { env });
    expect(stats.code, stats.stderr).toBe(0);
    const report = JSON.parse(stats.stdout) as {
      runs: string[];
      workers: { worker: string; subtasks: number }[];
    };
    expect(report.runs).toHaveLength(2);
    const tried = eventsOf(first).filter((e) => e.type === "subtask.started").length;
    expect(tried).toBeGreaterThan(0);
    expect(report.workers).toEqual([
      expect.objectContaining({ worker: "researcher", subtasks: tried, firstTry: 0 }),
    ]);
  });
});

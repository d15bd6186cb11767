/**
 * The walking skeleton for real: the offline demo agent (fixture planner + three fixture workers) through
 * createCrew, with real node-llama-cpp inference, 20 runs with different tasks.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAgent } from "../../../src/config/index.js";
import { type Crew, createCrew } from "../../../src/crew.js";
import { compileSchema } from "../../../src/schema/compile.js";
import type { RunEvent } from "../../../src/types.js";

const tasks = [
  "Plan a weekend trip to the mountains",
  "Three days in Lisbon in May",
  "A cheap city break for two students",
  "A family holiday by the sea with a toddler",
  "A cycling tour along a river",
  "Museums and food in Vienna",
  "A winter trip to see the northern lights",
  "Hiking huts in the Alps for a week",
  "A rainy-day plan for Amsterdam",
  "Wine regions reachable by train",
  "A long weekend in Rome on a budget",
  "Islands reachable by ferry from Athens",
  "A road trip through Scotland",
  "Markets and street food in Barcelona",
  "A quiet lake holiday without a car",
  "Castles along the Rhine",
  "A photography trip to Iceland",
  "A day trip from Zurich",
  "Spring blossoms in Japan",
  "A stopover of 20 hours in Singapore",
];

describe("offline demo agent through createCrew (real inference on fixture models)", () => {
  let crew: Crew;

  beforeAll(async () => {
    const agent = await loadAgent(resolve(import.meta.dirname, "../../../agents/offline-demo.yaml"));
    crew = await createCrew(agent, {
      fixtureCacheDir: mkdtempSync(join(tmpdir(), "edgecrew-fixtures-")),
      runDir: mkdtempSync(join(tmpdir(), "edgecrew-runs-")),
    });
  });

  afterAll(async () => {
    await crew?.dispose();
  });

  it("completes 20 runs out of 20, every answer valid against its worker's schema", async () => {
    const schemas = new Map(crew.agent.workers.map((w) => [w.name, compileSchema(w.output)]));
    const statuses: string[] = [];
    for (const task of tasks) {
      const events: RunEvent[] = [];
      const run = crew.run(task, { onEvent: (e) => events.push(e) });
      const result = await run.result;
      statuses.push(result.status);
      expect(result.error, `${task}: ${result.error?.message}`).toBeUndefined();
      expect(result.plan?.subtasks.length ?? 0).toBeGreaterThan(0);
      expect(result.results).toHaveLength(result.plan?.subtasks.length ?? -1);
      for (const r of result.results) {
        expect(schemas.get(r.worker)?.validate(r.answer).ok, `${r.subtaskId} answer`).toBe(true);
        expect(r.usage.every((u) => u.locality === "local")).toBe(true);
      }
      expect(typeof result.answer).toBe("string");
      expect(result.ledger.local.completionTokens).toBeGreaterThan(0);
      expect(result.ledger.remote).toEqual({ promptTokens: 0, completionTokens: 0 });
      expect(events[0]?.type).toBe("run.started");
      expect(events.at(-1)?.type).toBe("run.completed");
    }
    expect(statuses.filter((s) => s === "completed")).toHaveLength(20);
  });

  it("reports model loads once per model and keeps models resident across runs", async () => {
    const events: RunEvent[] = [];
    await crew.run("One more trip", { onEvent: (e) => events.push(e) }).result;
    // Everything was loaded by the previous runs: no loads now.
    expect(events.filter((e) => e.type === "model.loaded")).toEqual([]);
  });
});

/**
 * Issue 14, finding 5: on a replan, `plan.revised` comes first and then `plan.created` for the new plan (which
 * says its revision); a rejected final answer is an `answer.rejected` event, and every event of the run passes
 * the store's event schema. A scripted run: the real LangChain planner on a scripted chat model.
 */
import { describe, expect, it } from "vitest";
import { createLangChainPlanner } from "../../../src/planner/index.js";
import { startRun } from "../../../src/runtime/startRun.js";
import { checkRecord } from "../../../src/runtime/store/storeSchemas.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { RunEvent } from "../../../src/types.js";
import { agent, fakeWorkers } from "../../helpers/fakes.js";

async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const first = {
  subtasks: [
    { id: "s1", worker: "alpha", instruction: "list places", dependsOn: [] },
    { id: "s2", worker: "beta", instruction: "weather in {{s1.answer.answer}}", dependsOn: ["s1"] },
  ],
};
const second = {
  subtasks: [
    { id: "s1", worker: "alpha", instruction: "list places", dependsOn: [] },
    { id: "s2", worker: "beta", instruction: "trains to {{s1.answer.answer}}", dependsOn: ["s1"] },
  ],
};

describe("a scripted replan run's events", () => {
  it("announce plan.revised before the new plan's plan.created, which names its revision", async () => {
    const model = new ScriptedChatModel([
      JSON.stringify(first),
      JSON.stringify({ decision: { replan: "no trains considered" } }),
      JSON.stringify(second),
      // Rejected (an empty answer), then accepted.
      JSON.stringify({ answer: "" }),
      JSON.stringify({ answer: "take the train" }),
    ]);
    const planner = createLangChainPlanner({ model, label: "scripted:planner", locality: "remote" });
    const workers = fakeWorkers((r) => ({ answer: `${r.subtask.id}-answer` }));
    const run = startRun(
      agent({ limits: { ...agent().limits, maxReplans: 1 }, answer: { type: "string", minLength: 1 } }),
      "go somewhere",
      { planner, workers: workers.port },
    );
    const [events, result] = await Promise.all([collect(run.events), run.result]);
    expect(result.status).toBe("completed");

    const plans = events.filter((e) => e.type === "plan.created" || e.type === "plan.revised");
    expect(plans.map((e) => e.type)).toEqual(["plan.created", "plan.revised", "plan.created"]);
    const [created0, revised, created1] = plans;
    expect(created0).toMatchObject({ plan: first, revision: 0 });
    expect(revised).toMatchObject({ revision: 1, reused: ["s1"] });
    expect(created1).toMatchObject({ plan: second, revision: 1 });
    // Nothing of the new plan happens between the two announcements.
    const at = events.indexOf(revised as RunEvent);
    expect(events[at + 1]).toBe(created1);

    const rejected = events.filter((e) => e.type === "answer.rejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ attempt: 1 });

    // Every event is what the store accepts when it loads the run again.
    for (const event of events) expect(checkRecord("event", event)).toMatchObject({ ok: true });
  });
});

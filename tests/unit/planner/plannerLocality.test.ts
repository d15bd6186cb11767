/**
 * Issue 14, finding 5: a chat model passed in as planner was always counted as remote in the ledger. The
 * `plannerLocality` option says where it runs; without it, a LangChain model stays remote. The planner here
 * gives no valid plan, so the run fails at planning, before any worker model loads, and its ledger holds only the
 * planner's calls.
 */
import { describe, expect, it } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { Locality } from "../../../src/types.js";

const agent = parseAgent(
  [
    "name: counted",
    "description: An agent whose planner's tokens are counted",
    "planner:",
    "  model: scripted:planner",
    "workers:",
    "  - name: writer",
    "    description: Writes",
    "    model: fixture:writer?seed=1",
    "",
  ].join("\n"),
);

async function ledgerOf(locality: Locality | undefined) {
  const planner = new ScriptedChatModel(["not a plan", "still not", "no"]);
  const crew = await createCrew(agent, {
    planner,
    plannerLabel: "scripted:planner",
    ...(locality === undefined ? {} : { plannerLocality: locality }),
    store: false,
  });
  try {
    const result = await crew.run("write something").result;
    expect(result.status).toBe("failed");
    return result.ledger;
  } finally {
    await crew.dispose();
  }
}

describe("a passed-in planner's locality", () => {
  it("counts the planner's tokens as local when plannerLocality says so", async () => {
    const ledger = await ledgerOf("local");
    expect(ledger.local.promptTokens).toBeGreaterThan(0);
    expect(ledger.remote).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(ledger.models).toMatchObject([{ model: "scripted:planner", locality: "local", calls: 3 }]);
  });

  it("counts them as remote by default", async () => {
    const ledger = await ledgerOf(undefined);
    expect(ledger.remote.promptTokens).toBeGreaterThan(0);
    expect(ledger.local).toEqual({ promptTokens: 0, completionTokens: 0 });
  });
});

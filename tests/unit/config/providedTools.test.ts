import { describe, expect, it } from "vitest";
import { defineAgent, parseAgent } from "../../../src/config/index.js";

const definition = {
  name: "t",
  description: "d",
  planner: { model: "openai:gpt-4o-mini" },
  workers: [{ name: "w", description: "d", model: "fixture:w", tools: ["book", "crm"] }],
};

describe("tools supplied in code", () => {
  it("may be granted to workers without a YAML declaration when their names are given", () => {
    const agent = defineAgent(definition, { tools: ["book", "crm.search", "crm.update"] });
    expect(agent.workers[0]?.tools).toEqual(["book", "crm"]);
  });

  it("are still unknown when not given", () => {
    expect(() => defineAgent(definition, { tools: ["book"] })).toThrow(
      /workers\[0\]\.tools\[1\]: unknown tool `crm`/,
    );
  });

  it("work for YAML text too", () => {
    const yaml =
      'name: t\ndescription: d\nplanner: { model: "openai:gpt-4o-mini" }\nworkers:\n  - { name: w, description: d, model: "fixture:w", tools: [book] }\n';
    expect(() => parseAgent(yaml)).toThrow(/unknown tool `book`/);
    expect(parseAgent(yaml, { tools: ["book"] }).workers[0]?.tools).toEqual(["book"]);
  });
});

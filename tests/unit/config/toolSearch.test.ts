// The worker key `toolSearch` (Tool RAG): absent by default (every granted tool is offered), `{ k }` carried into
// the definition, a bad `k`, an unknown key or a worker without tools reported at its line:col.
import { describe, expect, test } from "vitest";
import { agentJsonSchema, parseAgent } from "../../../src/config/index.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("worker toolSearch", () => {
  test("absent by default; { k } is kept", () => {
    const plain = parseAgent(yaml(...BASE), { file: agentDir.file });
    expect("toolSearch" in (plain.workers[0] ?? {})).toBe(false);
    const searched = parseAgent(
      yaml(...BASE, "    tools: [calculator]", "    toolSearch: { k: 4 }", "tools: [calculator]"),
      { file: agentDir.file },
    );
    expect(searched.workers[0]).toMatchObject({ tools: ["calculator"], toolSearch: { k: 4 } });
  });

  test("a k below 1, an unknown key and a worker granted no tools are reported at their line:col", () => {
    expectIssues(
      yaml(...BASE, "    tools: [calculator]", "    toolSearch: { k: 0, model: x }", "tools: [calculator]"),
      agentDir.file,
      [
        ["10:22", "workers[0].toolSearch.k", />=\s*1|at least 1|too small/i],
        ["10:25", "workers[0].toolSearch.model", /model/],
      ],
    );
    expectIssues(yaml(...BASE, "    toolSearch: { k: 2 }"), agentDir.file, [
      ["9:17", "workers[0].toolSearch", /granted none/],
    ]);
  });

  test("the editor schema describes the key and k", () => {
    const schema = agentJsonSchema() as {
      properties: { workers: { items: { properties: Record<string, Record<string, unknown>> } } };
    };
    const key = schema.properties.workers.items.properties.toolSearch;
    expect(key?.description).toMatch(/Tool RAG/);
    expect(key).toMatchObject({ properties: { k: { type: "integer", minimum: 1 } } });
  });
});

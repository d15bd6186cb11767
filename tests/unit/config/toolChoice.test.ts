// The worker key `toolChoice`: `auto` by default (the key is then left out of the definition), `required`
// carried through, anything else reported at its line:col; the JSON Schema for editors shows both and the default.
import { describe, expect, test } from "vitest";
import { agentJsonSchema, parseAgent } from "../../../src/config/index.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("worker toolChoice", () => {
  test("defaults to auto, which the definition leaves out; required is kept", () => {
    const plain = parseAgent(yaml(...BASE), { file: agentDir.file });
    expect(plain.workers[0]?.toolChoice).toBeUndefined();
    expect("toolChoice" in (plain.workers[0] ?? {})).toBe(false);
    const explicitAuto = parseAgent(yaml(...BASE, "    toolChoice: auto"), { file: agentDir.file });
    expect(explicitAuto.workers[0]?.toolChoice).toBeUndefined();
    const required = parseAgent(
      yaml(...BASE, "    tools: [calculator]", "    toolChoice: required", "tools: [calculator]"),
      {
        file: agentDir.file,
      },
    );
    expect(required.workers[0]).toMatchObject({ tools: ["calculator"], toolChoice: "required" });
  });

  test("a value other than auto or required is reported at its line:col", () => {
    expectIssues(yaml(...BASE, "    toolChoice: always"), agentDir.file, [
      ["9:17", "workers[0].toolChoice", /auto.*required/],
    ]);
  });

  test("the editor schema describes the key, its values and its default", () => {
    const schema = agentJsonSchema() as {
      properties: { workers: { items: { properties: Record<string, Record<string, unknown>> } } };
    };
    const key = schema.properties.workers.items.properties.toolChoice;
    expect(key).toMatchObject({ enum: ["auto", "required"], default: "auto" });
    expect(key?.description).toMatch(/required/);
  });
});

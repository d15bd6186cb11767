// The privacy keys (issue 16): `private` on a worker (true, false or absent), `privacy: { policy }` at the top
// level (strict by default), `private: true` on a tool defined in code; wrong values reported at their line:col.
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { agentJsonSchema, parseAgent } from "../../../src/config/index.js";
import { runPrivacyOf } from "../../../src/runtime/privacy.js";
import { defineTool } from "../../../src/tools/index.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("privacy keys", () => {
  test("absent: no privacy section and no worker key; the run's policy is then strict", () => {
    const agent = parseAgent(yaml(...BASE), { file: agentDir.file });
    expect(agent.privacy).toBeUndefined();
    expect("private" in (agent.workers[0] ?? {})).toBe(false);
    expect(runPrivacyOf(agent, () => [], false)).toEqual({
      policy: "strict",
      privateTask: false,
      privateWorkers: [],
      publicWorkers: [],
    });
  });

  test("private: true on a worker and privacy.policy redact are carried into the definition", () => {
    const agent = parseAgent(yaml(...BASE, "    private: true", "privacy: { policy: redact }"), {
      file: agentDir.file,
    });
    expect(agent.workers[0]?.private).toBe(true);
    expect(agent.privacy).toEqual({ policy: "redact" });
    expect(runPrivacyOf(agent, () => [], true)).toMatchObject({
      policy: "redact",
      privateTask: true,
      privateWorkers: [agent.workers[0]?.name],
    });
  });

  test("a worker granted a private tool answers privately, unless it says private: false", () => {
    const vault = defineTool({
      name: "vault",
      description: "reads the vault",
      input: z.object({}),
      private: true,
      run: async () => "x",
    });
    expect(vault.spec.private).toBe(true);
    const agent = parseAgent(yaml(...BASE, "    tools: [vault]"), { file: agentDir.file, tools: ["vault"] });
    expect(runPrivacyOf(agent, () => [vault.spec], false).privateWorkers).toEqual([agent.workers[0]?.name]);
    const declassifier = parseAgent(yaml(...BASE, "    tools: [vault]", "    private: false"), {
      file: agentDir.file,
      tools: ["vault"],
    });
    expect(runPrivacyOf(declassifier, () => [vault.spec], false)).toMatchObject({
      privateWorkers: [],
      publicWorkers: [declassifier.workers[0]?.name],
    });
  });

  test("private: true on a YAML tool entry makes the workers granted it private; the tool never sees the key", () => {
    const agent = parseAgent(
      yaml(...BASE, "    tools: [calculator]", "tools:", "  - calculator: { private: true }"),
      { file: agentDir.file },
    );
    expect(agent.tools[0]).toEqual({ kind: "builtin", name: "calculator", options: {}, private: true });
    expect(runPrivacyOf(agent, () => [], false).privateWorkers).toEqual([agent.workers[0]?.name]);
    const plain = parseAgent(yaml(...BASE, "    tools: [calculator]", "tools:", "  - calculator"), {
      file: agentDir.file,
    });
    expect(runPrivacyOf(plain, () => [], false).privateWorkers).toEqual([]);
    expectIssues(
      yaml(...BASE, "    tools: [calculator]", "tools:", "  - calculator: { private: 1 }"),
      agentDir.file,
      [["11:28", "tools[0].calculator.private", /true or false/]],
    );
  });

  test("wrong values are reported at their line:col", () => {
    expectIssues(yaml(...BASE, "    private: yes please"), agentDir.file, [
      ["9:14", "workers[0].private", /true or false/],
    ]);
    expectIssues(yaml(...BASE, "privacy: { policy: lenient }"), agentDir.file, [
      ["9:20", "privacy.policy", /strict.*redact/],
    ]);
    expectIssues(yaml(...BASE, "privacy: { policy: strict, leak: true }"), agentDir.file, [
      ["9:28", "privacy.leak", /leak/],
    ]);
  });

  test("the editor schema describes both keys", () => {
    const schema = agentJsonSchema() as {
      properties: Record<string, { properties?: Record<string, Record<string, unknown>> }> & {
        workers: { items: { properties: Record<string, Record<string, unknown>> } };
      };
    };
    expect(schema.properties.privacy?.properties?.policy).toMatchObject({
      enum: ["strict", "redact"],
      default: "strict",
    });
    expect(schema.properties.workers.items.properties.private?.description).toMatch(/declassifier/);
  });
});

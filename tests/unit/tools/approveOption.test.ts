/**
 * The `approve: true` option of the built-in tools: accepted in YAML with line:col errors like every other
 * option, carried to `spec.approve` of every tool of the family (default false), and enforced by the registry.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { ErrorCodes } from "../../../src/errors.js";
import { createBuiltinTool, createRegistryFromConfig } from "../../../src/tools/builtins/fromConfig.js";
import type { BuiltinToolConfig, ToolConfig } from "../../../src/types.js";
import { BASE, type Expected, expectIssues, useAgentDir, yaml } from "../config/support.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "edgecrew-approve-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const agentDir = useAgentDir();

function builtins(tools: readonly ToolConfig[]): BuiltinToolConfig[] {
  return tools.filter((tool): tool is BuiltinToolConfig => tool.kind === "builtin");
}

/** `spec.approve` of every tool each built-in entry creates, by tool name. */
function approvals(configs: readonly BuiltinToolConfig[]): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const config of configs) {
    for (const tool of createBuiltinTool(config)) out[tool.spec.name] = tool.spec.approve;
  }
  return out;
}

describe("approve option in YAML", () => {
  it("marks every tool of the fs, http and shell families when `approve: true`", () => {
    const agent = parseAgent(
      yaml(
        ...BASE,
        "tools:",
        "  - fs: { root: ./data, write: true, approve: true }",
        '  - http: { allow: ["https://api.example.com/*"], methods: [GET, POST], approve: true }',
        "  - shell: { allow: [echo], approve: true }",
      ),
      { file: agentDir.file },
    );
    expect(approvals(builtins(agent.tools))).toEqual({
      "fs.read": true,
      "fs.list": true,
      "fs.write": true,
      "http.get": true,
      "http.request": true,
      "shell.run": true,
    });
  });

  it("defaults to false, and `approve: false` is accepted", () => {
    const agent = parseAgent(
      yaml(
        ...BASE,
        "tools:",
        "  - calculator",
        "  - fs: { root: ./data, approve: false }",
        '  - http: { allow: ["https://api.example.com/*"] }',
        "  - shell: { allow: [echo] }",
      ),
      { file: agentDir.file },
    );
    expect(approvals(builtins(agent.tools))).toEqual({
      calculator: false,
      "fs.read": false,
      "fs.list": false,
      "http.get": false,
      "shell.run": false,
    });
  });

  it("accepts `calculator: { approve: true }` (and `calculator: {}`)", () => {
    const agent = parseAgent(yaml(...BASE, "tools:", "  - calculator: { approve: true }"), {
      file: agentDir.file,
    });
    expect(builtins(agent.tools).map((tool) => tool.name)).toEqual(["calculator"]);
    expect(() =>
      parseAgent(yaml(...BASE, "tools:", "  - calculator: {}"), { file: agentDir.file }),
    ).not.toThrow();
  });

  const invalid: readonly (readonly [string, string, readonly Expected[]])[] = [
    [
      "a string for shell approve",
      yaml(...BASE, "tools:", '  - shell: { allow: [echo], approve: "yes" }'),
      [["10:38", "tools[0].shell.approve", "expected true or false, got"]],
    ],
    [
      "a number for fs approve",
      yaml(...BASE, "tools:", "  - fs: { root: ., approve: 1 }"),
      [["10:29", "tools[0].fs.approve", "expected true or false, got"]],
    ],
    [
      "a string for http approve",
      yaml(...BASE, "tools:", '  - http: { allow: ["https://a.example/*"], approve: sure }'),
      [["10:54", "tools[0].http.approve", "expected true or false, got"]],
    ],
    [
      "a misspelt calculator option",
      yaml(...BASE, "tools:", "  - calculator: { aprove: true }"),
      [["10:19", "tools[0].calculator.aprove", "did you mean `approve`?"]],
    ],
    [
      "a string for calculator approve",
      yaml(...BASE, "tools:", "  - calculator: { approve: no }"),
      [["10:28", "tools[0].calculator.approve", "expected true or false, got"]],
    ],
  ];
  it.each(invalid)("rejects %s at its line:col", (_label, text, expected) => {
    expectIssues(text, agentDir.file, expected);
  });
});

describe("approve option in the tools layer", () => {
  it("sets spec.approve on each tool of a family created from code", () => {
    expect(
      approvals([
        { kind: "builtin", name: "calculator", options: { approve: true } },
        { kind: "builtin", name: "fs", options: { root, approve: true } },
        { kind: "builtin", name: "http", options: { allow: ["https://a.example/*"], approve: true } },
        { kind: "builtin", name: "shell", options: { allow: ["echo"], approve: true } },
      ]),
    ).toEqual({ calculator: true, "fs.read": true, "fs.list": true, "http.get": true, "shell.run": true });
  });

  it.each<[string, BuiltinToolConfig]>([
    ["a non-boolean calculator approve", { kind: "builtin", name: "calculator", options: { approve: "y" } }],
    [
      "a non-boolean shell approve",
      { kind: "builtin", name: "shell", options: { allow: ["echo"], approve: 1 } },
    ],
  ])("throws TOOL_INVALID for %s", (_label, config) => {
    expect(() => createBuiltinTool(config)).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
  });

  it("denies a call without an approver, asks the approver with the arguments, and runs on yes", async () => {
    const config: BuiltinToolConfig = {
      kind: "builtin",
      name: "calculator",
      options: { approve: true },
    };
    const unattended = createRegistryFromConfig([config]).scoped(["calculator"]);
    expectFailure(
      await unattended.call("calculator", { expression: "1+1" }, callContext().context),
      "denied",
    );

    const asked: unknown[] = [];
    const answers = [false, true];
    const attended = createRegistryFromConfig([config], {
      onApproval: async ({ tool, args }) => {
        asked.push([tool.name, args]);
        return answers.shift() ?? false;
      },
    }).scoped(["calculator"]);
    expectFailure(await attended.call("calculator", { expression: "2*3" }, callContext().context), "denied");
    expect(expectOk(await attended.call("calculator", { expression: "2*3" }, callContext().context))).toEqual(
      {
        result: 6,
      },
    );
    expect(asked).toEqual([
      ["calculator", { expression: "2*3" }],
      ["calculator", { expression: "2*3" }],
    ]);
  });
});

describe("calculator approval from YAML", () => {
  it("reaches the created tool", async () => {
    const { parseAgent } = await import("../../../src/config/index.js");
    const { createRegistryFromConfig } = await import("../../../src/tools/index.js");
    const yaml =
      'name: t\ndescription: d\nplanner: { model: "openai:gpt-4o-mini" }\nworkers:\n  - { name: w, description: d, model: "fixture:w", tools: [calculator] }\ntools:\n  - calculator: { approve: true }\n';
    const builtins = (yamlText: string) =>
      parseAgent(yamlText).tools.flatMap((tool) => (tool.kind === "builtin" ? [tool] : []));
    expect(createRegistryFromConfig(builtins(yaml)).list(["calculator"])[0]?.approve).toBe(true);
    const plain = yaml.replace("calculator: { approve: true }", "calculator");
    expect(createRegistryFromConfig(builtins(plain)).list(["calculator"])[0]?.approve).toBe(false);
  });
});

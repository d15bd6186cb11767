// How failures are reported: all problems at once and in file order, the error message format, missing files,
// and definitions given in code (paths without positions).

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { type AgentInput, defineAgent, loadAgent, parseAgent } from "../../../src/config/index.js";
import {
  type DefinitionIssue,
  ErrorCodes,
  formatIssue,
  isAgentDefinitionError,
} from "../../../src/errors.js";
import { BASE, catchIssues, expectIssues, replaceLine, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("reporting every problem", () => {
  test("several errors in one file are all reported, in file order", () => {
    expectIssues(
      yaml(
        "name: demo",
        "description: A demo agent",
        "planner:",
        "  model: openai:gpt-4o-mini",
        "  temprature: 0.2",
        "workers:",
        "  - name: researcher",
        "    description: Finds facts",
        "    model: openai:gpt-4o",
        "    tools: [calculator]",
        "  - name: researcher",
        "    description: Again",
        "    model: fixture:tiny?seed=x",
        "limits: { maxParallel: 100 }",
        "device: { memory: lots }",
      ),
      agentDir.file,
      [
        ["5:3", "planner.temprature", "did you mean `temperature`?"],
        ["9:12", "workers[0].model", "is a remote model"],
        ["10:13", "workers[0].tools[0]", "not declared under top-level `tools`"],
        ["11:11", "workers[1].name", "duplicate worker name"],
        ["13:12", "workers[1].model", 'seed must be a non-negative integer, got "x"'],
        ["14:24", "limits.maxParallel", "must be at most 64, got number 100"],
        ["15:19", "device.memory", 'got "lots"'],
      ],
    );
  });

  test("a duplicate key does not hide the other problems", () => {
    expectIssues(yaml(...BASE, "    maxTokens: 1", "    maxTokens: 0"), agentDir.file, [
      ["10:5", "workers[0].maxTokens", "duplicate key `maxTokens`"],
      ["10:16", "workers[0].maxTokens", "must be greater than 0"],
    ]);
  });

  test("the error message lists every issue as file:line:col: path: message", () => {
    try {
      parseAgent(yaml(...BASE, "colour: blue", "limits: { maxParallel: 0 }"), { file: agentDir.file });
      throw new Error("expected the definition to be rejected");
    } catch (error) {
      if (!isAgentDefinitionError(error)) throw error;
      const lines = error.message.split("\n");
      expect(lines[0]).toBe(`${agentDir.file}: 2 problems`);
      expect(lines.slice(1)).toEqual(error.issues.map(formatIssue));
      expect(lines[1]).toBe(
        `${agentDir.file}:9:1: colour: unknown key \`colour\` (allowed keys: name, description, planner, workers, tools, limits, device, escalation, answer, privacy, fleet, secrets)`,
      );
      expect(lines[2]).toBe(`${agentDir.file}:10:24: limits.maxParallel: must be at least 1, got number 0`);
    }
  });

  test("without a file name, issues still have line:col", () => {
    const issues = catchIssues(() => parseAgent(yaml(...BASE, "colour: blue"), { baseDir: agentDir.dir }));
    expect(issues).toEqual([
      { line: 9, col: 1, path: "colour", message: expect.stringContaining("unknown key") },
    ]);
    expect(formatIssue(issues[0] as DefinitionIssue)).toMatch(/^9:1: colour: unknown key/);
  });
});

describe("loadAgent and defineAgent failures", () => {
  test("a missing file is one issue: file not found", async () => {
    const missing = join(agentDir.dir, "nope.yaml");
    const error = await loadAgent(missing).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isAgentDefinitionError(error)).toBe(true);
    if (!isAgentDefinitionError(error)) return;
    expect(error.issues).toEqual([{ file: missing, path: "", message: `file not found: ${missing}` }]);
    expect(error.message).toBe(`${missing}: 1 problem\n${missing}: file not found: ${missing}`);
  });

  test("a directory is not an agent file", async () => {
    await expect(loadAgent(agentDir.dir)).rejects.toMatchObject({
      code: ErrorCodes.AGENT_INVALID,
      issues: [{ path: "", message: `${agentDir.dir} is a directory, not an agent YAML file` }],
    });
  });

  test("loadAgent places issues in the file it read", async () => {
    const bad = join(agentDir.dir, "bad.yaml");
    await writeFile(bad, yaml(...replaceLine(8, "    model: ./models/missing.gguf")));
    await expect(loadAgent(bad)).rejects.toMatchObject({
      issues: [{ file: bad, line: 8, col: 12, path: "workers[0].model" }],
    });
  });

  test("defineAgent issues have paths but no line:col", () => {
    const definition = {
      name: "coded",
      description: "",
      planner: { model: "openai:gpt-4o-mini", temprature: 1 },
      workers: [
        { name: "w", description: "W", model: "openai:gpt-4o", tools: ["fs"] },
        { name: "w", description: "W", model: "fixture:tiny", output: { type: "object", bad: () => 1 } },
      ],
    } as unknown as AgentInput;
    const issues = catchIssues(() => defineAgent(definition, { baseDir: agentDir.dir }));
    expect(issues).toEqual([
      { path: "description", message: 'must not be empty, got the string ""' },
      { path: "planner.temprature", message: "unknown key `temprature`; did you mean `temperature`?" },
      { path: "workers[0].model", message: expect.stringContaining("is a remote model") },
      { path: "workers[1].output", message: expect.stringContaining("must be plain JSON") },
      { path: "workers[1].name", message: "duplicate worker name `w` (first used by workers[0])" },
      {
        path: "workers[0].tools[0]",
        message: "the tool `fs` is not declared under top-level `tools`; declare it there to enable it",
      },
    ]);
  });

  test("defineAgent rejects what is not an object", () => {
    expect(catchIssues(() => defineAgent(null as unknown as AgentInput))).toEqual([
      { path: "", message: "expected a mapping, got null (an empty value)" },
    ]);
  });
});

/**
 * Issue 14, finding 3, through the built CLI: an agent file that grants a tool defined in code could never pass
 * `edgecrew validate` (`unknown tool 'lookup' (declared tools: none)`) nor run. `--tools <module>` names an ES
 * module whose default (or `tools`) export is an array of tools: defineTool results or LangChain tools.
 */
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../src/types.js";
import { repoRoot, runCli } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-tools-"));
// The modules import zod and LangChain by name, as a user's would: from the repository's node_modules.
symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
const edgecrew = JSON.stringify(pathToFileURL(join(repoRoot, "dist/index.js")).href);
const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-tools-cache-")) };
const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-tools-runs-"));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const agent = file(
  "glossary.yaml",
  `name: glossary
description: Explains words with a glossary defined in code
planner: { model: "fixture:planner?seed=7&size=tiny", maxTokens: 512 }
workers:
  - name: explainer
    description: Explains a word, looking it up first
    model: fixture:explainer?seed=5
    tools: [lookup, shout]
    toolChoice: required
    maxToolCalls: 1
    maxTokens: 96
    output:
      type: object
      properties: { done: { type: boolean } }
      required: [done]
      additionalProperties: false
limits: { maxSubtasks: 1, maxReplans: 0, timeoutSeconds: 120, subtaskTimeoutSeconds: 90 }
device: { threads: 1, gpu: false }
`,
);

const tools = file(
  "tools.mjs",
  `import { DynamicStructuredTool } from "@langchain/core/tools";
import { z } from "zod";
import { defineTool } from ${edgecrew};
const lookup = defineTool({
  name: "lookup",
  description: "Looks a word up in the glossary.",
  input: z.object({}),
  idempotent: true,
  run: async () => ({ meaning: "a thing at the edge" }),
});
const shout = new DynamicStructuredTool({
  name: "shout",
  description: "Upper-cases a text.",
  schema: z.object({ text: z.string() }),
  func: async ({ text }) => text.toUpperCase(),
});
export default [lookup, shout];
`,
);

describe("--tools <module> (child process)", () => {
  it("validate refuses a file granting a code tool without it, and accepts it with the module", async () => {
    const without = await runCli(["validate", "--no-models", agent], { cwd: dir });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain("unknown tool `lookup` (declared tools: none)");
    const withTools = await runCli(["validate", "--no-models", "--tools", tools, agent], { cwd: dir });
    expect(withTools.stderr).toBe("");
    expect(withTools.code).toBe(0);
    expect(withTools.stdout).toContain("ok glossary.yaml: agent glossary, 1 worker");
  });

  it("a `tools` named export works too", async () => {
    const named = file("named.mjs", `import tools from "./tools.mjs";\nexport { tools };\n`);
    const result = await runCli(["validate", "--no-models", "--tools", named, agent], { cwd: dir });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("a missing module, a wrong export and an entry that is no tool are clear errors", async () => {
    const missing = await runCli(["validate", "--no-models", "--tools", "nope.mjs", agent], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--tools nope.mjs: module not found: ${join(dir, "nope.mjs")}`);

    const wrong = file("wrong.mjs", `export const lookup = 1;\nexport const helper = () => 2;\n`);
    const badExport = await runCli(["validate", "--no-models", "--tools", wrong, agent], { cwd: dir });
    expect(badExport.code).toBe(2);
    expect(badExport.stderr).toContain(
      "--tools wrong.mjs: expected an ES module whose default export (or `tools` export) is an array of tools",
    );
    expect(badExport.stderr).toContain("it exports `helper`, `lookup`");

    const notTool = file("notTool.mjs", `export default [{ name: "lookup" }];\n`);
    const badEntry = await runCli(["validate", "--no-models", "--tools", notTool, agent], { cwd: dir });
    expect(badEntry.code).toBe(1);
    expect(badEntry.stderr).toContain("--tools notTool.mjs: entry [0] is an object, not a tool");

    const broken = file("broken.mjs", `throw new Error("boom");\n`);
    const failing = await runCli(["run", "--json", "--tools", broken, agent, "x"], { cwd: dir });
    expect(failing.code).toBe(2);
    expect(JSON.parse(failing.stdout)).toMatchObject({
      status: "failed",
      error: { code: "USAGE", message: "--tools broken.mjs: the module failed to load: boom" },
    });
  });

  it("run calls the module's tools: the worker's forced call reaches the code tool", async () => {
    const result = await runCli(
      ["run", "--json", "--run-dir", runDir, "--tools", tools, agent, "Explain the word edge"],
      { cwd: dir, env },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as RunResult;
    expect(parsed.status).toBe("completed");
    const events = readFileSync(join(runDir, parsed.runId, "events.jsonl"), "utf8");
    expect(events).toMatch(/"type":"tool\.result".*"tool":"(lookup|shout)".*"ok":true/);
    expect(readdirSync(join(runDir, parsed.runId))).toContain("events.jsonl");
  });
});

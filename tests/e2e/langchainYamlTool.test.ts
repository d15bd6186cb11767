/**
 * Issue 14 leftover, first-class LangChain tools, through the built CLI: an agent file declares LangChain tools
 * living in JS modules (`- langchain:`), one by a path relative to the agent file (the CLI runs elsewhere), one
 * from a package installed next to the agent (a class constructed with `options`). `edgecrew validate` imports
 * them and reports a missing module, a missing export or a value that is not a tool at its file:line:col;
 * `edgecrew run` grants them to a worker forced to call a tool, and the tool runs (its log line is written).
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../src/types.js";
import { repoRoot, runCli } from "./cli.js";

const project = mkdtempSync(join(tmpdir(), "edgecrew-e2e-langchain-"));
const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-langchain-cache-")) };
const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-langchain-runs-"));
const log = join(project, "calls.jsonl");

function file(path: string, text: string): string {
  mkdirSync(dirname(join(project, path)), { recursive: true });
  writeFileSync(join(project, path), text);
  return path;
}

// The project's node_modules: LangChain and zod from the repository, and a package of its own.
mkdirSync(join(project, "node_modules"));
symlinkSync(join(repoRoot, "node_modules/@langchain"), join(project, "node_modules/@langchain"));
symlinkSync(join(repoRoot, "node_modules/zod"), join(project, "node_modules/zod"));
file(
  "node_modules/weather-pkg/package.json",
  JSON.stringify({ name: "weather-pkg", type: "module", exports: { "./tools/*": "./tools/*.mjs" } }),
);
file(
  "node_modules/weather-pkg/tools/shout.mjs",
  `import { appendFileSync } from "node:fs";
import { DynamicStructuredTool } from "@langchain/core/tools";
import { z } from "zod";
export default class ShoutTool extends DynamicStructuredTool {
  constructor(options) {
    super({
      name: "shout",
      description: "Upper-cases a text.",
      schema: z.object({ text: z.string().max(20) }),
      func: async ({ text }) => {
        appendFileSync(options.log, JSON.stringify({ name: "shout", args: { text } }) + "\\n");
        return text.toUpperCase();
      },
    });
  }
}
`,
);
// Next to the agent file: a module re-exporting the fixture's tools.
const fixture = pathToFileURL(join(repoRoot, "tests/fixtures/langchainTools/tools.mjs")).href;
file("agents/tools/weather.mjs", `export * from ${JSON.stringify(fixture)};\n`);

const head = `name: forecaster
description: Tells the weather with LangChain tools from modules
planner: { model: "fixture:planner?seed=7&size=tiny", maxTokens: 512 }
workers:
  - name: forecaster
    description: Tells the weather of a city
    model: fixture:forecaster?seed=5
    tools: [forecast, shout]
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
tools:
`;

const agent = file(
  "agents/forecaster.yaml",
  `${head}  - langchain:
      module: ./tools/weather.mjs
      export: makeWeatherTool
      options: { units: metric, log: ${JSON.stringify(log)} }
  - langchain:
      module: weather-pkg/tools/shout
      options: { log: ${JSON.stringify(log)} }
`,
);

describe("langchain tools in agent YAML (child process)", () => {
  it("validate imports the modules (relative to the agent file, and a package next to it) and accepts", async () => {
    const result = await runCli(["validate", "--no-models", agent], { cwd: project });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("ok agents/forecaster.yaml: agent forecaster, 1 worker");
  });

  it("validate reports a missing module, a missing export and a value that is no tool at line:col", async () => {
    const missing = file("agents/missing.yaml", `${head}  - langchain: { module: ./tools/wether.mjs }\n`);
    const noModule = await runCli(["validate", "--no-models", missing], { cwd: project });
    expect(noModule.code).toBe(2);
    expect(noModule.stderr).toContain(
      `agents/missing.yaml:20:26: tools[0].langchain.module: tool module not found: ${join(project, "agents/tools/wether.mjs")}`,
    );

    const badExport = file(
      "agents/badExport.yaml",
      `${head}  - langchain: { module: ./tools/weather.mjs, export: makeWeather }\n`,
    );
    const noExport = await runCli(["validate", "--no-models", badExport], { cwd: project });
    expect(noExport.code).toBe(2);
    expect(noExport.stderr).toContain(
      "agents/badExport.yaml:20:55: tools[0].langchain.export: ./tools/weather.mjs, export `makeWeather`: the module has no export `makeWeather`; it exports",
    );

    const notTool = file(
      "agents/notTool.yaml",
      `${head}  - langchain: { module: ./tools/weather.mjs, export: notATool, name: forecast }
  - langchain: { module: weather-pkg/tools/shout }\n`,
    );
    const noTool = await runCli(["validate", "--no-models", notTool], { cwd: project });
    expect(noTool.code).toBe(2);
    expect(noTool.stderr).toContain(
      "agents/notTool.yaml:20:55: tools[0].langchain.export: ./tools/weather.mjs, export `notATool`: the export is an object, not a LangChain tool",
    );
  });

  it("validate matches grants against the imported tools' own names, with a did-you-mean", async () => {
    const typo = file(
      "agents/typo.yaml",
      `${head.replace("tools: [forecast, shout]", "tools: [forecast, shot]")}  - langchain:
      module: ./tools/weather.mjs
      export: makeWeatherTool
  - langchain: { module: weather-pkg/tools/shout, options: { log: ${JSON.stringify(log)} } }
`,
    );
    const result = await runCli(["validate", "--no-models", typo], { cwd: project });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "agents/typo.yaml:8:23: workers[0].tools[1]: unknown tool `shot`; did you mean `shout`?",
    );
  });

  it("run: the worker's forced call reaches a module's tool, which runs", async () => {
    const result = await runCli(["run", "--json", "--run-dir", runDir, agent, "Weather in Rome?"], {
      cwd: project,
      env,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as RunResult;
    expect(parsed.status).toBe("completed");
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls).toHaveLength(1);
    const call = JSON.parse(calls[0] ?? "{}") as { name: string };
    expect(["forecast", "shout"]).toContain(call.name);
    const events = readFileSync(join(runDir, parsed.runId, "events.jsonl"), "utf8");
    expect(events).toMatch(new RegExp(`"type":"tool\\.result".*"tool":"${call.name}".*"ok":true`));
  });
});

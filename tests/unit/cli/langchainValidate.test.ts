/**
 * What `edgecrew validate` checks of `- langchain:` entries beyond parsing (cli/toolsModule.ts): the module is
 * imported, the export must exist and be a LangChain tool or a factory of one, and a grant of a tool without
 * `name:` must match a tool's own name; each problem at its file:line:col, like the other definition issues.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLangChainTools } from "../../../src/cli/toolsModule.js";
import { loadAgent } from "../../../src/config/index.js";

const fixtures = resolve(import.meta.dirname, "../../fixtures/langchainTools");
const tools = join(fixtures, "tools.mjs");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-langchain-validate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const head = [
  "name: demo",
  "description: A demo agent",
  "planner: { model: openai:gpt-4o-mini }",
  "workers:",
  "  - name: forecaster",
  "    description: Tells the weather",
  "    model: fixture:forecaster?seed=3",
];

async function check(lines: string[], provided: string[] = []) {
  const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, `${[...head, ...lines].join("\n")}\n`);
  const agent = await loadAgent(file);
  const result = await checkLangChainTools(agent, file, provided);
  return {
    file,
    names: result.tools.map((tool) => tool.spec.name),
    issues: result.issues.map((issue) => {
      expect(issue.file).toBe(file);
      return `${issue.line}:${issue.col} ${issue.path}: ${issue.message}`;
    }),
  };
}

describe("checkLangChainTools (validate)", () => {
  it("loads good entries: no issues, and the tools for the context check", async () => {
    const result = await check([
      "    tools: [weather, forecast, greet]",
      "tools:",
      `  - langchain: { module: ${tools}, export: weatherTool }`,
      `  - langchain: { module: ${tools}, export: makeWeatherTool, options: { units: metric } }`,
      `  - langchain: { module: ${tools}, export: GreeterTool }`,
    ]);
    expect(result.issues).toEqual([]);
    expect(result.names).toEqual(["weather", "forecast", "greet"]);
  });

  it("a missing export, a value that is no tool and a failing factory: at their keys", async () => {
    const lines = [
      "    tools: [a, b, c]",
      "tools:",
      `  - langchain: { module: ${tools}, export: weather, name: a }`,
      `  - langchain: { module: ${tools}, export: notATool, name: b }`,
      `  - langchain: { module: ${tools}, export: brokenFactory, name: c, options: { key: x } }`,
    ];
    const result = await check(lines);
    // 1-based column of a value on line 10, 11 or 12 of the file.
    const col = (line: number, value: string) => (lines[line - 8] ?? "").indexOf(value) + 1;
    expect(result.issues).toEqual([
      expect.stringMatching(
        new RegExp(
          `^10:${col(10, "weather,")} tools\\[0\\]\\.langchain\\.export: .*tools\\.mjs, export \`weather\`: the module has no export \`weather\`; it exports .*\`weatherTool\``,
        ),
      ),
      `11:${col(11, "notATool")} tools[1].langchain.export: ${tools}, export \`notATool\`: the export is an object, not a LangChain tool (tool(), StructuredTool, DynamicStructuredTool) nor a factory of one`,
      `12:${col(12, "{ key")} tools[2].langchain.options: ${tools}, export \`brokenFactory\`: the factory (a function) threw when called with {"key":"x"}: no API key configured`,
    ]);
  });

  it("a defaulted export that is missing points at the entry", async () => {
    const empty = join(fixtures, "empty.mjs");
    const result = await check([
      "    tools: [x]",
      "tools:",
      "  - langchain:",
      `      module: ${empty}`,
      "      name: x",
    ]);
    expect(result.issues).toEqual([
      `11:7 tools[0].langchain.export: ${empty}, export \`default\`: the module has no export \`default\`; it exports nothing`,
    ]);
  });

  it("a grant of a tool without `name:` is matched against its own name once imported", async () => {
    const result = await check(["    tools: [wether]", "tools:", `  - langchain: { module: ${tools} }`]);
    expect(result.issues).toEqual([
      "8:13 workers[0].tools[0]: unknown tool `wether`; did you mean `weather`? (declared tools: weather)",
    ]);
    const provided = await check(
      ["    tools: [weather, lookup]", "tools:", `  - langchain: { module: ${tools} }`],
      ["lookup"],
    );
    expect(provided.issues).toEqual([]);
  });
});

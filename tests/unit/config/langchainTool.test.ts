/**
 * Issue 14 leftover, first-class LangChain tools: a `- langchain: { module, export, options, name }` entry of an
 * agent file. Parsing resolves its module (a path from the agent file's directory, never the cwd; a package with
 * Node's resolution from there) without importing it, reports what does not resolve at its line:col, and lets
 * workers grant the tool by its `name` (with did-you-mean) or, without one, leaves the grant to the import.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { agentJsonSchema, parseAgent } from "../../../src/config/index.js";
import type { LangChainToolConfig } from "../../../src/types.js";
import { BASE, catchIssues, expectIssues, replaceLine, useAgentDir, yaml } from "./support.js";

const fixtureDir = resolve(import.meta.dirname, "../../fixtures/langchainTools");
const agentDir = useAgentDir();
const CALLS = Symbol.for("edgecrew.tests.langchainTools.calls");
// BASE for an agent file in the fixture directory, which holds no model file.
const FIXTURE_BASE = replaceLine(8, "    model: fixture:researcher?seed=3");

function langchainTools(text: string, file: string): LangChainToolConfig[] {
  return parseAgent(text, { file }).tools.filter(
    (tool): tool is LangChainToolConfig => tool.kind === "langchain",
  );
}

describe("langchain tool entries", () => {
  it("resolve a relative module from the agent file's directory, not the cwd, and do not import it", () => {
    expect(process.cwd()).not.toBe(fixtureDir);
    const before = (globalThis as Record<symbol, unknown>)[CALLS];
    const [weather, forecast] = langchainTools(
      yaml(
        ...FIXTURE_BASE,
        "    tools: [weather, forecast]",
        "tools:",
        "  - langchain: { module: ./tools.mjs, export: weatherTool, name: weather }",
        "  - langchain:",
        "      module: ./tools.mjs",
        "      export: makeWeatherTool",
        "      options: { units: metric, nested: { a: [1, true, null] } }",
        "      name: forecast",
        "      idempotent: true",
        "      approve: true",
      ),
      join(fixtureDir, "agent.yaml"),
    );
    expect(weather).toEqual({
      kind: "langchain",
      module: "./tools.mjs",
      path: join(fixtureDir, "tools.mjs"),
      export: "weatherTool",
      name: "weather",
    });
    expect(forecast).toEqual({
      kind: "langchain",
      module: "./tools.mjs",
      path: join(fixtureDir, "tools.mjs"),
      export: "makeWeatherTool",
      options: { units: "metric", nested: { a: [1, true, null] } },
      name: "forecast",
      idempotent: true,
      approve: true,
    });
    // Nothing ran: the module is imported at crew start, not while parsing.
    expect((globalThis as Record<symbol, unknown>)[CALLS]).toBe(before);
  });

  it("export defaults to `default`", () => {
    const [tool] = langchainTools(
      yaml(...FIXTURE_BASE, "tools:", "  - langchain: { module: ./tools.mjs }"),
      join(fixtureDir, "agent.yaml"),
    );
    expect(tool?.export).toBe("default");
    expect(tool?.name).toBeUndefined();
  });

  it("resolve a package name with Node's resolution from the agent file's directory", async () => {
    const pkg = join(agentDir.dir, "node_modules", "weather-pkg");
    await mkdir(join(pkg, "tools"), { recursive: true });
    await writeFile(
      join(pkg, "package.json"),
      JSON.stringify({ name: "weather-pkg", type: "module", exports: { "./tools/*": "./tools/*.mjs" } }),
    );
    await writeFile(join(pkg, "tools", "weather.mjs"), "export default {};\n");
    const [tool] = langchainTools(
      yaml(...BASE, "tools:", "  - langchain: { module: weather-pkg/tools/weather, name: weather }"),
      agentDir.file,
    );
    expect(tool?.path).toBe(join(pkg, "tools", "weather.mjs"));
    expect(tool?.module).toBe("weather-pkg/tools/weather");
  });

  it("report a module that does not resolve at its line:col", () => {
    expectIssues(
      yaml(
        ...BASE,
        "tools:",
        "  - langchain: { module: ./tools/missing.mjs, name: a }",
        "  - langchain: { module: not-installed-weather-pkg/tool, name: b }",
        "  - langchain: { module: ./models, name: c }",
      ),
      agentDir.file,
      [
        [
          "10:26",
          "tools[0].langchain.module",
          `tool module not found: ${join(agentDir.dir, "tools/missing.mjs")} (relative paths resolve against ${agentDir.dir})`,
        ],
        [
          "11:26",
          "tools[1].langchain.module",
          `the tool module package \`not-installed-weather-pkg/tool\` is not installed where ${agentDir.dir} can find it`,
        ],
        [
          "12:26",
          "tools[2].langchain.module",
          `the tool module ${join(agentDir.dir, "models")} is not a file`,
        ],
      ],
    );
  });

  it("report bad keys and values at their line:col", () => {
    expectIssues(
      yaml(
        ...BASE,
        "tools:",
        "  - langchain: { export: weatherTool }",
        "  - langchain: { module: ./models/qwen.gguf, export: 'weather tool' }",
        "  - langchain: { module: ./models/qwen.gguf, name: 'bad name' }",
        "  - langchain: { module: ./models/qwen.gguf, idempotent: maybe }",
        "  - langchain: { module: ./models/qwen.gguf, modul: x }",
        "  - langchain: { module: ./models/qwen.gguf, options: [units] }",
      ),
      agentDir.file,
      [
        ["10:16", "tools[0].langchain.module", /module|required|expected/],
        ["11:54", "tools[1].langchain.export", '"weather tool" is not an export name'],
        ["12:52", "tools[2].langchain.name", '"bad name" is not a tool name'],
        ["13:58", "tools[3].langchain.idempotent", /true or false/],
        ["14:46", "tools[4].langchain.modul", /module|unknown/],
        ["15:55", "tools[5].langchain.options", /mapping|object|record/],
      ],
    );
  });

  it("a named tool is granted by its name; a typo gets a did-you-mean", () => {
    expectIssues(
      yaml(
        ...BASE,
        "    tools: [wether]",
        "tools:",
        "  - langchain: { module: ./models/qwen.gguf, name: weather }",
      ),
      agentDir.file,
      [
        [
          "9:13",
          "workers[0].tools[0]",
          "unknown tool `wether`; did you mean `weather`? (declared tools: weather)",
        ],
      ],
    );
  });

  it("a tool without `name` is known by its own name only once imported: its grant is left to that check", () => {
    const text = yaml(
      ...FIXTURE_BASE,
      "    tools: [weather]",
      "tools:",
      "  - langchain: { module: ./tools.mjs }",
    );
    expect(langchainTools(text, join(fixtureDir, "agent.yaml"))).toHaveLength(1);
    // Still: a built-in that is not declared is reported, and so is a duplicate name.
    const issues = catchIssues(() =>
      parseAgent(
        yaml(
          ...FIXTURE_BASE,
          "    tools: [weather, fs]",
          "tools:",
          "  - langchain: { module: ./tools.mjs }",
          "  - langchain: { module: ./tools.mjs, export: shout, name: calculator }",
          "  - calculator",
        ),
        { file: join(fixtureDir, "agent.yaml") },
      ),
    );
    expect(issues.map((issue) => `${issue.line}:${issue.col} ${issue.path}: ${issue.message}`)).toEqual([
      "9:22 workers[0].tools[1]: the tool `fs` is not declared under top-level `tools`; declare it there to enable it",
      "13:5 tools[2]: the calculator tool is declared twice (first at tools[1])",
    ]);
  });

  it("are in the JSON Schema of agent files", () => {
    const text = JSON.stringify(agentJsonSchema());
    expect(text).toContain('"langchain"');
    for (const key of ["module", "export", "options", "idempotent"]) expect(text).toContain(`"${key}"`);
    expect(text).toMatch(/"export":\{[^}]*"default":"default"/);
  });
});

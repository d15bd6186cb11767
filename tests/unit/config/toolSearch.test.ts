// The worker key `toolSearch` (Tool RAG): absent by default (every granted tool is offered), `{ k }` carried into
// the definition, a bad `k`, an unknown key or a worker without tools reported at its line:col; `model` (an
// embedding model ranks instead of BM25) resolved like a worker's model, and a bad one reported at its line:col.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { checkModelFile } from "../../../src/cli/modelCheck.js";
import { agentJsonSchema, loadAgent, parseAgent } from "../../../src/config/index.js";
import { BASE, catchIssues, expectIssues, useAgentDir, yaml } from "./support.js";

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
      yaml(...BASE, "    tools: [calculator]", "    toolSearch: { k: 0, models: x }", "tools: [calculator]"),
      agentDir.file,
      [
        ["10:22", "workers[0].toolSearch.k", />=\s*1|at least 1|too small/i],
        ["10:25", "workers[0].toolSearch.models", /model/],
      ],
    );
    expectIssues(yaml(...BASE, "    toolSearch: { k: 2 }"), agentDir.file, [
      ["9:17", "workers[0].toolSearch", /granted none/],
    ]);
  });

  test("model: a local model reference, resolved against the file like a worker's model", () => {
    const fixture = parseAgent(
      yaml(
        ...BASE,
        "    tools: [calculator]",
        "    toolSearch: { k: 3, model: fixture:embed }",
        "tools: [calculator]",
      ),
      { file: agentDir.file },
    );
    expect(fixture.workers[0]?.toolSearch).toEqual({
      k: 3,
      model: { kind: "fixture", raw: "fixture:embed", name: "embed", seed: 1, size: "tiny" },
    });
    const file = parseAgent(
      yaml(
        ...BASE,
        "    tools: [calculator]",
        "    toolSearch: { k: 2, model: ./models/qwen.gguf }",
        "tools: [calculator]",
      ),
      { file: agentDir.file },
    );
    expect(file.workers[0]?.toolSearch?.model).toEqual({
      kind: "file",
      raw: "./models/qwen.gguf",
      path: join(agentDir.dir, "models", "qwen.gguf"),
    });
  });

  test("a missing model file, a remote model and a malformed reference are reported at their line:col", () => {
    expectIssues(
      yaml(
        ...BASE,
        "    tools: [calculator]",
        "    toolSearch: { k: 2, model: ./models/missing.gguf }",
        "tools: [calculator]",
      ),
      agentDir.file,
      [["10:32", "workers[0].toolSearch.model", /model file not found \(MODEL_NOT_FOUND\): .*missing\.gguf/]],
    );
    expectIssues(
      yaml(
        ...BASE,
        "    tools: [calculator]",
        "    toolSearch:",
        "      k: 2",
        "      model: openai:text-embedding-3-small",
        "tools: [calculator]",
      ),
      agentDir.file,
      [["12:14", "workers[0].toolSearch.model", /is a remote model.*needs a local model/]],
    );
    expectIssues(
      yaml(
        ...BASE,
        "    tools: [calculator]",
        "    toolSearch: { k: 2, model: embed.bin }",
        "tools: [calculator]",
      ),
      agentDir.file,
      [["10:32", "workers[0].toolSearch.model", /invalid model reference "embed\.bin".*must end in \.gguf/]],
    );
  });

  test("with the CLI's GGUF header check (validate), a model file that is not a GGUF is reported at its line:col", async () => {
    const file = join(agentDir.dir, "embed-agent.yaml");
    await writeFile(join(agentDir.dir, "models", "embed.gguf"), "not a GGUF file");
    await writeFile(
      file,
      yaml(
        ...BASE,
        "    tools: [calculator]",
        "    toolSearch: { k: 2, model: ./models/embed.gguf }",
        "tools: [calculator]",
      ),
    );
    const error = await loadAgent(file, { checkModelFile }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    const issuesNow = catchIssues(() => {
      throw error;
    });
    expect(issuesNow.map((issue) => [`${issue.line}:${issue.col}`, issue.path])).toEqual([
      ["8:12", "workers[0].model"],
      ["10:32", "workers[0].toolSearch.model"],
    ]);
    expect(issuesNow[1]?.message).toMatch(/embed\.gguf/);
  });

  test("the editor schema describes the key and k", () => {
    const schema = agentJsonSchema() as {
      properties: { workers: { items: { properties: Record<string, Record<string, unknown>> } } };
    };
    const key = schema.properties.workers.items.properties.toolSearch;
    expect(key?.description).toMatch(/Tool RAG/);
    expect(key).toMatchObject({
      properties: { k: { type: "integer", minimum: 1 }, model: { type: "string" } },
    });
    expect(key?.properties).toMatchObject({ model: { description: expect.stringMatching(/embedding/) } });
  });
});

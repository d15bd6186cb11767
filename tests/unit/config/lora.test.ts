// The worker key `lora` (issue 16): absent by default; adapters with paths resolved against the agent file and
// scale defaulting to 1; a bad scale, an unknown key or a missing adapter file reported at its line:col.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { agentJsonSchema, parseAgent } from "../../../src/config/index.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("worker lora", () => {
  test("absent by default; paths resolve against the agent file, scale defaults to 1", () => {
    const plain = parseAgent(yaml(...BASE), { file: agentDir.file });
    expect("lora" in (plain.workers[0] ?? {})).toBe(false);
    const adapted = parseAgent(
      yaml(
        ...BASE,
        "    lora:",
        "      - path: ./models/qwen.gguf",
        "      - { path: models/qwen.gguf, scale: 0.25 }",
      ),
      { file: agentDir.file },
    );
    const model = join(agentDir.dir, "models", "qwen.gguf");
    expect(adapted.workers[0]?.lora).toEqual([
      { path: model, scale: 1 },
      { path: model, scale: 0.25 },
    ]);
  });

  test("a bad scale, an unknown key and a missing file are reported at their line:col", () => {
    expectIssues(
      yaml(...BASE, "    lora:", "      - { path: ./models/qwen.gguf, scale: -1, alpha: 2 }"),
      agentDir.file,
      [
        ["10:44", "workers[0].lora[0].scale", />=\s*0|at least 0|too small/i],
        ["10:48", "workers[0].lora[0].alpha", /alpha/],
      ],
    );
    expectIssues(yaml(...BASE, "    lora:", "      - path: ./models/nope.gguf"), agentDir.file, [
      ["10:15", "workers[0].lora[0].path", /LoRA adapter file not found \(MODEL_NOT_FOUND\).*nope\.gguf/],
    ]);
  });

  test("the editor schema describes the key", () => {
    const schema = agentJsonSchema() as {
      properties: { workers: { items: { properties: Record<string, Record<string, unknown>> } } };
    };
    const key = schema.properties.workers.items.properties.lora;
    expect(key?.description).toMatch(/LoRA/);
    expect(key).toMatchObject({ type: "array", items: { properties: { scale: { default: 1 } } } });
  });
});

import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./cli.js";

const agentFiles = readdirSync(join(repoRoot, "agents"))
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => `agents/${f}`);

function tempAgent(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const validHead = `name: t
description: d
planner: { model: "openai:gpt-4o-mini" }
`;

describe("edgecrew validate / schema / help (child process)", () => {
  it("accepts every example agent", async () => {
    expect(agentFiles.length).toBeGreaterThanOrEqual(3);
    const result = await runCli(["validate", ...agentFiles]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    for (const f of agentFiles) expect(result.stdout).toContain(`ok ${f}`);
  });

  const bad: [string, string, RegExp][] = [
    ["syntax error", `${validHead}workers: [\n`, /agent\.yaml:5:1: /],
    [
      "unknown key",
      `${validHead}workers:\n  - { name: w, description: d, model: "fixture:w" }\nextra: 1\n`,
      /:6:1: extra: /,
    ],
    [
      "typo'd key",
      `${validHead}workers:\n  - name: w\n    description: d\n    model: "fixture:w"\n    temprature: 0.5\n`,
      /:8:5: workers\[0\]\.temprature: .*temperature/,
    ],
    [
      "wrong type",
      `${validHead}workers:\n  - { name: w, description: d, model: "fixture:w", maxTokens: lots }\n`,
      /:5:\d+: workers\[0\]\.maxTokens: /,
    ],
    [
      "duplicate worker",
      `${validHead}workers:\n  - { name: w, description: d, model: "fixture:w" }\n  - { name: w, description: d, model: "fixture:v" }\n`,
      /:6:\d+: workers\[1\]\.name: /,
    ],
    [
      "unknown tool",
      `${validHead}workers:\n  - { name: w, description: d, model: "fixture:w", tools: [hammer] }\n`,
      /:5:\d+: workers\[0\]\.tools\[0\]: .*hammer/,
    ],
    [
      "missing model file",
      `${validHead}workers:\n  - { name: w, description: d, model: ./nope.gguf }\n`,
      /:5:\d+: workers\[0\]\.model: .*nope\.gguf/,
    ],
    [
      "answer that cannot fit maxTokens",
      `${validHead}workers:\n  - name: w\n    description: d\n    model: "fixture:w"\n    maxTokens: 64\n    output: { type: object, properties: { essay: { type: string, minLength: 100 } }, required: [essay] }\n`,
      /:8:\d+: workers\[0\]\.maxTokens: .*needs up to 2\d\d tokens even at its shortest, more than maxTokens 64/,
    ],
    [
      "remote model as worker",
      `${validHead}workers:\n  - { name: w, description: d, model: "openai:gpt-4o" }\n`,
      /:5:\d+: workers\[0\]\.model: .*(local|in-process)/,
    ],
  ];
  const unfit: [string, string, RegExp][] = [
    [
      "a prompt and maxTokens that do not fit the context",
      `${validHead}workers:\n  - { name: w, description: d, model: "fixture:w", context: { size: 256 }, maxTokens: 128 }\n`,
      /workers\.w: its prompt before any instruction takes \d+ tokens .*with maxTokens 128 that is \d+, more than its context of 256 tokens/,
    ],
    [
      "a context larger than the model was trained for",
      `${validHead}workers:\n  - { name: w, description: d, model: "fixture:w", context: { size: 9000 } }\n`,
      /workers\.w: context\.size 9000 exceeds the 4096 tokens fixture:w was trained for/,
    ],
    [
      "a local planner whose plan cannot fit its maxTokens",
      `name: t\ndescription: d\nplanner: { model: "fixture:p", maxTokens: 64 }\nworkers:\n  - { name: w, description: d, model: "fixture:w" }\n`,
      /planner\.maxTokens \(64\): a plan of 8 subtasks needs up to \d+ tokens even with 16-character strings/,
    ],
  ];
  for (const [label, text, pattern] of unfit) {
    it(`exits 2 naming the numbers for ${label}`, async () => {
      const file = tempAgent("agent.yaml", text);
      const result = await runCli(["validate", file]);
      expect(result.code, result.stdout).toBe(2);
      expect(result.stderr).toMatch(pattern);
    });
  }

  for (const [label, text, pattern] of bad) {
    it(`exits 2 with file:line:col for a ${label}`, async () => {
      const file = tempAgent("agent.yaml", text);
      const result = await runCli(["validate", file]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(file);
      expect(result.stderr).toMatch(pattern);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
    });
  }

  it("reports a corrupt GGUF as an invalid definition at the model's line:col, without crashing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-"));
    writeFileSync(join(dir, "broken.gguf"), Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(60, 7)]));
    const file = join(dir, "agent.yaml");
    writeFileSync(file, `${validHead}workers:\n  - { name: w, description: d, model: ./broken.gguf }\n`);
    const result = await runCli(["validate", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/agent\.yaml:5:\d+: workers\[0\]\.model: .*broken\.gguf/);
  });

  it("rejects an agent whose model can never fit device.memory, before any run", async () => {
    const file = tempAgent(
      "agent.yaml",
      'name: t\ndescription: d\nplanner: { model: "fixture:p" }\nworkers:\n  - { name: w, description: d, model: "fixture:w?size=small" }\ndevice: { memory: 2MB }\n',
    );
    const result = await runCli(["validate", file], {
      env: { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "ec-")) },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /fixture:w\?size=small \(w\) needs about [\d.]+ MiB, more than device\.memory/,
    );
  });

  it("writes a deterministic fixture model", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-"));
    const first = await runCli(["fixture", join(dir, "a.gguf"), "--seed", "3"]);
    const second = await runCli(["fixture", join(dir, "b.gguf"), "--seed", "3"]);
    expect(first.code).toBe(0);
    const hash = (out: string) => /sha256 ([0-9a-f]{64})/.exec(out)?.[1];
    expect(hash(first.stdout)).toBeDefined();
    expect(hash(first.stdout)).toBe(hash(second.stdout));
    const bad = await runCli(["fixture", join(dir, "c.gguf"), "--size", "huge"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--size must be one of tiny, small, bench");
  });

  it("prints the JSON Schema of agent files", async () => {
    const result = await runCli(["schema"]);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as { properties?: Record<string, unknown> };
    expect(Object.keys(schema.properties ?? {})).toEqual(
      expect.arrayContaining(["planner", "workers", "limits"]),
    );
  });

  it("has --help with examples and --version", async () => {
    const help = await runCli(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Examples:");
    const version = await runCli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
  });
});

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import { defineAgent, loadAgent, parseAgent } from "../../../src/config/index.js";
import { DEFAULT_WORKER_OUTPUT } from "../../../src/schema/describe.js";
import type { AgentDefinition } from "../../../src/types.js";

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-config-"));
  await mkdir(join(dir, "models"));
  await writeFile(join(dir, "models", "qwen.gguf"), "");
  await writeFile(join(dir, "planner.GGUF"), "");
  file = join(dir, "agent.yaml");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const minimal = `
name: demo
description: A demo agent
planner:
  model: openai:gpt-4o-mini
workers:
  - name: researcher
    description: Finds facts
    model: ./models/qwen.gguf
`;

describe("valid definitions", () => {
  test("a minimal file gets every default", () => {
    const agent = parseAgent(minimal, { file });
    expect(agent).toEqual({
      name: "demo",
      description: "A demo agent",
      source: file,
      planner: {
        model: { kind: "remote", raw: "openai:gpt-4o-mini", provider: "openai", model: "gpt-4o-mini" },
      },
      workers: [
        {
          name: "researcher",
          description: "Finds facts",
          model: { kind: "file", raw: "./models/qwen.gguf", path: join(dir, "models", "qwen.gguf") },
          tools: [],
          output: DEFAULT_WORKER_OUTPUT,
          contextSize: 2048,
          maxTokens: 512,
          temperature: 0,
          parallel: 1,
        },
      ],
      tools: [],
      limits: {
        maxSubtasks: 8,
        maxParallel: 2,
        maxReplans: 1,
        timeoutSeconds: 600,
        subtaskTimeoutSeconds: 120,
      },
      device: { gpu: "auto" },
      escalation: { retries: 1, to: "planner" },
    } satisfies AgentDefinition);
    expect(agent.device.memoryBytes).toBeUndefined();
    expect(agent.device.threads).toBeUndefined();
    expect("answer" in agent).toBe(false);
  });

  test("the default output schema is a copy per worker", () => {
    const agent = parseAgent(minimal, { file });
    expect(agent.workers[0]?.output).not.toBe(DEFAULT_WORKER_OUTPUT);
  });

  test("every key given explicitly", () => {
    const agent = parseAgent(
      `
name: trip_planner-2
description: Plans trips
planner:
  model: ./planner.GGUF
  temperature: 0.2
  maxTokens: 1024
  contextSize: 4096
workers:
  - name: researcher
    description: Finds facts
    model: hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M
    system: You are careful.
    tools: [calculator, fs]
    output:
      type: object
      properties:
        facts: { type: array, items: { type: string } }
      required: [facts]
    context: { size: 4096 }
    maxTokens: 256
    temperature: 0.7
    parallel: 4
  - name: writer
    description: Writes
    model: fixture:writer?seed=7&size=small
tools:
  - calculator
  - fs: { root: ./data, write: true, maxBytes: 2048 }
  - http: { allow: ["https://api.example.com/*"], methods: [GET, POST], timeoutMs: 5000, maxBytes: 100 }
  - shell: { allow: [ls, cat], timeoutMs: 1000, maxOutputBytes: 10 }
limits: { maxSubtasks: 4, maxParallel: 3, maxReplans: 0, timeoutSeconds: 300, subtaskTimeoutSeconds: 60 }
device: { memory: 6GiB, threads: 4, gpu: cuda }
escalation: { retries: 0, to: fail }
answer:
  type: object
  properties: { summary: { type: string } }
`,
      { file },
    );
    expect(agent.name).toBe("trip_planner-2");
    expect(agent.planner).toEqual({
      model: { kind: "file", raw: "./planner.GGUF", path: join(dir, "planner.GGUF") },
      temperature: 0.2,
      maxTokens: 1024,
      contextSize: 4096,
    });
    expect(agent.workers).toEqual([
      {
        name: "researcher",
        description: "Finds facts",
        model: {
          kind: "hf",
          raw: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M",
          uri: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M",
        },
        system: "You are careful.",
        tools: ["calculator", "fs"],
        output: {
          type: "object",
          properties: { facts: { type: "array", items: { type: "string" } } },
          required: ["facts"],
        },
        contextSize: 4096,
        maxTokens: 256,
        temperature: 0.7,
        parallel: 4,
      },
      {
        name: "writer",
        description: "Writes",
        model: {
          kind: "fixture",
          raw: "fixture:writer?seed=7&size=small",
          name: "writer",
          seed: 7,
          size: "small",
        },
        tools: [],
        output: DEFAULT_WORKER_OUTPUT,
        contextSize: 2048,
        maxTokens: 512,
        temperature: 0,
        parallel: 1,
      },
    ]);
    expect(agent.tools).toEqual([
      { kind: "builtin", name: "calculator", options: {} },
      { kind: "builtin", name: "fs", options: { root: join(dir, "data"), write: true, maxBytes: 2048 } },
      {
        kind: "builtin",
        name: "http",
        options: {
          allow: ["https://api.example.com/*"],
          methods: ["GET", "POST"],
          timeoutMs: 5000,
          maxBytes: 100,
        },
      },
      {
        kind: "builtin",
        name: "shell",
        options: { allow: ["ls", "cat"], timeoutMs: 1000, maxOutputBytes: 10 },
      },
    ]);
    expect(agent.limits).toEqual({
      maxSubtasks: 4,
      maxParallel: 3,
      maxReplans: 0,
      timeoutSeconds: 300,
      subtaskTimeoutSeconds: 60,
    });
    expect(agent.device).toEqual({ memoryBytes: 6442450944, threads: 4, gpu: "cuda" });
    expect(agent.escalation).toEqual({ retries: 0, to: "fail" });
    expect(agent.answer).toEqual({ type: "object", properties: { summary: { type: "string" } } });
  });

  test("tool option defaults, and the other ways to write the calculator", () => {
    const agent = parseAgent(
      `${minimal}tools:
  - fs: { root: /srv/data }
  - http: { allow: ["http://localhost:8080/*"] }
  - shell: { allow: [date] }
  - calculator:
`,
      { file },
    );
    expect(agent.tools).toEqual([
      { kind: "builtin", name: "fs", options: { root: "/srv/data", write: false, maxBytes: 1048576 } },
      {
        kind: "builtin",
        name: "http",
        options: {
          allow: ["http://localhost:8080/*"],
          methods: ["GET"],
          timeoutMs: 10000,
          maxBytes: 1048576,
        },
      },
      {
        kind: "builtin",
        name: "shell",
        options: { allow: ["date"], timeoutMs: 10000, maxOutputBytes: 65536 },
      },
      { kind: "builtin", name: "calculator", options: {} },
    ]);
    expect(parseAgent(`${minimal}tools:\n  - calculator: {}\n`, { file }).tools).toEqual([
      { kind: "builtin", name: "calculator", options: {} },
    ]);
  });

  test.each([
    ["6GiB", 6442450944],
    ["512MB", 512000000],
    ["512mb", 512000000],
    ["2 KiB", 2048],
    ["1000", 1000],
  ])("device.memory %s = %d bytes", (memory, bytes) => {
    const agent = parseAgent(`${minimal}device: { memory: ${memory} }\n`, { file });
    expect(agent.device.memoryBytes).toBe(bytes);
  });

  test("gpu: false means CPU only", () => {
    expect(parseAgent(`${minimal}device: { gpu: false }\n`, { file }).device).toEqual({ gpu: false });
  });

  test("a local planner and every local worker model kind", () => {
    const agent = parseAgent(
      `
name: local
description: Everything local
planner:
  model: fixture:planner?seed=2
workers:
  - { name: a, description: file, model: file:models/qwen.gguf }
  - { name: b, description: hf file, model: hf:owner/repo/model.Q4_K_M.gguf }
  - { name: c, description: hf repo, model: hf:owner/repo }
  - { name: d, description: fixture, model: "fixture:tiny?size=bench" }
`,
      { file },
    );
    expect(agent.planner.model).toEqual({
      kind: "fixture",
      raw: "fixture:planner?seed=2",
      name: "planner",
      seed: 2,
      size: "tiny",
    });
    expect(agent.workers.map((w) => w.model)).toEqual([
      { kind: "file", raw: "file:models/qwen.gguf", path: join(dir, "models", "qwen.gguf") },
      { kind: "hf", raw: "hf:owner/repo/model.Q4_K_M.gguf", uri: "hf:owner/repo/model.Q4_K_M.gguf" },
      { kind: "hf", raw: "hf:owner/repo", uri: "hf:owner/repo" },
      { kind: "fixture", raw: "fixture:tiny?size=bench", name: "tiny", seed: 1, size: "bench" },
    ]);
  });

  test("anchors and merge keys share worker settings", () => {
    const agent = parseAgent(
      `
name: shared
description: Shared settings
planner: { model: "ollama:qwen2.5:7b" }
workers:
  - &base { name: a, description: A, model: ./models/qwen.gguf, maxTokens: 100 }
  - <<: *base
    name: b
`,
      { file },
    );
    expect(agent.planner.model).toEqual({
      kind: "remote",
      raw: "ollama:qwen2.5:7b",
      provider: "ollama",
      model: "qwen2.5:7b",
    });
    expect(agent.workers.map((w) => [w.name, w.maxTokens])).toEqual([
      ["a", 100],
      ["b", 100],
    ]);
  });

  test("without a file, relative paths resolve against baseDir and there is no source", () => {
    const agent = parseAgent(minimal, { baseDir: dir });
    expect(agent.source).toBeUndefined();
    expect(agent.workers[0]?.model).toMatchObject({ path: join(dir, "models", "qwen.gguf") });
  });

  test("loadAgent reads the file and resolves against its directory", async () => {
    await writeFile(file, minimal);
    const agent = await loadAgent(file);
    expect(agent.source).toBe(file);
    expect(agent.workers[0]?.model).toMatchObject({ kind: "file", path: join(dir, "models", "qwen.gguf") });
  });

  test("defineAgent validates objects in code, with the same defaults", () => {
    const agent = defineAgent(
      {
        name: "coded",
        description: "Defined in code",
        planner: { model: "anthropic:claude-3-5-haiku-latest" },
        workers: [{ name: "w", description: "W", model: "models/qwen.gguf", tools: ["calculator"] }],
        tools: ["calculator"],
        device: { memory: "512MB" },
      },
      { baseDir: dir },
    );
    expect(agent.source).toBeUndefined();
    expect(agent.workers[0]).toMatchObject({ contextSize: 2048, maxTokens: 512, tools: ["calculator"] });
    expect(agent.device).toEqual({ memoryBytes: 512000000, gpu: "auto" });
    expect(agent.planner.model).toMatchObject({ kind: "remote", provider: "anthropic" });
  });

  test("the loaders return the shared AgentDefinition type", () => {
    expectTypeOf(parseAgent).returns.toEqualTypeOf<AgentDefinition>();
    // defineAgent is generic over its answer types (zod schemas); any of its results is an AgentDefinition.
    expectTypeOf(defineAgent).returns.toExtend<AgentDefinition>();
    expectTypeOf(loadAgent).returns.toEqualTypeOf<Promise<AgentDefinition>>();
  });
});

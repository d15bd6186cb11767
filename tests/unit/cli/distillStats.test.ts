/**
 * `distill export` and `stats` over run directories written through the real FileRunStore: prompts rebuilt with
 * the worker's own prompt functions, tool calls in order, escalated answers marked, secrets redacted again,
 * duplicates dropped, damaged runs skipped with a warning; and the per-worker figures of `stats`.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportDataset, parseSince } from "../../../src/cli/distill.js";
import { buildStats, percentile, renderStats } from "../../../src/cli/stats.js";
import { buildTimeline } from "../../../src/cli/timeline.js";
import { parseAgent } from "../../../src/config/index.js";
import { ErrorCodes } from "../../../src/errors.js";
import { makeAgentCopy } from "../../../src/runtime/store/agentCopy.js";
import { FileRunStore } from "../../../src/runtime/store/FileRunStore.js";
import type { Plan, RunEvent, RunEventInput, SubtaskResult, WorkerDefinition } from "../../../src/types.js";
import { workerSystemPrompt, workerUserPrompt } from "../../../src/workers/workerPrompts.js";

const SECRET = "sk-distill-planted-0123456789";
const AGENT = `name: distill-test
description: d
secrets: [DISTILL_TEST_TOKEN]
planner: { model: "fixture:p" }
workers:
  - name: extractor
    description: extracts
    model: "fixture:e"
    system: You extract facts.
    tools: [lookup]
    output:
      type: object
      properties: { fact: { type: string, maxLength: 40 } }
      required: [fact]
  - name: writer
    description: writes
    model: "fixture:w"
    output: { type: object, properties: { text: { type: string, maxLength: 40 } }, required: [text] }
`;
const T1 = Date.parse("2026-11-01T10:00:00Z");
const T2 = Date.parse("2026-11-02T10:00:00Z");

let root: string;
let store: FileRunStore;
let extractor: WorkerDefinition;

function result(
  subtaskId: string,
  worker: string,
  answer: SubtaskResult["answer"],
  extra: Partial<SubtaskResult>,
) {
  return {
    subtaskId,
    worker,
    answer,
    by: "worker",
    attempts: 1,
    startedAt: 0,
    endedAt: 0,
    usage: [],
    ...extra,
  } as SubtaskResult;
}

/** Writes one run through the store: meta (with the agent copy unless `copy` is false), plan, events, results. */
async function writeRun(
  runId: string,
  createdAt: number,
  plan: Plan,
  entries: readonly [number, RunEventInput][],
  copy = true,
): Promise<void> {
  await store.create({
    runId,
    agent: "distill-test",
    task: `Plan a trip (token ${SECRET})`,
    createdAt,
    ...(copy ? { agentCopy: makeAgentCopy("/agents/distill.yaml", AGENT) } : {}),
  });
  await store.savePlan(runId, 0, plan, []);
  for (const [seq, [ms, input]] of entries.entries()) {
    const event = { ...input, runId, seq, at: createdAt + ms } as RunEvent;
    await store.appendEvent(runId, event);
    if (event.type === "subtask.completed") await store.saveResult(runId, 0, event.result);
  }
}

const plan: Plan = {
  subtasks: [
    { id: "s1", worker: "extractor", instruction: "Find a fact about Lisbon", dependsOn: [] },
    { id: "s2", worker: "extractor", instruction: "Check {{s1.answer.fact}}", dependsOn: ["s1"] },
    { id: "s3", worker: "writer", instruction: "Write it up", dependsOn: ["s2"] },
  ],
};
const gen = (ms: number) => [
  {
    model: "fixture:e",
    locality: "local" as const,
    promptTokens: 1,
    completionTokens: 1,
    durationMs: ms,
    loadMs: 0,
  },
];

/** s1: a tool call (whose result holds the secret, as a run with revealSecrets would), answered first try. */
const s1Events = (base: number): [number, RunEventInput][] => [
  [
    base,
    {
      type: "subtask.started",
      subtaskId: "s1",
      worker: "extractor",
      model: "fixture:e",
      instruction: "Find a fact about Lisbon",
    },
  ],
  [base + 10, { type: "tool.called", subtaskId: "s1", tool: "lookup", args: { q: "Lisbon" } }],
  [
    base + 20,
    {
      type: "tool.result",
      subtaskId: "s1",
      tool: "lookup",
      result: { ok: true, output: { note: `key ${SECRET}` } },
      ms: 10,
    },
  ],
  [
    base + 100,
    {
      type: "subtask.completed",
      subtaskId: "s1",
      result: result(
        "s1",
        "extractor",
        { fact: "Trams" },
        { usage: gen(60), startedAt: T1 + base, endedAt: T1 + base + 100 },
      ),
    },
  ],
];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "edgecrew-distill-unit-"));
  store = new FileRunStore({ root });
  const agent = parseAgent(AGENT, { tools: ["lookup"] });
  extractor = agent.workers.find((w) => w.name === "extractor") as WorkerDefinition;

  // Run A: s1 first try with a tool call; s2 repaired, then escalated (invalid-output) and answered by the planner;
  // s3 (writer) fails.
  await writeRun("20261101-100000-aaaaaa", T1, plan, [
    [0, { type: "run.started", task: "t", agent: "distill-test" }],
    [1, { type: "plan.created", plan, attempt: 1, revision: 0 }],
    ...s1Events(2),
    [
      110,
      {
        type: "subtask.started",
        subtaskId: "s2",
        worker: "extractor",
        model: "fixture:e",
        instruction: "Check Trams",
      },
    ],
    [150, { type: "subtask.repairing", subtaskId: "s2", attempt: 1, errors: ["(root): bad"] }],
    [
      200,
      {
        type: "subtask.escalated",
        subtaskId: "s2",
        worker: "extractor",
        reason: "invalid-output",
        errors: ["(root): bad"],
      },
    ],
    [
      410,
      {
        type: "subtask.completed",
        subtaskId: "s2",
        result: result(
          "s2",
          "extractor",
          { fact: "Trams are yellow" },
          { by: "planner", attempts: 2, usage: gen(200), startedAt: T1 + 110, endedAt: T1 + 410 },
        ),
      },
    ],
    [
      420,
      {
        type: "subtask.started",
        subtaskId: "s3",
        worker: "writer",
        model: "fixture:w",
        instruction: "Write it up",
      },
    ],
    [
      500,
      {
        type: "subtask.failed",
        subtaskId: "s3",
        error: { code: ErrorCodes.SUBTASK_FAILED, message: "no" },
      },
    ],
    [510, { type: "run.failed", error: { code: ErrorCodes.SUBTASK_FAILED, message: "no" } }],
  ] as [number, RunEventInput][]);
  // Run B, a day later: the same s1 again (a duplicate example), then cancelled.
  await writeRun("20261102-100000-bbbbbb", T2, plan, [
    [0, { type: "run.started", task: "t", agent: "distill-test" }],
    [1, { type: "plan.created", plan, attempt: 1, revision: 0 }],
    ...s1Events(2),
  ]);
  // Run C: damaged (a line of events.jsonl that is not JSON). Run D: no agent copy.
  await writeRun("20261102-110000-cccccc", T2 + 1000, plan, [
    [0, { type: "run.started", task: "t", agent: "distill-test" }],
    ...s1Events(2),
  ]);
  await writeFile(join(root, "20261102-110000-cccccc", "events.jsonl"), "{not json\n{}\n");
  await writeRun(
    "20261102-120000-dddddd",
    T2 + 2000,
    plan,
    [[1, { type: "plan.created", plan, attempt: 1, revision: 0 }], ...s1Events(2)],
    false,
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const env = { DISTILL_TEST_TOKEN: SECRET };

describe("distill export over stored runs", () => {
  it("writes OpenAI chat examples with the worker's own prompts, tool calls in order and escalations marked", async () => {
    const warnings: string[] = [];
    const dataset = await exportDataset(store, {
      worker: "extractor",
      format: "openai",
      env,
      warn: (m) => warnings.push(m),
    });
    expect(dataset).toMatchObject({ examples: 2, escalated: 1, duplicates: 1 });
    const [first, second] = dataset.lines.map((line) => JSON.parse(line));
    const request = (id: string, instruction: string, dependencies = {}) => ({
      runId: "x",
      task: "Plan a trip (token [redacted])",
      subtask: { ...(plan.subtasks.find((s) => s.id === id) as Plan["subtasks"][number]), instruction },
      worker: extractor,
      dependencies,
    });
    expect(first.messages).toEqual([
      { role: "system", content: workerSystemPrompt(request("s1", "x"), { hasTools: true }) },
      { role: "user", content: workerUserPrompt(request("s1", "Find a fact about Lisbon")) },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "lookup", arguments: '{"q":"Lisbon"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"ok":true,"output":{"note":"key [redacted]"}}' },
      { role: "assistant", content: '{"fact":"Trams"}' },
    ]);
    expect(first.metadata).toEqual({
      source: "edgecrew",
      runId: "20261101-100000-aaaaaa",
      subtaskId: "s1",
      worker: "extractor",
      escalated: false,
    });
    // The escalated example: the planner's answer to the worker's own prompt (its dependency's answer included).
    expect(second.messages).toEqual([
      { role: "system", content: workerSystemPrompt(request("s2", "x"), { hasTools: true }) },
      { role: "user", content: workerUserPrompt(request("s2", "Check Trams", { s1: { fact: "Trams" } })) },
      { role: "assistant", content: '{"fact":"Trams are yellow"}' },
    ]);
    expect(second.metadata).toMatchObject({ escalated: true, reason: "invalid-output" });
    expect(dataset.lines.join("\n")).not.toContain(SECRET);
    expect(dataset.lines.join("\n")).not.toContain("distill-planted");
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/20261102-110000-cccccc skipped: .*events\.jsonl/);
    expect(warnings[1]).toMatch(/20261102-120000-dddddd skipped: it keeps no copy of its agent definition/);
  });

  it("writes ShareGPT examples, filters by --since and by --include-escalated-only", async () => {
    const sharegpt = await exportDataset(store, { worker: "extractor", format: "sharegpt", env });
    const first = JSON.parse(sharegpt.lines[0] as string);
    expect(first.system).toContain("You extract facts.");
    expect(first.conversations.map((t: { from: string }) => t.from)).toEqual([
      "human",
      "function_call",
      "observation",
      "gpt",
    ]);
    expect(JSON.parse(first.conversations[1].value)).toEqual({ name: "lookup", arguments: { q: "Lisbon" } });
    expect(first.conversations[3].value).toBe('{"fact":"Trams"}');
    expect(sharegpt.lines.join("\n")).not.toContain(SECRET);

    const since = await exportDataset(store, {
      worker: "extractor",
      format: "openai",
      env,
      since: parseSince("2026-11-02"),
    });
    expect(since.lines.map((l) => JSON.parse(l).metadata.runId)).toEqual(["20261102-100000-bbbbbb"]);
    const teacher = await exportDataset(store, {
      worker: "extractor",
      format: "openai",
      env,
      escalatedOnly: true,
    });
    expect(teacher.lines.map((l) => JSON.parse(l).metadata.subtaskId)).toEqual(["s2"]);
    expect(() => parseSince("yesterday")).toThrow(expect.objectContaining({ code: ErrorCodes.USAGE }));
  });
});

describe("stats over stored runs", () => {
  it("counts first-try answers, repairs, escalations by reason, failures and latency percentiles per worker", async () => {
    const timelines = [];
    for (const meta of await store.list()) {
      try {
        timelines.push(buildTimeline(await store.load(meta.runId)));
      } catch {
        // the damaged run
      }
    }
    const report = buildStats(timelines);
    expect(report.runs).toHaveLength(3);
    const byName = Object.fromEntries(report.workers.map((w) => [w.worker, w]));
    expect(byName.extractor).toMatchObject({
      subtasks: 4,
      firstTry: 3,
      repairs: 1,
      repaired: 0,
      escalations: { total: 1, invalidOutput: 1, modelFailed: 0 },
      failures: 0,
      wall: { count: 4, medianMs: 100, p95Ms: 300 },
      generating: { count: 4, medianMs: 60, p95Ms: 200 },
    });
    expect(byName.writer).toMatchObject({ subtasks: 1, firstTry: 0, failures: 1, wall: { count: 0 } });
    expect(buildStats(timelines, { worker: "writer" }).workers.map((w) => w.worker)).toEqual(["writer"]);
    expect(renderStats(report)).toMatch(/extractor\s+4\s+3 \(75%\)/);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([], 95)).toBeUndefined();
  });
});

describe("what distill and stats load", () => {
  it("reaches neither node-llama-cpp nor LangChain through static imports (workerPrompts.ts is pure)", () => {
    const src = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src");
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = [join(src, "cli/commands/distill.ts"), join(src, "cli/commands/stats.ts")];
    while (queue.length > 0) {
      const file = queue.shift() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      // Value imports only: `import type` is erased, `await import()` is lazy.
      for (const match of readFileSync(file, "utf8").matchAll(
        /^(?:import|export) (?!type )[^;]*? from "([^"]+)";/gms,
      )) {
        const specifier = match[1] as string;
        if (specifier.startsWith(".")) queue.push(resolve(dirname(file), specifier).replace(/\.js$/, ".ts"));
        else packages.add(specifier);
      }
    }
    expect(seen.has(join(src, "workers/workerPrompts.ts"))).toBe(true);
    expect([...packages].filter((p) => p.startsWith("node-llama-cpp") || p.includes("langchain"))).toEqual(
      [],
    );
  });
});

/**
 * Issue 4, "Done when" (model tier): the same DAG on fixture GGUF workers with the local planner completes.
 *
 * (a) A 6-subtask diamond (s1 → s2, s3, s4 → s5 → s6, instructions referencing dependencies' answer fields)
 *     from a scripted planner runs through createCrew on three real fixture workers: it completes, every answer
 *     is valid against its worker's schema, dependents start only after their dependencies ended, the three
 *     middle subtasks overlap in time, and no more than `limits.maxParallel` run at once.
 * (b) The same agent with a local fixture planner (real inference, random plans) completes 5 runs out of 5.
 * (c) A worker whose schema the validator rejects while the grammar allows it (`not`) is repaired, then escalated to
 *     a scripted planner that answers it: `by: "planner"`, a `subtask.escalated` event, and the planner sees the
 *     escalated instruction with the reference to a real model's answer substituted.
 *
 * Events do not carry a subtask's instruction, so substitution is checked in (c), where the planner receives
 * the substituted instruction; in (a) the order of dependencies is checked by the results' timestamps.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseMessage } from "@langchain/core/messages";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentInput, defineAgent } from "../../../src/config/index.js";
import { type Crew, createCrew } from "../../../src/crew.js";
import { compileSchema } from "../../../src/schema/compile.js";
import { ScriptedChatModel, type ScriptedReplyFunction } from "../../../src/testing/scriptedChatModel.js";
import type { AgentDefinition, Plan, RunEvent, RunResult, SubtaskResult } from "../../../src/types.js";
import { maxConcurrency, overlaps, type Span } from "../../helpers/fakes.js";
import { ALL_CODES, TEN_DISTINCT_CODES } from "../workers/helpers.js";

const MAX_PARALLEL = 3;

// Random weights fill strings to their maxLength: small lengths keep answers short, and maxTokens leaves room
// for the longest answer each grammar admits.
const WORKERS = [
  {
    name: "researcher",
    description: "Finds a destination and one fact about it.",
    model: "fixture:researcher?seed=11",
    maxTokens: 160,
    parallel: 2,
    output: {
      type: "object",
      properties: {
        place: { type: "string", minLength: 1, maxLength: 12 },
        fact: { type: "string", maxLength: 24 },
      },
      required: ["place", "fact"],
      additionalProperties: false,
    },
  },
  {
    name: "scheduler",
    description: "Turns destinations into a day-by-day schedule.",
    model: "fixture:scheduler?seed=23",
    maxTokens: 240,
    parallel: 1,
    output: {
      type: "object",
      properties: {
        days: {
          type: "array",
          minItems: 1,
          maxItems: 2,
          items: {
            type: "object",
            properties: {
              day: { type: "integer", minimum: 1, maximum: 3 },
              activity: { type: "string", maxLength: 16 },
            },
            required: ["day", "activity"],
            additionalProperties: false,
          },
        },
      },
      required: ["days"],
      additionalProperties: false,
    },
  },
  {
    name: "budgeter",
    description: "Estimates the cost of a plan.",
    model: "fixture:budgeter?seed=5",
    maxTokens: 160,
    parallel: 1,
    output: {
      type: "object",
      properties: {
        perDay: { type: "integer", minimum: 20, maximum: 80 },
        currency: { enum: ["EUR", "USD", "CHF"] },
        note: { anyOf: [{ type: "string", maxLength: 16 }, { type: "null" }] },
      },
      required: ["perDay", "currency", "note"],
      additionalProperties: false,
    },
  },
] as const satisfies AgentInput["workers"];

/** The validator demands ten different codes; the grammar only ten codes (`uniqueItems` is the validator's alone). */
const STRICT_WORKER = {
  name: "coder",
  description: "Writes a booking code.",
  model: "fixture:coder?seed=17",
  maxTokens: 120,
  output: TEN_DISTINCT_CODES,
} as const satisfies AgentInput["workers"][number];

function agentInput(workers: AgentInput["workers"]): AgentInput {
  return {
    name: "dag-test",
    description: "A crew of three fixture workers for DAG tests.",
    planner: { model: "fixture:planner?seed=7&size=tiny", maxTokens: 768, temperature: 0.8 },
    workers,
    limits: {
      maxSubtasks: 6,
      maxParallel: MAX_PARALLEL,
      maxReplans: 0,
      timeoutSeconds: 120,
      subtaskTimeoutSeconds: 60,
    },
    device: { gpu: false, threads: 1 },
    escalation: { retries: 1, to: "planner" },
  };
}

/** The agent of (a) and (b): only the three workers whose every rule the grammar enforces. */
const AGENT: AgentDefinition = defineAgent(agentInput([...WORKERS]));
/** The agent of (c): a researcher feeding the strict coder. */
const ESCALATING_AGENT: AgentDefinition = defineAgent({
  ...agentInput([WORKERS[0], STRICT_WORKER]),
  name: "dag-escalation-test",
});

const DIAMOND: Plan = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "Pick one mountain destination.", dependsOn: [] },
    {
      id: "s2",
      worker: "researcher",
      instruction: "Find another fact about {{s1.answer.place}}.",
      dependsOn: ["s1"],
    },
    {
      id: "s3",
      worker: "scheduler",
      instruction: "Plan the days in {{s1.answer.place}}.",
      dependsOn: ["s1"],
    },
    {
      id: "s4",
      worker: "budgeter",
      instruction: "Estimate a day in {{s1.answer.place}}.",
      dependsOn: ["s1"],
    },
    {
      id: "s5",
      worker: "scheduler",
      instruction:
        "Merge {{s3.answer.days}} with the fact {{s2.answer.fact}} within {{s4.answer.perDay}} a day.",
      dependsOn: ["s2", "s3", "s4"],
    },
    {
      id: "s6",
      worker: "budgeter",
      instruction: "Check the cost of {{s5.answer.days[0].activity}}.",
      dependsOn: ["s5"],
    },
  ],
};

/** A reply function that records the messages it was called with and replies with JSON. */
function recordingReply(
  into: BaseMessage[][],
  value: (messages: readonly BaseMessage[]) => unknown,
): ScriptedReplyFunction {
  return (messages) => {
    into.push([...messages]);
    return JSON.stringify(value(messages));
  };
}

function textOf(message: BaseMessage | undefined): string {
  if (message === undefined) return "";
  return typeof message.content === "string" ? message.content : JSON.stringify(message.content);
}

function spanOf(result: SubtaskResult): Span {
  return { id: result.subtaskId, start: result.startedAt, end: result.endedAt };
}

/** Checks what every completed run must satisfy: valid answers, dependencies first, at most maxParallel. */
function expectSoundRun(result: RunResult, events: readonly RunEvent[], agent: AgentDefinition): void {
  expect(result.error, result.error?.message).toBeUndefined();
  expect(result.status).toBe("completed");
  const plan = result.plan;
  expect(plan).toBeDefined();
  const subtasks = plan?.subtasks ?? [];
  expect(subtasks.length).toBeGreaterThan(0);
  expect(subtasks.length).toBeLessThanOrEqual(agent.limits.maxSubtasks);
  expect(result.results.map((r) => r.subtaskId).sort()).toEqual(subtasks.map((s) => s.id).sort());

  const schemas = new Map(agent.workers.map((w) => [w.name, compileSchema(w.output)]));
  const byId = new Map(result.results.map((r) => [r.subtaskId, r]));
  for (const subtask of subtasks) {
    const r = byId.get(subtask.id);
    expect(r?.worker).toBe(subtask.worker);
    const checked = schemas.get(subtask.worker)?.validate(r?.answer);
    expect(
      checked?.ok,
      `${subtask.id}: ${JSON.stringify(r?.answer)} ${checked?.ok ? "" : checked?.errors}`,
    ).toBe(true);
    for (const dep of subtask.dependsOn) {
      // A dependent starts only once its dependency's answer exists (Date.now() resolution: ≥, not >).
      expect(r?.startedAt ?? 0, `${subtask.id} after ${dep}`).toBeGreaterThanOrEqual(
        byId.get(dep)?.endedAt ?? 0,
      );
    }
  }
  expect(maxConcurrency(result.results.map(spanOf))).toBeLessThanOrEqual(agent.limits.maxParallel);

  const types = events.map((e) => e.type);
  expect(types[0]).toBe("run.started");
  expect(types.at(-1)).toBe("run.completed");
  expect(types.filter((t) => t === "subtask.completed")).toHaveLength(subtasks.length);
  expect(types).not.toContain("subtask.failed");
  expect(typeof result.answer).toBe("string");
  expect(result.ledger.local.completionTokens).toBeGreaterThan(0);
}

let fixtureCacheDir: string;
let runDir: string;
const crews: Crew[] = [];

beforeAll(async () => {
  fixtureCacheDir = await mkdtemp(join(tmpdir(), "edgecrew-dag-fixtures-"));
  runDir = await mkdtemp(join(tmpdir(), "edgecrew-dag-runs-"));
});

afterAll(async () => {
  await Promise.all(crews.map((crew) => crew.dispose()));
  await rm(fixtureCacheDir, { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
});

async function crewFor(agent: AgentDefinition, planner?: ScriptedChatModel): Promise<Crew> {
  const crew = await createCrew(agent, {
    fixtureCacheDir,
    runDir,
    ...(planner === undefined ? {} : { planner, plannerLabel: "scripted:planner" }),
  });
  crews.push(crew);
  return crew;
}

describe("a DAG on fixture GGUF workers (real inference) through createCrew", () => {
  it("(a) runs a 6-subtask diamond from a scripted planner: valid answers, dependencies first, s2/s3/s4 overlap", async () => {
    const planCalls: BaseMessage[][] = [];
    const joinCalls: BaseMessage[][] = [];
    const planner = new ScriptedChatModel([
      recordingReply(planCalls, () => DIAMOND),
      recordingReply(joinCalls, () => ({ answer: "A diamond of six subtasks, joined." })),
    ]);
    const crew = await crewFor(AGENT, planner);
    const events: RunEvent[] = [];
    const result = await crew.run("Plan a weekend trip to the mountains", { onEvent: (e) => events.push(e) })
      .result;

    expectSoundRun(result, events, AGENT);
    expect(result.plan).toEqual(DIAMOND);
    expect(result.results).toHaveLength(6);
    expect(result.results.every((r) => r.by === "worker")).toBe(true);
    expect(result.answer).toBe("A diamond of six subtasks, joined.");
    expect(planner.callCount).toBe(2);
    expect(types(events)).not.toContain("subtask.escalated");
    // The planner saw the three workers; the joiner saw every real answer.
    expect(textOf(planCalls[0]?.[0])).toMatch(/- researcher: .*\n- scheduler: .*\n- budgeter: /);
    const joinPrompt = textOf(joinCalls[0]?.[1]);
    for (const r of result.results) expect(joinPrompt).toContain(`answer: ${JSON.stringify(r.answer)}`);

    // The three workers each ran on their own fixture model.
    const started = events.filter(
      (e): e is Extract<RunEvent, { type: "subtask.started" }> => e.type === "subtask.started",
    );
    expect(new Map(started.map((e) => [e.worker, e.model]))).toEqual(
      new Map([
        ["researcher", "fixture:researcher?seed=11"],
        ["scheduler", "fixture:scheduler?seed=23"],
        ["budgeter", "fixture:budgeter?seed=5"],
      ]),
    );

    // Independent subtasks really ran at once: s2, s3 and s4 overlap pairwise.
    const span = (id: string): Span => {
      const r = result.results.find((x) => x.subtaskId === id);
      expect(r, id).toBeDefined();
      return spanOf(r as SubtaskResult);
    };
    const middle = ["s2", "s3", "s4"].map(span);
    const [s2, s3, s4] = middle as [Span, Span, Span];
    console.info(
      `[measure] diamond spans (ms from s1 start): ${result.results
        .map((r) => `${r.subtaskId} ${r.startedAt - span("s1").start}–${r.endedAt - span("s1").start}`)
        .join(", ")}`,
    );
    expect(overlaps(s2, s3)).toBe(true);
    expect(overlaps(s2, s4)).toBe(true);
    expect(overlaps(s3, s4)).toBe(true);
    expect(maxConcurrency(middle)).toBe(3);
    // The ledger has the scripted planner (remote) beside the local workers.
    const ledgerModels = result.ledger.models.map((m) => m.model);
    expect(ledgerModels).toEqual(expect.arrayContaining(["scripted:planner", "fixture:researcher?seed=11"]));
    expect(result.ledger.remote.completionTokens).toBeGreaterThan(0);
  });

  it("(b) completes 5 runs out of 5 of the same agent with a local fixture planner (random plans)", async () => {
    const crew = await crewFor(AGENT);
    const tasks = [
      "Plan a weekend trip to the mountains",
      "Three days in Lisbon in May",
      "A cycling tour along a river",
      "Museums and food in Vienna",
      "A quiet lake holiday without a car",
    ];
    const plans: Plan[] = [];
    for (const task of tasks) {
      const events: RunEvent[] = [];
      const started = performance.now();
      const result = await crew.run(task, { onEvent: (e) => events.push(e) }).result;
      expectSoundRun(result, events, AGENT);
      // Planned, answered and joined locally: nothing went to a remote model.
      expect(result.ledger.remote).toEqual({ promptTokens: 0, completionTokens: 0 });
      expect(result.ledger.models.map((m) => m.model)).toContain("fixture:planner?seed=7&size=tiny");
      expect(events.some((e) => e.type === "plan.created")).toBe(true);
      plans.push(result.plan as Plan);
      console.info(
        `[measure] local planner run "${task}": ${result.plan?.subtasks.length} subtasks (${result.plan?.subtasks
          .map((s) => `${s.id}:${s.worker}${s.dependsOn.length > 0 ? `<-${s.dependsOn.join("+")}` : ""}`)
          .join(" ")}), ${Math.round(performance.now() - started)} ms`,
      );
    }
    expect(plans).toHaveLength(5);
    // A random-weight planner does not produce one plan five times.
    expect(new Set(plans.map((p) => JSON.stringify(p))).size).toBeGreaterThan(1);
  });

  it("(c) escalates a subtask the validator rejects after its repair to the scripted planner, with references substituted", async () => {
    const solveCalls: BaseMessage[][] = [];
    const plan: Plan = {
      subtasks: [
        { id: "s1", worker: "researcher", instruction: "Pick one lake destination.", dependsOn: [] },
        {
          id: "s2",
          worker: "coder",
          instruction: "Write the booking code for {{s1.answer.place}} please.",
          dependsOn: ["s1"],
        },
      ],
    };
    const planner = new ScriptedChatModel([
      JSON.stringify(plan),
      recordingReply(solveCalls, () => ALL_CODES),
      JSON.stringify({ answer: "Booked." }),
    ]);
    const crew = await crewFor(ESCALATING_AGENT, planner);
    const events: RunEvent[] = [];
    const result = await crew.run("Book a lake holiday", { onEvent: (e) => events.push(e) }).result;

    expectSoundRun(result, events, ESCALATING_AGENT);
    expect(planner.callCount).toBe(3);
    const s1 = result.results.find((r) => r.subtaskId === "s1");
    const s2 = result.results.find((r) => r.subtaskId === "s2");
    expect(s1).toMatchObject({ by: "worker", worker: "researcher" });
    expect(s2).toMatchObject({ by: "planner", worker: "coder", answer: ALL_CODES, attempts: 1 });

    // The worker was repaired once (escalation.retries: 1), then handed over with the validator's errors.
    const repairs = events.filter((e) => e.type === "subtask.repairing");
    expect(repairs).toEqual([expect.objectContaining({ subtaskId: "s2", attempt: 2 })]);
    const escalated = events.filter(
      (e): e is Extract<RunEvent, { type: "subtask.escalated" }> => e.type === "subtask.escalated",
    );
    expect(escalated).toHaveLength(1);
    expect(escalated[0]).toMatchObject({ subtaskId: "s2", worker: "coder", reason: "invalid-output" });
    expect(escalated[0]?.errors.length).toBeGreaterThan(0);
    for (const error of escalated[0]?.errors ?? []) expect(error).toMatch(/^code: /);
    expect(types(events).indexOf("subtask.escalated")).toBeLessThan(types(events).indexOf("run.completed"));

    // The planner got the instruction with s1's real answer substituted, and s1's answer as a dependency.
    const place = (s1?.answer as { place?: string } | undefined)?.place;
    expect(typeof place).toBe("string");
    const solvePrompt = textOf(solveCalls[0]?.[1]);
    expect(solvePrompt).toContain(`Subtask s2: Write the booking code for ${place} please.`);
    expect(solvePrompt).not.toContain("{{");
    expect(solvePrompt).toContain(`- s1: ${JSON.stringify(s1?.answer)}`);
    expect(solvePrompt).toMatch(/^- code: /m);

    // The ledger splits the worker's local tokens from the planner's remote ones, and says who did s2.
    expect(result.ledger.remote.completionTokens).toBeGreaterThan(0);
    expect(s2?.usage.every((u) => u.locality === "remote" && u.model === "scripted:planner")).toBe(true);
    // The coder's two spent attempts (answer + repair) stay in the ledger although the planner answered.
    const coder = result.ledger.models.find((m) => m.model === "fixture:coder?seed=17");
    expect(coder).toMatchObject({ locality: "local", calls: 2 });
    expect(coder?.completionTokens).toBeGreaterThan(0);
  });
});

function types(events: readonly RunEvent[]): string[] {
  return events.map((e) => e.type);
}

/**
 * The planner protocol (docs/PLANNER.md): every re-ask states the shape that will be accepted, a planner that
 * follows it word for word is accepted, and every rejected reply is an event.
 */
import type { BaseMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { createLangChainPlanner } from "../../../src/planner/index.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type {
  CallContext,
  EscalationRequest,
  JoinRequest,
  PlanRequest,
  RunEventInput,
  WorkerSummary,
} from "../../../src/types.js";

const writer: WorkerSummary = {
  name: "writer",
  description: "writes",
  tools: [],
  output: {
    type: "object",
    properties: { text: { type: "string", minLength: 1 } },
    required: ["text"],
    additionalProperties: false,
  },
};
const plan = { subtasks: [{ id: "s1", worker: "writer", instruction: "write", dependsOn: [] }] };

function context() {
  const events: RunEventInput[] = [];
  const ctx: CallContext = { signal: new AbortController().signal, emit: (e) => events.push(e) };
  return { ctx, events };
}

function joinRequest(allowReplan: boolean): JoinRequest {
  return {
    task: "name a capital",
    plan,
    results: [
      {
        subtaskId: "s1",
        worker: "writer",
        answer: { text: "Paris" },
        by: "worker",
        attempts: 1,
        startedAt: 0,
        endedAt: 1,
        usage: [],
      },
    ],
    allowReplan,
  };
}

/** The text of the last message of a call (the re-ask, after a rejected reply). */
function lastText(messages: readonly BaseMessage[]): string {
  return String(messages.at(-1)?.content ?? "");
}

/** The first shape a prompt line `Reply with JSON only: <shape> or <shape>.` offers. */
function offeredShape(prompt: string): string {
  const line = prompt.split("\n").find((l) => l.startsWith("Reply with JSON only: "));
  if (line === undefined) throw new Error(`no "Reply with JSON only:" line in:\n${prompt}`);
  return line.slice("Reply with JSON only: ".length).split(" or ")[0]?.replace(/\.$/, "") as string;
}

/** Fills a shape's placeholders the way a literal-minded model would. */
function follow(shape: string, fill: Record<string, string>): string {
  let text = shape;
  for (const [placeholder, value] of Object.entries(fill)) text = text.replaceAll(placeholder, value);
  return text;
}

describe("planner protocol: re-asks state the accepted shape", () => {
  for (const allowReplan of [true, false]) {
    it(`a final answer written exactly as the re-ask says is accepted (replans ${allowReplan ? "allowed" : "not allowed"})`, async () => {
      const model = new ScriptedChatModel([
        // Wrong on purpose: an empty answer.
        JSON.stringify(allowReplan ? { decision: { answer: "" } } : { answer: "" }),
        (messages) => follow(offeredShape(lastText(messages)), { "<the final answer>": '"Paris"' }),
      ]);
      const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
      const { ctx } = context();
      const produced = await planner.join(joinRequest(allowReplan), ctx);
      expect(produced.value).toEqual({ kind: "answer", answer: "Paris" });
      // The system prompt offers the same shape as the re-ask.
      const system = String(model.calls[0]?.[0]?.content);
      expect(offeredShape(system)).toBe(offeredShape(lastText(model.calls[1] ?? [])));
    });
  }

  it("a replan written as the re-ask's second shape is accepted", async () => {
    const model = new ScriptedChatModel([
      JSON.stringify({ decision: { answer: "" } }),
      (messages) => {
        const line = lastText(messages)
          .split("\n")
          .find((l) => l.startsWith("Reply with JSON only: ")) as string;
        const second = line.split(" or ")[1]?.replace(/\.$/, "") as string;
        return follow(second, { "<why the plan must change>": "the results disagree" });
      },
    ]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const produced = await planner.join(joinRequest(true), context().ctx);
    expect(produced.value).toEqual({ kind: "replan", reason: "the results disagree" });
  });

  it("a plan written exactly as the plan re-ask says is accepted", async () => {
    const request: PlanRequest = { task: "write", workers: [writer], maxSubtasks: 2 };
    const model = new ScriptedChatModel([
      JSON.stringify({ subtasks: [{ id: "s1", worker: "poet", instruction: "x", dependsOn: [] }] }),
      (messages) =>
        follow(offeredShape(lastText(messages)), {
          "<worker name>": "writer",
          "<what to do>": "write a line",
        }),
    ]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const produced = await planner.plan(request, context().ctx);
    expect(produced.value.subtasks).toEqual([
      { id: "s1", worker: "writer", instruction: "write a line", dependsOn: [] },
    ]);
    expect(offeredShape(String(model.calls[0]?.[0]?.content))).toBe(
      offeredShape(lastText(model.calls[1] ?? [])),
    );
  });

  it("an escalated answer's re-ask states the worker's answer shape", async () => {
    const request: EscalationRequest = {
      runId: "r",
      task: "write",
      subtask: plan.subtasks[0] as EscalationRequest["subtask"],
      worker: {
        name: "writer",
        description: "writes",
      } as EscalationRequest["worker"],
      dependencies: {},
      errors: ["too short"],
    };
    const worker = { ...request.worker, output: writer.output };
    const model = new ScriptedChatModel([
      JSON.stringify({ text: "" }),
      (messages) => follow(offeredShape(lastText(messages)), { "<string>": "a line" }),
    ]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const produced = await planner.solve({ ...request, worker }, context().ctx);
    expect(produced.value).toEqual({ text: "a line" });
  });
});

describe("planner protocol: every rejected reply is an event", () => {
  it("each rejected final answer emits answer.rejected with its errors and attempt", async () => {
    const model = new ScriptedChatModel([
      JSON.stringify({ decision: { answer: "" } }),
      JSON.stringify({ answer: "Paris" }),
      JSON.stringify({ decision: { answer: "Paris" } }),
    ]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const { ctx, events } = context();
    await planner.join(joinRequest(true), ctx);
    const rejected = events.filter((e) => e.type === "answer.rejected");
    expect(rejected.map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
    expect(rejected.every((e) => (e as unknown as { errors: string[] }).errors.length > 0)).toBe(true);
    expect(rejected.some((e) => "subtaskId" in e)).toBe(false);
  });

  it("a rejected escalated answer emits answer.rejected naming the subtask", async () => {
    const model = new ScriptedChatModel([JSON.stringify({ text: "" }), JSON.stringify({ text: "ok" })]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const { ctx, events } = context();
    await planner.solve(
      {
        runId: "r",
        task: "write",
        subtask: plan.subtasks[0] as EscalationRequest["subtask"],
        worker: {
          name: "writer",
          description: "writes",
          output: writer.output,
        } as EscalationRequest["worker"],
        dependencies: {},
        errors: [],
      },
      ctx,
    );
    expect(events.filter((e) => e.type !== "planner.request")).toEqual([
      { type: "answer.rejected", errors: expect.any(Array), attempt: 1, subtaskId: "s1" },
    ]);
  });
});

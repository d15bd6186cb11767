import { describe, expect, it } from "vitest";
import { ErrorCodes, isEdgecrewError, isPlanError, ModelError } from "../../../src/errors.js";
import { createLangChainPlanner } from "../../../src/planner/index.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import type { CallContext, PlanRequest, RunEventInput, WorkerSummary } from "../../../src/types.js";

const workers: WorkerSummary[] = [
  {
    name: "finder",
    description: "finds places",
    tools: [],
    output: {
      type: "object",
      properties: { place: { type: "string" } },
      required: ["place"],
      additionalProperties: false,
    },
  },
  {
    name: "writer",
    description: "writes",
    tools: [],
    output: { type: "object", properties: { text: { type: "string" } } },
  },
];
const request: PlanRequest = { task: "write about a place", workers, maxSubtasks: 4 };

function context(signal = new AbortController().signal) {
  const events: RunEventInput[] = [];
  const ctx: CallContext = { signal, emit: (e) => events.push(e) };
  return { ctx, events };
}

const good = JSON.stringify({
  subtasks: [
    { id: "s1", worker: "finder", instruction: "find a place", dependsOn: [] },
    { id: "s2", worker: "writer", instruction: "write about {{s1.answer.place}}", dependsOn: ["s1"] },
  ],
});
const cyclic = JSON.stringify({
  subtasks: [
    { id: "s1", worker: "finder", instruction: "a", dependsOn: ["s2"] },
    { id: "s2", worker: "writer", instruction: "b", dependsOn: ["s1"] },
  ],
});

describe("LangChain planner", () => {
  it("re-asks with the errors and accepts the repaired plan", async () => {
    const model = new ScriptedChatModel([cyclic, good]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const { ctx, events } = context();
    const produced = await planner.plan(request, ctx);
    expect(produced.value.subtasks.map((s) => s.id)).toEqual(["s1", "s2"]);
    expect(produced.usage).toHaveLength(2);
    expect(produced.usage.every((u) => u.locality === "remote" && u.promptTokens > 0)).toBe(true);
    // A remote model's requests are also in the data-flow ledger (planner.request).
    expect(events.filter((e) => e.type !== "planner.request").map((e) => e.type)).toEqual([
      "plan.rejected",
      "plan.created",
    ]);
    // The second ask carries the first reply and the exact problem.
    const second = model.calls[1]?.map((m) => String(m.content)).join("\n") ?? "";
    expect(second).toContain("dependency cycle: s1 → s2 → s1");
    // The system prompt describes the workers and their answer fields.
    expect(String(model.calls[0]?.[0]?.content)).toContain(
      "- finder: finds places Answer fields: place (string).",
    );
  });

  it("fails with a typed PlanError listing the problems after the bounded attempts", async () => {
    const model = new ScriptedChatModel([cyclic, cyclic, "not json at all"]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote", maxAttempts: 3 });
    const { ctx, events } = context();
    const error = await planner.plan(request, ctx).catch((e: unknown) => e);
    expect(isPlanError(error)).toBe(true);
    expect(model.callCount).toBe(3);
    expect(events.filter((e) => e.type === "plan.rejected")).toHaveLength(3);
    expect(String((error as Error).message)).toContain("3 attempts");
  });

  it("rejects unknown workers and references to fields the dependency cannot have", async () => {
    const bad = JSON.stringify({
      subtasks: [
        { id: "s1", worker: "poet", instruction: "x", dependsOn: [] },
        { id: "s2", worker: "writer", instruction: "{{s3.answer}}", dependsOn: [] },
      ],
    });
    const model = new ScriptedChatModel([bad, good]);
    const { ctx, events } = context();
    await createLangChainPlanner({ model, label: "scripted", locality: "remote" }).plan(request, ctx);
    const rejected = events.find((e) => e.type === "plan.rejected");
    expect(rejected?.type === "plan.rejected" && rejected.errors).toEqual([
      's1: unknown worker "poet" (workers: finder, writer)',
      's2: instruction references s3.answer, but there is no subtask "s3"',
    ]);
  });

  it("joins into an answer that matches the agent's answer schema, re-asking when it does not", async () => {
    const model = new ScriptedChatModel([
      JSON.stringify({ answer: { summary: 42 } }),
      JSON.stringify({ answer: { summary: "Bern is lovely" } }),
    ]);
    const planner = createLangChainPlanner({ model, label: "scripted", locality: "remote" });
    const produced = await planner.join(
      {
        task: "t",
        plan: { subtasks: [{ id: "s1", worker: "finder", instruction: "x", dependsOn: [] }] },
        results: [],
        answerSchema: { type: "object", properties: { summary: { type: "string" } }, required: ["summary"] },
        allowReplan: false,
      },
      context().ctx,
    );
    expect(produced.value).toEqual({ kind: "answer", answer: { summary: "Bern is lovely" } });
    expect(String(model.calls[1]?.at(-1)?.content)).toContain("answer.summary");
  });

  it("turns a provider failure into PLANNER_FAILED", async () => {
    const model = new ScriptedChatModel([new Error("503 upstream overloaded")]);
    const error = await createLangChainPlanner({ model, label: "scripted", locality: "remote" })
      .plan(request, context().ctx)
      .catch((e: unknown) => e);
    expect(isEdgecrewError(error) && error.code).toBe("PLANNER_FAILED");
    expect(String((error as Error).message)).toContain("503 upstream overloaded");
  });

  it("keeps a local planner model's own typed error (e.g. over the memory budget) instead of PLANNER_FAILED", async () => {
    const model = new ScriptedChatModel([
      new ModelError(
        ErrorCodes.MEMORY_BUDGET_EXCEEDED,
        "fixture:planner needs 7 MiB, more than device.memory",
      ),
    ]);
    const error = await createLangChainPlanner({ model, label: "fixture:planner", locality: "local" })
      .plan(request, context().ctx)
      .catch((e: unknown) => e);
    expect(isEdgecrewError(error) && error.code).toBe("MEMORY_BUDGET_EXCEEDED");
  });

  it("rejects with ABORTED when its signal is aborted", async () => {
    const controller = new AbortController();
    const model = new ScriptedChatModel({ replies: [good], delayMs: 5_000 });
    const promise = createLangChainPlanner({ model, label: "scripted", locality: "remote" }).plan(
      request,
      context(controller.signal).ctx,
    );
    setTimeout(() => controller.abort(), 20);
    const error = await promise.catch((e: unknown) => e);
    expect(isEdgecrewError(error) && error.code).toBe("ABORTED");
  });

  it("solves an escalated subtask under the worker's schema, re-asking when the answer is invalid", async () => {
    const model = new ScriptedChatModel([JSON.stringify({ place: 7 }), JSON.stringify({ place: "Bern" })]);
    const produced = await createLangChainPlanner({ model, label: "scripted", locality: "remote" }).solve(
      {
        runId: "r",
        task: "write about a place",
        subtask: { id: "s1", worker: "finder", instruction: "find a place", dependsOn: [] },
        worker: {
          name: "finder",
          description: "finds places",
          model: { kind: "fixture", raw: "fixture:f", name: "f", seed: 1, size: "tiny" },
          tools: [],
          output: workers[0]?.output ?? {},
          contextSize: 512,
          maxTokens: 64,
          temperature: 0,
          parallel: 1,
        },
        dependencies: {},
        errors: ["place: Required"],
      },
      context().ctx,
    );
    expect(produced.value).toEqual({ place: "Bern" });
    expect(produced.usage).toHaveLength(2);
    const first = model.calls[0]?.map((m) => String(m.content)).join("\n") ?? "";
    expect(first).toContain('standing in for the worker "finder"');
    expect(first).toContain("- place: Required");
    expect(String(model.calls[1]?.at(-1)?.content)).toMatch(/^Your answer was rejected:\n- place: /);
  });
});

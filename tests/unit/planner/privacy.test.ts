/**
 * Issue 16, private data stays local: the real LangChain OpenAI client, pointed at an OpenAI-compatible server
 * on 127.0.0.1 that keeps every request body as it arrived, plans, joins, replans, escalates and repairs with
 * private answers in play. The canary planted in a private answer is never in any body, under either policy;
 * strict refuses before sending; redact's placeholders come back filled in; and the data-flow ledger's bytes are
 * the bytes of each body's `messages`, as sent.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseModelRef } from "../../../src/config/modelRef.js";
import { ErrorCodes, isEdgecrewError } from "../../../src/errors.js";
import { createLangChainPlanner } from "../../../src/planner/index.js";
import { createRemoteChatModel } from "../../../src/planner/remoteModel.js";
import { privatePlanner, type RunPrivacyOptions } from "../../../src/runtime/privacy.js";
import type {
  CallContext,
  EscalationRequest,
  JoinRequest,
  Plan,
  PlannerPort,
  PlanRequest,
  RunEventInput,
  SubtaskResult,
  WorkerDefinition,
  WorkerSummary,
} from "../../../src/types.js";
import {
  type CapturingAnswer,
  type CapturingOpenAIServer,
  startCapturingOpenAI,
} from "../../fixtures/capturingOpenAI.mjs";

const CANARY = "CANARY-7f3a9c1e5b2d";
const TASK_CANARY = "CANARY-task-4e8b1a";

const workers: WorkerSummary[] = [
  {
    name: "vault",
    description: "reads the vault",
    tools: [],
    output: { type: "object", properties: { secret: { type: "string" } }, required: ["secret"] },
  },
  {
    name: "writer",
    description: "writes text",
    tools: [],
    output: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  },
];
const plan: Plan = {
  subtasks: [
    { id: "s1", worker: "vault", instruction: "read the vault", dependsOn: [] },
    { id: "s2", worker: "writer", instruction: "write about {{s1.answer.secret}}", dependsOn: ["s1"] },
  ],
};
const planReply = JSON.stringify({
  subtasks: plan.subtasks.map((s) => ({ ...s, dependsOn: [...s.dependsOn] })),
});

function result(subtaskId: string, worker: string, answer: SubtaskResult["answer"]): SubtaskResult {
  return { subtaskId, worker, answer, by: "worker", attempts: 1, startedAt: 0, endedAt: 1, usage: [] };
}
const results = [
  result("s1", "vault", { secret: CANARY }),
  result("s2", "writer", { text: `code ${CANARY}` }),
];

const settings = (policy: "strict" | "redact", privateTask = false): RunPrivacyOptions => ({
  policy,
  privateTask,
  privateWorkers: ["vault"],
  publicWorkers: [],
});

let server: CapturingOpenAIServer | undefined;
beforeEach(() => {
  vi.stubEnv("OPENAI_API_KEY", "sk-test-not-a-real-key");
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.close();
  server = undefined;
});

async function remotePlanner(
  reply: (schema: string, n: number) => CapturingAnswer,
  options: RunPrivacyOptions,
  locality: "remote" | "local" = "remote",
) {
  const capture = await startCapturingOpenAI({ reply: ({ schema, n }) => reply(schema, n) });
  server = capture;
  vi.stubEnv("OPENAI_BASE_URL", capture.url);
  const ref = parseModelRef("openai:gpt-4o-mini");
  if (ref.kind !== "remote") throw new Error("expected a remote ref");
  const model = await createRemoteChatModel(ref, { temperature: 0 });
  const planner: PlannerPort = privatePlanner(
    createLangChainPlanner({ model, label: ref.raw, locality }),
    options,
  );
  const events: RunEventInput[] = [];
  const ctx: CallContext = { signal: new AbortController().signal, emit: (e) => events.push(e) };
  return { planner, ctx, events, requests: capture.requests };
}

/** No body holds a canary, and the ledger has one record per body whose bytes are its `messages`, as sent. */
function expectSealedAndCounted(
  requests: CapturingOpenAIServer["requests"],
  events: readonly RunEventInput[],
  canaries: readonly string[] = [CANARY],
): void {
  for (const request of requests) for (const canary of canaries) expect(request.raw).not.toContain(canary);
  const flows = events.filter((e) => e.type === "planner.request");
  expect(flows).toHaveLength(requests.length);
  requests.forEach((request, i) => {
    const messages = JSON.stringify(request.body.messages);
    // The serialized messages are a literal part of the body that arrived, so their bytes are bytes sent.
    expect(request.raw).toContain(messages);
    expect(flows[i]?.type === "planner.request" && flows[i].bytes).toBe(Buffer.byteLength(messages, "utf8"));
  });
}

const joinRequest: JoinRequest = { task: "tell me the code", plan, results, allowReplan: false };
const planRequest: PlanRequest = { task: "tell me the code", workers, maxSubtasks: 4 };
const vaultWorker: WorkerDefinition = {
  name: "writer",
  description: "writes text",
  model: { kind: "fixture", raw: "fixture:tiny?seed=1", name: "fixture", seed: 1, size: "tiny" },
  tools: [],
  output: workers[1]?.output ?? {},
  contextSize: 1024,
  maxTokens: 128,
  temperature: 0,
  parallel: 1,
};
const escalation: EscalationRequest = {
  runId: "r1",
  task: "tell me the code",
  subtask: { id: "s2", worker: "writer", instruction: `write about ${CANARY}`, dependsOn: ["s1"] },
  worker: vaultWorker,
  dependencies: { s1: { secret: CANARY } },
  errors: ["text: is required"],
};

describe("a remote planner and private answers", () => {
  it("redact: the final answer is asked for with placeholders and comes back filled in", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: JSON.stringify({ answer: "The code is ⟨private:s1.answer.secret⟩." }) }),
      settings("redact"),
    );
    const joined = await planner.join(joinRequest, ctx);
    expect(joined.value).toEqual({ kind: "answer", answer: `The code is ${CANARY}.` });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.raw).toContain("⟨private:s1.answer.secret⟩");
    // s2 depends on s1: its answer is private too.
    expect(requests[0]?.raw).toContain("⟨private:s2.answer.text⟩");
    expectSealedAndCounted(requests, events);
    const flow = events.find((e) => e.type === "planner.request");
    expect(flow?.type === "planner.request" && flow.origins).toEqual([
      { kind: "task", id: "task", private: false },
      { kind: "plan", id: "plan", private: false },
      { kind: "result", id: "s1", private: true, sent: "placeholders" },
      { kind: "result", id: "s2", private: true, sent: "placeholders" },
    ]);
    expect(flow?.type === "planner.request" && [flow.purpose, flow.promptTokens]).toEqual(["join", 20]);
  });

  it("strict: private answers are withheld from the final-answer request", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: JSON.stringify({ answer: "done" }) }),
      settings("strict"),
    );
    await planner.join(joinRequest, ctx);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.raw).toContain("withheld");
    expectSealedAndCounted(requests, events);
  });

  it("strict: a public (declassifying) answer that quotes a private value verbatim fails before sending", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(() => ({ content: "{}" }), {
      ...settings("strict"),
      publicWorkers: ["writer"],
    });
    const error = await planner.join(joinRequest, ctx).catch((e: unknown) => e);
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.PRIVACY_VIOLATION);
    expect((error as Error).message).toMatch(/final|join/);
    expect((error as Error).message).toContain("⟨private:s1.answer.secret⟩");
    expect(requests).toHaveLength(0);
    expect(events.filter((e) => e.type === "planner.request")).toHaveLength(0);
  });

  it("redact: the same verbatim copy is replaced by its placeholder", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: JSON.stringify({ answer: "ok" }) }),
      { ...settings("redact"), publicWorkers: ["writer"] },
    );
    await planner.join(joinRequest, ctx);
    expect(requests[0]?.raw).toContain("code ⟨private:s1.answer.secret⟩");
    expectSealedAndCounted(requests, events);
  });

  it("strict: a private task never reaches the planner: PRIVACY_VIOLATION before any request", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: planReply }),
      settings("strict", true),
    );
    const error = await planner
      .plan({ ...planRequest, task: `find ${TASK_CANARY}` }, ctx)
      .catch((e: unknown) => e);
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.PRIVACY_VIOLATION);
    expect((error as Error).message).toContain("the private task");
    expect(isEdgecrewError(error) && error.context.purpose).toBe("plan");
    expect(requests).toHaveLength(0);
    expect(events).toHaveLength(0);
  });

  it("redact: a private task is planned from its placeholder, and the plan's placeholders are filled in", async () => {
    const reply = JSON.stringify({
      subtasks: [{ id: "s1", worker: "vault", instruction: "do ⟨private:task⟩", dependsOn: [] }],
    });
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: reply }),
      settings("redact", true),
    );
    const planned = await planner.plan({ ...planRequest, task: `find ${TASK_CANARY}` }, ctx);
    expect(planned.value.subtasks[0]?.instruction).toBe(`do find ${TASK_CANARY}`);
    expect(requests[0]?.raw).toContain("⟨private:task⟩");
    expectSealedAndCounted(requests, events, [TASK_CANARY]);
  });

  for (const policy of ["strict", "redact"] as const) {
    it(`${policy}: a replan lists the previous answers without the private ones`, async () => {
      const { planner, ctx, events, requests } = await remotePlanner(
        () => ({ content: planReply }),
        settings(policy),
      );
      const revised = await planner.plan(
        { ...planRequest, revision: { reason: "try again", previous: plan, results } },
        ctx,
      );
      expect(revised.value.subtasks).toHaveLength(2);
      expectSealedAndCounted(requests, events);
      const flow = events.find((e) => e.type === "planner.request");
      expect(flow?.type === "planner.request" && flow.purpose).toBe("replan");
    });

    it(`${policy}: a repair re-ask carries no private value either`, async () => {
      const { planner, ctx, events, requests } = await remotePlanner(
        (_schema, n) =>
          n === 1 ? { content: "not json at all" } : { content: JSON.stringify({ answer: "ok" }) },
        settings(policy),
      );
      await planner.join(joinRequest, ctx);
      expect(requests).toHaveLength(2);
      expectSealedAndCounted(requests, events);
      const purposes = events.flatMap((e) => (e.type === "planner.request" ? [e.purpose] : []));
      expect(purposes).toEqual(["join", "repair"]);
    });
  }

  it("strict: an escalation whose dependencies are private fails without asking the planner", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: planReply }),
      settings("strict"),
    );
    await planner.plan(planRequest, ctx);
    const error = await planner.solve(escalation, ctx).catch((e: unknown) => e);
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.PRIVACY_VIOLATION);
    expect((error as Error).message).toContain("the answer of s1");
    expect(isEdgecrewError(error) && error.context.subtaskId).toBe("s2");
    // Only the plan request went out.
    expect(requests.map((r) => r.schema)).toEqual(["plan"]);
    expectSealedAndCounted(requests, events);
  });

  it("redact: an escalation is asked with placeholders (the substituted instruction too) and filled back", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      (schema) =>
        schema === "plan"
          ? { content: planReply }
          : { content: JSON.stringify({ text: "about ⟨private:s1.answer.secret⟩" }) },
      settings("redact"),
    );
    await planner.plan(planRequest, ctx);
    const solved = await planner.solve(escalation, ctx);
    expect(solved.value).toEqual({ text: `about ${CANARY}` });
    expect(requests.map((r) => r.schema)).toEqual(["plan", "answer"]);
    expect(requests[1]?.raw).toContain(`write about ⟨private:s1.answer.secret⟩`);
    expectSealedAndCounted(requests, events);
    const flow = events.filter((e) => e.type === "planner.request")[1];
    expect(flow?.type === "planner.request" && [flow.purpose, flow.subtaskId]).toEqual(["solve", "s2"]);
  });

  it("a local planner model (in this process) is not guarded and records no flows", async () => {
    const { planner, ctx, events, requests } = await remotePlanner(
      () => ({ content: JSON.stringify({ answer: "ok" }) }),
      settings("strict", true),
      "local",
    );
    await planner.join(joinRequest, ctx);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.raw).toContain(CANARY);
    expect(events.filter((e) => e.type === "planner.request")).toHaveLength(0);
  });
});

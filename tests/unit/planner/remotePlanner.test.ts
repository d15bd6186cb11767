/**
 * The cloud planner path end to end on the real LangChain OpenAI client, against a scripted OpenAI-compatible
 * server on 127.0.0.1: bad replies are repaired or end in a typed error at once, transport errors are retried.
 */
import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseModelRef } from "../../../src/config/modelRef.js";
import { ErrorCodes, isEdgecrewError } from "../../../src/errors.js";
import { createLangChainPlanner } from "../../../src/planner/index.js";
import { createRemoteChatModel, plannerRetryPolicy } from "../../../src/planner/remoteModel.js";
import type { CallContext, PlanRequest, RunEventInput } from "../../../src/types.js";
import { type FakeOpenAIAnswer, type FakeOpenAIServer, startFakeOpenAI } from "../../fixtures/fakeOpenAI.mjs";

const request: PlanRequest = {
  task: "a weekend by a lake",
  workers: [
    {
      name: "finder",
      description: "finds places",
      tools: [],
      output: { type: "object", properties: { place: { type: "string" } }, required: ["place"] },
    },
  ],
  maxSubtasks: 4,
};
const goodPlan = JSON.stringify({
  subtasks: [{ id: "s1", worker: "finder", instruction: "find a lake", dependsOn: [] }],
});

let server: FakeOpenAIServer | undefined;

beforeEach(() => {
  vi.stubEnv("OPENAI_API_KEY", "sk-test-not-a-real-key");
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.close();
  server = undefined;
});

async function plannerAnswering(reply: (n: number) => FakeOpenAIAnswer) {
  server = await startFakeOpenAI({ reply: ({ n }) => reply(n) });
  vi.stubEnv("OPENAI_BASE_URL", server.url);
  const ref = parseModelRef("openai:gpt-4o-mini");
  if (ref.kind !== "remote") throw new Error("expected a remote ref");
  const model = await createRemoteChatModel(ref, { temperature: 0 });
  const planner = createLangChainPlanner({ model, label: ref.raw, locality: "remote" });
  const events: RunEventInput[] = [];
  const ctx: CallContext = { signal: new AbortController().signal, emit: (e) => events.push(e) };
  return { planner, ctx, events, requests: () => server?.requests ?? [] };
}

describe("cloud planner against a misbehaving OpenAI-compatible server", () => {
  it("does not re-send a reply that is not JSON: three planner attempts, three requests, a typed error", async () => {
    const { planner, ctx, events, requests } = await plannerAnswering(() => ({
      content: "Sure! First research the lakes, then book a hut.",
    }));
    const started = Date.now();
    const error = await planner.plan(request, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.PLAN_INVALID);
    expect(String((error as Error).message)).toMatch(/not valid JSON/);
    // Without edgecrew's retry policy LangChain re-sends each of these 6 times with backoff (about a minute).
    expect(requests()).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(events.filter((e) => e.type === "plan.rejected")).toHaveLength(3);
  });

  it("repairs a reply that is not JSON with the next attempt", async () => {
    const { planner, ctx, events, requests } = await plannerAnswering((n) =>
      n === 1 ? { content: "{ subtasks: oops" } : { content: goodPlan },
    );
    const produced = await planner.plan(request, ctx);
    expect(produced.value.subtasks.map((s) => s.worker)).toEqual(["finder"]);
    expect(requests()).toHaveLength(2);
    // The repair request carries the conversation so far and the parse error.
    expect(requests()[1]?.messages).toBeGreaterThan(requests()[0]?.messages ?? 0);
    // Each request also went into the data-flow ledger (planner.request).
    expect(events.map((e) => e.type)).toEqual([
      "planner.request",
      "plan.rejected",
      "planner.request",
      "plan.created",
    ]);
  });

  it("still retries a transport error (HTTP 500) before the planner sees it", async () => {
    const { planner, ctx, requests } = await plannerAnswering((n) =>
      n === 1 ? { status: 500, message: "upstream overloaded" } : { content: goodPlan },
    );
    const produced = await planner.plan(request, ctx);
    expect(produced.value.subtasks).toHaveLength(1);
    expect(requests()).toHaveLength(2);
  });

  it("fails at once with PLANNER_FAILED on a rejected API key (HTTP 401)", async () => {
    const { planner, ctx, requests } = await plannerAnswering(() => ({
      status: 401,
      message: "Incorrect API key provided",
    }));
    const error = await planner.plan(request, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.PLANNER_FAILED);
    expect(String((error as Error).message)).toMatch(/401|Incorrect API key/);
    expect(requests()).toHaveLength(1);
  });

  it("leaves no abort listener behind on the run's signal, however many calls a run makes", async () => {
    const { planner, requests } = await plannerAnswering(() => ({ content: goodPlan }));
    const controller = new AbortController();
    const ctx: CallContext = { signal: controller.signal, emit: () => {} };
    // LangChain adds a listener per invoke and never removes it: 11 on one signal print Node's leak warning.
    for (let i = 0; i < 12; i++) await planner.plan(request, ctx);
    expect(requests()).toHaveLength(12);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("ends a planner that never answers when the run's signal aborts", async () => {
    const { planner, requests } = await plannerAnswering(() => ({ hang: true }));
    const controller = new AbortController();
    const ctx: CallContext = { signal: controller.signal, emit: () => {} };
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const error = await planner.plan(request, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.ABORTED);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(requests()).toHaveLength(1);
  });
});

describe("plannerRetryPolicy", () => {
  const retried = (error: unknown): boolean => {
    try {
      plannerRetryPolicy(error);
      return true;
    } catch {
      return false;
    }
  };

  it("never retries a reply the same request would get again", () => {
    expect(retried(new SyntaxError("Unexpected token 'S'"))).toBe(false);
    const length = Object.assign(new Error("length"), { name: "LengthFinishReasonError" });
    expect(retried(length)).toBe(false);
    const filtered = Object.assign(new Error("filtered"), { name: "ContentFilterFinishReasonError" });
    expect(retried(filtered)).toBe(false);
  });

  it("keeps LangChain's policy for transport errors", () => {
    expect(retried(Object.assign(new Error("overloaded"), { status: 500 }))).toBe(true);
    expect(retried(Object.assign(new Error("unauthorized"), { status: 401 }))).toBe(false);
    expect(retried(Object.assign(new Error("connection reset"), { code: "ECONNRESET" }))).toBe(true);
  });
});

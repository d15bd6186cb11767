/**
 * Issue 14, finding 4, at the type level (checked by `tsc -p tsconfig.json`, which includes tests/) and at run
 * time: RunResult is a union on `status`, typed by the agent's zod schemas; a failed run's error is an ErrorInfo
 * with a guard, also once stored and read back.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../../src/config/index.js";
import type { Crew } from "../../../src/crew.js";
import {
  EdgecrewError,
  ErrorCodes,
  errorFromInfo,
  isEdgecrewError,
  isErrorInfo,
} from "../../../src/errors.js";
import type { DefineAgentInput, ErrorInfo, RunResult } from "../../../src/index.js";
import { startRun } from "../../../src/runtime/startRun.js";
import { MemoryRunStore } from "../../../src/runtime/store/MemoryRunStore.js";
import { checkRecord } from "../../../src/runtime/store/storeSchemas.js";
import type { AgentDefinition, JsonValue, SubtaskResult } from "../../../src/types.js";
import { agent as fakeAgent, fakePlanner, fakeWorkers } from "../../helpers/fakes.js";

const Facts = z.object({ city: z.string(), population: z.number().int().optional() });
const Summary = z.object({ summary: z.string(), cities: z.array(z.string()) });

const typed = defineAgent({
  name: "facts",
  description: "Finds facts about cities",
  planner: { model: "openai:gpt-4o-mini" },
  workers: [
    { name: "researcher", description: "Finds facts", model: "fixture:r", output: Facts },
    { name: "writer", description: "Writes", model: "fixture:w" },
    {
      name: "counter",
      description: "Counts",
      model: "fixture:c",
      output: { type: "object", properties: { n: { type: "number" } }, required: ["n"] },
    },
  ],
  answer: Summary,
});

type TypedResult = Awaited<ReturnType<Crew<z.output<typeof Summary>, WorkerAnswers>["run"]>["result"]>;
type WorkerAnswers = NonNullable<(typeof typed)["~types"]>["workers"];

describe("typed results (compile time)", () => {
  it("defineAgent infers the answer and each worker's answer from its zod schemas", () => {
    expectTypeOf(typed).toEqualTypeOf<
      AgentDefinition<
        { summary: string; cities: string[] },
        {
          researcher: { city: string; population?: number | undefined };
          writer: { answer: string };
          counter: JsonValue;
        }
      >
    >();
    // A typed agent is still an AgentDefinition, and a YAML one is any JSON.
    expectTypeOf(typed).toExtend<AgentDefinition>();
    expectTypeOf<RunResult>().toEqualTypeOf<RunResult<JsonValue, SubtaskResult>>();
  });

  it("narrows on status: the answer after completed, the error after failed", () => {
    const check = (result: TypedResult): string => {
      expectTypeOf(result.answer).toEqualTypeOf<{ summary: string; cities: string[] } | undefined>();
      if (result.status === "completed") {
        expectTypeOf(result.answer).toEqualTypeOf<{ summary: string; cities: string[] }>();
        expectTypeOf(result.error).toEqualTypeOf<undefined>();
        return result.answer.summary;
      }
      if (result.status === "failed") {
        expectTypeOf(result.error).toEqualTypeOf<ErrorInfo>();
        expectTypeOf(result.answer).toEqualTypeOf<undefined>();
        return result.error.code;
      }
      expectTypeOf(result.status).toEqualTypeOf<"cancelled">();
      expectTypeOf(result.error).toEqualTypeOf<ErrorInfo | undefined>();
      return "cancelled";
    };
    expect(typeof check).toBe("function");
  });

  it("narrows each subtask result's answer by its worker", () => {
    const check = (result: TypedResult): number => {
      let total = 0;
      for (const r of result.results) {
        if (r.worker === "researcher") {
          expectTypeOf(r.answer).toEqualTypeOf<{ city: string; population?: number | undefined }>();
          total += r.answer.population ?? 0;
        } else if (r.worker === "writer") {
          expectTypeOf(r.answer).toEqualTypeOf<{ answer: string }>();
          total += r.answer.answer.length;
        } else {
          expectTypeOf(r.worker).toEqualTypeOf<"counter">();
          expectTypeOf(r.answer).toEqualTypeOf<JsonValue>();
        }
      }
      return total;
    };
    expect(typeof check).toBe("function");
  });

  it("exports defineAgent's input type, which takes zod schemas and JSON Schemas", () => {
    expectTypeOf<{
      name: string;
      description: string;
      planner: { model: string };
      workers: [{ name: string; description: string; model: string; output: typeof Facts }];
      answer: { type: "object" };
    }>().toExtend<DefineAgentInput>();
    // A definition typed as a whole (not written out) gives the widest types, not wrong ones.
    const loose = (input: DefineAgentInput) => defineAgent(input);
    expectTypeOf<ReturnType<typeof loose>>().toEqualTypeOf<
      AgentDefinition<JsonValue, { [worker: string]: JsonValue | { answer: string } }>
    >();
  });
});

describe("RunResult at run time", () => {
  it("a completed run has its answer; a failed one an ErrorInfo that the guard accepts, also read back", async () => {
    const store = new MemoryRunStore();
    const plan = { subtasks: [{ id: "s1", worker: "alpha", instruction: "do it", dependsOn: [] }] };
    const ok = startRun(fakeAgent(), "task", {
      planner: fakePlanner(plan, { join: () => ({ done: true }) }).port,
      workers: fakeWorkers().port,
      store,
    });
    const completed = await ok.result;
    expect(completed.status).toBe("completed");
    if (completed.status === "completed") expect(completed.answer).toEqual({ done: true });

    const failing = startRun(fakeAgent(), "task", {
      planner: {
        ...fakePlanner(plan).port,
        plan: async () => {
          throw new EdgecrewError(ErrorCodes.PLAN_INVALID, "no plan");
        },
      },
      workers: fakeWorkers().port,
      store,
    });
    const failed = await failing.result;
    expect(failed.status).toBe("failed");
    const stored = (await store.load(failing.id)).outcome;
    for (const result of [failed, stored]) {
      if (result?.status !== "failed") throw new Error(`expected a failed run, got ${result?.status}`);
      expect(result.answer).toBeUndefined();
      expect(isErrorInfo(result.error)).toBe(true);
      expect(result.error).toMatchObject({ code: ErrorCodes.PLAN_INVALID, message: "no plan" });
      const thrown = errorFromInfo(result.error);
      expect(isEdgecrewError(thrown) && thrown.code).toBe(ErrorCodes.PLAN_INVALID);
    }
    expect(isErrorInfo(JSON.parse(JSON.stringify(failed.error)))).toBe(true);
    expect(isErrorInfo({ code: "NOPE", message: "x" })).toBe(false);
    expect(isErrorInfo(new Error("x"))).toBe(false);
  });

  it("a stored outcome must be the union too: completed without an answer, failed without an error are refused", async () => {
    const store = new MemoryRunStore();
    const plan = { subtasks: [{ id: "s1", worker: "alpha", instruction: "do it", dependsOn: [] }] };
    const run = startRun(fakeAgent(), "task", {
      planner: fakePlanner(plan).port,
      workers: fakeWorkers().port,
      store,
    });
    const outcome = await run.result;
    expect(checkRecord("outcome", outcome).ok).toBe(true);
    const { answer: _answer, ...noAnswer } = outcome;
    expect(checkRecord("outcome", noAnswer)).toEqual({
      ok: false,
      problems: "answer: a completed run has an answer",
    });
    expect(checkRecord("outcome", { ...noAnswer, status: "failed" })).toEqual({
      ok: false,
      problems: "error: a failed run has an error",
    });
    expect(checkRecord("outcome", { ...noAnswer, status: "cancelled" }).ok).toBe(true);
  });
});

import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { describe, expect, it } from "vitest";
import { parseHttpAddress } from "../../../src/cli/commands/mcp.js";
import { resultSchemaOf, toolResultOf } from "../../../src/mcp/server.js";
import { singleSubtaskPlanner } from "../../../src/runtime/singleSubtask.js";
import type { AgentDefinition, JsonSchema, PlannerPort, RunResult } from "../../../src/types.js";

const ledger = {
  models: [],
  local: { promptTokens: 0, completionTokens: 0 },
  remote: { promptTokens: 0, completionTokens: 0 },
};

/** What the SDK client does with a tool's outputSchema and a result's structuredContent. */
function clientAccepts(schema: JsonSchema, value: unknown): boolean {
  return new AjvJsonSchemaValidator().getValidator(schema as Record<string, unknown>)(value).valid;
}

describe("edgecrew mcp: --http address", () => {
  it("takes port, :port, host:port and [v6]:port", () => {
    expect(parseHttpAddress("8080")).toEqual({ port: 8080 });
    expect(parseHttpAddress(":0")).toEqual({ port: 0 });
    expect(parseHttpAddress("0.0.0.0:9000")).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(parseHttpAddress("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
  });

  it("refuses anything else with the expected form", () => {
    for (const bad of ["", "http", "70000", "host:", "a:b:1"]) {
      expect(() => parseHttpAddress(bad)).toThrow(/expected \[host:\]port/);
    }
  });
});

describe("edgecrew mcp: results", () => {
  const answer: JsonSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: { city: { $ref: "#/$defs/city" } },
    required: ["city"],
    $defs: { city: { type: "string", maxLength: 10 } },
  };

  it("wraps an answer schema whose refs point into its $defs, and the client's validator resolves them", () => {
    const schema = resultSchemaOf(answer);
    const base = { runId: "r", status: "completed" };
    expect(clientAccepts(schema, { ...base, answer: { city: "Lisbon" } })).toBe(true);
    expect(clientAccepts(schema, { ...base, answer: { city: "Lisbon, the capital" } })).toBe(false);
    expect(clientAccepts(schema, { ...base, answer: {} })).toBe(false);
  });

  it("a failed run is an isError result with the code and message, valid against the same schema", () => {
    const failed = {
      runId: "r1",
      agent: "a",
      task: "t",
      status: "failed",
      results: [],
      error: { code: "PLAN_INVALID", message: "no plan" },
      ledger,
      startedAt: 0,
      endedAt: 1,
    } as unknown as RunResult;
    const result = toolResultOf(failed);
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toEqual({
      runId: "r1",
      status: "failed",
      error: { code: "PLAN_INVALID", message: "no plan" },
    });
    expect(clientAccepts(resultSchemaOf(answer), result.structuredContent)).toBe(true);
  });
});

describe("single-subtask runs (worker tools)", () => {
  const planner = { model: "p" } as PlannerPort;
  const agent = { name: "demo", workers: [{ name: "budgeter" }] } as unknown as AgentDefinition;

  it("refuses a worker the agent lacks, naming the ones it has", () => {
    expect(() => singleSubtaskPlanner(planner, agent, "chef")).toThrow(
      /agent "demo" has no worker "chef" \(workers: budgeter\)/,
    );
  });

  it("plans the task as s1 on the worker, announces it, and answers with s1's answer", async () => {
    const port = singleSubtaskPlanner(planner, agent, "budgeter");
    const emitted: unknown[] = [];
    const context = { signal: new AbortController().signal, emit: (e: unknown) => emitted.push(e) };
    const plan = await port.plan({ task: "cost?", workers: [], maxSubtasks: 4 }, context as never);
    expect(plan.value.subtasks).toEqual([
      { id: "s1", worker: "budgeter", instruction: "cost?", dependsOn: [] },
    ]);
    expect(emitted).toEqual([{ type: "plan.created", plan: plan.value, attempt: 1 }]);
    const result = { subtaskId: "s1", worker: "budgeter", answer: { perDay: 30 }, by: "worker", attempts: 1 };
    const joined = await port.join(
      { task: "cost?", plan: plan.value, results: [result as never], allowReplan: false },
      context as never,
    );
    expect(joined).toEqual({ value: { kind: "answer", answer: { perDay: 30 } }, usage: [] });
  });
});

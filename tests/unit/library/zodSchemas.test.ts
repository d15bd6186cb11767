import { describe, expect, it } from "vitest";
import { z } from "zod";
import * as z3 from "zod/v3";
import { defineAgent } from "../../../src/config/index.js";
import { ErrorCodes, isEdgecrewError } from "../../../src/errors.js";
import { defineTool } from "../../../src/tools/index.js";

const base = {
  name: "t",
  description: "d",
  planner: { model: "openai:gpt-4o-mini" },
};

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("zod schemas in defineAgent", () => {
  it("accepts a zod object as a worker output and as the final answer, as JSON Schema", () => {
    const agent = defineAgent({
      ...base,
      workers: [
        {
          name: "researcher",
          description: "finds facts",
          model: "fixture:w",
          output: z.object({ city: z.string().min(1), population: z.number().int().optional() }),
        },
      ],
      answer: z.object({ summary: z.string() }),
    });
    expect(agent.workers[0]?.output).toEqual({
      type: "object",
      properties: {
        city: { type: "string", minLength: 1 },
        population: { type: "integer", minimum: expect.any(Number), maximum: expect.any(Number) },
      },
      required: ["city"],
      additionalProperties: false,
    });
    expect(agent.answer).toMatchObject({ type: "object", required: ["summary"] });
    // The definition stays plain JSON: it is what runs store and what the planner sees.
    expect(JSON.parse(JSON.stringify(agent.workers[0]?.output))).toEqual(agent.workers[0]?.output);
  });

  it("reports a zod schema that is not an object, at its path", () => {
    expect(() =>
      defineAgent({
        ...base,
        workers: [{ name: "w", description: "d", model: "fixture:w", output: z.object({ a: z.string() }) }],
        answer: z.string(),
      }),
    ).toThrow(/answer\.type: the answer schema must have `type: object` at the top/);
  });

  it("reports a zod schema that JSON Schema cannot express (a transform), naming the worker's output", () => {
    const error = thrown(() =>
      defineAgent({
        ...base,
        workers: [
          {
            name: "w",
            description: "d",
            model: "fixture:w",
            output: z.object({ at: z.string().transform((s) => s.length) }),
          },
        ],
      }),
    );
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.AGENT_INVALID);
    expect(String(error)).toMatch(/workers\[0\]\.output: the zod schema cannot be expressed as JSON Schema/);
  });

  it("reports a zod 3 schema with the version it needs", () => {
    expect(() =>
      defineAgent({
        ...base,
        workers: [
          // A zod 3 schema does not type-check here; plain JavaScript callers get the runtime message.
          { name: "w", description: "d", model: "fixture:w", output: z3.object({ a: z3.string() }) as never },
        ],
      }),
    ).toThrow(/workers\[0\]\.output: this is a zod 3 schema; edgecrew needs zod 4/);
  });
});

describe("zod 3 in defineTool", () => {
  it("is a TOOL_INVALID error naming zod 4 as required", () => {
    const error = thrown(() =>
      defineTool({
        name: "lookup",
        description: "looks up",
        input: z3.object({ q: z3.string() }) as never,
        run: async () => "x",
      }),
    );
    expect(isEdgecrewError(error) && error.code).toBe(ErrorCodes.TOOL_INVALID);
    expect(String(error)).toMatch(
      /tool `lookup`: its input schema is a zod 3 schema; edgecrew needs zod 4 .*import \{ z \} from "zod\/v4"/,
    );
  });

  it("is a TOOL_INVALID error for an output schema too, and for an input that is not a zod schema", () => {
    expect(() =>
      defineTool({
        name: "lookup",
        description: "looks up",
        input: z.object({ q: z.string() }),
        output: z3.object({ a: z3.string() }) as never,
        run: async () => ({ a: "x" }),
      }),
    ).toThrow(/tool `lookup`: its output schema is a zod 3 schema; edgecrew needs zod 4/);
    expect(() =>
      defineTool({
        name: "lookup",
        description: "looks up",
        input: { type: "object" } as never,
        run: async () => "x",
      }),
    ).toThrow(/tool `lookup`: its input must be a zod 4 schema/);
  });
});

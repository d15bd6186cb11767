import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCodes } from "../../../src/errors.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { toJsonValue } from "../../../src/tools/jsonValue.js";
import { grants, suggestName } from "../../../src/tools/toolNames.js";

const echo = () =>
  defineTool({
    name: "echo",
    description: "Echoes its text.",
    input: z.object({ text: z.string().min(1), times: z.number().int().positive().default(1) }),
    output: z.object({ text: z.string() }),
    run: async ({ text, times }) => ({ text: text.repeat(times) }),
  });

describe("defineTool", () => {
  it("exports the input side of the zod schema as the spec's JSON Schema", () => {
    const tool = echo();
    expect(tool.spec).toEqual({
      name: "echo",
      description: "Echoes its text.",
      input: {
        type: "object",
        properties: {
          text: { type: "string", minLength: 1 },
          times: { type: "integer", exclusiveMinimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 1 },
        },
        // `times` has a default, so the model may leave it out.
        required: ["text"],
      },
      idempotent: false,
      approve: false,
    });
    expect(tool.spec.input).not.toHaveProperty("$schema");
    expect(Object.isFrozen(tool)).toBe(true);
  });

  it("validates arguments with zod, applying defaults, and reports path: message errors", () => {
    const tool = echo();
    expect(tool.parseArgs({ text: "a" })).toEqual({ ok: true, value: { text: "a", times: 1 } });
    const bad = tool.parseArgs({ text: "", times: 1.5 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors).toHaveLength(2);
      expect(bad.errors[0]).toMatch(/^text: /);
      expect(bad.errors[1]).toMatch(/^times: /);
    }
  });

  it("checks outputs against the output schema and for JSON-ness", () => {
    const tool = echo();
    expect(tool.parseOutput({ text: "x" }).ok).toBe(true);
    expect(tool.parseOutput({ text: 1 })).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/^text: /)],
    });
    const free = defineTool({ name: "free", description: "d", input: z.object({}), run: async () => null });
    expect(free.parseOutput({ when: new Date(0) })).toEqual({
      ok: false,
      errors: ["when: Date is not a JSON value"],
    });
  });

  it("honours idempotent, approve and per-tool limits", () => {
    const tool = defineTool({
      name: "ns.tool-1",
      description: "d",
      input: z.object({}),
      idempotent: true,
      approve: true,
      timeoutMs: 5,
      maxOutputBytes: 10,
      run: async () => 1,
    });
    expect(tool.spec).toMatchObject({ idempotent: true, approve: true });
    expect(tool.timeoutMs).toBe(5);
    expect(tool.maxOutputBytes).toBe(10);
  });

  it.each([
    ["a bad name", { name: "1tool" }],
    ["a name with a space", { name: "my tool" }],
    ["an empty description", { description: " " }],
    ["a non-object input", { input: z.string() }],
    ["an input JSON Schema cannot express", { input: z.object({ when: z.date() }) }],
    ["a non-positive timeout", { timeoutMs: 0 }],
  ])("throws TOOL_INVALID for %s", (_label, override) => {
    expect(() =>
      defineTool({
        name: "ok",
        description: "d",
        input: z.object({}),
        run: async () => null,
        ...(override as object),
      }),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }));
  });
});

describe("toJsonValue", () => {
  it("accepts JSON, drops undefined properties, rejects everything else with a path", () => {
    expect(toJsonValue({ a: [1, "x", null, true], b: undefined })).toEqual({
      ok: true,
      value: { a: [1, "x", null, true] },
    });
    expect(toJsonValue({ a: [1, Number.NaN] })).toEqual({
      ok: false,
      error: "a[1]: NaN is not a JSON value",
    });
    expect(toJsonValue(undefined).ok).toBe(false);
    expect(toJsonValue([undefined]).ok).toBe(false);
    expect(toJsonValue({ f: () => 1 }).ok).toBe(false);
    expect(toJsonValue(new Map()).ok).toBe(false);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(toJsonValue(cycle)).toEqual({ ok: false, error: "self: a cycle is not a JSON value" });
    const shared = { x: 1 };
    expect(toJsonValue([shared, shared]).ok).toBe(true);
  });
});

describe("tool names", () => {
  it("grants a family by its prefix, on whole segments only", () => {
    expect(grants("fs", "fs")).toBe(true);
    expect(grants("fs", "fs.read")).toBe(true);
    expect(grants("fs.read", "fs.read")).toBe(true);
    expect(grants("fs.read", "fs.list")).toBe(false);
    expect(grants("fs", "fsx.read")).toBe(false);
    expect(grants("f", "fs.read")).toBe(false);
  });

  it("suggests close names and family members", () => {
    expect(suggestName("fs.raed", ["fs.read", "fs.list"])).toBe("fs.read");
    expect(suggestName("fs", ["calculator", "fs.read"])).toBe("fs.read");
    expect(suggestName("Calculator", ["calculator"])).toBe("calculator");
    expect(suggestName("weather", ["fs.read", "calculator"])).toBeUndefined();
  });
});

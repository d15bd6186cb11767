import { DynamicStructuredTool, Tool, tool } from "@langchain/core/tools";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCodes } from "../../../src/errors.js";
import { fromLangChainTool, langChainOutputToJson } from "../../../src/tools/fromLangChainTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const add = tool(async ({ a, b }: { a: number; b: number }) => String(a + b), {
  name: "add",
  description: "Adds two numbers.",
  schema: z.object({ a: z.number(), b: z.number() }),
});

describe("fromLangChainTool", () => {
  it("adapts a tool() with a zod schema: spec, validation, JSON output", async () => {
    const adapted = fromLangChainTool(add, { idempotent: true });
    expect(adapted.spec).toEqual({
      name: "add",
      description: "Adds two numbers.",
      input: {
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"],
      },
      idempotent: true,
      approve: false,
    });
    const registry = new ToolRegistry().register(adapted);
    // "5" is JSON, so the model gets the number.
    expect(expectOk(await registry.call("add", { a: 2, b: 3 }, callContext().context))).toBe(5);
    const error = expectFailure(
      await registry.call("add", { a: "2" }, callContext().context),
      "invalid-input",
    );
    expect(error).toContain("- a: ");
  });

  it("wraps plain text output as { output } and passes objects through", async () => {
    const greet = tool(async ({ name }: { name: string }) => `hello ${name}`, {
      name: "greet",
      description: "Greets.",
      schema: z.object({ name: z.string() }),
    });
    const info = tool(async () => ({ version: 1, tags: ["a"] }), {
      name: "info",
      description: "Info.",
      schema: z.object({}),
    });
    const registry = new ToolRegistry().register(fromLangChainTool(greet)).register(fromLangChainTool(info));
    expect(expectOk(await registry.call("greet", { name: "Ada" }, callContext().context))).toEqual({
      output: "hello Ada",
    });
    expect(expectOk(await registry.call("info", {}, callContext().context))).toEqual({
      version: 1,
      tags: ["a"],
    });
  });

  it("adapts a tool whose schema is JSON Schema", async () => {
    const shout = tool(async (input: Record<string, unknown>) => String(input.text).toUpperCase(), {
      name: "shout",
      description: "Shouts.",
      schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    });
    const registry = new ToolRegistry().register(fromLangChainTool(shout));
    expect(expectOk(await registry.call("shout", { text: "hi" }, callContext().context))).toEqual({
      output: "HI",
    });
    expectFailure(await registry.call("shout", { text: 1 }, callContext().context), "invalid-input");
  });

  it("adapts a classic string Tool with LangChain's own input schema (how community tools are built)", async () => {
    /** A string tool the way @langchain/community writes them (its Calculator, say): one `input` string. */
    class Multiply extends Tool {
      name = "multiply";
      description = "Multiplies two numbers written as `a * b`.";
      async _call(input: string): Promise<string> {
        const [a, b] = input.split("*").map((part) => Number(part.trim()));
        return String((a ?? Number.NaN) * (b ?? Number.NaN));
      }
    }
    const adapted = fromLangChainTool(new Multiply(), { name: "lc.calculator" });
    expect(adapted.spec.input).toMatchObject({ type: "object", properties: { input: { type: "string" } } });
    const registry = new ToolRegistry().register(adapted);
    expect(expectOk(await registry.call("lc.calculator", { input: "6 * 7" }, callContext().context))).toBe(
      42,
    );
  });

  it("reports a throwing tool as failed and passes the call's signal to invoke", async () => {
    let seen: AbortSignal | undefined;
    const broken = tool(
      async (_input: Record<string, never>, config) => {
        seen = config?.signal;
        throw new Error("upstream 500");
      },
      { name: "broken", description: "Breaks.", schema: z.object({}) },
    );
    const registry = new ToolRegistry().register(fromLangChainTool(broken));
    expect(expectFailure(await registry.call("broken", {}, callContext().context), "failed")).toContain(
      "upstream 500",
    );
    expect(seen).toBeInstanceOf(AbortSignal);
  });

  it("refuses names edgecrew does not accept unless renamed, and non-object schemas", () => {
    const spaced = tool(async () => "x", { name: "my tool", description: "d", schema: z.object({}) });
    expect(() => fromLangChainTool(spaced)).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
    expect(fromLangChainTool(spaced, { name: "my-tool" }).spec.name).toBe("my-tool");
    const list = new DynamicStructuredTool({
      name: "list",
      description: "d",
      schema: z.array(z.string()),
      func: async (items: string[]) => items.join(","),
    });
    expect(() => fromLangChainTool(list)).toThrow(expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }));
  });

  it("gives a string-input tool() an { input } object, as LangChain does", async () => {
    const upper = tool(async (text: string) => text.toUpperCase(), {
      name: "upper",
      description: "Upper-cases.",
      schema: z.string(),
    });
    const registry = new ToolRegistry().register(fromLangChainTool(upper));
    expect(registry.list()[0]?.input).toMatchObject({ properties: { input: { type: "string" } } });
    expect(expectOk(await registry.call("upper", { input: "abc" }, callContext().context))).toEqual({
      output: "ABC",
    });
  });
});

describe("langChainOutputToJson", () => {
  it("parses JSON strings, wraps other strings, unwraps message-like objects, rejects non-JSON", () => {
    expect(langChainOutputToJson('{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(langChainOutputToJson("not json")).toEqual({ output: "not json" });
    expect(langChainOutputToJson("")).toEqual({ output: "" });
    class FakeMessage {
      content = "inner";
    }
    expect(langChainOutputToJson(new FakeMessage())).toEqual({ output: "inner" });
    expect(() => langChainOutputToJson({ when: new Date(0) })).toThrow("not JSON");
  });
});

import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isEdgecrewError, toEdgecrewError } from "../../../src/errors.js";
import { ScriptedChatModel } from "../../../src/testing/index.js";

const planSchema = z.object({
  subtasks: z.array(z.object({ id: z.string(), worker: z.string(), dependsOn: z.array(z.string()) })),
});

const codeOf = (error: unknown) => (isEdgecrewError(error) ? error.code : `not an edgecrew error: ${error}`);

describe("ScriptedChatModel", () => {
  it("answers a multi-turn conversation in script order and records every prompt", async () => {
    const model = new ScriptedChatModel([
      "first",
      { content: "second" },
      (messages) => `echo: ${messages.at(-1)?.text}`,
    ]);
    expect(model._llmType()).toBe("scripted");

    const one = await model.invoke([new SystemMessage("be brief"), new HumanMessage("hello")]);
    const two = await model.invoke("again");
    const three = await model.invoke([new HumanMessage("third question")]);

    expect([one.content, two.content, three.content]).toEqual(["first", "second", "echo: third question"]);
    expect(model.callCount).toBe(3);
    expect(model.remaining).toBe(0);
    expect(model.calls.map((messages) => messages.map((m) => [m.type, m.text]))).toEqual([
      [
        ["system", "be brief"],
        ["human", "hello"],
      ],
      [["human", "again"]],
      [["human", "third question"]],
    ]);
  });

  it("attaches usage_metadata estimated at four characters a token", async () => {
    const model = new ScriptedChatModel(["12345678"]);
    const reply = await model.invoke([new HumanMessage("abcdefghi")]);
    expect(reply.usage_metadata).toEqual({ input_tokens: 3, output_tokens: 2, total_tokens: 5 });
  });

  it("gives the reply function the call index and bound tools, and awaits async replies", async () => {
    const seen: Array<[number, number]> = [];
    const model = new ScriptedChatModel([
      async (_messages, info) => {
        seen.push([info.index, info.tools.length]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return "later";
      },
    ]);
    const tool = { type: "function", function: { name: "search", description: "d", parameters: {} } };
    const reply = await model.bindTools([tool]).invoke("go");
    expect(reply.content).toBe("later");
    expect(seen).toEqual([[0, 1]]);
  });

  it("returns scripted tool calls, and bindTools shares the queue and the record", async () => {
    const model = new ScriptedChatModel([
      { tool_calls: [{ name: "search", args: { q: "weather" } }] },
      { content: "done", tool_calls: [{ name: "add", args: { a: 1, b: 2 }, id: "mine" }] },
      "plain",
    ]);
    const tool = {
      type: "function",
      function: { name: "search", description: "web search", parameters: {} },
    };
    const withTools = model.bindTools([tool]);
    expect(withTools).toBeInstanceOf(ScriptedChatModel);
    expect(withTools.boundTools).toEqual([tool]);
    expect(model.boundTools).toEqual([]);

    const first = await withTools.invoke("what's the weather?");
    expect(first.content).toBe("");
    expect(first.tool_calls).toEqual([
      { type: "tool_call", id: "call_0_0", name: "search", args: { q: "weather" } },
    ]);
    const second = await withTools.invoke([
      new HumanMessage("what's the weather?"),
      first,
      new HumanMessage("now add"),
    ]);
    expect(second.content).toBe("done");
    expect(second.tool_calls?.[0]).toMatchObject({ id: "mine", name: "add", args: { a: 1, b: 2 } });
    const third = await model.invoke("plain one");
    expect(third.content).toBe("plain");

    // One record across the base model and the bound one.
    expect(model.callCount).toBe(3);
    expect(withTools.callCount).toBe(3);
    expect(model.records.map((r) => r.tools.length)).toEqual([1, 1, 0]);
    expect(model.calls[1]?.[1]).toBeInstanceOf(AIMessage);
  });

  it("throws a clear INTERNAL error when the script runs out", async () => {
    const model = new ScriptedChatModel(["only"]);
    await model.invoke("one");
    const error = await model.invoke("two").catch((e: unknown) => e);
    expect(codeOf(error)).toBe("INTERNAL");
    expect((error as Error).message).toMatch(/ran out after 1 call\b/);
    expect(model.callCount).toBe(2);

    model.push("more");
    expect((await model.invoke("three")).content).toBe("more");
  });

  it("throws scripted errors, to simulate provider failures", async () => {
    const model = new ScriptedChatModel([new Error("rate limited"), "recovered"]);
    await expect(model.invoke("x")).rejects.toThrow("rate limited");
    expect((await model.invoke("y")).content).toBe("recovered");
  });

  describe("withStructuredOutput", () => {
    it("parses JSON content (fenced or not) and validates it with zod", async () => {
      const model = new ScriptedChatModel([
        '{"subtasks":[{"id":"s1","worker":"w","dependsOn":[]}]}',
        '```json\n{"subtasks":[]}\n```',
      ]);
      const structured = model.withStructuredOutput(planSchema);
      const plan = await structured.invoke("plan");
      expect(plan).toEqual({ subtasks: [{ id: "s1", worker: "w", dependsOn: [] }] });
      // The inferred type is the schema's output type.
      expect(plan.subtasks[0]?.worker).toBe("w");
      expect(await structured.invoke("plan again")).toEqual({ subtasks: [] });
      expect(model.callCount).toBe(2);
    });

    it("takes the first tool call's arguments when the reply calls a tool", async () => {
      const model = new ScriptedChatModel([
        {
          tool_calls: [
            { name: "extract", args: { subtasks: [] } },
            { name: "other", args: { x: 1 } },
          ],
        },
      ]);
      expect(await model.withStructuredOutput(planSchema).invoke("plan")).toEqual({ subtasks: [] });
    });

    it("rejects with OUTPUT_INVALID naming the failing paths, or when the reply is not JSON", async () => {
      const model = new ScriptedChatModel([
        '{"subtasks":[{"id":1,"worker":"w","dependsOn":[]}]}',
        "not json",
      ]);
      const structured = model.withStructuredOutput(planSchema);
      const invalid = await structured.invoke("plan").catch((e: unknown) => e);
      expect(codeOf(invalid)).toBe("OUTPUT_INVALID");
      expect((invalid as { errors: string[] }).errors).toEqual([
        expect.stringMatching(/^subtasks\.0\.id: .*string/i),
      ]);
      const notJson = await structured.invoke("plan").catch((e: unknown) => e);
      expect(codeOf(notJson)).toBe("OUTPUT_INVALID");
      expect((notJson as Error).message).toMatch(/not valid JSON/);
    });

    it("returns { raw, parsed } with includeRaw, and parsed null when parsing fails", async () => {
      const model = new ScriptedChatModel(['{"subtasks":[]}', '{"subtasks":"nope"}']);
      const structured = model.withStructuredOutput(planSchema, { includeRaw: true });
      const ok = await structured.invoke("plan");
      expect(ok.parsed).toEqual({ subtasks: [] });
      expect(ok.raw.content).toBe('{"subtasks":[]}');
      const bad = await structured.invoke("plan");
      expect(bad.parsed).toBeNull();
      expect(bad.raw.content).toBe('{"subtasks":"nope"}');
    });

    it("accepts a plain JSON-Schema object and returns the parsed JSON", async () => {
      const model = new ScriptedChatModel(['{"answer": 42}']);
      const structured = model.withStructuredOutput({
        type: "object",
        properties: { answer: { type: "number" } },
      });
      expect(await structured.invoke("q")).toEqual({ answer: 42 });
    });
  });

  describe("abort", () => {
    it("rejects without consuming a reply when the signal is already aborted", async () => {
      const model = new ScriptedChatModel(["kept"]);
      const controller = new AbortController();
      controller.abort();
      const error = await model.invoke("x", { signal: controller.signal }).catch((e: unknown) => e);
      expect(toEdgecrewError(error).code).toBe("ABORTED");
      expect(model.remaining).toBe(1);
      expect((await model.invoke("y")).content).toBe("kept");
    });

    it("rejects a call in flight when the signal aborts during the delay", async () => {
      const model = new ScriptedChatModel({ replies: ["slow", "next"], delayMs: 5_000 });
      const controller = new AbortController();
      const started = Date.now();
      const pending = model.invoke("x", { signal: controller.signal }).catch((e: unknown) => e);
      setTimeout(() => controller.abort(), 10);
      const error = await pending;
      expect(toEdgecrewError(error).code).toBe("ABORTED");
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(model.remaining).toBe(2);
    });

    it("aborts structured-output calls too", async () => {
      const model = new ScriptedChatModel({ replies: ['{"subtasks":[]}'], delayMs: 5_000 });
      const controller = new AbortController();
      const pending = model
        .withStructuredOutput(planSchema)
        .invoke("plan", { signal: controller.signal })
        .catch((e: unknown) => e);
      const started = Date.now();
      controller.abort(new Error("user cancelled"));
      // LangChain's runnable layer rejects with the signal's reason itself; the scripted call stops too.
      const error = await pending;
      expect((error as Error).message).toMatch(/user cancelled/);
      expect(Date.now() - started).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(model.remaining).toBe(1);
    });
  });
});

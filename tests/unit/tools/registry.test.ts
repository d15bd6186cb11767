import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ErrorCodes, isAbortError } from "../../../src/errors.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import { keptByteLength, truncateToFit } from "../../../src/tools/jsonValue.js";
import { type ApprovalRequest, ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { JsonValue } from "../../../src/types.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const add = defineTool({
  name: "add",
  description: "Adds two numbers.",
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  idempotent: true,
  run: async ({ a, b }) => ({ sum: a + b }),
});

function family(prefix: string, verbs: readonly string[]) {
  return verbs.map((verb) =>
    defineTool({
      name: `${prefix}.${verb}`,
      description: `${verb} things`,
      input: z.object({}),
      run: async () => verb,
    }),
  );
}

function registryWith(...tools: Parameters<ToolRegistry["register"]>[0][]) {
  const registry = new ToolRegistry();
  for (const tool of tools) registry.register(tool);
  return registry;
}

describe("ToolRegistry.call", () => {
  it("runs a valid call and emits tool.called then tool.result", async () => {
    let clock = 100;
    const registry = new ToolRegistry({ now: () => (clock += 5) }).register(add);
    const { context, events } = callContext();
    const result = await registry.call("add", { a: 2, b: 3 }, context);
    expect(result).toEqual({ ok: true, output: { sum: 5 } });
    expect(events).toEqual([
      { type: "tool.called", subtaskId: "s1", tool: "add", args: { a: 2, b: 3 } },
      { type: "tool.result", subtaskId: "s1", tool: "add", result, ms: 5 },
    ]);
  });

  it("returns invalid-input with path: message errors and does not run the tool", async () => {
    const run = vi.fn(async () => ({ sum: 0 }));
    const registry = registryWith(
      defineTool({ name: "add", description: "d", input: z.object({ a: z.number(), b: z.number() }), run }),
    );
    const { context, events } = callContext();
    const error = expectFailure(await registry.call("add", { a: "two" }, context), "invalid-input");
    expect(error).toContain("- a: ");
    expect(error).toContain("- b: ");
    expect(run).not.toHaveBeenCalled();
    expect(events.map((event) => event.type)).toEqual(["tool.called", "tool.result"]);
  });

  it("answers an unknown tool with not-granted and a suggestion", async () => {
    const registry = registryWith(add);
    const error = expectFailure(await registry.call("ad", {}, callContext().context), "not-granted");
    expect(error).toContain("did you mean `add`?");
  });

  it("turns a throwing tool into failed with its message", async () => {
    const registry = registryWith(
      defineTool({
        name: "boom",
        description: "d",
        input: z.object({}),
        run: async () => {
          throw new Error("disk on fire");
        },
      }),
      defineTool({
        name: "sync-boom",
        description: "d",
        input: z.object({}),
        run: () => {
          throw new TypeError("not even async");
        },
      }),
    );
    expect(expectFailure(await registry.call("boom", {}, callContext().context), "failed")).toContain(
      "disk on fire",
    );
    expect(expectFailure(await registry.call("sync-boom", {}, callContext().context), "failed")).toContain(
      "not even async",
    );
  });

  it("fails a tool whose output breaks its schema or is not JSON", async () => {
    const registry = registryWith(
      defineTool({
        name: "liar",
        description: "d",
        input: z.object({}),
        output: z.object({ n: z.number() }),
        run: async () => ({ n: "one" }) as unknown as { n: number },
      }),
      defineTool({
        name: "nan",
        description: "d",
        input: z.object({}),
        run: async () => ({ n: Number.NaN }),
      }),
    );
    expect(expectFailure(await registry.call("liar", {}, callContext().context), "failed")).toContain("n: ");
    expect(expectFailure(await registry.call("nan", {}, callContext().context), "failed")).toContain(
      "NaN is not a JSON value",
    );
  });

  it("times out a slow tool and aborts the tool's own signal", async () => {
    let toolSignal: AbortSignal | undefined;
    const registry = new ToolRegistry({ timeoutMs: 50 }).register(
      defineTool({
        name: "slow",
        description: "d",
        input: z.object({}),
        // Ignores its signal on purpose: the registry must not wait for it.
        run: async (_args, { signal }) => {
          toolSignal = signal;
          await new Promise((resolve) => setTimeout(resolve, 5_000));
          return null;
        },
      }),
    );
    const started = Date.now();
    const error = expectFailure(await registry.call("slow", {}, callContext().context), "timeout");
    expect(error).toContain("50 ms");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(toolSignal?.aborted).toBe(true);
  });

  it("lets a tool's own timeout override the registry default", async () => {
    const registry = new ToolRegistry({ timeoutMs: 10_000 }).register(
      defineTool({
        name: "slow",
        description: "d",
        input: z.object({}),
        timeoutMs: 30,
        run: () => new Promise<null>(() => undefined),
      }),
    );
    expectFailure(await registry.call("slow", {}, callContext().context), "timeout");
  });

  it("rejects with AbortError when the run is cancelled, and aborts the tool", async () => {
    let toolSignal: AbortSignal | undefined;
    const registry = registryWith(
      defineTool({
        name: "wait",
        description: "d",
        input: z.object({}),
        run: (_args, { signal }) => {
          toolSignal = signal;
          return new Promise<null>(() => undefined);
        },
      }),
    );
    const { context, controller } = callContext();
    const pending = registry.call("wait", {}, context);
    setTimeout(() => controller.abort(new Error("user pressed ctrl-c")), 20);
    const error: unknown = await pending.catch((caught: unknown) => caught);
    expect(isAbortError(error)).toBe(true);
    expect(toolSignal?.aborted).toBe(true);
  });

  it("rejects at once when the signal is already aborted, without running anything", async () => {
    const run = vi.fn(async () => null);
    const registry = registryWith(defineTool({ name: "t", description: "d", input: z.object({}), run }));
    const { context, controller, events } = callContext();
    controller.abort();
    await expect(registry.call("t", {}, context)).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    expect(run).not.toHaveBeenCalled();
    expect(events).toEqual([]);
  });

  it("fails an oversized output instead of truncating it, and honours a per-tool cap", async () => {
    const big = (name: string, maxOutputBytes?: number) =>
      defineTool({
        name,
        description: "d",
        input: z.object({}),
        ...(maxOutputBytes !== undefined ? { maxOutputBytes } : {}),
        run: async () => ({ text: "x".repeat(2_000) }),
      });
    const registry = new ToolRegistry({ maxOutputBytes: 1_024 })
      .register(big("big"))
      .register(big("roomy", 4_096));
    const error = expectFailure(await registry.call("big", {}, callContext().context), "failed");
    expect(error).toMatch(/returned 2\.0 KiB of output, over the 1\.0 KiB limit/);
    expectOk(await registry.call("roomy", {}, callContext().context));
  });

  it("caps the bytes an output keeps, not its JSON escaping (issue 12, finding 8)", async () => {
    const text = "\u0001".repeat(60_000);
    const controls = defineTool({
      name: "controls",
      description: "d",
      input: z.object({}),
      run: async () => ({ text }),
    });
    const registry = new ToolRegistry({ maxOutputBytes: 65_536 }).register(controls);
    // 360 000 bytes once escaped, 60 011 kept: under the cap.
    expect(expectOk(await registry.call("controls", {}, callContext().context))).toEqual({ text });
  });

  it("cuts an output that has a truncated field to the cap, longest strings first, and says so", async () => {
    const flood = defineTool({
      name: "flood",
      description: "d",
      input: z.object({}),
      output: z.object({ stdout: z.string(), stderr: z.string(), truncated: z.boolean() }),
      // 2 000 replacement characters: 6 000 bytes kept, from what may have been 2 000 raw bytes.
      run: async () => ({ stdout: "\uFFFD".repeat(2_000), stderr: "warning: x", truncated: false }),
    });
    const registry = new ToolRegistry({ maxOutputBytes: 1_024 }).register(flood);
    const output = expectOk(await registry.call("flood", {}, callContext().context)) as {
      stdout: string;
      stderr: string;
      truncated: boolean;
    };
    expect(output.truncated).toBe(true);
    expect(output.stderr).toBe("warning: x");
    expect(output.stdout).toMatch(/^\uFFFD+$/);
    expect(keptByteLength(output)).toBeLessThanOrEqual(1_024);
    expect(keptByteLength(output)).toBeGreaterThan(1_000);
  });

  it("fails an output that cannot be cut to the cap, or whose cut no longer matches its schema", async () => {
    const keys = defineTool({
      name: "keys",
      description: "d",
      input: z.object({}),
      run: async () => ({
        truncated: false,
        ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key${i}`, i])),
      }),
    });
    const strict = defineTool({
      name: "strict",
      description: "d",
      input: z.object({}),
      output: z.object({ text: z.string().min(1_500), truncated: z.boolean() }),
      run: async () => ({ text: "y".repeat(2_000), truncated: false }),
    });
    const registry = new ToolRegistry({ maxOutputBytes: 1_024 }).register(keys).register(strict);
    for (const name of ["keys", "strict"]) {
      expect(expectFailure(await registry.call(name, {}, callContext().context), "failed")).toMatch(
        /over the 1\.0 KiB limit; ask for less/,
      );
    }
  });

  it("keeps going when an event listener throws", async () => {
    const registry = registryWith(add);
    const { context } = callContext({
      emit: () => {
        throw new Error("listener bug");
      },
    });
    expect(expectOk(await registry.call("add", { a: 1, b: 1 }, context))).toEqual({ sum: 2 });
  });
});

describe("approval", () => {
  const guarded = defineTool({
    name: "deploy",
    description: "Deploys.",
    input: z.object({ env: z.string() }),
    approve: true,
    run: async ({ env }) => ({ deployed: env }),
  });

  it("runs the tool when the approver says yes, and tells it who asks", async () => {
    const requests: ApprovalRequest[] = [];
    const registry = new ToolRegistry({
      onApproval: async (request) => {
        requests.push(request);
        return true;
      },
    }).register(guarded);
    const { context } = callContext();
    expect(expectOk(await registry.call("deploy", { env: "prod" }, context))).toEqual({ deployed: "prod" });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      tool: guarded.spec,
      args: { env: "prod" },
      subtaskId: "s1",
      worker: "alpha",
    });
  });

  it("denies when the approver says no, throws, or there is no approver", async () => {
    const run = vi.fn(async () => null);
    const tool = defineTool({ name: "deploy", description: "d", input: z.object({}), approve: true, run });
    const no = new ToolRegistry({ onApproval: async () => false }).register(tool);
    expect(expectFailure(await no.call("deploy", {}, callContext().context), "denied")).toContain("denied");
    const broken = new ToolRegistry({
      onApproval: async () => {
        throw new Error("tty closed");
      },
    }).register(tool);
    expect(expectFailure(await broken.call("deploy", {}, callContext().context), "denied")).toContain(
      "tty closed",
    );
    const none = registryWith(tool);
    expect(expectFailure(await none.call("deploy", {}, callContext().context), "denied")).toContain(
      "no approver is configured",
    );
    expect(run).not.toHaveBeenCalled();
  });

  it("does not ask for approval when the arguments are invalid", async () => {
    const onApproval = vi.fn(async () => true);
    const registry = new ToolRegistry({ onApproval }).register(guarded);
    expectFailure(await registry.call("deploy", { env: 1 }, callContext().context), "invalid-input");
    expect(onApproval).not.toHaveBeenCalled();
  });

  it("stops waiting for approval when the run is cancelled", async () => {
    const registry = new ToolRegistry({ onApproval: () => new Promise<boolean>(() => undefined) }).register(
      guarded,
    );
    const { context, controller } = callContext();
    const pending = registry.call("deploy", { env: "prod" }, context);
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
  });
});

describe("registration, listing and scoped views", () => {
  it("refuses duplicate names", () => {
    const registry = registryWith(add);
    expect(() => registry.register(add)).toThrow(expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }));
  });

  it("lists all tools, named tools, and whole families by their prefix", () => {
    const registry = registryWith(add, ...family("fs", ["read", "list"]), ...family("fsx", ["go"]));
    expect(registry.list().map((spec) => spec.name)).toEqual(["add", "fs.read", "fs.list", "fsx.go"]);
    expect(registry.list(["fs"]).map((spec) => spec.name)).toEqual(["fs.read", "fs.list"]);
    expect(registry.list(["fs.list", "add"]).map((spec) => spec.name)).toEqual(["add", "fs.list"]);
  });

  it("throws TOOL_NOT_FOUND with a suggestion for an unknown name in list", () => {
    const registry = registryWith(add, ...family("fs", ["read"]));
    expect(() => registry.list(["fs.raed"])).toThrow(
      expect.objectContaining({
        code: ErrorCodes.TOOL_NOT_FOUND,
        message: expect.stringContaining("`fs.read`"),
      }),
    );
  });

  it("gives a scoped view only the granted tools; anything else is not-granted", async () => {
    const registry = registryWith(add, ...family("fs", ["read", "write"]), ...family("shell", ["run"]));
    const view = registry.scoped(["fs", "add"]);
    expect(view.list().map((spec) => spec.name)).toEqual(["add", "fs.read", "fs.write"]);
    expect(view.has("fs.write")).toBe(true);
    expect(view.has("shell.run")).toBe(false);
    expect(expectOk(await view.call("fs.read", {}, callContext().context))).toBe("read");
    const error = expectFailure(await view.call("shell.run", {}, callContext().context), "not-granted");
    expect(error).not.toContain("shell.run;");
    expect(error).toContain("available tools: add, fs.read, fs.write");
    expect(() => view.list(["shell"])).toThrow(expect.objectContaining({ code: ErrorCodes.TOOL_NOT_FOUND }));
    expect(() => registry.scoped(["nope"])).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_NOT_FOUND }),
    );
  });

  it("narrows views without ever widening them", async () => {
    const registry = registryWith(...family("fs", ["read", "write"]));
    const readOnly = registry.scoped(["fs.read"]);
    // `fs` names the family, but the outer view only grants fs.read.
    const inner = readOnly.scoped(["fs"]);
    expect(inner.list().map((spec) => spec.name)).toEqual(["fs.read"]);
    expectFailure(await inner.call("fs.write", {}, callContext().context), "not-granted");
    expect(() => readOnly.scoped(["fs.write"])).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_NOT_FOUND }),
    );
  });

  it("an empty grant list sees no tools", async () => {
    const registry = registryWith(add);
    const view = registry.scoped([]);
    expect(view.list()).toEqual([]);
    expectFailure(await view.call("add", { a: 1, b: 2 }, callContext().context), "not-granted");
  });

  it("rejects non-positive registry limits", () => {
    expect(() => new ToolRegistry({ timeoutMs: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
  });
});

describe("keptByteLength and truncateToFit", () => {
  it("counts strings by their UTF-8 bytes and everything else by its JSON text", () => {
    const values: JsonValue[] = [
      null,
      true,
      12.5,
      "abc",
      "é€😀",
      [],
      {},
      [1, "x", { a: [null] }],
      { "k é": "v" },
    ];
    for (const value of values) {
      expect(keptByteLength(value), JSON.stringify(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
    }
    // {"s":"␀␀"} keeps 10 bytes; escaped, {"s":"\u0000\u0000"} is 20.
    expect(keptByteLength({ s: "\u0000\u0000" })).toBe(10);
  });

  it("cuts between characters, never inside one", () => {
    const cut = truncateToFit({ text: "😀".repeat(10), truncated: false }, 30);
    expect(cut).toBeDefined();
    const text = (cut as { text: string }).text;
    expect(text).toBe("😀".repeat(text.length / 2));
    expect(keptByteLength(cut ?? null)).toBeLessThanOrEqual(30);
  });

  it("returns the value unchanged but marked when it already fits, and undefined without a truncated field", () => {
    expect(truncateToFit({ a: "x", truncated: false }, 100)).toEqual({ a: "x", truncated: true });
    expect(truncateToFit({ a: "x".repeat(100) }, 10)).toBeUndefined();
    expect(truncateToFit(["x".repeat(100)], 10)).toBeUndefined();
  });
});

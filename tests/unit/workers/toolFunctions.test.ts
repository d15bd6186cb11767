import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool } from "../../../src/tools/defineTool.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import type { ToolCallContext, ToolRegistryPort, ToolSpec } from "../../../src/types.js";
import { grantedView, toolFunctions, workerTools } from "../../../src/workers/workerTools.js";

const echo = (name: string) =>
  defineTool({
    name,
    description: `${name} does things`,
    input: z.object({
      day: z.int().min(1).max(7),
      city: z.string(),
      note: z.string().max(20).nullable().optional(),
    }),
    run: async (args) => ({ echoed: args.day }),
  });

function registry(): ToolRegistry {
  return new ToolRegistry().register(echo("fs.read")).register(echo("fs.list")).register(echo("shell.run"));
}

const context: ToolCallContext = {
  signal: new AbortController().signal,
  emit: () => undefined,
  runId: "run-1",
  subtaskId: "s1",
  worker: "w",
};

describe("workerTools", () => {
  it("offers only the granted tools (a family grant expands), as chat functions", () => {
    const tools = workerTools(registry(), ["fs"]);
    expect(Object.keys(tools?.functions ?? {})).toEqual(["fs.read", "fs.list"]);
    expect(tools?.specs.map((spec) => spec.name)).toEqual(["fs.read", "fs.list"]);
    expect(tools?.functions["fs.read"]?.description).toBe("fs.read does things");
    expect(tools?.callable.map((tool) => tool.name)).toEqual(["fs.read", "fs.list"]);
  });

  it("returns undefined for a worker granted nothing, and throws TOOL_NOT_FOUND for an unknown grant", () => {
    expect(workerTools(registry(), [])).toBeUndefined();
    expect(() => workerTools(registry(), ["fs.raed"])).toThrow(
      expect.objectContaining({ code: "TOOL_NOT_FOUND" }),
    );
  });

  it("the granted view refuses other tools as data", async () => {
    const view = workerTools(registry(), ["fs.read"])?.registry as ToolRegistryPort;
    expect(await view.call("shell.run", { day: 1, city: "x" }, context)).toMatchObject({
      ok: false,
      reason: "not-granted",
    });
    expect(await view.call("fs.read", { day: 1, city: "x" }, context)).toEqual({
      ok: true,
      output: { echoed: 1 },
    });
  });
});

describe("toolFunctions", () => {
  it("documents each input schema as the model's template will render it (2020-12 spelling, nothing dropped)", () => {
    const [spec] = registry().list(["fs.read"]);
    const documented = toolFunctions([spec as ToolSpec])["fs.read"];
    expect(documented?.description).toBe(spec?.description);
    expect(documented?.params).toEqual(spec?.input);
  });
});

describe("grantedView over a port without scoping", () => {
  it("passes granted calls through and refuses the rest before they reach the port", async () => {
    const calls: string[] = [];
    const inner = registry();
    const port: ToolRegistryPort = {
      list: (names) => inner.list(names),
      call: (name, args, ctx) => {
        calls.push(name);
        return inner.call(name, args, ctx);
      },
    };
    const view = grantedView(port, ["fs"]);
    expect(view.list().map((spec) => spec.name)).toEqual(["fs.read", "fs.list"]);
    expect(await view.call("shell.run", {}, context)).toMatchObject({ ok: false, reason: "not-granted" });
    expect(await view.call("fs.list", { day: 2, city: "y" }, context)).toMatchObject({ ok: true });
    expect(calls).toEqual(["fs.list"]);
  });
});

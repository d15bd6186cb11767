/**
 * Loading the tool of a `- langchain:` entry (the tools layer's one module loader): a tool() tool, a
 * DynamicStructuredTool, a function factory called with `options`, an async one, a class factory constructed with
 * them; and every bad value a TOOL_INVALID error naming the agent file, the module and the export, with the key
 * at fault in `context.field`.
 */
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCodes, isEdgecrewError } from "../../../src/errors.js";
import { loadLangChainTool, loadLangChainTools } from "../../../src/tools/langchainModule.js";
import type { JsonObject, LangChainToolConfig, ToolCallContext } from "../../../src/types.js";

const fixtureDir = resolve(import.meta.dirname, "../../fixtures/langchainTools");
const CALLS = Symbol.for("edgecrew.tests.langchainTools.calls");
const WHERE = "agents/trip.yaml: tools[0]";

function entry(exported: string, more: Partial<LangChainToolConfig> = {}): LangChainToolConfig {
  return {
    kind: "langchain",
    module: "./tools.mjs",
    path: join(fixtureDir, "tools.mjs"),
    export: exported,
    ...more,
  };
}

function calls(): { name: string; args: JsonObject }[] {
  const holder = globalThis as unknown as Record<symbol, { name: string; args: JsonObject }[] | undefined>;
  holder[CALLS] ??= [];
  return holder[CALLS];
}

const context = (): ToolCallContext => ({ signal: new AbortController().signal }) as ToolCallContext;

async function failure(config: LangChainToolConfig): Promise<{ message: string; context: JsonObject }> {
  try {
    await loadLangChainTool(config, WHERE);
  } catch (error) {
    if (!isEdgecrewError(error)) throw error;
    expect(error.code).toBe(ErrorCodes.TOOL_INVALID);
    return { message: error.message, context: error.context as JsonObject };
  }
  throw new Error("expected the entry to be refused");
}

describe("loadLangChainTool", () => {
  it("adapts a tool() export; its own name, not idempotent, no approval by default; it runs", async () => {
    const tool = await loadLangChainTool(entry("weatherTool"), WHERE);
    expect(tool.spec).toMatchObject({ name: "weather", idempotent: false, approve: false });
    expect(tool.spec.input).toMatchObject({ type: "object", properties: { city: { type: "string" } } });
    const before = calls().length;
    await expect(tool.run({ city: "Oslo" }, context())).resolves.toEqual({
      city: "Oslo",
      sky: "clear",
      celsius: 21,
    });
    expect(calls().slice(before)).toEqual([{ name: "weather", args: { city: "Oslo" } }]);
  });

  it("adapts the default export, and a DynamicStructuredTool renamed, idempotent, with approval", async () => {
    expect((await loadLangChainTool(entry("default"), WHERE)).spec.name).toBe("weather");
    const tool = await loadLangChainTool(
      entry("shout", { name: "loud", idempotent: true, approve: true }),
      WHERE,
    );
    expect(tool.spec).toMatchObject({ name: "loud", idempotent: true, approve: true });
    await expect(tool.run({ text: "hi" }, context())).resolves.toEqual({ output: "HI" });
  });

  it("calls a function factory with `options`, awaits an async one, constructs a class", async () => {
    const forecast = await loadLangChainTool(
      entry("makeWeatherTool", { options: { units: "imperial" } }),
      WHERE,
    );
    expect(forecast.spec.name).toBe("forecast");
    expect(forecast.spec.description).toBe("The forecast of a city, in imperial units.");
    await expect(forecast.run({ city: "Rome" }, context())).resolves.toEqual({
      city: "Rome",
      units: "imperial",
      sky: "clear",
    });
    expect((await loadLangChainTool(entry("makeWeatherTool"), WHERE)).spec.description).toContain("metric");
    expect((await loadLangChainTool(entry("makeShoutAsync"), WHERE)).spec.name).toBe("shout");
    const greet = await loadLangChainTool(entry("GreeterTool", { options: { greeting: "Ciao" } }), WHERE);
    await expect(greet.run({ who: "Ada" }, context())).resolves.toEqual({ output: "Ciao, Ada!" });
  });

  it("a missing module, or one that fails to load, is TOOL_INVALID at `module`", async () => {
    const missing = await failure(
      entry("default", { path: join(fixtureDir, "nope.mjs"), module: "./nope.mjs" }),
    );
    expect(missing.message).toBe(
      `${WHERE} (langchain module ./nope.mjs, export \`default\`): module not found: ${join(fixtureDir, "nope.mjs")}`,
    );
    expect(missing.context).toMatchObject({ module: "./nope.mjs", export: "default", field: "module" });
    const broken = await failure(
      entry("default", { path: join(fixtureDir, "broken.mjs"), module: "./broken.mjs" }),
    );
    expect(broken.message).toBe(
      `${WHERE} (langchain module ./broken.mjs, export \`default\`): the module failed to load: boom at load`,
    );
  });

  it("a missing export names what the module does export", async () => {
    const missing = await failure(entry("weather"));
    expect(missing.message).toContain(
      `${WHERE} (langchain module ./tools.mjs, export \`weather\`): the module has no export \`weather\`; it exports`,
    );
    expect(missing.message).toContain("`weatherTool`");
    expect(missing.context.field).toBe("export");
    const empty = await failure(
      entry("default", { path: join(fixtureDir, "empty.mjs"), module: "./empty.mjs" }),
    );
    expect(empty.message).toContain("the module has no export `default`; it exports nothing");
  });

  it("a value that is not a LangChain tool, a failing factory, options on a tool, a bad own name", async () => {
    const notTool = await failure(entry("notATool"));
    expect(notTool.message).toBe(
      `${WHERE} (langchain module ./tools.mjs, export \`notATool\`): the export is an object, not a LangChain tool (tool(), StructuredTool, DynamicStructuredTool) nor a factory of one`,
    );
    expect(notTool.context.field).toBe("export");
    const broken = await failure(entry("brokenFactory", { options: { key: "x" } }));
    expect(broken.message).toContain(
      'the factory (a function) threw when called with {"key":"x"}: no API key configured',
    );
    expect(broken.context.field).toBe("options");
    const options = await failure(entry("weatherTool", { options: { units: "metric" } }));
    expect(options.message).toContain("the export is a tool already, not a factory");
    expect(options.context.field).toBe("options");
    const spaced = await failure(entry("spaced"));
    expect(spaced.message).toContain("bad name");
    expect(spaced.context.field).toBe("export");
    // A rename makes it usable.
    expect((await loadLangChainTool(entry("spaced", { name: "spaced" }), WHERE)).spec.name).toBe("spaced");
  });

  it("loadLangChainTools loads only the langchain entries, naming the agent file and index", async () => {
    const tools = await loadLangChainTools(
      [{ kind: "builtin", name: "calculator", options: {} }, entry("shout"), entry("weatherTool")],
      "agents/trip.yaml",
    );
    expect(tools.map((tool) => tool.spec.name)).toEqual(["shout", "weather"]);
    await expect(
      loadLangChainTools(
        [{ kind: "builtin", name: "calculator", options: {} }, entry("nope")],
        "agents/trip.yaml",
      ),
    ).rejects.toThrow("agents/trip.yaml: tools[1] (langchain module ./tools.mjs, export `nope`)");
  });
});

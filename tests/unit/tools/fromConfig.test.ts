import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCodes } from "../../../src/errors.js";
import { createBuiltinTool, createRegistryFromConfig } from "../../../src/tools/builtins/fromConfig.js";
import { defineTool } from "../../../src/tools/defineTool.js";
import type { BuiltinToolConfig } from "../../../src/types.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "edgecrew-config-"));
  await writeFile(join(root, "a.txt"), "A");
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const names = (config: BuiltinToolConfig) => createBuiltinTool(config).map((tool) => tool.spec.name);

describe("createBuiltinTool", () => {
  it("maps each built-in to its family of tools", () => {
    expect(names({ kind: "builtin", name: "calculator", options: {} })).toEqual(["calculator"]);
    expect(names({ kind: "builtin", name: "fs", options: { root } })).toEqual(["fs.read", "fs.list"]);
    expect(names({ kind: "builtin", name: "fs", options: { root, write: true, maxBytes: 10 } })).toEqual([
      "fs.read",
      "fs.list",
      "fs.write",
    ]);
    expect(
      names({ kind: "builtin", name: "http", options: { allow: ["https://api.example.com/*"] } }),
    ).toEqual(["http.get"]);
    expect(
      names({
        kind: "builtin",
        name: "http",
        options: { allow: ["https://a.example/*"], methods: ["GET", "PUT"] },
      }),
    ).toEqual(["http.get", "http.request"]);
    expect(names({ kind: "builtin", name: "shell", options: { allow: ["ls"] } })).toEqual(["shell.run"]);
  });

  it("uses the built-in timeouts as the tools' own call timeouts", () => {
    const [get] = createBuiltinTool({
      kind: "builtin",
      name: "http",
      options: { allow: ["https://a.example/*"], timeoutMs: 1234 },
    });
    expect(get?.timeoutMs).toBe(1234);
  });

  it.each<[string, BuiltinToolConfig]>([
    ["options for the calculator", { kind: "builtin", name: "calculator", options: { precision: 2 } }],
    ["an fs tool without a root", { kind: "builtin", name: "fs", options: {} }],
    ["an unknown fs option", { kind: "builtin", name: "fs", options: { root: "/tmp", writable: true } }],
    ["an http tool without an allow-list", { kind: "builtin", name: "http", options: { allow: [] } }],
    ["a malformed URL pattern", { kind: "builtin", name: "http", options: { allow: ["api.example.com"] } }],
    [
      "an unknown HTTP method",
      { kind: "builtin", name: "http", options: { allow: ["https://a.b/"], methods: ["TRACE"] } },
    ],
    ["a shell command with a path", { kind: "builtin", name: "shell", options: { allow: ["/bin/sh"] } }],
  ])("throws TOOL_INVALID for %s", (_label, config) => {
    expect(() => createBuiltinTool(config)).toThrow(
      expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }),
    );
  });
});

describe("createRegistryFromConfig", () => {
  const weather = defineTool({
    name: "weather",
    description: "Weather.",
    input: z.object({ city: z.string() }),
    run: async ({ city }) => ({ city, celsius: 21 }),
  });

  it("registers built-ins and extra tools, and scopes by config names", async () => {
    const registry = createRegistryFromConfig(
      [
        { kind: "builtin", name: "calculator", options: {} },
        { kind: "builtin", name: "fs", options: { root, write: false, maxBytes: 1024 } },
      ],
      { tools: [weather], timeoutMs: 5_000 },
    );
    expect(registry.list().map((spec) => spec.name)).toEqual(["calculator", "fs.read", "fs.list", "weather"]);
    const worker = registry.scoped(["fs"]);
    expect(expectOk(await worker.call("fs.read", { path: "a.txt" }, callContext().context))).toEqual({
      content: "A",
    });
    expectFailure(
      await worker.call("calculator", { expression: "1+1" }, callContext().context),
      "not-granted",
    );
  });

  it("refuses a duplicate name", () => {
    expect(() =>
      createRegistryFromConfig([{ kind: "builtin", name: "calculator", options: {} }], {
        tools: [
          defineTool({ name: "calculator", description: "d", input: z.object({}), run: async () => 1 }),
        ],
      }),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.TOOL_INVALID }));
  });
});

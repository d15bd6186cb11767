/**
 * `validate`'s context check (checkPromptFit) for Tool RAG: a worker offered every granted tool must fit them
 * all; a worker with `toolSearch` is offered at least one, so it must fit its smallest tool alone with room for a
 * call and the answer — and is refused, with the context it needs, when even that does not fit.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../../src/config/index.js";
import { createRegistryFromConfig } from "../../../src/tools/index.js";
import type { BuiltinToolConfig } from "../../../src/types.js";
import { checkPromptFit } from "../../../src/workers/promptFit.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-fit-toolsearch-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function agent(contextSize: number, toolSearch?: { k: number }) {
  return defineAgent({
    name: "fit",
    description: "d",
    planner: { model: "scripted:planner" },
    workers: [
      {
        name: "files",
        description: "Works with files",
        model: "fixture:w",
        tools: ["fs"],
        ...(toolSearch === undefined ? {} : { toolSearch }),
        context: { size: contextSize },
        maxTokens: 64,
      },
    ],
    tools: [{ fs: { root: dir } }],
  });
}

async function problems(contextSize: number, toolSearch?: { k: number }) {
  const definition = agent(contextSize, toolSearch);
  const builtins = definition.tools.filter((tool): tool is BuiltinToolConfig => tool.kind === "builtin");
  const found = await checkPromptFit(definition, {
    tools: createRegistryFromConfig(builtins),
    fixtureCacheDir: join(dir, "fixtures"),
  });
  return found.map((problem) => `${problem.worker}: ${problem.message}`);
}

describe("checkPromptFit with toolSearch", () => {
  it("refuses a worker whose context cannot hold even its smallest tool, and names the context it needs", async () => {
    const [message, ...rest] = await problems(256, { k: 2 });
    expect(rest).toEqual([]);
    expect(message).toMatch(
      /^files: it cannot be offered even one tool: its prompt with only its smallest tool \(fs\.\w+\) takes (\d+) tokens; with maxTokens 64 for a call and for the answer it needs a context of (\d+) tokens, more than its context of 256 tokens$/,
    );
    const [, , prompt, needed] =
      message?.match(/\((fs\.\w+)\) takes (\d+) tokens.*context of (\d+) tokens, more/) ?? [];
    expect(Number(needed)).toBe(Number(prompt) + 2 * 64);
    // With the context it asked for, the same worker passes.
    expect(await problems(Number(needed), { k: 2 })).toEqual([]);
  });

  it("accepts a worker with toolSearch whose context cannot hold all its tools, which it refuses without", async () => {
    const [all] = await problems(1500);
    expect(all).toMatch(
      /^files: its prompt before any instruction takes \d+ tokens \(system prompt, answer description, \d+ tool descriptions\); with maxTokens 64 that is \d+, more than its context of 1500 tokens; toolSearch: \{ k \} offers each subtask only its most relevant tools$/,
    );
    expect(await problems(1500, { k: 2 })).toEqual([]);
  });
});

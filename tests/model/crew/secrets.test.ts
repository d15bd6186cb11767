/**
 * Issue 12, finding 5, through the library on a real fixture worker: a secret used as an object key reached
 * events.jsonl and tools.jsonl unredacted; a secret split across two strings survived; the RunResult carried it
 * raw in `task`, the instructions and the answer. Here a code tool answers with the secret as a key and split
 * over two fields, the task, the plan's instruction and the joined answer all hold it, and nothing of it may
 * reach the run directory, the events or the RunResult — unless the caller asks for the raw result.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { ScriptedChatModel } from "../../../src/testing/scriptedChatModel.js";
import { defineTool } from "../../../src/tools/index.js";
import type { RunEvent } from "../../../src/types.js";

const SECRET = "tok-0f9e8d7c6b5a-secret";
const HEAD = SECRET.slice(0, 11);
const TAIL = SECRET.slice(11);

let fixtureCacheDir: string;
let runDir: string;
beforeAll(async () => {
  fixtureCacheDir = await mkdtemp(join(tmpdir(), "edgecrew-secrets-fixtures-"));
  runDir = await mkdtemp(join(tmpdir(), "edgecrew-secrets-runs-"));
});
afterAll(async () => {
  await rm(fixtureCacheDir, { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const lookup = defineTool({
  name: "lookup",
  description: "Looks up the vault",
  input: z.object({}),
  idempotent: true,
  run: async () => ({ [SECRET]: "the key itself is the secret", a: `part ${HEAD}`, b: `${TAIL} end` }),
});

const agent = () =>
  defineAgent(
    {
      name: "vault",
      description: "Reads the vault",
      planner: { model: "scripted:planner" },
      workers: [
        {
          name: "reader",
          description: "Reads the vault with lookup",
          model: "fixture:reader?seed=3",
          tools: ["lookup"],
          toolChoice: "required",
          maxToolCalls: 1,
          maxTokens: 96,
          output: {
            type: "object",
            properties: { done: { type: "boolean" } },
            required: ["done"],
            additionalProperties: false,
          },
        },
      ],
      limits: {
        maxReplans: 0,
        maxSubtasks: 1,
        maxParallel: 1,
        timeoutSeconds: 60,
        subtaskTimeoutSeconds: 45,
      },
      device: { threads: 1, gpu: false },
      escalation: { retries: 0, to: "planner" },
      secrets: ["EDGECREW_MODEL_SECRET"],
    },
    { tools: ["lookup"] },
  );

const planner = () =>
  new ScriptedChatModel([
    JSON.stringify({
      subtasks: [{ id: "s1", worker: "reader", instruction: `Read the vault with ${SECRET}`, dependsOn: [] }],
    }),
    JSON.stringify({ answer: `the vault key is ${SECRET}` }),
  ]);

async function everythingIn(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    names.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), "utf8")),
  );
  return texts.join("\n");
}

describe("secrets in a crew's runs", () => {
  it("never reach the run directory, the events or the RunResult: keys, split strings, task, plan, answer", async () => {
    vi.stubEnv("EDGECREW_MODEL_SECRET", SECRET);
    await using crew = await createCrew(agent(), {
      planner: planner(),
      fixtureCacheDir,
      runDir,
      tools: [lookup],
    });
    const events: RunEvent[] = [];
    const run = crew.run(`Open the vault, the key is ${SECRET}`, { onEvent: (e) => events.push(e) });
    const result = await run.result;
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    expect(events.some((e) => e.type === "tool.result")).toBe(true);

    const stored = await everythingIn(join(runDir, run.id));
    expect(stored).toContain('"tool":"lookup"');
    for (const text of [stored, JSON.stringify(events), JSON.stringify(result)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(HEAD);
      expect(text).not.toContain(TAIL);
    }
    expect(result.task).toBe("Open the vault, the key is [redacted]");
    expect(result.plan?.subtasks[0]?.instruction).toBe("Read the vault with [redacted]");
    expect(result.answer).toBe("the vault key is [redacted]");
    const toolResult = events.find((e) => e.type === "tool.result");
    expect(toolResult?.type === "tool.result" && toolResult.result).toEqual({
      ok: true,
      output: { "[redacted]": "the key itself is the secret", a: "part [redacted]", b: "[redacted] end" },
    });
  });

  it("hands the raw task and answer back only to a caller that asks for them", async () => {
    vi.stubEnv("EDGECREW_MODEL_SECRET", SECRET);
    await using crew = await createCrew(agent(), {
      planner: planner(),
      fixtureCacheDir,
      runDir,
      tools: [lookup],
    });
    const run = crew.run(`Open the vault, the key is ${SECRET}`, { revealSecrets: true });
    const result = await run.result;
    expect(result.task).toBe(`Open the vault, the key is ${SECRET}`);
    expect(result.answer).toBe(`the vault key is ${SECRET}`);
    expect(await everythingIn(join(runDir, run.id))).not.toContain(SECRET);
  });

  it("createCrew refuses a secret under 6 characters in its own environment", async () => {
    const definition = agent();
    vi.stubEnv("EDGECREW_MODEL_SECRET", "12345");
    await expect(createCrew(definition, { planner: planner(), fixtureCacheDir, runDir })).rejects.toThrow(
      /secrets\[0\]: the value of EDGECREW_MODEL_SECRET has 5 characters/,
    );
  });
});

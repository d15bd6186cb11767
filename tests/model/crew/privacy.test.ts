/**
 * Issue 16, private data stays local, through whole crew runs: fixture GGUF workers (real inference) and a
 * cloud planner on the real LangChain OpenAI client, pointed at an OpenAI-compatible server on 127.0.0.1 that
 * keeps every request body as it arrived. A private tool answers with a canary that its worker's grammar makes
 * it repeat, a private worker's answer is another canary; the runs plan (with a repair), escalate, ask for a
 * replan and join. No body ever holds a canary under either policy; strict refuses before sending; the stored
 * data-flow ledger has one record per body, with the body's `messages` bytes.
 */
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { buildFlows, renderFlows } from "../../../src/cli/flows.js";
import { main } from "../../../src/cli/main.js";
import { type AgentInput, defineAgent } from "../../../src/config/index.js";
import { createCrew } from "../../../src/crew.js";
import { FileRunStore } from "../../../src/runtime/store/FileRunStore.js";
import { defineTool } from "../../../src/tools/index.js";
import type { RunEvent } from "../../../src/types.js";
import {
  type CapturingAnswer,
  type CapturingOpenAIServer,
  startCapturingOpenAI,
} from "../../fixtures/capturingOpenAI.mjs";
import { ALL_CODES, TEN_DISTINCT_CODES } from "../workers/helpers.js";

const TOOL_CANARY = "CANARY-7f3a-tool-91c2";
const TASK_CANARY = "CANARY-7f3a-task-0b6f";

let fixtureCacheDir: string;
let runDir: string;
let server: CapturingOpenAIServer | undefined;
beforeAll(async () => {
  fixtureCacheDir = await mkdtemp(join(tmpdir(), "edgecrew-privacy-fixtures-"));
  runDir = await mkdtemp(join(tmpdir(), "edgecrew-privacy-runs-"));
});
afterAll(async () => {
  await rm(fixtureCacheDir, { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.close();
  server = undefined;
});

const lookup = defineTool({
  name: "lookup",
  description: "Looks up the access code",
  input: z.object({}),
  idempotent: true,
  private: true,
  run: async () => ({ code: TOOL_CANARY }),
});

const agent = (policy: "strict" | "redact") =>
  defineAgent(
    {
      name: "private-crew",
      description: "Keeps codes on the device",
      planner: { model: "openai:gpt-4o-mini" },
      workers: [
        {
          name: "vault",
          description: "Looks up the access code with lookup",
          model: "fixture:vault?seed=3",
          tools: ["lookup"],
          toolChoice: "required",
          maxToolCalls: 1,
          maxTokens: 64,
          // Private through its tool. Random weights fill strings to their length: each answer is a random
          // 12-character string, a canary of its own (the schema, which the planner does see, holds no value).
          output: {
            type: "object",
            properties: { code: { type: "string", minLength: 12, maxLength: 12 } },
            required: ["code"],
            additionalProperties: false,
          },
        },
        {
          name: "keeper",
          description: "Knows the secret",
          model: "fixture:keeper?seed=5",
          private: true,
          maxTokens: 64,
          output: {
            type: "object",
            properties: { secret: { type: "string", minLength: 12, maxLength: 12 } },
            required: ["secret"],
            additionalProperties: false,
          },
        },
        {
          // The validator wants ten different codes, the grammar only ten codes: it escalates.
          name: "coder",
          description: "Writes a booking code",
          model: "fixture:coder?seed=17",
          maxTokens: 120,
          output: TEN_DISTINCT_CODES,
        },
      ],
      limits: {
        maxReplans: 1,
        maxSubtasks: 4,
        maxParallel: 1,
        timeoutSeconds: 120,
        subtaskTimeoutSeconds: 60,
      },
      device: { threads: 1, gpu: false },
      escalation: { retries: 0, to: "planner" },
      privacy: { policy },
    } satisfies AgentInput,
    { tools: ["lookup"] },
  );

function planFor(escalating: boolean): string {
  return JSON.stringify({
    subtasks: [
      { id: "s1", worker: "vault", instruction: "Look up the access code.", dependsOn: [] },
      { id: "s2", worker: "keeper", instruction: "Tell the secret.", dependsOn: [] },
      ...(escalating
        ? [{ id: "s3", worker: "coder", instruction: "Book with {{s1.answer.code}} now.", dependsOn: ["s1"] }]
        : []),
    ],
  });
}

/** The planner's script: a bad first plan (a repair), the plan, an escalated answer, a replan, the answer. */
function script(escalating: boolean, answer: string) {
  return ({ schema, n }: { schema: string; n: number }): CapturingAnswer => {
    if (schema === "plan") return { content: n === 1 ? "{ not a plan" : planFor(escalating) };
    if (schema === "answer") return { content: JSON.stringify(ALL_CODES) };
    return {
      content: JSON.stringify(n === 1 ? { decision: { replan: "check it again" } } : { answer }),
    };
  };
}

async function runCrew(
  policy: "strict" | "redact",
  escalating: boolean,
  answer: string,
  options: { privateTask?: boolean; task?: string } = {},
) {
  const capture = await startCapturingOpenAI({ reply: script(escalating, answer) });
  server = capture;
  vi.stubEnv("OPENAI_API_KEY", "sk-test-not-a-real-key");
  vi.stubEnv("OPENAI_BASE_URL", capture.url);
  await using crew = await createCrew(agent(policy), {
    fixtureCacheDir,
    runDir,
    tools: [lookup],
  });
  const events: RunEvent[] = [];
  const run = crew.run(options.task ?? "Get me in", {
    onEvent: (e) => events.push(e),
    ...(options.privateTask === true ? { private: true } : {}),
  });
  const result = await run.result;
  const stored = await new FileRunStore({ root: runDir }).load(run.id);
  return { result, events, requests: capture.requests, stored, runId: run.id };
}

/** The canaries of a run: the private tool's output, the private task, and the private answers (s1, s2). */
function canariesOf(result: { results: readonly { subtaskId: string; answer: unknown }[] }): string[] {
  const answers = result.results
    .filter((r) => r.subtaskId === "s1" || r.subtaskId === "s2")
    .flatMap((r) => Object.values(r.answer as Record<string, string>));
  expect(answers.every((a) => typeof a === "string" && a.length === 12)).toBe(true);
  return [TOOL_CANARY, TASK_CANARY, ...answers];
}

/** No body holds a canary, as it is or JSON-escaped. */
function expectNoCanary(requests: CapturingOpenAIServer["requests"], canaries: readonly string[]): void {
  for (const request of requests)
    for (const canary of canaries) {
      expect(request.raw).not.toContain(canary);
      expect(request.raw).not.toContain(JSON.stringify(canary).slice(1, -1));
    }
}

/** The stored ledger: one record per request that arrived, each with the bytes of that body's messages. */
function expectLedgerMatches(requests: CapturingOpenAIServer["requests"], events: readonly RunEvent[]): void {
  const flows = events.filter((e) => e.type === "planner.request");
  expect(flows).toHaveLength(requests.length);
  requests.forEach((request, i) => {
    const messages = JSON.stringify(request.body.messages);
    expect(request.raw).toContain(messages);
    expect(flows[i]?.type === "planner.request" && flows[i].bytes).toBe(Buffer.byteLength(messages, "utf8"));
  });
}

/** The CLI in this process: `main` with a captured stdout. */
async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const code = await main(["node", "edgecrew", ...args], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: () => true },
    env: { ...process.env },
    cwd: process.cwd(),
    onInterrupt: () => () => {},
    forceExit: () => {},
  });
  return { code, stdout };
}

async function inspectFlows(runId: string, extra: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const code = await main(["node", "edgecrew", "inspect", runId, "--flows", "--run-dir", runDir, ...extra], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: () => true },
    env: {},
    cwd: process.cwd(),
    onInterrupt: () => () => {},
    forceExit: () => {},
  });
  return { code, stdout };
}

describe("private data in crew runs with a remote planner", () => {
  it("redact: plan (repaired), escalation, replan and join carry placeholders only; the answer is filled in locally", async () => {
    const { result, events, requests, stored, runId } = await runCrew(
      "redact",
      true,
      "code ⟨private:s1.answer.code⟩, secret ⟨private:s2.answer.secret⟩",
    );
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    // The private answers are real: the tool's canary through its worker, and the private worker's own.
    const answerOf = (id: string) =>
      result.results.find((r) => r.subtaskId === id)?.answer as Record<string, string>;
    const code = answerOf("s1")?.code;
    const secret = answerOf("s2")?.secret;
    expect(
      events.some((e) => e.type === "tool.result" && JSON.stringify(e.result).includes(TOOL_CANARY)),
    ).toBe(true);
    expect(result.results.find((r) => r.subtaskId === "s3")?.by).toBe("planner");
    expect(result.answer).toBe(`code ${code}, secret ${secret}`);

    expect(requests.map((r) => r.schema)).toEqual([
      "plan",
      "plan",
      "answer",
      "final_answer",
      "plan",
      "final_answer",
    ]);
    expectNoCanary(requests, canariesOf(result));
    // The escalated instruction had s1's code substituted; it went out as the placeholder.
    expect(requests[2]?.raw).toContain("Book with ⟨private:s1.answer.code⟩ now.");
    expect(requests[5]?.raw).toContain("⟨private:s2.answer.secret⟩");
    expectLedgerMatches(requests, stored.events);
    const flows = buildFlows(runId, stored.events);
    expect(flows.requests.map((r) => r.purpose)).toEqual([
      "plan",
      "repair",
      "solve",
      "join",
      "replan",
      "join",
    ]);
    expect(flows.totals.privateSent).toBe(0);
    expect(flows.totals.placeholders).toBeGreaterThan(0);
    expect(flows.totals.bytes).toBe(
      requests.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r.body.messages), "utf8"), 0),
    );
    expect(renderFlows(flows)).toContain("s1.answer (private: placeholders)");
    expect(events.filter((e) => e.type === "planner.request")).toHaveLength(requests.length);

    // `edgecrew inspect --flows` prints the stored ledger; with --json, the same object buildFlows makes.
    const printed = await inspectFlows(runId, []);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`run ${runId}: requests to remote models`);
    expect(printed.stdout).toMatch(/solve s3 → openai:gpt-4o-mini: \d+ bytes, 20\+10 tokens/);
    expect(printed.stdout).toContain("0 sent");
    const json = await inspectFlows(runId, ["--json"]);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(flows)));
  });

  it("strict: the escalation with a private dependency is refused before sending; the run fails, nothing leaked", async () => {
    const { result, requests, stored } = await runCrew("strict", true, "done");
    expect(result.status).toBe("failed");
    expect(JSON.stringify(result.error)).toContain("PRIVACY_VIOLATION");
    // Plan and its repair went out; the escalation never did.
    expect(requests.map((r) => r.schema)).toEqual(["plan", "plan"]);
    expectNoCanary(requests, canariesOf(result));
    expectLedgerMatches(requests, stored.events);
  });

  it("strict: replan and join go out with the private answers withheld", async () => {
    const { result, requests, stored, runId } = await runCrew("strict", false, "done");
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    expect(requests.map((r) => r.schema)).toEqual(["plan", "plan", "final_answer", "plan", "final_answer"]);
    expectNoCanary(requests, canariesOf(result));
    expectLedgerMatches(requests, stored.events);
    const flows = buildFlows(runId, stored.events);
    expect(flows.totals.withheld).toBe(6);
    expect(flows.totals.privateSent).toBe(0);
  });

  it("strict: a private task fails the run before any request", async () => {
    const { result, requests } = await runCrew("strict", false, "done", {
      privateTask: true,
      task: `Open door ${TASK_CANARY}`,
    });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("PRIVACY_VIOLATION");
    expect(requests).toHaveLength(0);
  });

  it("redact: a private task is sent as a placeholder; the workers still see it", async () => {
    const { result, requests, events } = await runCrew("redact", false, "opened ⟨private:task⟩", {
      privateTask: true,
      task: `Open door ${TASK_CANARY}`,
    });
    expect(result.status, JSON.stringify(result.error)).toBe("completed");
    expect(requests.length).toBeGreaterThan(0);
    expectNoCanary(requests, canariesOf(result));
    expect(result.answer).toBe(`opened Open door ${TASK_CANARY}`);
    expect(events.some((e) => e.type === "subtask.started")).toBe(true);
  });

  it("edgecrew run --private-task: strict by default, the run fails before any request and says why", async () => {
    const capture = await startCapturingOpenAI({ reply: script(false, "done") });
    server = capture;
    vi.stubEnv("OPENAI_API_KEY", "sk-test-not-a-real-key");
    vi.stubEnv("OPENAI_BASE_URL", capture.url);
    vi.stubEnv("EDGECREW_CACHE_DIR", fixtureCacheDir);
    const file = join(runDir, "private-agent.yaml");
    await writeFile(
      file,
      [
        "name: private-cli",
        "description: Keeps the task on the device",
        "planner: { model: openai:gpt-4o-mini }",
        "workers:",
        "  - name: keeper",
        "    description: Knows the secret",
        "    model: fixture:keeper?seed=5",
        "    maxTokens: 64",
        "device: { threads: 1, gpu: false }",
        "",
      ].join("\n"),
    );
    const task = `Open door ${TASK_CANARY}`;
    const failed = await cli(["run", file, "--run-dir", runDir, "--json", "--private-task", task]);
    expect(failed.code).toBe(1);
    const result = JSON.parse(failed.stdout) as { status: string; error?: { code: string; message: string } };
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("PRIVACY_VIOLATION");
    expect(result.error?.message).toContain("the private task");
    expect(capture.requests).toHaveLength(0);
    // The same task without the flag is an ordinary task: it goes to the planner (whose scripted plans do not
    // fit this agent: the run's outcome does not matter here).
    await cli(["run", file, "--run-dir", runDir, "--json", task]);
    expect(capture.requests.some((r) => r.raw.includes(TASK_CANARY))).toBe(true);
  });

  it("a private task stays private when its run is resumed (kept in the run's meta)", async () => {
    const first = await runCrew("redact", false, "opened ⟨private:task⟩", {
      privateTask: true,
      task: `Open door ${TASK_CANARY}`,
    });
    expect(first.result.status, JSON.stringify(first.result.error)).toBe("completed");
    expect(first.stored.meta.privateTask).toBe(true);
    await server?.close();
    // As if the process had died before the outcome was written: resume finishes the run, joining again.
    await unlink(join(runDir, first.runId, "outcome.json"));
    const capture = await startCapturingOpenAI({
      reply: () => ({ content: JSON.stringify({ answer: "resumed ⟨private:task⟩" }) }),
    });
    server = capture;
    vi.stubEnv("OPENAI_BASE_URL", capture.url);
    await using crew = await createCrew(agent("redact"), { fixtureCacheDir, runDir, tools: [lookup] });
    // No `private` option here: the stored run says so.
    const resumed = await (await crew.resume(first.runId)).result;
    expect(resumed.status, JSON.stringify(resumed.error)).toBe("completed");
    expect(capture.requests.length).toBeGreaterThan(0);
    for (const request of capture.requests) expect(request.raw).not.toContain(TASK_CANARY);
    expect(resumed.answer).toBe(`resumed Open door ${TASK_CANARY}`);
  });
});

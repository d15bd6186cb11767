/**
 * `edgecrew mcp` driven by the MCP Inspector CLI (`@modelcontextprotocol/inspector-cli`, its own bin from
 * node_modules, no npx and no network) as a user would drive it: `--method tools/list` and `--method tools/call`
 * against the built CLI over stdio, and over streamable HTTP against `edgecrew mcp --http`. Each inspector call is
 * one client session: it starts (stdio: spawns) the server, makes one request, prints the result as JSON on stdout
 * and exits 0, or prints the error on stderr and exits 1. The crew is a small one on fixture models (real
 * inference) so that a whole run fits the inspector's fixed 60 s request timeout with room to spare.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, repoRoot, runCli } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-inspector-"));
const runDir = join(dir, "runs");
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  NO_COLOR: "1",
  EDGECREW_CACHE_DIR: join(dir, "cache"),
  // The inspector's launcher starts its client with `node` from PATH: make that this Node.
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
};

/** The inspector CLI's own bin (`mcp-inspector-cli`), resolved through its package.json. */
const inspectorBin = (() => {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("@modelcontextprotocol/inspector-cli/package.json");
  const { bin: bins } = JSON.parse(readFileSync(manifest, "utf8")) as { bin: Record<string, string> };
  return join(dirname(manifest), bins["mcp-inspector-cli"] ?? "missing");
})();

// Two workers (both listed with --expose-workers) and an answer schema; one subtask per plan and a short planner
// budget keep a run to two planner calls and one worker call, a few seconds. timeoutSeconds stays under the
// inspector's fixed 60 s request timeout (it sends no progress token, so progress cannot extend it).
const agentFile = join(dir, "inspector-crew.yaml");
writeFileSync(
  agentFile,
  `name: inspector-crew
description: A small trip crew on fixture models.
planner: { model: "fixture:planner?seed=7&size=tiny", maxTokens: 256, temperature: 0 }
workers:
  - name: budgeter
    description: Estimates the cost of a trip.
    model: fixture:budgeter?seed=5
    maxTokens: 96
    output:
      type: object
      properties:
        perDay: { type: integer, minimum: 20, maximum: 80 }
        currency: { enum: [EUR, USD, CHF] }
      required: [perDay, currency]
      additionalProperties: false
  - name: researcher
    description: Names one destination.
    model: fixture:researcher?seed=11
    maxTokens: 64
    output:
      type: object
      properties:
        place: { type: string, maxLength: 24 }
      required: [place]
      additionalProperties: false
answer:
  type: object
  properties:
    summary: { type: string, maxLength: 40 }
  required: [summary]
  additionalProperties: false
limits: { maxSubtasks: 1, maxParallel: 1, timeoutSeconds: 45, subtaskTimeoutSeconds: 30 }
device: { memory: 1GiB, threads: 1, gpu: false }
`,
);

/** The process groups this file started (each child leads its own), killed in afterAll if still there. */
const groups = new Set<number>();

/** Signals a whole process group; a group that is gone already is no error. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

afterAll(() => {
  for (const pid of groups) signalGroup(pid, "SIGKILL");
  groups.clear();
});

interface Inspected {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs `mcp-inspector-cli --cli …args` in its own process group (the launcher, its client and, over stdio, the
 * edgecrew server it spawns) and collects its output; the whole group is killed after `timeoutMs`.
 */
function inspector(args: readonly string[], timeoutMs = 70_000): Promise<Inspected> {
  const started = performance.now();
  const child = spawn(process.execPath, [inspectorBin, "--cli", ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  if (child.pid !== undefined) groups.add(child.pid);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      // The launcher is gone: whatever it left in its group (a server still freeing its models) goes too.
      signalGroup(child.pid, "SIGKILL");
      if (child.pid !== undefined) groups.delete(child.pid);
      resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/** The stdio target: the built CLI serving the crew (`node bin/edgecrew.js mcp <agent.yaml> …`). */
function stdioServer(...extra: string[]): string[] {
  return [process.execPath, bin, "mcp", agentFile, "--run-dir", runDir, ...extra];
}

interface ListedTool {
  readonly name: string;
  readonly inputSchema: { properties?: Record<string, unknown>; required?: string[] };
  readonly outputSchema?: { properties?: Record<string, unknown>; required?: string[] };
}

interface CallResult {
  readonly isError?: boolean;
  readonly content: { type: string; text: string }[];
  readonly structuredContent?: { runId: string; status: string; answer?: unknown };
}

/** Parses the JSON the inspector printed, with its output in the failure message otherwise. */
function parsed<T>(result: Inspected): T {
  const why = `exit ${result.code} after ${result.ms} ms\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, why).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** What a client checks: the structured content is valid against the output schema the tool listed. */
function expectValidAgainst(schema: object | undefined, value: unknown): void {
  expect(schema).toBeDefined();
  const validate = new Ajv2020({ strict: false }).compile(schema ?? {});
  expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
}

describe("MCP Inspector CLI → edgecrew mcp over stdio", () => {
  let listing: Inspected;

  beforeAll(async () => {
    listing = await inspector([...stdioServer("--expose-workers"), "--method", "tools/list"]);
  });

  it("tools/list lists run_task with its input and output schema and, with --expose-workers, each worker", () => {
    const tools = parsed<{ tools: ListedTool[] }>(listing).tools;
    expect(tools.map((t) => t.name)).toEqual(["run_task", "worker_budgeter", "worker_researcher"]);
    const [runTask, budgeter] = tools;
    expect(runTask?.inputSchema).toMatchObject({
      properties: { task: { type: "string" } },
      required: ["task"],
    });
    // The agent's answer schema, wrapped with the run id and status.
    expect(runTask?.outputSchema?.required).toEqual(["runId", "status"]);
    expect(runTask?.outputSchema?.properties?.answer).toMatchObject({
      type: "object",
      required: ["summary"],
    });
    expect(budgeter?.inputSchema.required).toEqual(["instruction"]);
    expect(budgeter?.outputSchema?.properties?.answer).toMatchObject({ required: ["perDay", "currency"] });
  });

  it("tools/call run_task returns status completed, the validated answer and a run id `edgecrew inspect` finds", async () => {
    const runTask = parsed<{ tools: ListedTool[] }>(listing).tools[0];
    const result = await inspector([
      ...stdioServer(),
      "--method",
      "tools/call",
      "--tool-name",
      "run_task",
      "--tool-arg",
      "task=Plan a weekend in Lisbon",
    ]);
    const call = parsed<CallResult>(result);
    expect(call.isError).not.toBe(true);
    const structured = call.structuredContent;
    expect(structured?.status).toBe("completed");
    expect(structured?.answer).toMatchObject({ summary: expect.any(String) });
    expectValidAgainst(runTask?.outputSchema, structured);
    // The text content carries the same for clients without structured content.
    expect(JSON.parse(call.content[0]?.text ?? "")).toEqual(structured);

    const shown = await runCli(["inspect", structured?.runId ?? "missing", "--run-dir", runDir], { env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`run ${structured?.runId} · agent inspector-crew`);
    expect(shown.stdout).toMatch(/^status: completed$/m);
  });

  it("calling an unknown tool (a worker, without --expose-workers) prints the inspector's error and exits 1", async () => {
    const result = await inspector([
      ...stdioServer(),
      "--method",
      "tools/call",
      "--tool-name",
      "worker_budgeter",
      "--tool-arg",
      "instruction=Estimate two days in Lisbon",
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      'Failed to call tool worker_budgeter: MCP error -32602: MCP error -32602: unknown tool "worker_budgeter"; this server offers run_task',
    );
  });
});

/** Starts `edgecrew mcp … --http 127.0.0.1:0` in its own process group; resolves with the URL it prints. */
function startHttpServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [bin, "mcp", agentFile, "--run-dir", runDir, "--http", "127.0.0.1:0"],
    {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    },
  );
  if (child.pid !== undefined) groups.add(child.pid);
  let stderr = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving after 60 s: ${stderr}`)), 60_000);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const url = /at (http:\/\/\S+\/mcp)/.exec(stderr)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before serving: ${stderr}`));
    });
  });
}

describe("MCP Inspector CLI → edgecrew mcp --http (streamable HTTP)", () => {
  let server: { child: ChildProcess; url: string } | undefined;

  beforeAll(async () => {
    server = await startHttpServer();
  });

  afterAll(async () => {
    // SIGTERM lets the server free its models and exit 0; SIGKILL after 10 s, and the file's afterAll after that.
    const child = server?.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    signalGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    signalGroup(child.pid, "SIGKILL");
    if (child.pid !== undefined) groups.delete(child.pid);
  });

  it("tools/list and tools/call run_task over --transport http, the run kept in the server's run directory", async () => {
    const url = server?.url ?? "missing";
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const list = await inspector([url, "--transport", "http", "--method", "tools/list"]);
    const tools = parsed<{ tools: ListedTool[] }>(list).tools;
    expect(tools.map((t) => t.name)).toEqual(["run_task"]);

    const result = await inspector([
      url,
      "--transport",
      "http",
      "--method",
      "tools/call",
      "--tool-name",
      "run_task",
      "--tool-arg",
      "task=Three days in Porto",
    ]);
    const structured = parsed<CallResult>(result).structuredContent;
    expect(structured?.status).toBe("completed");
    expectValidAgainst(tools[0]?.outputSchema, structured);
    const shown = await runCli(["inspect", structured?.runId ?? "missing", "--run-dir", runDir], { env });
    expect(shown.stdout).toMatch(/^status: completed$/m);
  });
});

/**
 * `edgecrew mcp`: the built CLI serving the offline demo crew, driven by the real MCP SDK client over stdio and
 * over streamable HTTP (real inference on fixture models; dist/ must be built, as `npm test` does first).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileRunStore } from "../../src/runtime/store/FileRunStore.js";
import { bin, repoRoot } from "./cli.js";

const cacheDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-"));
const env = { ...(process.env as Record<string, string>), NO_COLOR: "1", EDGECREW_CACHE_DIR: cacheDir };
const callOptions = { timeout: 170_000, resetTimeoutOnProgress: true };

interface Structured {
  readonly runId: string;
  readonly status: string;
  readonly answer?: unknown;
  readonly error?: { code: string; message: string };
}

/** Polls the run store until the run has an outcome (the server stores it before the call ends). */
async function storedStatus(runDir: string, runId: string): Promise<string | undefined> {
  const store = new FileRunStore({ root: runDir });
  for (let i = 0; i < 100; i++) {
    const stored = await store.load(runId).catch(() => undefined);
    if (stored?.outcome !== undefined) return stored.outcome.status;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/** Calls run_task (or a worker tool) and collects the progress notifications it sent. */
async function callWithProgress(client: Client, name: string, args: Record<string, string>) {
  const progress: Progress[] = [];
  const result = (await client.callTool({ name, arguments: args }, undefined, {
    ...callOptions,
    onprogress: (p) => progress.push(p),
  })) as CallToolResult;
  return { result, progress, structured: result.structuredContent as Structured | undefined };
}

describe("edgecrew mcp over stdio (SDK client, child process)", () => {
  const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-mcp-runs-"));
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = "";
  const transportErrors: Error[] = [];

  beforeAll(async () => {
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [bin, "mcp", "agents/offline-demo.yaml", "--run-dir", runDir, "--expose-workers"],
      cwd: repoRoot,
      env,
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    // Anything on stdout that is not a protocol message surfaces here.
    transport.onerror = (error) => transportErrors.push(error);
    client = new Client({ name: "edgecrew-e2e", version: "1.0.0" });
    await client.connect(transport);
  });

  afterAll(async () => {
    await client?.close();
  });

  it("lists run_task with its input and output schema, and each worker with --expose-workers", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      "run_task",
      "worker_researcher",
      "worker_scheduler",
      "worker_budgeter",
    ]);
    const runTask = tools[0];
    expect(runTask?.inputSchema.required).toEqual(["task"]);
    // The offline demo declares no answer schema: the answer is a string, wrapped with the run id and status.
    expect(runTask?.outputSchema?.properties).toMatchObject({
      runId: { type: "string" },
      answer: { type: "string" },
    });
    expect(tools[3]?.outputSchema?.properties?.answer).toMatchObject({
      required: ["perDay", "currency", "note"],
    });
  });

  it("run_task returns the validated answer and a run id whose run directory exists, with progress per subtask", async () => {
    const { result, progress, structured } = await callWithProgress(client, "run_task", {
      task: "Plan a weekend trip to the mountains",
    });
    expect(result.isError).not.toBe(true);
    expect(structured?.status).toBe("completed");
    expect(typeof structured?.answer).toBe("string");
    expect(existsSync(join(runDir, structured?.runId ?? "missing"))).toBe(true);
    expect(await storedStatus(runDir, structured?.runId ?? "")).toBe("completed");
    // The text content carries the same for clients without structured content.
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual(structured);

    const messages = progress.map((p) => p.message ?? "");
    expect(messages[0]).toBe(`run ${structured?.runId} started`);
    expect(messages).toContainEqual(expect.stringMatching(/^plan: \d+ subtask\(s\): s1 → /));
    expect(messages).toContainEqual(
      expect.stringMatching(/^subtask s1 started on worker (researcher|scheduler|budgeter)$/),
    );
    expect(messages).toContainEqual(expect.stringMatching(/^subtask s1 completed by (worker|the planner)/));
    // The validated answer is the last step: progress reaches the total the plan announced.
    expect(progress.at(-1)).toMatchObject({ message: "run completed: the answer is validated" });
    expect(progress.at(-1)?.progress).toBe(progress.at(-1)?.total);
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
    expect(transportErrors).toEqual([]);
  });

  it("a worker tool runs one subtask on that worker, without the planner, under its output schema", async () => {
    const { result, progress, structured } = await callWithProgress(client, "worker_budgeter", {
      instruction: "Estimate the cost of two days in Lisbon",
    });
    expect(result.isError).not.toBe(true);
    expect(structured?.status).toBe("completed");
    expect(structured?.answer).toMatchObject({ perDay: expect.any(Number), currency: expect.any(String) });
    expect(progress.map((p) => p.message)).toContain("plan: 1 subtask(s): s1 → budgeter");
    const stored = await new FileRunStore({ root: runDir }).load(structured?.runId ?? "");
    expect(stored.outcome?.status).toBe("completed");
    // No planner call: every token of the ledger is the budgeter's.
    expect(stored.outcome?.ledger.models.map((m) => m.model)).toEqual(["fixture:budgeter?seed=5"]);
  });

  it("a bad argument is a tool error the caller can read, not a protocol error", async () => {
    const result = (await client.callTool({ name: "run_task", arguments: { task: "" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect((result.content[0] as { text: string }).text).toMatch(/USAGE: run_task needs "task"/);
  });

  it("cancelling a call cancels its run, which the run store records as cancelled", async () => {
    const controller = new AbortController();
    let runId: string | undefined;
    const call = client.callTool(
      { name: "run_task", arguments: { task: "A road trip through Scotland" } },
      undefined,
      {
        ...callOptions,
        signal: controller.signal,
        onprogress: (p) => {
          runId ??= /^run (\S+) started$/.exec(p.message ?? "")?.[1];
          if (p.message?.includes("started on worker")) controller.abort("the user changed their mind");
        },
      },
    );
    await expect(call).rejects.toThrow();
    expect(runId).toBeDefined();
    expect(await storedStatus(runDir, runId ?? "")).toBe("cancelled");
    expect(stderr).toContain(`run_task: run ${runId} cancelled`);
  });

  it("ends, freeing the crew, when the client closes stdin", async () => {
    await client.close();
    for (let i = 0; i < 100 && !stderr.includes("freeing the models"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stderr).toContain(
      "the client closed the connection: cancelling running calls and freeing the models",
    );
    expect(transportErrors).toEqual([]);
  });
});

/** Starts `edgecrew mcp … --http :0` and resolves with the URL it prints on stderr. */
function startHttpServer(
  runDir: string,
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [bin, "mcp", "agents/offline-demo.yaml", "--run-dir", runDir, "--http", ":0"],
    { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  let stdout = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  return new Promise((resolve, reject) => {
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const url = /at (http:\/\/\S+\/mcp)/.exec(stderr)?.[1];
      if (url !== undefined) resolve({ child, url, stderr: () => stderr + stdout });
    });
    child.on("exit", (code) => reject(new Error(`exited ${code} before serving: ${stderr}`)));
  });
}

/** POSTs JSON with a chosen Host header (fetch does not let a caller set it); resolves with the status. */
function postWithHost(url: string, host: string, body: unknown): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { host, "content-type": "application/json", accept: "application/json, text/event-stream" },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("edgecrew mcp --http (SDK StreamableHTTPClientTransport)", () => {
  it("binds 127.0.0.1, refuses a foreign Host, round-trips run_task with progress, and stops on SIGTERM", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-mcp-http-"));
    const { child, url, stderr } = await startHttpServer(runDir);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      // DNS rebinding: a page on another name that resolves to 127.0.0.1 is refused.
      const foreign = await postWithHost(url, "evil.example", {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
      });
      expect(foreign).toBe(403);

      const client = new Client({ name: "edgecrew-e2e-http", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["run_task"]);
      const { result, progress, structured } = await callWithProgress(client, "run_task", {
        task: "Three days in Lisbon",
      });
      expect(result.isError).not.toBe(true);
      expect(structured?.status).toBe("completed");
      expect(existsSync(join(runDir, structured?.runId ?? "missing"))).toBe(true);
      expect(progress.map((p) => p.message)).toContainEqual(
        expect.stringMatching(/^subtask s1 started on worker /),
      );
      await client.close();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr()).toContain("SIGTERM: cancelling running calls and freeing the models");
  });
});

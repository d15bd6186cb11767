/**
 * The `--json` contract of `run` and `resume`: stdout holds exactly one JSON object on every exit path, failures
 * before a run exists included (`{ status: "failed", error: { code, message } }`), with the exit code unchanged.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CliResult, runCli } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-json-"));
const runDir = join(dir, "runs");
const env = { EDGECREW_CACHE_DIR: join(dir, "cache") };

function agentFile(name: string, lines: readonly string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const brokenServer = agentFile("broken-server.yaml", [
  "name: broken-server",
  "description: An agent whose MCP server cannot start",
  "planner:",
  "  model: fixture:planner?seed=7&size=tiny",
  "workers:",
  "  - name: helper",
  "    description: Uses the server",
  "    model: fixture:helper?seed=3",
  "    tools: [ghost]",
  "tools:",
  "  - mcp: { name: ghost, command: /nonexistent/mcp-server }",
]);

/** The one JSON object on stdout, whatever else the process printed on stderr. */
function onlyJson(result: CliResult): {
  runId?: string;
  status: string;
  error: { code: string; message: string };
} {
  expect(result.stdout.trim().startsWith("{"), result.stdout).toBe(true);
  return JSON.parse(result.stdout);
}

describe("--json prints one JSON object on stdout, failures included", () => {
  it("run: an MCP server that cannot start is a failed status with MCP_SERVER_FAILED, exit 1", async () => {
    const result = await runCli(["run", brokenServer, "--run-dir", runDir, "--json", "do it"], { env });
    expect(result.code).toBe(1);
    const parsed = onlyJson(result);
    expect(parsed.status).toBe("failed");
    expect(parsed.error.code).toBe("MCP_SERVER_FAILED");
    expect(parsed.error.message).toMatch(/^MCP server ghost .*failed to start/);
    // The human-readable line still goes to stderr.
    expect(result.stderr).toContain("edgecrew: MCP server ghost");
  });

  it("run: an invalid agent file is AGENT_INVALID, exit 2", async () => {
    const invalid = agentFile("invalid.yaml", ["name: invalid", "colour: blue"]);
    const result = await runCli(["run", invalid, "--json", "do it"], { env });
    expect(result.code).toBe(2);
    const parsed = onlyJson(result);
    expect(parsed).toMatchObject({ status: "failed", error: { code: "AGENT_INVALID" } });
  });

  it("run: a usage error (bad flag value) is USAGE, exit 2", async () => {
    const result = await runCli(["run", brokenServer, "--json", "--threads", "many", "do it"], { env });
    expect(result.code).toBe(2);
    const parsed = onlyJson(result);
    expect(parsed).toMatchObject({ status: "failed", error: { code: "USAGE" } });
    expect(parsed.error.message).toContain("many");
  });

  it("resume: an unknown run id is RUN_NOT_FOUND with the runId, exit code unchanged", async () => {
    const result = await runCli(["resume", "20260101-000000-abcdef", "--run-dir", runDir, "--json"], { env });
    expect(result.code).toBe(1);
    const parsed = onlyJson(result);
    expect(parsed).toMatchObject({
      runId: "20260101-000000-abcdef",
      status: "failed",
      error: { code: "RUN_NOT_FOUND" },
    });
  });

  it("without --json, stdout stays empty on those failures", async () => {
    const result = await runCli(["run", brokenServer, "--run-dir", runDir, "do it"], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
  });
});

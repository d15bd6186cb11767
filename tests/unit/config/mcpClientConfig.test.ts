/**
 * The keys of an `- mcp:` entry for the complete MCP client: `roots` (resolved like other paths, else the fs
 * tool's root), `startTimeoutSeconds` and `approve`; their mistakes at line:col, and their place in the JSON
 * Schema editors read.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { agentJsonSchema, parseAgent } from "../../../src/config/index.js";
import type { McpToolConfig } from "../../../src/types.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

function mcpTools(text: string): McpToolConfig[] {
  return parseAgent(text, { file: agentDir.file }).tools.filter(
    (tool): tool is McpToolConfig => tool.kind === "mcp",
  );
}

describe("mcp entries: roots, startTimeoutSeconds, approve", () => {
  it("resolves roots against the agent file's directory and turns seconds into startTimeoutMs", () => {
    const [files] = mcpTools(
      yaml(
        ...BASE,
        "tools:",
        "  - mcp: { name: files, command: npx, roots: [./data, /srv/shared], startTimeoutSeconds: 2.5, approve: false }",
      ),
    );
    expect(files).toMatchObject({
      roots: [join(agentDir.dir, "data"), "/srv/shared"],
      startTimeoutMs: 2500,
      approve: false,
    });
  });

  it("without roots, a server gets the root of the agent's fs tool; without either, none", () => {
    const [withFs] = mcpTools(
      yaml(...BASE, "tools:", "  - fs: { root: ./work }", "  - mcp: { name: files, command: npx }"),
    );
    expect(withFs?.roots).toEqual([join(agentDir.dir, "work")]);
    const [alone] = mcpTools(yaml(...BASE, "tools:", "  - mcp: { name: files, command: npx }"));
    expect(alone?.roots).toBeUndefined();
    expect(alone?.startTimeoutMs).toBeUndefined();
    expect(alone?.approve).toBeUndefined();
  });

  it("reports bad values at their line:col", () => {
    expectIssues(
      yaml(
        ...BASE,
        "tools:",
        "  - mcp: { name: a, command: node, roots: ./data }",
        "  - mcp: { name: b, command: node, roots: [''] }",
        "  - mcp: { name: c, command: node, startTimeoutSeconds: 0 }",
        "  - mcp: { name: d, command: node, approve: maybe }",
      ),
      agentDir.file,
      [
        ["10:43", "tools[0].mcp.roots", /expected a list/],
        ["11:44", "tools[1].mcp.roots[0]", /1|empty|>=/],
        ["12:57", "tools[2].mcp.startTimeoutSeconds", /0|>/],
        ["13:45", "tools[3].mcp.approve", /true or false/],
      ],
    );
  });

  it("are in the JSON Schema of agent files", () => {
    const text = JSON.stringify(agentJsonSchema());
    for (const key of ["roots", "startTimeoutSeconds"]) expect(text).toContain(`"${key}"`);
    expect(text).toMatch(/"startTimeoutSeconds":\{[^}]*"exclusiveMinimum":0/);
  });
});

/**
 * The `- mcp: { name, command, args?, env?, cwd?, timeoutMs? }` entry of an agent's `tools:`: what it builds,
 * how workers grant it (`name` or `name.tool`), and the line:col of its mistakes.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("mcp tool entries", () => {
  it("validate and build an McpToolConfig; workers grant the server or one of its tools", () => {
    const agent = parseAgent(
      yaml(
        ...BASE,
        "    tools: [files, echo.add]",
        "tools:",
        "  - calculator",
        "  - mcp: { name: files, command: npx, args: [-y, my-mcp], env: { TOKEN: abc }, cwd: ./srv, timeoutMs: 5000 }",
        "  - mcp:",
        "      name: echo",
        "      command: node",
      ),
      { file: agentDir.file },
    );
    expect(agent.tools).toEqual([
      { kind: "builtin", name: "calculator", options: {} },
      {
        kind: "mcp",
        name: "files",
        command: "npx",
        args: ["-y", "my-mcp"],
        env: { TOKEN: "abc" },
        cwd: join(agentDir.dir, "srv"),
        timeoutMs: 5000,
      },
      { kind: "mcp", name: "echo", command: "node", args: [], env: {} },
    ]);
    expect(agent.workers[0]?.tools).toEqual(["files", "echo.add"]);
  });

  it("reports a duplicate server name at the second name, with line:col", () => {
    expectIssues(
      yaml(
        ...BASE,
        "tools:",
        "  - mcp: { name: echo, command: node }",
        "  - mcp: { name: echo, command: python3 }",
      ),
      agentDir.file,
      [["11:18", "tools[1].mcp.name", "the name `echo` is already used by tools[0]"]],
    );
  });

  it("reports a server named like a declared built-in", () => {
    expectIssues(
      yaml(...BASE, "tools:", "  - calculator", "  - mcp: { name: calculator, command: node }"),
      agentDir.file,
      [["11:18", "tools[1].mcp.name", "already used by tools[0]"]],
    );
  });

  it("reports a missing command, a dotted name, bad args and an unknown key, each at its place", () => {
    expectIssues(
      yaml(
        ...BASE,
        "tools:",
        "  - mcp: { name: a.b, command: node }",
        "  - mcp: { name: ok }",
        "  - mcp: { name: ok2, command: node, args: [1] }",
        "  - mcp: { name: ok3, command: node, shell: true }",
        "  - mcp: { name: ok4, command: node, timeoutMs: 0 }",
      ),
      agentDir.file,
      [
        ["10:18", "tools[0].mcp.name", "is not an MCP server name"],
        ["11:10", "tools[1].mcp.command", /command/],
        ["12:45", "tools[2].mcp.args[0]", /string/],
        ["13:38", "tools[3].mcp.shell", /shell/],
        ["14:49", "tools[4].mcp.timeoutMs", /0|>/],
      ],
    );
  });

  it("reports a grant of an undeclared server's tool", () => {
    expectIssues(
      yaml(...BASE, "    tools: [files.read]", "tools:", "  - mcp: { name: echo, command: node }"),
      agentDir.file,
      [["9:13", "workers[0].tools[0]", "unknown tool `files.read`"]],
    );
  });
});

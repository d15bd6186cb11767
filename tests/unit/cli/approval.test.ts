import { describe, expect, it } from "vitest";
import { cliApproval } from "../../../src/cli/approval.js";
import type { CliIo } from "../../../src/cli/io.js";
import type { ApprovalRequest } from "../../../src/tools/index.js";

function io(answer?: string) {
  const err: string[] = [];
  const asked: string[] = [];
  const value: CliIo = {
    stdout: { write: () => true },
    stderr: { write: (t: string) => err.push(t) },
    env: {},
    cwd: "/",
    onInterrupt: () => () => {},
    forceExit: () => {},
    ...(answer === undefined
      ? {}
      : {
          ask: async (question: string) => {
            asked.push(question);
            return answer;
          },
        }),
  };
  return { value, err, asked };
}

const request: ApprovalRequest = {
  tool: { name: "shell.run", description: "runs", input: {}, idempotent: false, approve: true },
  args: { command: "ls", args: ["-l"] },
  subtaskId: "s1",
  worker: "ops",
  signal: new AbortController().signal,
};

describe("cliApproval", () => {
  it("asks on a terminal, showing the tool and its arguments, and approves only a yes", async () => {
    const yes = io("y");
    expect(await cliApproval(yes.value, { yes: false })(request)).toBe(true);
    expect(yes.asked[0]).toBe('approve shell.run for ops (s1) with {"command":"ls","args":["-l"]}? [y/N] ');
    expect(await cliApproval(io("no").value, { yes: false })(request)).toBe(false);
    expect(await cliApproval(io("").value, { yes: false })(request)).toBe(false);
  });

  it("denies without a terminal unless --yes, saying why", async () => {
    const none = io();
    expect(await cliApproval(none.value, { yes: false })(request)).toBe(false);
    expect(none.err.join("")).toContain("no terminal to ask (pass --yes");
    expect(await cliApproval(io().value, { yes: true })(request)).toBe(true);
  });
});

// The agent key `escalation.auto` (routing learned from history): absent by default, window and min defaulted,
// and what cannot work reported at its line:col: a rate outside 0–1, `to: fail`, a min above the window.
import { describe, expect, test } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { BASE, expectIssues, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("escalation.auto", () => {
  test("absent by default; window 50 and min 5 unless given", () => {
    expect(parseAgent(yaml(...BASE), { file: agentDir.file }).escalation.auto).toBeUndefined();
    const auto = parseAgent(yaml(...BASE, "escalation: { auto: { below: 0.3 } }"), { file: agentDir.file });
    expect(auto.escalation).toEqual({ retries: 1, to: "planner", auto: { below: 0.3, window: 50, min: 5 } });
    const given = parseAgent(yaml(...BASE, "escalation: { auto: { below: 0.5, window: 10, min: 2 } }"), {
      file: agentDir.file,
    });
    expect(given.escalation.auto).toEqual({ below: 0.5, window: 10, min: 2 });
  });

  test("a rate above 1, `to: fail` and a min above the window are reported at their line:col", () => {
    expectIssues(yaml(...BASE, "escalation: { auto: { below: 1.5 } }"), agentDir.file, [
      ["9:30", "escalation.auto.below", /<=\s*1|at most 1|too big/i],
    ]);
    expectIssues(yaml(...BASE, "escalation: { to: fail, auto: { below: 0.3 } }"), agentDir.file, [
      ["9:31", "escalation.auto", /needs `to: planner`/],
    ]);
    expectIssues(yaml(...BASE, "escalation: { auto: { below: 0.3, window: 3, min: 4 } }"), agentDir.file, [
      ["9:51", "escalation.auto.min", /cannot exceed window \(3\)/],
    ]);
  });
});

/**
 * The `tool.progress` event (an MCP server's progress notifications): one line in the plain output, no redraw
 * of the live view, and accepted by the run store's event schema when a run is read back.
 */
import { describe, expect, it } from "vitest";
import { isStateChange } from "../../../src/cli/progress.js";
import { renderEvent } from "../../../src/cli/render.js";
import { runEventSchema } from "../../../src/runtime/store/storeSchemas.js";
import type { RunEvent } from "../../../src/types.js";

const event: RunEvent = {
  type: "tool.progress",
  runId: "r1",
  seq: 4,
  at: 1_000,
  subtaskId: "s1",
  tool: "everything.trigger-long-running-operation",
  progress: 2,
  total: 3,
  message: "step 2",
};

describe("tool.progress", () => {
  it("renders as one line with the step, the total and the message", () => {
    expect(renderEvent(event)).toBe("  s1 … everything.trigger-long-running-operation 2/3 step 2");
    const {
      total: _total,
      message: _message,
      ...bare
    } = event as Extract<RunEvent, { type: "tool.progress" }>;
    expect(renderEvent(bare)).toBe("  s1 … everything.trigger-long-running-operation 2");
  });

  it("is not a state change of the live view", () => {
    expect(isStateChange(event)).toBe(false);
  });

  it("is accepted by the store's event schema, and a malformed one is not", () => {
    expect(runEventSchema.safeParse(event).success).toBe(true);
    expect(runEventSchema.safeParse({ ...event, progress: "half" }).success).toBe(false);
  });
});

/** Shared helpers for the tools tests: a call context that records events, and result narrowing. */
import { expect } from "vitest";
import type { JsonValue, RunEventInput, ToolCallContext, ToolCallResult } from "../../../src/types.js";

export interface RecordingContext {
  readonly context: ToolCallContext;
  readonly events: RunEventInput[];
  readonly controller: AbortController;
}

export function callContext(overrides: Partial<ToolCallContext> = {}): RecordingContext {
  const events: RunEventInput[] = [];
  const controller = new AbortController();
  const context: ToolCallContext = {
    signal: controller.signal,
    emit: (event) => events.push(event),
    runId: "run-1",
    subtaskId: "s1",
    worker: "alpha",
    ...overrides,
  };
  return { context, events, controller };
}

/** Asserts success and returns the output. */
export function expectOk(result: ToolCallResult): JsonValue {
  if (!result.ok) throw new Error(`expected ok, got ${result.reason}: ${result.error}`);
  return result.output;
}

/** Asserts a failure with the given reason and returns its message. */
export function expectFailure(result: ToolCallResult, reason: string): string {
  expect(result.ok, result.ok ? JSON.stringify(result.output) : result.error).toBe(false);
  if (result.ok) throw new Error("unreachable");
  expect(result.reason, result.error).toBe(reason);
  return result.error;
}

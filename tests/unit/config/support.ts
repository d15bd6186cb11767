/**
 * Shared helpers of the agent-definition failure tests: a temporary directory with a model file in it, a way to
 * write YAML one numbered line at a time, and an assertion on the exact line:col, path and message of issues.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { parseAgent } from "../../../src/config/index.js";
import { type DefinitionIssue, ErrorCodes, isAgentDefinitionError } from "../../../src/errors.js";

/** A temporary agent directory holding `models/qwen.gguf`; `file` is an (unwritten) `agent.yaml` in it. */
export interface AgentDir {
  readonly dir: string;
  readonly file: string;
}

/** Creates the temporary agent directory before the file's tests and removes it after them. */
export function useAgentDir(): AgentDir {
  const state = { dir: "", file: "" };
  beforeAll(async () => {
    state.dir = await mkdtemp(join(tmpdir(), "edgecrew-config-bad-"));
    await mkdir(join(state.dir, "models"));
    await writeFile(join(state.dir, "models", "qwen.gguf"), "");
    state.file = join(state.dir, "agent.yaml");
  });
  afterAll(async () => {
    await rm(state.dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return state.dir;
    },
    get file() {
      return state.file;
    },
  };
}

/** Joins lines so that each case reads with its line numbers: the first argument is line 1. */
export const yaml = (...lines: string[]): string => `${lines.join("\n")}\n`;

/** Lines 1–8 of most cases, a valid agent; problems are added from line 9 or by replacing a line. */
export const BASE: readonly string[] = [
  "name: demo",
  "description: A demo agent",
  "planner:",
  "  model: openai:gpt-4o-mini",
  "workers:",
  "  - name: researcher",
  "    description: Finds facts",
  "    model: ./models/qwen.gguf",
];

/** BASE with line `n` (1-based) replaced. */
export const replaceLine = (n: number, line: string): string[] =>
  BASE.map((old, i) => (i === n - 1 ? line : old));

/** Runs `run`, expects an AgentDefinitionError and returns its issues. */
export function catchIssues(run: () => unknown): DefinitionIssue[] {
  try {
    run();
  } catch (error) {
    if (!isAgentDefinitionError(error)) throw error;
    expect(error.code).toBe(ErrorCodes.AGENT_INVALID);
    return [...error.issues];
  }
  throw new Error("expected the definition to be rejected");
}

/** One expected issue: `line:col`, dotted path, and a part of the message (or a pattern for it). */
export type Expected = readonly [where: string, path: string, message: string | RegExp];

/** Parses `text` as `file` and expects exactly these issues, in this order. */
export function expectIssues(text: string, file: string, expected: readonly Expected[]): void {
  const issues = catchIssues(() => parseAgent(text, { file }));
  expect(issues.map((issue) => [`${issue.line}:${issue.col}`, issue.path])).toEqual(
    expected.map(([where, path]) => [where, path]),
  );
  issues.forEach((issue, index) => {
    const message = expected[index]?.[2] ?? "";
    expect(issue.file).toBe(file);
    if (typeof message === "string") expect(issue.message).toContain(message);
    else expect(issue.message).toMatch(message);
  });
}

/**
 * Distillation data from stored runs, for `edgecrew distill export`: every completed subtask of one worker
 * becomes a fine-tuning example — the conversation the worker saw (its system prompt, the user prompt, its tool
 * calls and their results, in order) and the validated answer as the assistant's last turn. Answers the planner
 * gave after an escalation are the teacher's examples and are marked. The prompts are rebuilt with the worker's
 * own functions (workers/workerPrompts.ts, which loads no model) from the run's agent copy, the `subtask.started`
 * instruction (references already substituted) and the dependencies' stored answers, so the text is the worker's
 * byte for byte rather than a re-implementation. Pure apart from reading the store.
 */
import { dirname } from "node:path";
import { parseAgent } from "../config/index.js";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import { createRedactor, secretValuesFrom } from "../runtime/redact.js";
import type { FileRunStore } from "../runtime/store/FileRunStore.js";
import type {
  JsonValue,
  StoredRun,
  Subtask,
  SubtaskRequest,
  ToolCallResult,
  WorkerDefinition,
} from "../types.js";
import { workerSystemPrompt, workerUserPrompt } from "../workers/workerPrompts.js";

/** The dataset layouts `distill export` writes. */
export type DistillFormat = "openai" | "sharegpt";

/** One tool call of an example, with the result the worker was given. */
export interface DistillToolCall {
  readonly name: string;
  readonly args: JsonValue;
  readonly result: ToolCallResult;
}

/** One training example: what the worker saw and the validated answer. */
export interface DistillExample {
  readonly runId: string;
  readonly subtaskId: string;
  readonly worker: string;
  /** Whether the answer came from the planner after the worker failed (a teacher's example). */
  readonly escalated: boolean;
  /** Why the worker failed, for an escalated example. */
  readonly reason?: "invalid-output" | "model-failed";
  readonly system: string;
  readonly user: string;
  /** The worker's tool calls in order; empty for an escalated example (the planner answered without them). */
  readonly toolCalls: readonly DistillToolCall[];
  readonly answer: JsonValue;
}

/** What {@link examplesFromRun} found in one run. */
export interface RunExamples {
  readonly examples: readonly DistillExample[];
  /** Why the run gave nothing although it may hold the worker's subtasks (no agent copy, …). */
  readonly warnings: readonly string[];
}

interface Draft {
  instruction?: string;
  toolCalls: { name: string; args: JsonValue; result?: ToolCallResult }[];
  escalated?: "invalid-output" | "model-failed";
}

/** The tool names a run's events mention, so that an agent copy granting tools supplied in code still parses. */
function toolNamesOf(run: StoredRun): string[] {
  const names = new Set<string>();
  for (const event of run.events) if (event.type === "tool.called") names.add(event.tool);
  return [...names];
}

function workerOf(run: StoredRun, name: string): { worker?: WorkerDefinition; secrets: string[] } {
  const copy = run.meta.agentCopy;
  if (copy === undefined) {
    throw new Error("it keeps no copy of its agent definition, so the worker's system prompt is unknown");
  }
  const agent = parseAgent(copy.text, {
    file: copy.file,
    baseDir: dirname(copy.file),
    tools: toolNamesOf(run),
  });
  const worker = agent.workers.find((w) => w.name === name);
  return { ...(worker === undefined ? {} : { worker }), secrets: [...(agent.secrets ?? [])] };
}

/**
 * The examples of worker `worker` in one stored run: one per completed subtask the worker was given (in the
 * order they completed), with its secrets redacted again — the store already redacted them when it wrote the
 * run, but the values of the env vars the agent copy lists under `secrets:` (read from `env`) and key-shaped
 * strings are replaced once more, so a run written by an older edgecrew, or with `revealSecrets`, leaks nothing.
 * A run without an agent copy, or whose copy no longer parses, gives a warning and no examples.
 *
 * @example
 * const { examples } = examplesFromRun(await store.load(runId), "extractor");
 */
export function examplesFromRun(
  run: StoredRun,
  worker: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RunExamples {
  const mentions = run.events.some(
    (e) => (e.type === "subtask.started" || e.type === "subtask.escalated") && e.worker === worker,
  );
  if (!mentions) return { examples: [], warnings: [] };
  let found: { worker?: WorkerDefinition; secrets: string[] };
  try {
    found = workerOf(run, worker);
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { examples: [], warnings: [`run ${run.meta.runId} skipped: ${message}`] };
  }
  const definition = found.worker;
  if (definition === undefined) {
    return {
      examples: [],
      warnings: [`run ${run.meta.runId} skipped: its agent copy has no worker ${JSON.stringify(worker)}`],
    };
  }
  const redact = createRedactor(secretValuesFrom(found.secrets, env));

  const subtasks = new Map<string, Subtask>();
  const answers = new Map<string, JsonValue>(Object.entries(run.results).map(([id, r]) => [id, r.answer]));
  const drafts = new Map<string, Draft>();
  const examples: DistillExample[] = [];
  for (const event of run.events) {
    switch (event.type) {
      case "plan.created":
        for (const subtask of event.plan.subtasks) subtasks.set(subtask.id, subtask);
        break;
      case "run.resumed":
        for (const subtask of event.plan?.subtasks ?? []) subtasks.set(subtask.id, subtask);
        break;
      case "subtask.started":
        // A resumed run starts an unfinished subtask again: only the last start's calls led to the answer.
        drafts.set(event.subtaskId, { instruction: event.instruction, toolCalls: [] });
        break;
      case "tool.called":
        drafts.get(event.subtaskId)?.toolCalls.push({ name: event.tool, args: event.args });
        break;
      case "tool.result": {
        const call = drafts.get(event.subtaskId)?.toolCalls.find((c) => c.name === event.tool && !c.result);
        if (call !== undefined) call.result = event.result;
        break;
      }
      case "subtask.escalated": {
        const draft = drafts.get(event.subtaskId);
        if (draft !== undefined) draft.escalated = event.reason;
        break;
      }
      case "subtask.completed": {
        const result = event.result;
        answers.set(event.subtaskId, result.answer);
        const draft = drafts.get(event.subtaskId);
        const subtask = subtasks.get(event.subtaskId);
        if (result.worker !== worker || draft?.instruction === undefined || subtask === undefined) break;
        const dependencies: Record<string, JsonValue> = {};
        for (const id of subtask.dependsOn) {
          const answer = answers.get(id);
          if (answer !== undefined) dependencies[id] = answer;
        }
        const request: SubtaskRequest = {
          runId: run.meta.runId,
          task: run.meta.task,
          subtask: { ...subtask, instruction: draft.instruction },
          worker: definition,
          dependencies,
        };
        const escalated = result.by === "planner";
        const toolCalls = escalated
          ? []
          : draft.toolCalls.flatMap((c) => (c.result === undefined ? [] : [c as DistillToolCall]));
        examples.push({
          runId: run.meta.runId,
          subtaskId: event.subtaskId,
          worker,
          escalated,
          ...(escalated && draft.escalated !== undefined ? { reason: draft.escalated } : {}),
          system: redact.text(workerSystemPrompt(request, { hasTools: definition.tools.length > 0 })),
          user: redact.text(workerUserPrompt(request)),
          toolCalls: toolCalls.map((c) => ({
            name: c.name,
            args: redact.json(c.args),
            result: redact.json(c.result as unknown as JsonValue) as unknown as ToolCallResult,
          })),
          answer: redact.json(result.answer),
        });
        break;
      }
      default:
        break;
    }
  }
  return { examples, warnings: [] };
}

/** The JSON text of an answer as the worker writes it (compact JSON, which its grammar produces). */
function answerText(answer: JsonValue): string {
  return JSON.stringify(answer);
}

function metadataOf(example: DistillExample): Record<string, JsonValue> {
  return {
    source: "edgecrew",
    runId: example.runId,
    subtaskId: example.subtaskId,
    worker: example.worker,
    escalated: example.escalated,
    ...(example.reason === undefined ? {} : { reason: example.reason }),
  };
}

/**
 * One example as a JSONL record. `openai`: `{ messages, metadata }` in OpenAI's chat fine-tuning layout (tool
 * calls as an assistant message with `tool_calls`, each result as a `tool` message). `sharegpt`: `{ system,
 * conversations, metadata }` with `human` / `function_call` / `observation` / `gpt` turns (LLaMA-Factory's
 * ShareGPT convention). The provenance, `escalated` included, sits in one top-level `metadata` object, never
 * inside a message: trainers that read the `messages` / `conversations` column ignore it, and no chat template
 * renders it into the training text.
 */
export function formatExample(example: DistillExample, format: DistillFormat): Record<string, JsonValue> {
  if (format === "sharegpt") {
    const conversations: JsonValue[] = [{ from: "human", value: example.user }];
    for (const call of example.toolCalls) {
      conversations.push({
        from: "function_call",
        value: JSON.stringify({ name: call.name, arguments: call.args }),
      });
      conversations.push({ from: "observation", value: JSON.stringify(call.result) });
    }
    conversations.push({ from: "gpt", value: answerText(example.answer) });
    return { system: example.system, conversations, metadata: metadataOf(example) };
  }
  const messages: JsonValue[] = [
    { role: "system", content: example.system },
    { role: "user", content: example.user },
  ];
  for (const [index, call] of example.toolCalls.entries()) {
    const id = `call_${index + 1}`;
    messages.push({
      role: "assistant",
      content: null,
      tool_calls: [
        { id, type: "function", function: { name: call.name, arguments: JSON.stringify(call.args) } },
      ],
    });
    messages.push({ role: "tool", tool_call_id: id, content: JSON.stringify(call.result) });
  }
  messages.push({ role: "assistant", content: answerText(example.answer) });
  return { messages, metadata: metadataOf(example) };
}

/** Options of {@link exportDataset}. */
export interface ExportOptions {
  readonly worker: string;
  /** Only runs that started at or after this epoch-millisecond time. */
  readonly since?: number;
  readonly format: DistillFormat;
  /** Only the escalated (teacher's) examples. */
  readonly escalatedOnly?: boolean;
  /** Where the `secrets:` env vars are read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Told about every run that was skipped, and why. */
  readonly warn?: (message: string) => void;
}

/** What {@link exportDataset} produced. */
export interface ExportedDataset {
  /** One JSON text per example, without newlines. */
  readonly lines: readonly string[];
  readonly runs: number;
  readonly examples: number;
  readonly escalated: number;
  /** Examples dropped because an earlier one had the same prompt and answer. */
  readonly duplicates: number;
}

/**
 * Reads every run of `store` (oldest first) and returns the worker's examples as JSONL lines, deduplicated on
 * the conversation (same prompts, tool calls and answer once; the first is kept). A run the store cannot load
 * is skipped with a warning, never fatal: one damaged run must not hide the others.
 *
 * @example
 * const dataset = await exportDataset(store, { worker: "extractor", format: "openai", warn: console.error });
 */
export async function exportDataset(store: FileRunStore, options: ExportOptions): Promise<ExportedDataset> {
  const warn = options.warn ?? (() => {});
  const metas = [...(await store.list())].reverse();
  const seen = new Set<string>();
  const lines: string[] = [];
  let runs = 0;
  let escalated = 0;
  let duplicates = 0;
  for (const meta of metas) {
    if (options.since !== undefined && meta.createdAt < options.since) continue;
    let run: StoredRun;
    try {
      run = await store.load(meta.runId);
    } catch (error) {
      warn(`run ${meta.runId} skipped: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    runs++;
    const found = examplesFromRun(run, options.worker, options.env);
    for (const message of found.warnings) warn(message);
    for (const example of found.examples) {
      if (options.escalatedOnly === true && !example.escalated) continue;
      const { metadata: _metadata, ...content } = formatExample(example, options.format);
      const key = JSON.stringify(content);
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      if (example.escalated) escalated++;
      lines.push(JSON.stringify(formatExample(example, options.format)));
    }
  }
  return { lines, runs, examples: lines.length, escalated, duplicates };
}

/** Parses `--since`: an ISO date or date-time (`2026-11-01`, `2026-11-01T08:00:00Z`); USAGE when it is not. */
export function parseSince(text: string): number {
  const at = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(at)) {
    throw new EdgecrewError(
      ErrorCodes.USAGE,
      `--since wants a date like 2026-11-01 or 2026-11-01T08:00:00Z, got ${JSON.stringify(text)}`,
      { context: { since: text } },
    );
  }
  return at;
}

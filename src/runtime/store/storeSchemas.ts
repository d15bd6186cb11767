/**
 * Minimal zod schemas of what a run store records. They check what resume relies on (ids, revisions, the plan's
 * shape, a result's subtask and answer, the journal's call ids) and no more: event payloads are only checked for
 * `type`, `runId`, `seq` and `at`, and every object schema is loose, so a field added later survives a round
 * trip through an older reader instead of being stripped.
 */
import { z } from "zod";
import type {
  JsonValue,
  Plan,
  RunEvent,
  RunMeta,
  RunResult,
  SubtaskResult,
  ToolJournalEntry,
} from "../../types.js";

/** Any JSON value (what `JSON.parse` returns), typed as the domain's JsonValue. */
const jsonValue: z.ZodType<JsonValue> = z.json();

const nonNegativeInt = z.int().min(0);

/** A run's `meta.json` (RunMeta). */
export const runMetaSchema = z.looseObject({
  runId: z.string().min(1),
  agent: z.string(),
  agentSource: z.string().optional(),
  task: z.string(),
  createdAt: z.number(),
});

const subtaskSchema = z.looseObject({
  id: z.string().min(1),
  worker: z.string(),
  instruction: z.string(),
  dependsOn: z.array(z.string()),
});

/** A Plan: its subtasks' ids, workers, instructions and dependencies (DAG rules are the planner's job). */
export const planSchema = z.looseObject({ subtasks: z.array(subtaskSchema) });

/** `plan.json` of the file store: the current plan and its revision. */
export const planFileSchema = z.looseObject({ revision: nonNegativeInt, plan: planSchema });

const usageRecordSchema = z.looseObject({
  model: z.string(),
  locality: z.enum(["local", "remote"]),
  promptTokens: z.number(),
  completionTokens: z.number(),
  durationMs: z.number(),
  loadMs: z.number(),
});

/** A SubtaskResult: the answer is any JSON; the worker's schema was checked before it was stored. */
export const subtaskResultSchema = z.looseObject({
  subtaskId: z.string().min(1),
  worker: z.string(),
  answer: jsonValue,
  by: z.enum(["worker", "planner"]),
  attempts: nonNegativeInt,
  startedAt: z.number(),
  endedAt: z.number(),
  usage: z.array(usageRecordSchema),
});

/** Only the envelope every event shares; payloads vary by type and are the runtime's business. */
export const runEventSchema = z.looseObject({
  type: z.string().min(1),
  runId: z.string().min(1),
  seq: nonNegativeInt,
  at: z.number(),
});

const toolCallResultSchema = z.union([
  z.looseObject({ ok: z.literal(true), output: jsonValue }),
  z.looseObject({ ok: z.literal(false), reason: z.string(), error: z.string() }),
]);

/** A tool-journal line: an intent (no `result`) or a call's outcome. */
export const toolJournalEntrySchema = z.looseObject({
  subtaskId: z.string().min(1),
  callId: z.string().min(1),
  tool: z.string().min(1),
  args: jsonValue,
  idempotent: z.boolean(),
  result: toolCallResultSchema.optional(),
});

/** A RunResult (`outcome.json`): status, results and ledger; the answer is any JSON. */
export const runResultSchema = z.looseObject({
  runId: z.string().min(1),
  agent: z.string(),
  task: z.string(),
  status: z.enum(["completed", "failed", "cancelled"]),
  plan: planSchema.optional(),
  results: z.array(subtaskResultSchema),
  answer: jsonValue.optional(),
  error: z.looseObject({ code: z.string(), message: z.string() }).optional(),
  ledger: z.looseObject({ models: z.array(z.looseObject({})) }),
  startedAt: z.number(),
  endedAt: z.number(),
});

/** The record kinds a store validates, and the domain type each one stands for. */
export interface StoredRecords {
  readonly meta: RunMeta;
  readonly event: RunEvent;
  readonly plan: Plan;
  readonly planFile: { readonly revision: number; readonly plan: Plan };
  readonly result: SubtaskResult;
  readonly journal: ToolJournalEntry;
  readonly outcome: RunResult;
}

const schemas: { readonly [K in keyof StoredRecords]: z.ZodType } = {
  meta: runMetaSchema,
  event: runEventSchema,
  plan: planSchema,
  planFile: planFileSchema,
  result: subtaskResultSchema,
  journal: toolJournalEntrySchema,
  outcome: runResultSchema,
};

/** A record that passed its schema, or the problems found (`path: message`, one per issue). */
export type RecordCheck<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: string };

/**
 * Checks `value` against the schema of record kind `kind`. The checked value is returned as the domain type:
 * the schemas are deliberately looser than the types (event payloads are not checked), so this is where the
 * store decides to trust the rest of the record.
 *
 * @example
 * const checked = checkRecord("meta", JSON.parse(text));
 * if (!checked.ok) throw new Error(checked.problems);
 */
export function checkRecord<K extends keyof StoredRecords>(
  kind: K,
  value: unknown,
): RecordCheck<StoredRecords[K]> {
  const parsed = schemas[kind].safeParse(value);
  if (parsed.success) return { ok: true, value: value as StoredRecords[K] };
  const problems = parsed.error.issues
    .map(
      (issue) => `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(root)"}: ${issue.message}`,
    )
    .join("; ");
  return { ok: false, problems };
}

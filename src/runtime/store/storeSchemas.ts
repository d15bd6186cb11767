/**
 * Minimal zod schemas of what a run store records, every file of a run included. They check what resume relies
 * on and what `inspect` and `runs` read (ids, revisions, the plan's shape, a result's subtask and answer, the
 * journal's call ids, the usage records the ledger adds up, each known event type's payload, the agent copy) and
 * no more: an event of a type this version does not know is checked for its envelope only, and every object
 * schema is loose, so a field added later survives a round trip through an older reader instead of being
 * stripped. A run directory is data anyone with write access may have shaped: nothing read from it is trusted
 * unchecked.
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

/** A copy of the agent YAML kept in the meta (AgentCopy); load also checks the text against the hash. */
const agentCopySchema = z.looseObject({
  file: z.string().min(1),
  text: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "a lower-case hex SHA-256"),
});

/** A run's `meta.json` (RunMeta). */
export const runMetaSchema = z.looseObject({
  runId: z.string().min(1),
  agent: z.string(),
  agentSource: z.string().optional(),
  agentCopy: agentCopySchema.optional(),
  task: z.string(),
  createdAt: z.number(),
  privateTask: z.boolean().optional(),
});

const subtaskSchema = z.looseObject({
  id: z.string().min(1),
  worker: z.string(),
  instruction: z.string(),
  dependsOn: z.array(z.string()),
  tools: z.array(z.string()).optional(),
});

/** A Plan: its subtasks' ids, workers, instructions and dependencies (DAG rules are the planner's job). */
export const planSchema = z.looseObject({ subtasks: z.array(subtaskSchema) });

/** `plan.json` of the file store: the current plan and its revision. */
export const planFileSchema = z.looseObject({ revision: nonNegativeInt, plan: planSchema });

/** A UsageRecord: token counts are whole numbers, times are not negative (the ledger adds them up). */
const usageRecordSchema = z.looseObject({
  model: z.string(),
  locality: z.enum(["local", "remote"]),
  promptTokens: nonNegativeInt,
  completionTokens: nonNegativeInt,
  durationMs: z.number().min(0),
  loadMs: z.number().min(0),
});

/**
 * `snapshot.json`: the runtime's latest machine snapshot. Resume reads the usage spent outside subtasks (planner
 * calls) from it into the ledger, so every field it writes is checked when present; a store's own fields pass.
 */
export const snapshotSchema = z.looseObject({
  state: z.string().optional(),
  revision: nonNegativeInt.optional(),
  running: z.array(z.string()).optional(),
  completed: z.array(z.string()).optional(),
  usage: z.array(usageRecordSchema).optional(),
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

const toolCallResultSchema = z.union([
  z.looseObject({ ok: z.literal(true), output: jsonValue }),
  z.looseObject({ ok: z.literal(false), reason: z.string(), error: z.string() }),
]);

const errorInfoSchema = z.looseObject({ code: z.string(), message: z.string() });
const strings = z.array(z.string());

/**
 * The payload of each event type the runtime writes (RunEventPayloads), with the fields `inspect`, `runs` and
 * resume read. A type not listed here (written by a newer edgecrew) is checked for its envelope only.
 */
const eventPayloadSchemas: Readonly<Record<string, z.ZodType>> = {
  "run.started": z.looseObject({ task: z.string(), agent: z.string() }),
  "run.resumed": z.looseObject({
    agent: z.string(),
    task: z.string(),
    completed: strings,
    revision: nonNegativeInt,
    plan: planSchema.optional(),
  }),
  "plan.created": z.looseObject({
    plan: planSchema,
    attempt: z.number(),
    revision: nonNegativeInt.optional(),
  }),
  "plan.rejected": z.looseObject({ errors: strings, attempt: z.number() }),
  "answer.rejected": z.looseObject({
    errors: strings,
    attempt: z.number(),
    subtaskId: z.string().optional(),
  }),
  "plan.revised": z.looseObject({ reason: z.string(), revision: nonNegativeInt, reused: strings }),
  "subtask.started": z.looseObject({
    subtaskId: z.string(),
    worker: z.string(),
    model: z.string(),
    instruction: z.string(),
  }),
  "subtask.routed": z.looseObject({
    subtaskId: z.string(),
    worker: z.string(),
    identity: z.string(),
    rate: z.number(),
    subtasks: nonNegativeInt,
    window: nonNegativeInt,
    below: z.number(),
    reason: z.string(),
  }),
  "subtask.repairing": z.looseObject({ subtaskId: z.string(), attempt: z.number(), errors: strings }),
  "subtask.escalated": z.looseObject({
    subtaskId: z.string(),
    worker: z.string(),
    reason: z.string(),
    errors: strings,
  }),
  "subtask.completed": z.looseObject({ subtaskId: z.string(), result: subtaskResultSchema }),
  "subtask.failed": z.looseObject({ subtaskId: z.string(), error: errorInfoSchema }),
  "model.loading": z.looseObject({ model: z.string(), estimatedBytes: z.number().optional() }),
  "model.loaded": z.looseObject({ model: z.string(), bytes: z.number().optional(), ms: z.number() }),
  "model.unloaded": z.looseObject({ model: z.string(), bytes: z.number().optional() }),
  "tool.called": z.looseObject({ subtaskId: z.string(), tool: z.string(), args: jsonValue }),
  "tool.result": z.looseObject({
    subtaskId: z.string(),
    tool: z.string(),
    result: toolCallResultSchema,
    ms: z.number(),
  }),
  "tool.shortened": z.looseObject({
    subtaskId: z.string(),
    tool: z.string(),
    shownCharacters: nonNegativeInt,
    totalCharacters: nonNegativeInt,
    contextSize: nonNegativeInt,
  }),
  "tool.progress": z.looseObject({
    subtaskId: z.string(),
    tool: z.string(),
    progress: z.number(),
    total: z.number().optional(),
    message: z.string().optional(),
  }),
  "tools.offered": z.looseObject({
    subtaskId: z.string(),
    worker: z.string(),
    tools: strings,
    ranked: z.array(z.looseObject({ tool: z.string(), score: z.number() })),
    named: strings.optional(),
    ranker: z.enum(["bm25", "embedding"]).optional(),
    model: z.string().optional(),
  }),
  "planner.request": z.looseObject({
    purpose: z.string(),
    model: z.string(),
    bytes: nonNegativeInt,
    messages: nonNegativeInt,
    promptTokens: nonNegativeInt.optional(),
    completionTokens: nonNegativeInt.optional(),
    origins: z.array(
      z.looseObject({
        kind: z.string(),
        id: z.string(),
        private: z.boolean(),
        sent: z.enum(["placeholders", "withheld"]).optional(),
      }),
    ),
    subtaskId: z.string().optional(),
  }),
  "run.completed": z.looseObject({ answer: jsonValue }),
  "run.failed": z.looseObject({ error: errorInfoSchema }),
  "run.cancelled": z.looseObject({ reason: z.string() }),
};

/** An event: the envelope every event shares, and the payload of its type (see eventPayloadSchemas). */
export const runEventSchema = z
  .looseObject({
    type: z.string().min(1),
    runId: z.string().min(1),
    seq: nonNegativeInt,
    at: z.number(),
  })
  .superRefine((event, ctx) => {
    const payload = Object.hasOwn(eventPayloadSchemas, event.type)
      ? eventPayloadSchemas[event.type]
      : undefined;
    const parsed = payload?.safeParse(event);
    for (const issue of parsed?.success === false ? parsed.error.issues : []) {
      ctx.addIssue({ code: "custom", path: issue.path, message: `${event.type}: ${issue.message}` });
    }
  });

/** A tool-journal line: an intent (no `result`) or a call's outcome. */
export const toolJournalEntrySchema = z.looseObject({
  subtaskId: z.string().min(1),
  callId: z.string().min(1),
  tool: z.string().min(1),
  args: jsonValue,
  idempotent: z.boolean(),
  result: toolCallResultSchema.optional(),
});

const tokensSchema = z.looseObject({ promptTokens: nonNegativeInt, completionTokens: nonNegativeInt });

/** A Ledger, as `inspect` prints it: per model (a usage record with its call count), local and remote. */
const ledgerSchema = z.looseObject({
  models: z.array(usageRecordSchema.extend({ calls: nonNegativeInt })),
  local: tokensSchema,
  remote: tokensSchema,
});

/**
 * A RunResult (`outcome.json`): status, results and ledger; the answer is any JSON. Checked as the union the type
 * says, so that a result read back narrows as it did in memory: a completed run has an answer, a failed one an
 * error.
 */
export const runResultSchema = z
  .looseObject({
    runId: z.string().min(1),
    agent: z.string(),
    task: z.string(),
    status: z.enum(["completed", "failed", "cancelled"]),
    plan: planSchema.optional(),
    results: z.array(subtaskResultSchema),
    answer: jsonValue.optional(),
    error: errorInfoSchema.optional(),
    ledger: ledgerSchema,
    startedAt: z.number(),
    endedAt: z.number(),
  })
  .superRefine((outcome, ctx) => {
    if (outcome.status === "completed" && outcome.answer === undefined) {
      ctx.addIssue({ code: "custom", path: ["answer"], message: "a completed run has an answer" });
    }
    if (outcome.status === "failed" && outcome.error === undefined) {
      ctx.addIssue({ code: "custom", path: ["error"], message: "a failed run has an error" });
    }
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
  readonly snapshot: JsonValue;
}

const schemas: { readonly [K in keyof StoredRecords]: z.ZodType } = {
  meta: runMetaSchema,
  event: runEventSchema,
  plan: planSchema,
  planFile: planFileSchema,
  result: subtaskResultSchema,
  journal: toolJournalEntrySchema,
  outcome: runResultSchema,
  snapshot: snapshotSchema,
};

/** A record that passed its schema, or the problems found (`path: message`, one per issue). */
export type RecordCheck<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: string };

/**
 * Checks `value` against the schema of record kind `kind`. The checked value is returned as the domain type:
 * the schemas are deliberately looser than the types (extra fields pass), so this is where the store decides to
 * trust the rest of the record.
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

/**
 * Domain types shared by every layer, and the ports through which the runtime talks to the planner, the
 * workers and the tools. The runtime imports nothing but this file, errors.ts and tools/: it never sees
 * LangChain or node-llama-cpp, so it can be tested with plain fakes and can drive any planner or worker.
 */
import type { ErrorInfo } from "./errors.js";

// ─── JSON ────────────────────────────────────────────────────────────────────────────────────────────────

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
/** A JSON Schema document (draft 2020-12 subset), as written in an agent's YAML. */
export type JsonSchema = JsonObject;

// ─── Model references ──────────────────────────────────────────────────────────────────────────────────

/** Size classes of generated fixture models (see `edgecrew/testing`). */
export type FixtureSize = "tiny" | "small" | "bench";

/**
 * A parsed model reference. Workers accept the local kinds only; the planner also accepts `remote`
 * (a LangChain `provider:model` id, created with `initChatModel`).
 */
export type ModelRef =
  | { readonly kind: "file"; readonly raw: string; readonly path: string }
  | { readonly kind: "hf"; readonly raw: string; readonly uri: string }
  | {
      readonly kind: "fixture";
      readonly raw: string;
      readonly name: string;
      readonly seed: number;
      readonly size: FixtureSize;
      /**
       * The model family whose real tokenizer, chat template and architecture the fixture imitates
       * (`fixture:NAME?family=qwen3`); absent for the toy fixture (llama architecture, 365-token vocabulary).
       */
      readonly family?: "qwen3" | "qwen2" | "llama3" | "llama3.1" | "gemma3";
    }
  | { readonly kind: "remote"; readonly raw: string; readonly provider: string; readonly model: string };

/** A model that runs in-process through node-llama-cpp. */
export type LocalModelRef = Exclude<ModelRef, { kind: "remote" }>;

// ─── Agent definition ────────────────────────────────────────────────────────────────────────────────────

/** GPU backend choice; `false` runs on the CPU only. */
export type GpuSetting = "auto" | "cuda" | "vulkan" | "metal" | false;

export interface DeviceConfig {
  /** Memory budget for resident models + contexts, in bytes; `undefined` means no budget. */
  readonly memoryBytes?: number;
  /** Threads for llama.cpp; `undefined` means the machine's physical cores (never more). */
  readonly threads?: number;
  readonly gpu: GpuSetting;
}

export interface Limits {
  /** Most subtasks a plan may have. */
  readonly maxSubtasks: number;
  /** Most subtasks running at once across all workers. */
  readonly maxParallel: number;
  /** Most revised plans the joiner may ask for. */
  readonly maxReplans: number;
  /** Whole-run wall-clock limit. */
  readonly timeoutSeconds: number;
  /** Per-subtask wall-clock limit. */
  readonly subtaskTimeoutSeconds: number;
  /** Tokens (prompt + completion) a run may spend on remote models; undefined means no budget. */
  readonly maxRemoteTokens?: number;
}

export interface EscalationConfig {
  /** Repair turns a worker gets after its answer fails validation. */
  readonly retries: number;
  /** Who takes a subtask the worker could not answer: the planner model, or nobody (the subtask fails). */
  readonly to: "planner" | "fail";
  /** Routing learned from history: absent, every subtask goes to its worker first. */
  readonly auto?: AutoEscalationConfig;
}

/**
 * Auto-escalation: while a worker's first-try rate over its last `window` subtasks (in this agent's stored runs,
 * on its current model and LoRA adapters) is below `below`, with at least `min` subtasks counted, its subtasks
 * go straight to the planner (`subtask.routed`). Read once per run from the run store. Needs `to: planner`.
 */
export interface AutoEscalationConfig {
  /** The first-try rate (0–1) under which the worker is skipped. */
  readonly below: number;
  /** How many of the worker's most recent subtasks the rate is computed over (also the most runs read). */
  readonly window: number;
  /** Fewest subtasks in the window before the rate is trusted; with fewer the worker runs. */
  readonly min: number;
}

export interface PlannerConfig {
  readonly model: ModelRef;
  readonly temperature?: number;
  readonly maxTokens?: number;
  /** Context size when the planner is a local GGUF. */
  readonly contextSize?: number;
}

export interface WorkerDefinition {
  readonly name: string;
  readonly description: string;
  readonly model: LocalModelRef;
  readonly system?: string;
  /** Names of the tools this worker may call (a subset of the agent's tools). */
  readonly tools: readonly string[];
  /**
   * Whether the worker must call a tool before it answers. `"auto"` (also what an absent key means): the model
   * decides, and may answer at once. `"required"`: the first model turn of every subtask is forced to be a call
   * of one of the granted tools (small models often answer instead of calling); after it, the model decides.
   */
  readonly toolChoice?: "auto" | "required";
  /**
   * Most tool calls in one of its subtasks (absent: the worker port's default, 8). After the last one the model
   * may only answer: the grammar no longer offers a call.
   */
  readonly maxToolCalls?: number;
  /**
   * Tool RAG: offer each subtask at most `k` of the granted tools, the ones most relevant to its instruction
   * (a BM25 ranking of names, descriptions and parameters; ties in grant order), and fewer when their
   * documentation would not fit the context with `maxTokens`. Tools the plan names for the subtask are always
   * offered. Absent: every granted tool is offered to every subtask. Each subtask's set is a `tools.offered` event.
   * With `model`, a local GGUF embedding model ranks instead of BM25: cosine similarity between the instruction's
   * embedding and each tool's (see workers/embeddingRanker.ts); it is loaded on the model manager like any model
   * (memory budget, shared by the workers naming it), and a model that cannot load fails the subtask with its
   * error code, never falling back to BM25.
   */
  readonly toolSearch?: { readonly k: number; readonly model?: LocalModelRef };
  /** JSON Schema of the worker's answer; every answer is grammar-constrained and validated by it. */
  readonly output: JsonSchema;
  readonly contextSize: number;
  readonly maxTokens: number;
  readonly temperature: number;
  /** Sequences on this worker's model: how many of its subtasks may run at once. */
  readonly parallel: number;
  /**
   * LoRA adapters applied to the worker's model (in order). A model with a given adapter set gets its own
   * context; absent or empty: the plain model, shared with every other user of it.
   */
  readonly lora?: readonly LoraAdapter[];
  /**
   * Privacy of the worker's answers. `true`: private (never sent to a remote planner as they are). `false`: public
   * even when its tools or dependencies are private — a declassifier, e.g. a summariser whose output schema has
   * no private fields. Absent: private when a granted tool is private or the subtask depends on a private answer.
   */
  readonly private?: boolean;
}

/** A LoRA adapter GGUF applied to a worker's model. */
export interface LoraAdapter {
  /** Absolute path of the adapter's GGUF file (relative paths in YAML resolve against the agent file). */
  readonly path: string;
  /** How strongly it applies: 0 is the base model, 1 the adapter as trained. */
  readonly scale: number;
}

/** A built-in tool enabled by the agent, with its options (validated per tool by the config layer). */
export interface BuiltinToolConfig {
  readonly kind: "builtin";
  readonly name: "calculator" | "fs" | "http" | "shell";
  readonly options: JsonObject;
  /** Its results are private data (`private: true` in the YAML entry); see WorkerDefinition's `private`. */
  readonly private?: boolean;
}

/**
 * An MCP server started over stdio when the crew is created; its tools are registered as `name.tool`, and a
 * worker grants `name` (all of them) or `name.tool` (one).
 */
export interface McpToolConfig {
  readonly kind: "mcp";
  /** The server's tools' results are private data (`private: true`). */
  readonly private?: boolean;
  /** The namespace of the server's tools and the name workers grant. */
  readonly name: string;
  /** The program to run (no shell: `args` are passed as they are). */
  readonly command: string;
  readonly args: readonly string[];
  /** Added to a minimal inherited environment (PATH, HOME, …). */
  readonly env: Readonly<Record<string, string>>;
  /** Working directory of the server (absolute once loaded from YAML). */
  readonly cwd?: string;
  /** Per-call timeout in ms for the server's tools (default: the registry's). */
  readonly timeoutMs?: number;
  /** How long the server may take to start, answer the handshake and list its tools, in ms (default 10 s). */
  readonly startTimeoutMs?: number;
  /**
   * Absolute directories the client offers as MCP roots (`roots/list`, sent as file:// URIs). From YAML: the
   * entry's `roots:`, else the root of the agent's fs tool; absent: an empty list.
   */
  readonly roots?: readonly string[];
  /**
   * Whether calls of the server's tools wait for approval. Absent: only tools the server marks destructive
   * (`destructiveHint` and not `readOnlyHint`) do.
   */
  readonly approve?: boolean;
}

/**
 * A LangChain tool exported by a JS module (`- langchain: { module, export }` in YAML), imported when the crew is
 * created (never while the YAML is parsed) and adapted with `fromLangChainTool`.
 */
export interface LangChainToolConfig {
  readonly kind: "langchain";
  /** The tool's results are private data (`private: true`). */
  readonly private?: boolean;
  /** The module as written: a path relative to the agent file, or a package name. */
  readonly module: string;
  /** The module's file, resolved when the definition was loaded (a package with Node's resolution from there). */
  readonly path: string;
  /** The export that holds the tool, or a factory of it (default `default`). */
  readonly export: string;
  /** Options a factory export is called (a function) or constructed (a class) with. */
  readonly options?: JsonObject;
  /** The name workers grant (default: the tool's own name). */
  readonly name?: string;
  /** Safe to run twice with the same arguments (default false). */
  readonly idempotent?: boolean;
  /** Every call waits for a human's approval (default false). */
  readonly approve?: boolean;
}

export type ToolConfig = BuiltinToolConfig | McpToolConfig | LangChainToolConfig;

/**
 * A validated agent definition: what `loadAgent` returns and `createCrew` consumes. The type parameters are the
 * types of the final answer and of each worker's answers (by worker name); `defineAgent` infers them from zod
 * schemas, and `createCrew` carries them into {@link RunResult}. A YAML agent has the defaults (any JSON).
 */
export interface AgentDefinition<
  TAnswer = JsonValue,
  TWorkerAnswers extends WorkerAnswerTypes = AnyWorkerAnswers,
> {
  /** Type-level only, never present at run time: the answer types `RunResult` is typed with. */
  readonly "~types"?: { readonly answer: TAnswer; readonly workers: TWorkerAnswers };
  readonly name: string;
  readonly description: string;
  /** The file it was loaded from, when it came from YAML (relative model paths resolve against it). */
  readonly source?: string;
  readonly planner: PlannerConfig;
  readonly workers: readonly WorkerDefinition[];
  readonly tools: readonly ToolConfig[];
  readonly limits: Limits;
  readonly device: DeviceConfig;
  readonly escalation: EscalationConfig;
  /** Run the workers on devices through a NATS hub (`edgecrew device`); absent: in this process. */
  readonly fleet?: FleetConfig;
  /** Optional JSON Schema for the final answer the joiner gives. */
  readonly answer?: JsonSchema;
  /** Environment variables whose values are redacted from events and the run directory. */
  readonly secrets?: readonly string[];
  /** What a remote planner may see of private data (tools and workers marked `private`, private tasks). */
  readonly privacy?: PrivacyConfig;
}

/**
 * How private data meets a remote planner: `strict` never sends a private value (a request that would carry one
 * fails with PRIVACY_VIOLATION before it is sent; private answers are withheld from final-answer and replan
 * prompts); `redact` sends placeholders (`⟨private:s2.answer.name⟩`) that edgecrew fills back in locally.
 */
export type PrivacyPolicy = "strict" | "redact";

/** The agent's `privacy:` section. */
export interface PrivacyConfig {
  readonly policy: PrivacyPolicy;
}

/** A fleet: the hub and its timings (see `fleet:` in the agent YAML). */
export interface FleetConfig {
  /** NATS URL of the hub, without credentials (they come from the environment or `--hub`). */
  readonly hub: string;
  /** How long a device may stay silent on a subtask before the hub redelivers it to another device. */
  readonly ackWaitSeconds: number;
  /** How long a subtask waits for a live device that serves its worker before failing with NO_DEVICE. */
  readonly deviceWaitSeconds: number;
}

/** The answer type of each worker of an agent, by worker name (see {@link AgentDefinition}). */
export type WorkerAnswerTypes = { readonly [worker: string]: unknown };

/** The worker answer types of an agent that says nothing more: any worker, any JSON answer. */
export type AnyWorkerAnswers = { readonly [worker: string]: JsonValue };

// ─── Plans and results ─────────────────────────────────────────────────────────────────────────────────

/** One node of a plan's DAG. */
export interface Subtask {
  /** Unique within the plan, e.g. `s1`. */
  readonly id: string;
  /** The worker that runs it. */
  readonly worker: string;
  /** What to do; may reference a dependency's answer as `{{s1.answer.field}}`. */
  readonly instruction: string;
  /** Ids of subtasks that must complete first. */
  readonly dependsOn: readonly string[];
  /**
   * Tools of its worker the planner says this subtask needs (each granted to the worker); a worker with
   * `toolSearch` always offers them, whatever the ranking. Absent: the ranking alone decides.
   */
  readonly tools?: readonly string[];
}

/** A validated plan: a DAG of subtasks (acyclic, every dependency exists, every worker exists). */
export interface Plan {
  readonly subtasks: readonly Subtask[];
}

/** Who produced a subtask's answer. */
export type AnsweredBy = "worker" | "planner";

/**
 * A completed subtask: which worker answered and with what. `TWorker` and `TAnswer` narrow it for typed agents
 * (see {@link SubtaskResultOf}): checking `result.worker === "researcher"` then types `result.answer`.
 */
export interface SubtaskResult<TWorker extends string = string, TAnswer = JsonValue> {
  readonly subtaskId: string;
  readonly worker: TWorker;
  /** The answer, valid against the worker's output schema. */
  readonly answer: TAnswer;
  readonly by: AnsweredBy;
  /** Generation attempts: 1 for a first-try answer, more after repairs. */
  readonly attempts: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly usage: readonly UsageRecord[];
  /** In a fleet: the device that ran it. */
  readonly device?: string;
}

/** The joiner's decision after seeing the results. */
export type JoinDecision =
  | { readonly kind: "answer"; readonly answer: JsonValue }
  | { readonly kind: "replan"; readonly reason: string };

// ─── Usage ───────────────────────────────────────────────────────────────────────────────────────────────

/** Whether a model ran in-process (local) or behind a provider's API (remote). */
export type Locality = "local" | "remote";

/** Tokens and time of one model call (or one model load, with zero tokens). */
export interface UsageRecord {
  /** The model reference as written (`fixture:tiny?seed=1`, `openai:gpt-4o-mini`, …). */
  readonly model: string;
  readonly locality: Locality;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Wall time of the call, in milliseconds. */
  readonly durationMs: number;
  /** Time spent loading the model for this call, in milliseconds (0 when it was already resident). */
  readonly loadMs: number;
}

export interface ModelUsage {
  readonly model: string;
  readonly locality: Locality;
  readonly calls: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly durationMs: number;
  readonly loadMs: number;
}

/** Tokens and time per model, split local vs remote. */
export interface Ledger {
  readonly models: readonly ModelUsage[];
  readonly local: { readonly promptTokens: number; readonly completionTokens: number };
  readonly remote: { readonly promptTokens: number; readonly completionTokens: number };
}

// ─── Events ──────────────────────────────────────────────────────────────────────────────────────────────

/** The payload of each event type. Names are namespaced (`plan.created`, `subtask.completed`, …). */
export interface RunEventPayloads {
  "run.started": { readonly task: string; readonly agent: string };
  /** A stored run continues after a crash or stop: `completed` subtasks are not run again. */
  "run.resumed": {
    readonly agent: string;
    readonly task: string;
    readonly completed: readonly string[];
    readonly revision: number;
    /** The stored plan the run continues, when planning had finished before the stop. */
    readonly plan?: Plan;
  };
  "plan.created": {
    readonly plan: Plan;
    readonly attempt: number;
    /**
     * The plan revision (0 for the first plan), stamped by the runtime, which emits the event once the plan is
     * stored and after the replan's `plan.revised`. Absent in runs recorded before it was added.
     */
    readonly revision?: number;
  };
  "plan.rejected": { readonly errors: readonly string[]; readonly attempt: number };
  /**
   * The planner's final answer (or join decision) failed its schema and the planner is asked again; with
   * `subtaskId`, its answer for that escalated subtask failed the worker's schema (docs/PLANNER.md).
   */
  "answer.rejected": {
    readonly errors: readonly string[];
    readonly attempt: number;
    readonly subtaskId?: string;
  };
  "plan.revised": {
    readonly reason: string;
    /** Which replan this is (1 for the first). */
    readonly revision: number;
    /** Subtasks of the new plan whose results were reused from the previous one (not run again). */
    readonly reused: readonly string[];
  };
  "subtask.started": {
    readonly subtaskId: string;
    readonly worker: string;
    readonly model: string;
    /**
     * The worker's model with its LoRA adapters (`model+lora(path@scale,…)`), when it has adapters: what its
     * history for auto-escalation is keyed by (without adapters the key is `model`).
     */
    readonly identity?: string;
    /** The instruction as the worker gets it, references to dependencies' answers substituted. */
    readonly instruction: string;
  };
  /**
   * Auto-escalation (`escalation.auto`): the subtask goes straight to the planner without running its worker,
   * because the worker's first-try rate over its last `subtasks` subtasks (at most `window`) is below `below`.
   */
  "subtask.routed": {
    readonly subtaskId: string;
    readonly worker: string;
    /** The worker's model (and adapters) the history was read for. */
    readonly identity: string;
    /** First-try rate over the subtasks counted (0–1). */
    readonly rate: number;
    /** Subtasks counted (≤ window). */
    readonly subtasks: number;
    readonly window: number;
    readonly below: number;
    readonly reason: string;
  };
  "subtask.repairing": {
    readonly subtaskId: string;
    readonly attempt: number;
    readonly errors: readonly string[];
  };
  "subtask.escalated": {
    readonly subtaskId: string;
    readonly worker: string;
    /** Why the worker could not answer: every attempt invalid, or its model failed. */
    readonly reason: "invalid-output" | "model-failed";
    readonly errors: readonly string[];
  };
  /**
   * Opt-in (`crew.run(task, { stream: true })`, `--stream`): text the subtask's local model generated since the
   * previous delta, coalesced (about one event per 50 ms per subtask, and at the end of each turn). `turn` counts
   * the subtask's generations from 1 (a tool call, the answer, a repair). Transient: never written to the run
   * store, and it repeats the `seq` of the event before it.
   */
  "subtask.delta": { readonly subtaskId: string; readonly text: string; readonly turn: number };
  /**
   * Opt-in like `subtask.delta`: text of the planner's reply as its model streams it (plan, final answer or an
   * escalated subtask's answer), for planner models that stream. Transient like `subtask.delta`.
   */
  "planner.delta": { readonly text: string };
  /**
   * The data-flow ledger: one request to a remote planner model (each attempt), after it settled. `bytes`: UTF-8
   * bytes of its messages serialized as `[{"role","content"}, …]` (what an OpenAI-compatible body's `messages`
   * holds); tokens when the provider reported them; where its content came from.
   */
  "planner.request": {
    readonly purpose: "plan" | "replan" | "join" | "solve" | "repair";
    readonly model: string;
    readonly bytes: number;
    readonly messages: number;
    readonly promptTokens?: number;
    readonly completionTokens?: number;
    readonly origins: readonly FlowOrigin[];
    readonly subtaskId?: string;
  };
  "subtask.completed": { readonly subtaskId: string; readonly result: SubtaskResult };
  "subtask.failed": { readonly subtaskId: string; readonly error: ErrorInfo };
  "model.loading": { readonly model: string; readonly estimatedBytes?: number };
  "model.loaded": { readonly model: string; readonly bytes?: number; readonly ms: number };
  "model.unloaded": { readonly model: string; readonly bytes?: number };
  "tool.called": { readonly subtaskId: string; readonly tool: string; readonly args: JsonValue };
  "tool.result": {
    readonly subtaskId: string;
    readonly tool: string;
    readonly result: ToolCallResult;
    readonly ms: number;
  };
  /**
   * A tool result was bigger than the room left in the worker's context: the model was shown its first
   * `shownCharacters` of `totalCharacters` (of JSON text) and a note saying so. `tool.result` holds all of it.
   */
  "tool.shortened": {
    readonly subtaskId: string;
    readonly tool: string;
    readonly shownCharacters: number;
    readonly totalCharacters: number;
    readonly contextSize: number;
  };
  /**
   * A tool reported progress on a running call (an MCP server's `notifications/progress`): `progress` so far,
   * out of `total` when the server knows it, with its message if it sent one.
   */
  "tool.progress": {
    readonly subtaskId: string;
    readonly tool: string;
    readonly progress: number;
    readonly total?: number;
    readonly message?: string;
  };
  /**
   * Tool RAG (a worker with `toolSearch`): the tools offered to a subtask, best first, and the ranking of every
   * granted tool by relevance to the subtask's instruction (`named`: the plan named it, so it stays). `ranker`
   * says what scored: `bm25` (a BM25 score, 0 when no term is shared; also what an event without `ranker`,
   * stored by an older edgecrew, means) or `embedding` (the cosine similarity, -1 to 1, of the embeddings by
   * `model`, the embedding model's reference as written).
   */
  "tools.offered": {
    readonly subtaskId: string;
    readonly worker: string;
    readonly tools: readonly string[];
    readonly ranked: readonly { readonly tool: string; readonly score: number }[];
    readonly named?: readonly string[];
    readonly ranker?: "bm25" | "embedding";
    readonly model?: string;
  };
  "run.completed": { readonly answer: JsonValue };
  "run.failed": { readonly error: ErrorInfo };
  "run.cancelled": { readonly reason: string };
}

export type RunEventType = keyof RunEventPayloads;

/** One event of a run: its type, payload, the run it belongs to, a sequence number and a timestamp (ms). */
export type RunEvent = {
  [K in RunEventType]: {
    readonly type: K;
    readonly runId: string;
    readonly seq: number;
    readonly at: number;
    /** In a fleet: the device the event happened on (absent for this process's own events). */
    readonly device?: string;
  } & RunEventPayloads[K];
}[RunEventType];

/** An event as emitted by a port: the runtime stamps `runId`, `seq` and `at`. */
export type RunEventInput = {
  [K in RunEventType]: { readonly type: K; readonly device?: string } & RunEventPayloads[K];
}[RunEventType];

// ─── Ports ───────────────────────────────────────────────────────────────────────────────────────────────

/** What every port call receives: a signal to abort it and a way to report events. */
export interface CallContext {
  readonly signal: AbortSignal;
  readonly emit: (event: RunEventInput) => void;
  /** Emit the opt-in `subtask.delta` / `planner.delta` events of generated text (default false). */
  readonly stream?: boolean;
  /** What of this call's request is private, for a remote planner (absent: nothing is). */
  readonly privacy?: CallPrivacy;
}

/** The private parts of one planner call's request (set per run by the privacy layer, read by the planner). */
export interface CallPrivacy {
  readonly policy: PrivacyPolicy;
  /** The task itself is private (`--private-task`, `crew.run(task, { private: true })`). */
  readonly task: boolean;
  /** Ids of the subtasks (of the request's plan, or the escalated subtask's dependencies) whose answers are private. */
  readonly results: readonly string[];
  /** The escalated subtask's own worker is private (its errors may quote private data). */
  readonly worker?: boolean;
}

/** Where a piece of a remote planner request's content came from (the data-flow ledger). */
export interface FlowOrigin {
  readonly kind: "task" | "plan" | "result" | "errors";
  /** `task`, `plan`, a subtask id (its instruction, answer or a worker's errors). */
  readonly id: string;
  readonly private: boolean;
  /** What was sent of a private origin: placeholders, or nothing (withheld). Public origins are sent as they are. */
  readonly sent?: "placeholders" | "withheld";
}

/** A worker's view of the agent, as the planner sees it when planning. */
export interface WorkerSummary {
  readonly name: string;
  readonly description: string;
  readonly output: JsonSchema;
  readonly tools: readonly string[];
}

export interface PlanRequest {
  readonly task: string;
  readonly workers: readonly WorkerSummary[];
  readonly maxSubtasks: number;
  /** Present when the joiner asked for a revised plan: what was planned, what came back, and why revise. */
  readonly revision?: PlanRevision;
}

/** The context of a replan. */
export interface PlanRevision {
  readonly reason: string;
  readonly previous: Plan;
  readonly results: readonly SubtaskResult[];
}

export interface JoinRequest {
  readonly task: string;
  readonly plan: Plan;
  readonly results: readonly SubtaskResult[];
  /** JSON Schema the final answer must satisfy, when the agent declares one. */
  readonly answerSchema?: JsonSchema;
  /** Whether the joiner may ask for a revised plan instead of answering (replans left under the limit). */
  readonly allowReplan: boolean;
}

/** A value produced by a model, with the usage it cost. */
export interface Produced<T> {
  readonly value: T;
  readonly usage: readonly UsageRecord[];
}

/**
 * The planner port. Implementations validate what they return: `plan` resolves only with a valid DAG (it
 * re-asks its model with the errors a bounded number of times, emitting `plan.rejected`, then throws a
 * PlanError); `join` resolves with a decision whose answer matches `answerSchema` when one is given.
 */
export interface PlannerPort {
  /** The planner model's reference, for events and the ledger. */
  readonly model: string;
  plan(request: PlanRequest, context: CallContext): Promise<Produced<Plan>>;
  join(request: JoinRequest, context: CallContext): Promise<Produced<JoinDecision>>;
  /**
   * Does a subtask its worker could not answer (escalation), under the worker's output schema. Resolves with a
   * schema-valid answer or throws an EdgecrewError (SUBTASK_FAILED) after its bounded attempts.
   */
  solve(request: EscalationRequest, context: CallContext): Promise<Produced<JsonValue>>;
}

/** A subtask handed to the planner after its worker failed, with the worker's errors. */
export interface EscalationRequest extends SubtaskRequest {
  readonly errors: readonly string[];
}

/** A subtask ready to run: references already substituted, dependencies' answers attached. */
export interface SubtaskRequest {
  readonly runId: string;
  readonly task: string;
  readonly subtask: Subtask;
  readonly worker: WorkerDefinition;
  /** Validated answers of the subtasks this one depends on, by id. */
  readonly dependencies: Readonly<Record<string, JsonValue>>;
  /** The plan revision the subtask belongs to (0 for the first plan): part of a fleet job's identity. */
  readonly revision?: number;
}

/** What a worker returns: a schema-valid answer, or the reason it could not give one. */
export type WorkerOutcome =
  | {
      readonly ok: true;
      readonly answer: JsonValue;
      readonly attempts: number;
      readonly usage: readonly UsageRecord[];
      /** In a fleet: the device that answered. */
      readonly device?: string;
    }
  | {
      readonly ok: false;
      /** `invalid-output`: every attempt failed validation; `model-failed`: the model could not run. */
      readonly reason: "invalid-output" | "model-failed";
      readonly errors: readonly string[];
      readonly attempts: number;
      readonly usage: readonly UsageRecord[];
      /** In a fleet: the device that tried. */
      readonly device?: string;
    };

/** The worker port: runs subtasks on local models. Owns the models it loads and frees them on dispose. */
export interface WorkerPort extends AsyncDisposable {
  execute(request: SubtaskRequest, context: CallContext): Promise<WorkerOutcome>;
  /** Whether the model of this worker is resident (the scheduler prefers such subtasks). */
  isResident(worker: string): boolean;
  dispose(): Promise<void>;
}

// ─── Runs ────────────────────────────────────────────────────────────────────────────────────────────────

export type RunStatus = "completed" | "failed" | "cancelled";

/**
 * The subtask results of an agent whose workers answer `TWorkerAnswers` (by worker name): a union with one
 * member per worker, so that checking `worker` narrows `answer`.
 */
export type SubtaskResultOf<TWorkerAnswers extends WorkerAnswerTypes = AnyWorkerAnswers> =
  string extends keyof TWorkerAnswers
    ? SubtaskResult<string, TWorkerAnswers[string]>
    : { [W in keyof TWorkerAnswers & string]: SubtaskResult<W, TWorkerAnswers[W]> }[keyof TWorkerAnswers &
        string];

/** What every {@link RunResult} has, whatever its status. */
export interface RunResultBase<TResult = SubtaskResult> {
  readonly runId: string;
  readonly agent: string;
  readonly task: string;
  readonly status: RunStatus;
  readonly plan?: Plan;
  /** Completed subtasks, in plan order (a failed or cancelled run keeps what finished). */
  readonly results: readonly TResult[];
  readonly ledger: Ledger;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** A run that ended with a final answer, valid against the agent's `answer` schema (a string without one). */
export interface CompletedRunResult<TAnswer = JsonValue, TResult = SubtaskResult>
  extends RunResultBase<TResult> {
  readonly status: "completed";
  readonly answer: TAnswer;
  readonly error?: undefined;
}

/**
 * A run that failed. `error` is the JSON form of the EdgecrewError that ended it (`code` is an {@link ErrorCode}),
 * as it is stored in `outcome.json` and printed by `--json`; `errorFromInfo(error)` turns it back into an
 * EdgecrewError to throw, and `isErrorInfo` checks a value read from elsewhere.
 */
export interface FailedRunResult<TResult = SubtaskResult> extends RunResultBase<TResult> {
  readonly status: "failed";
  readonly answer?: undefined;
  readonly error: ErrorInfo;
}

/** A run that was cancelled (its signal, `run.cancel()`, the crew disposed); `error` says why when known. */
export interface CancelledRunResult<TResult = SubtaskResult> extends RunResultBase<TResult> {
  readonly status: "cancelled";
  readonly answer?: undefined;
  readonly error?: ErrorInfo;
}

/**
 * How a run ended: the plan, every validated subtask result, the final answer or the error, and the ledger. A
 * union on `status`: after `status === "completed"`, `answer` is a `TAnswer`; after `status === "failed"`, `error`
 * is present. `TAnswer` and `TResult` come from the agent (`defineAgent` with zod schemas); by default, any JSON.
 */
export type RunResult<TAnswer = JsonValue, TResult = SubtaskResult> =
  | CompletedRunResult<TAnswer, TResult>
  | FailedRunResult<TResult>
  | CancelledRunResult<TResult>;

// ─── Tools ───────────────────────────────────────────────────────────────────────────────────────────────

/** What a model and the planner see of a tool. */
export interface ToolSpec {
  /** Unique in a registry; namespaced for MCP tools (`server.tool`). */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments: drives the call grammar and is validated again before the tool runs. */
  readonly input: JsonSchema;
  /** Safe to run twice with the same arguments (a resumed run may then repeat it). */
  readonly idempotent: boolean;
  /** Needs a human's approval before each call. */
  readonly approve: boolean;
  /** Its results are private data: the answers of a worker that may call it are private (see WorkerDefinition). */
  readonly private?: boolean;
}

/**
 * The result of one tool call, returned to the model as data: bad arguments, a denial or a failing tool are
 * things the model can react to, not exceptions that end the subtask.
 */
export type ToolCallResult =
  | { readonly ok: true; readonly output: JsonValue }
  | {
      readonly ok: false;
      readonly reason: "invalid-input" | "not-granted" | "denied" | "failed" | "timeout";
      readonly error: string;
    };

/** Context of one tool call: the run's signal and event sink, and who is calling. */
export interface ToolCallContext extends CallContext {
  /**
   * The run the call belongs to: the tool journal records each call under it, so that a resumed run can find
   * the calls it already made (one registry serves every run of a crew).
   */
  readonly runId: string;
  readonly subtaskId: string;
  readonly worker: string;
}

/** The tool registry port: lists tools and runs calls with validation, limits and approval. */
export interface ToolRegistryPort {
  /** Specs of the named tools (all tools when no names are given). Unknown names throw TOOL_NOT_FOUND. */
  list(names?: readonly string[]): readonly ToolSpec[];
  /** Validates the arguments against the tool's schema and runs it; never throws for the model's mistakes. */
  call(name: string, args: unknown, context: ToolCallContext): Promise<ToolCallResult>;
}

// ─── Durable runs ────────────────────────────────────────────────────────────────────────────────────────

/** What identifies a stored run. */
export interface RunMeta {
  readonly runId: string;
  readonly agent: string;
  /** The agent file, when the run came from one: shown to people, never loaded (a run directory is data). */
  readonly agentSource?: string;
  /** The agent definition the run started with, when it came from YAML: what `edgecrew resume` rebuilds. */
  readonly agentCopy?: AgentCopy;
  readonly task: string;
  readonly createdAt: number;
  /** The task is private data (`--private-task`): a resumed run keeps it so. */
  readonly privateTask?: boolean;
}

/**
 * A copy of an agent YAML file kept in a run's meta, so that `resume` rebuilds the agent from the run itself
 * and never from a path the run directory names. Loading a run checks `text` against `sha256`.
 */
export interface AgentCopy {
  /** The absolute path the text was read from; relative paths in it resolve against its directory. */
  readonly file: string;
  /** The file's text, unchanged. */
  readonly text: string;
  /** Lower-case hex SHA-256 of `text` (as UTF-8). */
  readonly sha256: string;
}

/** A tool call as journaled: intent before it runs, result after. */
export interface ToolJournalEntry {
  readonly subtaskId: string;
  /** Stable within the subtask: the n-th call of this subtask (1-based) and its tool. */
  readonly callId: string;
  readonly tool: string;
  readonly args: JsonValue;
  readonly idempotent: boolean;
  /** Absent while only the intent is recorded. */
  readonly result?: ToolCallResult;
}

/** Everything a store holds about one run. */
export interface StoredRun {
  readonly meta: RunMeta;
  /** Every event recorded, in order. */
  readonly events: readonly RunEvent[];
  /** The current plan, when planning finished, and its revision (0 for the first plan, +1 per replan). */
  readonly plan?: Plan;
  readonly revision: number;
  /** Validated results of the current plan's completed subtasks, by subtask id. */
  readonly results: Readonly<Record<string, SubtaskResult>>;
  /** The latest persisted machine snapshot (JSON), when one was written. */
  readonly snapshot?: JsonValue;
  readonly toolJournal: readonly ToolJournalEntry[];
  /** The final result, when the run ended. */
  readonly outcome?: RunResult;
}

/**
 * The run store port. Every write is durable when its promise resolves (a crash right after loses nothing
 * written); `saveResult` must resolve before anything depends on that result. A damaged run is RUN_CORRUPT,
 * an unknown id RUN_NOT_FOUND, a failed write RUN_STORE_FAILED — never a silent fresh start.
 */
export interface RunStore {
  create(meta: RunMeta): Promise<void>;
  appendEvent(runId: string, event: RunEvent): Promise<void>;
  /**
   * Records plan `revision` (0 first, +1 per replan) together with the results it carries over from the
   * previous revision; from then on `load` returns this plan and only results of this revision.
   */
  savePlan(runId: string, revision: number, plan: Plan, carried: readonly SubtaskResult[]): Promise<void>;
  /** Records a validated subtask result of plan `revision`; durable when it resolves. */
  saveResult(runId: string, revision: number, result: SubtaskResult): Promise<void>;
  saveSnapshot(runId: string, snapshot: JsonValue): Promise<void>;
  journalTool(runId: string, entry: ToolJournalEntry): Promise<void>;
  saveOutcome(runId: string, outcome: RunResult): Promise<void>;
  load(runId: string): Promise<StoredRun>;
  /** Stored runs, newest first. */
  list(): Promise<readonly RunMeta[]>;
}

/**
 * The worker port on local models: runs each subtask on its worker's GGUF model through the shared model
 * manager. Every turn is generated under a grammar of edgecrew's own compiler: calls of the worker's granted
 * tools (run through the tool registry, results fed back as data) and the answer, whose validation failures —
 * and generations cut off at `maxTokens` — are re-asked with the exact problems (see subtaskTurns.ts). The
 * worker's system prompt and tool descriptions stay evaluated in the sequence between its subtasks (see
 * prefixReuse.ts). A bad answer or a model that cannot run is returned as a WorkerOutcome (data for the runtime
 * to repair or escalate); only an abort, or a tool call that must end the subtask (its journal could not be
 * written, or its side effect is uncertain after a crash), is thrown.
 */
import type { ChatHistoryItem } from "node-llama-cpp";
import {
  abortErrorFor,
  DisposedError,
  EdgecrewError,
  ErrorCodes,
  isAbortError,
  isEdgecrewError,
  throwIfAborted,
} from "../errors.js";
import { compileSchema } from "../schema/compile.js";
import type { Caps } from "../schema/grammar/index.js";
import type {
  CallContext,
  DeviceConfig,
  SubtaskRequest,
  ToolRegistryPort,
  UsageRecord,
  WorkerDefinition,
  WorkerOutcome,
  WorkerPort,
} from "../types.js";
import { safeEmit, settleWithin } from "./asyncGuards.js";
import { callSyntaxOf } from "./callSyntax.js";
import { EmbeddingRanker } from "./embeddingRanker.js";
import { chatWrapperFor, type Generation } from "./generate.js";
import { ModelManager, type ModelManagerOptions, type SequenceLease } from "./ModelManager.js";
import { offerTools } from "./offerTools.js";
import { keepWorkerPrefix, workerPrefixTokens } from "./prefixReuse.js";
import { DEFAULT_MAX_TOOL_CALLS, runSubtaskTurns } from "./subtaskTurns.js";
import { ToolChatWrapper } from "./ToolChatWrapper.js";
import type { RankedTool } from "./toolSearch.js";
import { workerSystemPrompt, workerUserPrompt } from "./workerPrompts.js";
import { type WorkerTools, workerTools } from "./workerTools.js";

/** Options of {@link createLocalWorkers}. */
export interface LocalWorkersOptions {
  /** The agent's workers; each one's model is declared to the manager up front (context size, `parallel`). */
  readonly workers: readonly WorkerDefinition[];
  /** Device settings, used when no `manager` is given. */
  readonly device?: DeviceConfig;
  /**
   * A shared model manager (e.g. also used by a local planner). When omitted, the workers create their own
   * from `manager` options and dispose it with themselves; a passed-in manager is left to its owner.
   */
  readonly manager?: ModelManager;
  /** Options for the manager created when none is passed. */
  readonly managerOptions?: Omit<ModelManagerOptions, "device">;
  /** Repair turns after an answer fails validation (default 1). */
  readonly retries?: number;
  /** Wall-clock limit of one subtask, model load included; exceeding it is a `model-failed` outcome. */
  readonly subtaskTimeoutMs?: number;
  /** Caps the grammar starts from where schemas leave lengths open (see `DEFAULT_CAPS`), before fitting `maxTokens`. */
  readonly grammar?: Partial<Caps>;
  /**
   * Keep a worker's evaluated system prompt and tool descriptions in the sequence between its subtasks and
   * evaluate only each subtask's own turn (default true; see prefixReuse.ts). `false` clears the sequence
   * before every subtask.
   */
  readonly reusePrefix?: boolean;
  /**
   * The tool registry. Each worker may call only what its definition grants (`registry.scoped(worker.tools)`
   * on a ToolRegistry); required as soon as a worker is granted a tool.
   */
  readonly tools?: ToolRegistryPort;
  /** Most tool calls in one subtask before the answer is required, for workers that set none (default 8). */
  readonly maxToolCalls?: number;
  /** Sampling seed for every generation, for reproducible runs; default a fresh random seed per generation. */
  readonly seed?: number;
}

class SubtaskTimeout extends Error {
  constructor(ms: number) {
    super(`the subtask timed out after ${ms} ms`);
    this.name = "SubtaskTimeout";
  }
}

/**
 * Runs subtasks on local models (see the file comment). Create it with {@link createLocalWorkers}.
 */
export class LocalWorker implements WorkerPort {
  /** The model manager the workers run on. */
  readonly manager: ModelManager;
  readonly #workers: ReadonlyMap<string, WorkerDefinition>;
  /** Each tool-using worker's view of the registry, holding only its granted tools. */
  readonly #toolViews = new Map<string, ToolRegistryPort>();
  readonly #ownsManager: boolean;
  readonly #options: LocalWorkersOptions;
  /** Tool RAG's embedding ranker (workers with `toolSearch: { model }`), caching tool embeddings per model. */
  readonly #embeddings: EmbeddingRanker;
  #disposing: Promise<void> | undefined;

  constructor(options: LocalWorkersOptions) {
    if (options.manager === undefined && options.device === undefined) {
      throw new TypeError("createLocalWorkers needs either a manager or device settings");
    }
    this.#options = options;
    for (const worker of options.workers) {
      // Fail at construction, not mid-run, on an output schema zod cannot compile or a grant that is wrong.
      compileSchema(worker.output);
      this.#declareTools(worker);
    }
    this.#ownsManager = options.manager === undefined;
    this.manager =
      options.manager ??
      new ModelManager({ ...options.managerOptions, device: options.device as DeviceConfig });
    this.#workers = new Map(options.workers.map((worker) => [worker.name, worker]));
    for (const worker of options.workers) {
      this.manager.declare(
        worker.model,
        { contextSize: worker.contextSize, sequences: Math.max(1, worker.parallel) },
        worker.lora,
      );
    }
    this.#embeddings = new EmbeddingRanker(this.manager);
    for (const worker of options.workers) {
      if (worker.toolSearch?.model !== undefined) this.#embeddings.declare(worker.toolSearch.model);
    }
  }

  /** Checks a worker's grants and tool schemas now, so that a typo fails at start-up rather than mid-run. */
  #declareTools(worker: WorkerDefinition): void {
    if (worker.tools.length === 0) {
      if (worker.toolChoice === "required") {
        throw new EdgecrewError(
          ErrorCodes.TOOL_NOT_FOUND,
          `worker \`${worker.name}\` has toolChoice: required but is granted no tools`,
          { context: { worker: worker.name } },
        );
      }
      return;
    }
    const registry = this.#options.tools;
    if (registry === undefined) {
      throw new EdgecrewError(
        ErrorCodes.TOOL_NOT_FOUND,
        `worker \`${worker.name}\` is granted tools (${worker.tools.join(", ")}) but no tool registry was given`,
        { context: { worker: worker.name, tools: [...worker.tools] } },
      );
    }
    const tools = workerTools(registry, worker.tools);
    if (tools !== undefined) this.#toolViews.set(worker.name, tools.registry);
  }

  /** The worker's tools for one subtask, read from its live view (a family member registered later counts). */
  #toolsFor(worker: WorkerDefinition): WorkerTools | undefined {
    if (worker.tools.length === 0) return undefined;
    const view = this.#toolViews.get(worker.name) ?? this.#options.tools;
    if (view === undefined) throw new EdgecrewError(ErrorCodes.TOOL_NOT_FOUND, "no tool registry was given");
    return workerTools(view, worker.tools);
  }

  /** Whether the named worker's model is loaded. */
  isResident(worker: string): boolean {
    const definition = this.#workers.get(worker);
    return (
      definition !== undefined &&
      !this.manager.disposed &&
      this.manager.isResident(definition.model, definition.lora)
    );
  }

  /**
   * Runs one subtask (see the file comment). Resolves with a schema-valid answer, an `invalid-output` outcome
   * after `retries` repair turns, or a `model-failed` outcome; rejects with an AbortError (the signal fired), a
   * DisposedError (used after `dispose()`), or the SUBTASK_FAILED / RUN_STORE_FAILED error of a tool call that
   * must end the subtask (see `endsSubtask`), which the runtime reports as the subtask's failure.
   */
  async execute(request: SubtaskRequest, context: CallContext): Promise<WorkerOutcome> {
    if (this.#disposing !== undefined) throw new DisposedError("LocalWorker");
    throwIfAborted(context.signal);
    const worker = request.worker;
    const timeoutMs = this.#options.subtaskTimeoutMs;
    const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const signal = timeout === undefined ? context.signal : AbortSignal.any([context.signal, timeout]);
    const usage: UsageRecord[] = [];
    let lease: SequenceLease | undefined;
    try {
      // An embedding ranking is made before the worker's own model is leased: a load under a tight budget must
      // never wait on a lease its caller holds. A model that cannot rank fails the subtask (no BM25 fallback).
      const ranking = await this.#embeddingRanking(request, context, signal);
      lease = await this.manager.acquire(worker.model, {
        contextSize: worker.contextSize,
        sequences: Math.max(1, worker.parallel),
        signal,
        emit: context.emit,
        ...(worker.lora === undefined ? {} : { lora: worker.lora }),
      });
      const result = await this.#turns(request, context, { lease, signal, usage, ranking });
      return result.ok
        ? { ok: true, answer: result.answer, attempts: result.attempts, usage }
        : { ok: false, reason: "invalid-output", errors: result.errors, attempts: result.attempts, usage };
    } catch (error) {
      if (context.signal.aborted)
        throw isAbortError(error) ? error : abortErrorFor(context.signal, "the subtask");
      if (this.#disposing !== undefined) throw new DisposedError("LocalWorker");
      if (endsSubtask(error)) {
        // Keep what the subtask spent in the run's ledger, as a model-failed outcome would.
        error.usage = [...error.usage, ...usage];
        throw error;
      }
      // A schema the grammar cannot express also lands here: the planner may still answer without a grammar.
      const reason = timeout?.aborted === true ? new SubtaskTimeout(timeoutMs as number) : error;
      // Attempts: the generations made before the failure.
      return {
        ok: false,
        reason: "model-failed",
        errors: [describeFailure(reason)],
        attempts: usage.length,
        usage,
      };
    } finally {
      lease?.release();
    }
  }

  async #turns(
    request: SubtaskRequest,
    context: CallContext,
    run: {
      lease: SequenceLease;
      signal: AbortSignal;
      usage: UsageRecord[];
      ranking: readonly RankedTool[] | undefined;
    },
  ): Promise<Awaited<ReturnType<typeof runSubtaskTurns>>> {
    const { lease, signal, usage } = run;
    const worker = request.worker;
    // Prompt tokens of a subtask's first turn include the worker prefix it found already evaluated, as
    // providers count cached prompt tokens: a subtask's usage does not depend on what ran before it. Later
    // turns continue the conversation and count the tokens they add.
    let reused = 0;
    const record = (generation: Generation) => {
      usage.push({
        model: worker.model.raw,
        locality: "local",
        promptTokens: generation.promptTokens + (usage.length === 0 ? reused : 0),
        completionTokens: generation.completionTokens,
        durationMs: generation.durationMs,
        loadMs: usage.length === 0 ? lease.loadMs : 0,
      });
    };

    const granted = this.#toolsFor(worker);
    const base = chatWrapperFor(lease.model);
    const system = workerSystemPrompt(request, { hasTools: granted !== undefined });
    const history: ChatHistoryItem[] = [
      { type: "system", text: system },
      { type: "user", text: workerUserPrompt(request) },
    ];
    const maxCalls = Math.max(0, worker.maxToolCalls ?? this.#options.maxToolCalls ?? DEFAULT_MAX_TOOL_CALLS);
    // Tool RAG: the subtask sees only the granted tools relevant to it that leave room for a call and the answer.
    const reserve = worker.maxTokens * (maxCalls > 0 ? 2 : 1);
    const offer =
      granted === undefined || worker.toolSearch === undefined
        ? undefined
        : offerTools(lease, base, request, granted, history, worker.toolSearch.k, reserve, run.ranking);
    if (offer !== undefined) {
      const model = worker.toolSearch?.model;
      safeEmit(context.emit, {
        type: "tools.offered",
        subtaskId: request.subtask.id,
        worker: worker.name,
        tools: offer.offered,
        ranked: offer.ranked,
        ...(offer.named.length === 0 ? {} : { named: offer.named }),
        ...(model === undefined
          ? { ranker: "bm25" as const }
          : { ranker: "embedding" as const, model: model.raw }),
      });
    }
    const tools = offer?.tools ?? granted;
    // Every turn renders the same tool documentation, so tool turns, answer and repairs share one prefix.
    const chatWrapper =
      offer?.chatWrapper ?? (tools === undefined ? base : new ToolChatWrapper(base, tools.functions));
    if (this.#options.reusePrefix === false) await lease.sequence.clearHistory();
    else
      reused = await keepWorkerPrefix(lease.sequence, workerPrefixTokens(lease.model, chatWrapper, system));

    const caps = this.#options.grammar;
    return runSubtaskTurns(lease, history, {
      ...(tools === undefined ? {} : { tools: { tools, syntax: callSyntaxOf(base, lease.model) } }),
      toolChoice: worker.toolChoice ?? "auto",
      maxCalls,
      output: worker.output,
      validator: compileSchema(worker.output),
      retries: Math.max(0, this.#options.retries ?? 1),
      chatWrapper,
      call: {
        signal,
        emit: context.emit,
        runId: request.runId,
        subtaskId: request.subtask.id,
        worker: worker.name,
      },
      maxTokens: worker.maxTokens,
      temperature: worker.temperature,
      ...(this.#options.seed === undefined ? {} : { seed: this.#options.seed }),
      grammarFor: (spec) => this.manager.turnGrammar(caps === undefined ? spec : { ...spec, caps }, signal),
      onGeneration: record,
      ...(context.stream === true ? { stream: true } : {}),
    });
  }

  /**
   * The embedding model's ranking of the worker's granted tools for this subtask (`toolSearch: { model }`);
   * `undefined` when the worker ranks with BM25 or has no tools.
   */
  async #embeddingRanking(
    request: SubtaskRequest,
    context: CallContext,
    signal: AbortSignal,
  ): Promise<RankedTool[] | undefined> {
    const model = request.worker.toolSearch?.model;
    if (model === undefined) return undefined;
    const granted = this.#toolsFor(request.worker);
    if (granted === undefined) return undefined;
    return await this.#embeddings.rank(model, granted.specs, request.subtask.instruction, {
      signal,
      emit: context.emit,
    });
  }

  /** Frees the models when this instance owns its manager; idempotent and bounded in time. */
  dispose(): Promise<void> {
    this.#disposing ??= this.#ownsManager
      ? settleWithin(this.manager.dispose(), 30_000).then(() => undefined)
      : Promise.resolve();
    return this.#disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/**
 * Whether a rejection must fail the subtask rather than be reported as a model failure (which the runtime may
 * escalate to the planner). A tool registry rejects, beyond aborts, only when the run must not go on past the
 * call: the tool journal could not be written (RUN_STORE_FAILED), or a resumed call's side effect is uncertain
 * (SUBTASK_FAILED). Neither is the model's fault, and letting the planner answer instead would carry on past an
 * effect nobody can vouch for.
 */
function endsSubtask(error: unknown): error is EdgecrewError {
  return (
    isEdgecrewError(error) &&
    (error.code === ErrorCodes.SUBTASK_FAILED || error.code === ErrorCodes.RUN_STORE_FAILED)
  );
}

function describeFailure(error: unknown): string {
  if (isEdgecrewError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates the worker port that runs an agent's workers on local GGUF models.
 *
 * @example
 * const tools = createRegistryFromConfig(agent.tools);
 * const workers = createLocalWorkers({ workers: agent.workers, device: agent.device, tools, retries: agent.escalation.retries });
 * const outcome = await workers.execute(request, { signal, emit });
 * await workers.dispose();
 */
export function createLocalWorkers(options: LocalWorkersOptions): LocalWorker {
  return new LocalWorker(options);
}

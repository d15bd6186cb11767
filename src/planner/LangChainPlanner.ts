/**
 * The planner port over any LangChain chat model: a cloud model through `initChatModel`, edgecrew's own local
 * chat model on node-llama-cpp, or any `BaseChatModel` a library user passes in. It asks for structured output,
 * validates what comes back, and re-asks with the exact problems a bounded number of times.
 */
import {
  BaseCallbackHandler,
  type CallbackHandlerPrefersStreaming,
  type HandleLLMNewTokenCallbackFields,
  type NewTokenIndices,
} from "@langchain/core/callbacks/base";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
} from "@langchain/core/messages";
import { coalesceText } from "../deltas.js";
import {
  AbortError,
  EdgecrewError,
  ErrorCodes,
  isAbortError,
  isModelError,
  isValidationError,
  PlanError,
  throwIfAborted,
  withCallSignal,
} from "../errors.js";
import { compileSchema } from "../schema/compile.js";
import type {
  CallContext,
  EscalationRequest,
  JoinDecision,
  JoinRequest,
  JsonSchema,
  JsonValue,
  Locality,
  Plan,
  PlannerPort,
  PlanRequest,
  Produced,
  UsageRecord,
} from "../types.js";
import { fittedJoinSchema, instructionBudget, planGrammarSchema, planReplySchema } from "./planSchema.js";
import { createPromptGuard, messageBytes, type PromptGuard, type RequestPurpose } from "./privacy.js";
import {
  joinRepairPrompt,
  joinSystemPrompt,
  joinUserPrompt,
  planRepairPrompt,
  planSystemPrompt,
  planUserPrompt,
  solveRepairPrompt,
  solveSystemPrompt,
  solveUserPrompt,
} from "./prompts.js";
import { validatePlan } from "./validatePlan.js";

export interface LangChainPlannerOptions {
  /** The chat model that plans and joins. */
  readonly model: BaseChatModel;
  /** How the model is named in events and the ledger (the agent's model reference, as written). */
  readonly label: string;
  /** Whether the model runs in-process or behind an API (for the ledger's local/remote split). */
  readonly locality: Locality;
  /** Asks per step (plan or join) before giving up: the first ask plus re-asks with the errors. Default 3. */
  readonly maxAttempts?: number;
  /**
   * The model's output token limit. For a grammar-constrained model, string lengths in the plan and answer
   * schemas are bounded so that a complete reply always fits in it.
   */
  readonly maxTokens?: number;
}

function toJoinDecision(value: JsonValue): JoinDecision {
  type Decision = { answer?: JsonValue; replan?: string };
  const reply = value as Decision & { decision?: Decision };
  const decision: Decision = reply.decision ?? reply;
  return typeof decision.replan === "string"
    ? { kind: "replan", reason: decision.replan }
    : { kind: "answer", answer: decision.answer ?? null };
}

/** A model that decodes under a JSON-Schema grammar (edgecrew's local chat model says so). */
function supportsGrammar(model: BaseChatModel): boolean {
  return (model as { supportsGrammar?: unknown }).supportsGrammar === true;
}

interface Reply {
  readonly parsed: unknown;
  /** Text of the reply, to put back into the conversation before a re-ask. */
  readonly text: string;
  readonly usage: UsageRecord;
  /** Why the reply could not be parsed at all (not JSON, failed the model-side schema check). */
  readonly parseErrors?: readonly string[];
}

/**
 * The model's reply message: an AIMessage, or an AIMessageChunk when LangChain streamed the call (it does so
 * for a streaming callback handler, see {@link PlannerDeltas}).
 */
function aiMessageOf(raw: unknown): AIMessage | AIMessageChunk | undefined {
  return raw instanceof AIMessage || raw instanceof AIMessageChunk ? raw : undefined;
}

function messageText(message: unknown): string {
  const ai = aiMessageOf(message);
  if (ai === undefined) return "";
  return typeof ai.content === "string" ? ai.content : JSON.stringify(ai.content);
}

/**
 * Receives the planner model's streamed tokens (`planner.delta`, opt-in). It prefers streaming, which makes
 * LangChain stream a model that can (`_streamResponseChunks`) even through `invoke`; a model that cannot never
 * calls it. A tool-calling structured output streams its arguments as tool call chunks rather than text.
 */
class PlannerDeltas extends BaseCallbackHandler implements CallbackHandlerPrefersStreaming {
  name = "edgecrew-planner-deltas";
  readonly lc_prefer_streaming = true;
  // Tokens are delivered before invoke resolves, so the end-of-reply flush sends all of them.
  override awaitHandlers = true;
  readonly #push: (text: string) => void;

  constructor(push: (text: string) => void) {
    super();
    this.#push = push;
  }

  // LangChain copies handlers with `new constructor(this)`; this one holds a callback, so it is its own copy.
  override copy(): BaseCallbackHandler {
    return this;
  }

  override handleLLMNewToken(
    token: string,
    _idx: NewTokenIndices,
    _runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: HandleLLMNewTokenCallbackFields,
  ): void {
    if (token !== "") {
      this.#push(token);
      return;
    }
    const message = (fields?.chunk as { message?: unknown } | undefined)?.message;
    if (!(message instanceof AIMessageChunk)) return;
    for (const call of message.tool_call_chunks ?? []) if (call.args) this.#push(call.args);
  }
}

function isParseFailure(error: unknown): boolean {
  return (
    isValidationError(error) ||
    (error instanceof Error && (error.name === "OutputParserException" || error instanceof SyntaxError))
  );
}

/** What a plan request may show a remote model: the task and, on a replan, the previous answers, guarded. */
function planView(request: PlanRequest, guard: PromptGuard): PlanRequest {
  const task = guard.task(request.task);
  const revision = request.revision;
  if (revision === undefined) return { ...request, task };
  guard.plan();
  return {
    ...request,
    task,
    revision: {
      ...revision,
      results: revision.results.map((r) => ({ ...r, answer: guard.answer(r.subtaskId, r.answer) })),
    },
  };
}

/** What a join request may show a remote model: the task, the plan, each answer guarded. */
function joinView(request: JoinRequest, guard: PromptGuard): JoinRequest {
  const task = guard.task(request.task);
  guard.plan();
  return {
    ...request,
    task,
    results: request.results.map((r) => ({ ...r, answer: guard.answer(r.subtaskId, r.answer) })),
  };
}

/** What an escalation may show a remote model: the task, the instruction, dependencies and errors, guarded. */
function solveView(request: EscalationRequest, guard: PromptGuard): EscalationRequest {
  const task = guard.task(request.task);
  guard.plan(request.subtask.id);
  const dependencies: Record<string, JsonValue> = {};
  for (const [id, answer] of Object.entries(request.dependencies))
    dependencies[id] = guard.dependency(id, answer);
  return { ...request, task, dependencies, errors: guard.errors(request.subtask.id, request.errors) };
}

/** A plan whose instructions quote placeholders, with the private values filled back in (redact). */
function filledPlan(plan: Plan, guard: PromptGuard | undefined): Plan {
  if (guard === undefined) return plan;
  return {
    subtasks: plan.subtasks.map((s) => {
      const filled = guard.fill(s.instruction);
      return { ...s, instruction: typeof filled === "string" ? filled : JSON.stringify(filled) };
    }),
  };
}

/**
 * Creates the planner port over a LangChain chat model.
 *
 * @example
 * const planner = createLangChainPlanner({ model: new ChatOpenAI({ model: "gpt-4o-mini" }), label: "openai:gpt-4o-mini", locality: "remote" });
 */
export function createLangChainPlanner(options: LangChainPlannerOptions): PlannerPort {
  const { model, label, locality } = options;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const grammar = supportsGrammar(model);
  // A local model's own output limit, when the agent sets none: string lengths are fitted to it.
  const ownLimit = (model as { maxTokens?: unknown }).maxTokens;
  const maxTokens = options.maxTokens ?? (typeof ownLimit === "number" ? ownLimit : undefined);

  /**
   * The privacy guard of one conversation with a remote model (its sendable view, origins, checks); none for a
   * model in this process, where nothing leaves the device.
   */
  function guardFor(context: CallContext, subtaskId?: string): PromptGuard | undefined {
    if (locality !== "remote") return undefined;
    return createPromptGuard({
      privacy: context.privacy,
      model: label,
      ...(subtaskId === undefined ? {} : { subtaskId }),
    });
  }

  /** Records one request to the remote model in the data-flow ledger (`planner.request`), after it settled. */
  function recordFlow(
    context: CallContext,
    flow: { guard: PromptGuard; purpose: RequestPurpose; subtaskId?: string | undefined },
    sent: readonly BaseMessage[],
    usage: { input_tokens?: number; output_tokens?: number } | undefined,
  ): void {
    try {
      context.emit({
        type: "planner.request",
        purpose: flow.purpose,
        model: label,
        bytes: messageBytes(sent),
        messages: sent.length,
        ...(usage?.input_tokens === undefined ? {} : { promptTokens: usage.input_tokens }),
        ...(usage?.output_tokens === undefined ? {} : { completionTokens: usage.output_tokens }),
        origins: flow.guard.origins.map((o) => ({ ...o })),
        ...(flow.subtaskId === undefined ? {} : { subtaskId: flow.subtaskId }),
      });
    } catch {
      // A listener's failure is the listener's problem; the planner goes on.
    }
  }

  async function ask(
    schema: JsonSchema | typeof planReplySchema,
    name: string,
    conversation: BaseMessage[],
    context: CallContext,
    flow?: { guard: PromptGuard; purpose: RequestPurpose; subtaskId?: string | undefined },
  ): Promise<Reply> {
    const { signal } = context;
    throwIfAborted(signal);
    // The one place content leaves the device: strict refuses here, before anything is sent; redact replaces.
    const messages = flow === undefined ? conversation : flow.guard.outgoing(conversation, flow.purpose);
    const started = Date.now();
    let sent = false;
    const runnable = model.withStructuredOutput(schema, { includeRaw: true, name });
    const deltas =
      context.stream === true
        ? coalesceText((text) => {
            try {
              context.emit({ type: "planner.delta", text });
            } catch {
              // A listener's failure is the listener's problem; the planner goes on.
            }
          })
        : undefined;
    let raw: unknown;
    let parsed: unknown;
    let parseErrors: string[] | undefined;
    try {
      sent = true;
      const out = (await withCallSignal(signal, (callSignal) =>
        runnable.invoke(messages, {
          signal: callSignal,
          ...(deltas === undefined ? {} : { callbacks: [new PlannerDeltas(deltas.push)] }),
        }),
      )) as {
        raw: unknown;
        parsed: unknown;
        parsingError?: unknown;
      };
      raw = out.raw;
      parsed = out.parsed;
      if (parsed === null || parsed === undefined) {
        const why = out.parsingError;
        parseErrors = isValidationError(why)
          ? [...why.errors]
          : [why instanceof Error ? why.message : "the reply was not valid JSON in the requested format"];
      }
    } catch (error) {
      if (signal.aborted || isAbortError(error))
        throw new AbortError("planning was aborted", { cause: error });
      // A local planner's own typed failures (model missing, corrupt, over the memory budget) keep their code.
      if (isModelError(error)) throw error;
      if (!isParseFailure(error)) {
        throw new EdgecrewError(
          ErrorCodes.PLANNER_FAILED,
          `planner model ${label} failed: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, context: { model: label } },
        );
      }
      parseErrors = isValidationError(error)
        ? [...error.errors]
        : [error instanceof Error ? error.message : String(error)];
    } finally {
      deltas?.flush();
      if (flow !== undefined && sent) recordFlow(context, flow, messages, aiMessageOf(raw)?.usage_metadata);
    }
    const meta = aiMessageOf(raw)?.usage_metadata;
    const loadMs = aiMessageOf(raw)?.response_metadata?.loadMs;
    return {
      parsed,
      text: messageText(raw) || (parsed === undefined ? "" : JSON.stringify(parsed)),
      parseErrors,
      usage: {
        model: label,
        locality,
        promptTokens: meta?.input_tokens ?? 0,
        completionTokens: meta?.output_tokens ?? 0,
        durationMs: Date.now() - started,
        loadMs: typeof loadMs === "number" ? loadMs : 0,
      },
    };
  }

  /**
   * One structured conversation: ask, check, and re-ask with the exact problems until a reply passes or the
   * attempts run out; then `fail` builds the typed error, which carries the usage spent.
   */
  async function converse<T>(spec: {
    readonly schema: JsonSchema | typeof planReplySchema;
    readonly name: string;
    readonly messages: BaseMessage[];
    readonly context: CallContext;
    readonly check: (parsed: unknown) => { ok: true; value: T } | { ok: false; errors: readonly string[] };
    readonly repair: (errors: readonly string[]) => string;
    readonly onRejected?: (errors: readonly string[], attempt: number) => void;
    readonly onAccepted?: (value: T, attempt: number) => void;
    readonly fail: (errors: readonly string[]) => EdgecrewError;
    /** The conversation's privacy guard (remote models only) and what the ledger calls its first request. */
    readonly flow?: { guard: PromptGuard; purpose: RequestPurpose; subtaskId?: string } | undefined;
  }): Promise<Produced<T>> {
    const usage: UsageRecord[] = [];
    let errors: readonly string[] = [];
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const flow =
        spec.flow === undefined
          ? undefined
          : { ...spec.flow, purpose: attempt === 1 ? spec.flow.purpose : ("repair" as const) };
      const reply = await ask(spec.schema, spec.name, spec.messages, spec.context, flow);
      usage.push(reply.usage);
      const checked = reply.parseErrors
        ? { ok: false as const, errors: reply.parseErrors }
        : spec.check(reply.parsed);
      if (checked.ok) {
        spec.onAccepted?.(checked.value, attempt);
        return { value: checked.value, usage };
      }
      errors = checked.errors;
      spec.onRejected?.(errors, attempt);
      spec.messages.push(new AIMessage(reply.text), new HumanMessage(spec.repair(errors)));
    }
    const error = spec.fail(errors);
    error.usage = usage;
    throw error;
  }

  return {
    model: label,

    async plan(original: PlanRequest, context: CallContext): Promise<Produced<Plan>> {
      const guard = guardFor(context);
      const request = guard === undefined ? original : planView(original, guard);
      const redact = guard !== undefined && context.privacy?.policy === "redact";
      const system = planSystemPrompt(request);
      let schema: JsonSchema | typeof planReplySchema = planReplySchema;
      if (grammar) {
        const budget =
          maxTokens === undefined
            ? undefined
            : instructionBudget({ maxTokens, maxSubtasks: request.maxSubtasks, workers: request.workers });
        schema = planGrammarSchema(request.workers, request.maxSubtasks, budget);
      }
      return converse({
        schema,
        name: "plan",
        messages: [new SystemMessage(system), new HumanMessage(planUserPrompt(request))],
        context,
        check: (parsed) => {
          const checked = validatePlan(parsed, {
            workers: request.workers,
            maxSubtasks: request.maxSubtasks,
          });
          if (!checked.ok) return checked;
          return { ok: true, value: redact ? filledPlan(checked.plan, guard) : checked.plan };
        },
        flow: guard && { guard, purpose: original.revision === undefined ? "plan" : "replan" },
        repair: planRepairPrompt,
        onRejected: (errors, attempt) => context.emit({ type: "plan.rejected", errors, attempt }),
        onAccepted: (plan, attempt) => context.emit({ type: "plan.created", plan, attempt }),
        fail: (errors) =>
          new PlanError(`the planner gave no valid plan in ${maxAttempts} attempts`, errors, {
            attempts: maxAttempts,
          }),
      });
    },

    async join(original: JoinRequest, context: CallContext): Promise<Produced<JoinDecision>> {
      const guard = guardFor(context);
      const request = guard === undefined ? original : joinView(original, guard);
      const schema = fittedJoinSchema({
        answerSchema: request.answerSchema,
        allowReplan: request.allowReplan,
        maxTokens: grammar ? maxTokens : undefined,
      });
      const validator = compileSchema(schema);
      return converse({
        schema,
        name: "final_answer",
        messages: [
          new SystemMessage(joinSystemPrompt(request.allowReplan, schema)),
          new HumanMessage(joinUserPrompt(request)),
        ],
        context,
        check: (parsed) => {
          // Placeholders the reply quotes are filled back in before the answer is checked and kept.
          const checked = validator.validate(guard === undefined ? parsed : guard.fill(parsed as JsonValue));
          return checked.ok ? { ok: true, value: toJoinDecision(checked.value) } : checked;
        },
        flow: guard && { guard, purpose: "join" },
        repair: (errors) => joinRepairPrompt(errors, schema),
        onRejected: (errors, attempt) => context.emit({ type: "answer.rejected", errors, attempt }),
        fail: (errors) =>
          new EdgecrewError(
            ErrorCodes.PLANNER_FAILED,
            `the planner gave no valid final answer in ${maxAttempts} attempts:\n${errors.map((e) => `  - ${e}`).join("\n")}`,
            { context: { model: label, errors: [...errors] } },
          ),
      });
    },

    async solve(original: EscalationRequest, context: CallContext): Promise<Produced<JsonValue>> {
      const guard = guardFor(context, original.subtask.id);
      const request = guard === undefined ? original : solveView(original, guard);
      const validator = compileSchema(request.worker.output);
      return converse({
        schema: request.worker.output,
        name: "answer",
        messages: [new SystemMessage(solveSystemPrompt(request)), new HumanMessage(solveUserPrompt(request))],
        context,
        check: (parsed) => validator.validate(guard === undefined ? parsed : guard.fill(parsed as JsonValue)),
        flow: guard && { guard, purpose: "solve", subtaskId: request.subtask.id },
        repair: (errors) => solveRepairPrompt(errors, request.worker.output),
        onRejected: (errors, attempt) =>
          context.emit({ type: "answer.rejected", errors, attempt, subtaskId: request.subtask.id }),
        fail: (errors) =>
          new EdgecrewError(
            ErrorCodes.SUBTASK_FAILED,
            `subtask ${request.subtask.id}: neither worker ${request.worker.name} nor the planner gave a valid answer (planner: ${maxAttempts} attempts):\n${errors.map((e) => `  - ${e}`).join("\n")}`,
            {
              context: {
                subtaskId: request.subtask.id,
                errors: [...errors],
                workerErrors: [...request.errors],
              },
            },
          ),
      });
    },
  };
}

/**
 * Fakes for the runtime's ports, for unit tests that need no model: a planner that returns given plans and a
 * worker pool whose answers come from a function, with recorded spans so tests can check real concurrency.
 */
import { peakOverlap } from "../../src/cli/timeline.js";
import { AbortError } from "../../src/errors.js";
import { DEFAULT_WORKER_OUTPUT } from "../../src/schema/describe.js";
import type {
  AgentDefinition,
  CallContext,
  EscalationRequest,
  JoinDecision,
  JoinRequest,
  JsonValue,
  Plan,
  PlannerPort,
  PlanRequest,
  SubtaskRequest,
  UsageRecord,
  WorkerDefinition,
  WorkerOutcome,
  WorkerPort,
} from "../../src/types.js";

export function worker(name: string, overrides: Partial<WorkerDefinition> = {}): WorkerDefinition {
  return {
    name,
    description: `${name} worker`,
    model: { kind: "fixture", raw: `fixture:${name}`, name, seed: 1, size: "tiny" },
    tools: [],
    output: DEFAULT_WORKER_OUTPUT,
    contextSize: 512,
    maxTokens: 32,
    temperature: 0,
    parallel: 1,
    ...overrides,
  };
}

export function agent(overrides: Partial<AgentDefinition> = {}): AgentDefinition {
  return {
    name: "test-agent",
    description: "an agent for tests",
    planner: { model: { kind: "remote", raw: "scripted:planner", provider: "scripted", model: "planner" } },
    workers: [worker("alpha", { parallel: 4 }), worker("beta", { parallel: 4 })],
    tools: [],
    limits: { maxSubtasks: 8, maxParallel: 4, maxReplans: 0, timeoutSeconds: 30, subtaskTimeoutSeconds: 10 },
    device: { gpu: false },
    escalation: { retries: 1, to: "fail" },
    ...overrides,
  };
}

export function fakePlanner(
  /** One plan, or the plans of successive plan calls (the last one repeats). */
  plans: Plan | readonly Plan[],
  options: {
    join?: (request: JoinRequest) => JsonValue;
    /** Overrides `join`: the joiner's whole decision (answer or replan). */
    decide?: (request: JoinRequest) => JoinDecision;
    /** The planner's answer for an escalated subtask; throwing fails the escalation. */
    solve?: (request: EscalationRequest) => JsonValue;
  } = {},
) {
  const joins: JoinRequest[] = [];
  const escalations: EscalationRequest[] = [];
  const planRequests: PlanRequest[] = [];
  const sequence: readonly Plan[] = "subtasks" in plans ? [plans as Plan] : (plans as readonly Plan[]);
  const port: PlannerPort = {
    model: "scripted:planner",
    async plan(request, context) {
      planRequests.push(request);
      const plan = sequence[Math.min(planRequests.length, sequence.length) - 1] ?? { subtasks: [] };
      context.emit({ type: "plan.created", plan, attempt: 1 });
      return {
        value: plan,
        usage: [
          {
            model: "scripted:planner",
            locality: "remote",
            promptTokens: 100,
            completionTokens: 20,
            durationMs: 1,
            loadMs: 0,
          },
        ],
      };
    },
    async join(request) {
      joins.push(request);
      const answer = options.join ? options.join(request) : `joined ${request.results.length}`;
      return {
        value: options.decide ? options.decide(request) : { kind: "answer", answer },
        usage: [
          {
            model: "scripted:planner",
            locality: "remote",
            promptTokens: 50,
            completionTokens: 10,
            durationMs: 1,
            loadMs: 0,
          },
        ],
      };
    },
    async solve(request) {
      escalations.push(request);
      const answer = options.solve ? options.solve(request) : { answer: `planner did ${request.subtask.id}` };
      const usage: UsageRecord = {
        model: "scripted:planner",
        locality: "remote",
        promptTokens: 30,
        completionTokens: 7,
        durationMs: 1,
        loadMs: 0,
      };
      return { value: answer, usage: [usage] };
    },
  };
  return { port, joins, escalations, planRequests };
}

export interface Span {
  readonly id: string;
  readonly start: number;
  readonly end: number;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortError());
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new AbortError());
      },
      { once: true },
    );
  });
}

export function fakeWorkers(
  answer: (request: SubtaskRequest) => WorkerOutcome | JsonValue = (r) => ({
    answer: `done ${r.subtask.id}`,
  }),
  options: {
    delayMs?: number | ((request: SubtaskRequest) => number);
    resident?: (worker: string) => boolean;
  } = {},
) {
  const spans: Span[] = [];
  const requests: SubtaskRequest[] = [];
  const aborted: string[] = [];
  let disposed = false;
  const port: WorkerPort = {
    async execute(request: SubtaskRequest, context: CallContext): Promise<WorkerOutcome> {
      requests.push(request);
      const start = performance.now();
      const ms = typeof options.delayMs === "function" ? options.delayMs(request) : (options.delayMs ?? 5);
      try {
        await delay(ms, context.signal);
      } catch (error) {
        aborted.push(request.subtask.id);
        throw error;
      }
      spans.push({ id: request.subtask.id, start, end: performance.now() });
      const value = answer(request);
      if (typeof value === "object" && value !== null && "ok" in value) return value as WorkerOutcome;
      return {
        ok: true,
        answer: value as JsonValue,
        attempts: 1,
        usage: [
          {
            model: request.worker.model.raw,
            locality: "local",
            promptTokens: 10,
            completionTokens: 5,
            durationMs: ms,
            loadMs: 0,
          },
        ],
      };
    },
    isResident: (name) => options.resident?.(name) ?? false,
    async dispose() {
      disposed = true;
    },
    async [Symbol.asyncDispose]() {
      disposed = true;
    },
  };
  return { port, spans, requests, aborted, isDisposed: () => disposed };
}

/** True when two spans overlap in time. */
export function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

/** The largest number of spans running at one instant (the same measure `edgecrew inspect` reports). */
export function maxConcurrency(spans: readonly Span[]): number {
  return peakOverlap(spans);
}

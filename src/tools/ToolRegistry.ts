/**
 * The registry that owns an agent's tools and runs every call a model makes: look-up (and grants), argument
 * validation, human approval, timeout, output checks and size cap, and the `tool.called` / `tool.result`
 * events. Everything a model can get wrong comes back as a {@link ToolCallResult}; only programmer errors
 * (duplicate or unknown names in code) throw. A worker gets a {@link ToolRegistry.scoped} view holding only the
 * tools it was granted.
 */
import { EdgecrewError, ErrorCodes, throwIfAborted } from "../errors.js";
import type {
  JsonValue,
  RunEventInput,
  ToolCallContext,
  ToolCallResult,
  ToolRegistryPort,
  ToolSpec,
} from "../types.js";
import type { Tool } from "./defineTool.js";
import { keptByteLength, toLoggableJson, truncateToFit } from "./jsonValue.js";
import { runWithLimits } from "./runWithLimits.js";
import { didYouMean, grants } from "./toolNames.js";

/** What an approver is asked: which tool, with which (validated) arguments, for which subtask and worker. */
export interface ApprovalRequest {
  readonly tool: ToolSpec;
  readonly args: JsonValue;
  readonly subtaskId: string;
  readonly worker: string;
  /** Aborted when the run is cancelled: a prompt waiting for a human should give up then. */
  readonly signal: AbortSignal;
}

/** Decides whether a call of a tool marked `approve: true` may run; resolving `false` denies it. */
export type ApprovalCallback = (request: ApprovalRequest) => Promise<boolean>;

/** Registry-wide defaults; a tool's own `timeoutMs` / `maxOutputBytes` override them. */
export interface ToolRegistryOptions {
  /** Per-call timeout in ms (default 30 000). */
  readonly timeoutMs?: number;
  /**
   * Largest output handed back to a model (default 64 KiB), in bytes *kept*: each string counts its UTF-8
   * bytes, not its JSON escaping (see `keptByteLength`), so 60 000 control characters cost 60 000 bytes, not the
   * 360 000 of their escaped form (which is at most 6 times the kept size). A bigger output is cut to fit when it
   * says it can be (an object with a boolean `truncated` field: its longest strings are shortened, `truncated`
   * becomes true, and the output schema is checked again); any other makes the call `failed` with a message
   * saying how big it was, because a cut value could no longer match the tool's schema and mislead the model.
   */
  readonly maxOutputBytes?: number;
  /** Asked before each call of a tool with `approve: true`; without it such calls are denied. */
  readonly onApproval?: ApprovalCallback;
  /** Clock for the `ms` of `tool.result` (default `performance.now`). */
  readonly now?: () => number;
}

/** Default per-call timeout of a registry, in ms. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
/** Default output cap of a registry, in bytes of JSON. */
export const DEFAULT_TOOL_MAX_OUTPUT_BYTES = 64 * 1024;

interface Settings {
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  readonly onApproval: ApprovalCallback | undefined;
  readonly now: () => number;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

type Scope = readonly (readonly string[])[];

function isVisible(scope: Scope, name: string): boolean {
  return scope.every((level) => level.some((grant) => grants(grant, name)));
}

// Events go to user code; a throwing listener must not turn a finished tool call into a failed subtask.
function safeEmit(context: ToolCallContext, event: RunEventInput): void {
  try {
    context.emit(event);
  } catch {
    // deliberately ignored: see above
  }
}

/** A read-only view of a registry restricted to granted names (see {@link ToolRegistry.scoped}). */
export interface ScopedToolRegistry extends ToolRegistryPort {
  /** The grants this view was made with. */
  readonly granted: readonly string[];
  /** Whether a call of `name` would reach a tool. */
  has(name: string): boolean;
  /** A narrower view; names outside this view throw TOOL_NOT_FOUND. */
  scoped(names: readonly string[]): ScopedToolRegistry;
}

/**
 * Holds tools and runs calls to them. Create one per agent (or use `createRegistryFromConfig`), register
 * tools, and hand workers `scoped(worker.tools)`.
 *
 * @example
 * const registry = new ToolRegistry({ onApproval: async ({ tool }) => confirm(`run ${tool.name}?`) });
 * registry.register(weather);
 * const forWorker = registry.scoped(["weather"]);
 * const result = await forWorker.call("weather", { city: "Oslo" }, context);
 * if (!result.ok) console.log(result.reason, result.error); // returned to the model as data
 */
export class ToolRegistry implements ToolRegistryPort {
  readonly #tools = new Map<string, Tool>();
  readonly #settings: Settings;

  constructor(options: ToolRegistryOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_TOOL_MAX_OUTPUT_BYTES;
    for (const [key, value] of [
      ["timeoutMs", timeoutMs],
      ["maxOutputBytes", maxOutputBytes],
    ] as const) {
      if (!(Number.isFinite(value) && value > 0)) {
        throw new EdgecrewError(ErrorCodes.TOOL_INVALID, `tool registry: ${key} must be a positive number`, {
          context: { [key]: value },
        });
      }
    }
    this.#settings = {
      timeoutMs,
      maxOutputBytes,
      onApproval: options.onApproval,
      now: options.now ?? (() => performance.now()),
    };
  }

  /** Adds a tool; throws TOOL_INVALID when a tool of the same name is already registered. Returns `this`. */
  register(tool: Tool): this {
    const { name } = tool.spec;
    if (this.#tools.has(name)) {
      throw new EdgecrewError(ErrorCodes.TOOL_INVALID, `a tool named \`${name}\` is already registered`, {
        context: { tool: name },
      });
    }
    this.#tools.set(name, tool);
    return this;
  }

  /** Whether a tool of exactly this name is registered. */
  has(name: string): boolean {
    return this.#tools.has(name);
  }

  /**
   * Specs of the tools the names grant (a family name like `fs` grants `fs.read`, `fs.list`, …), in
   * registration order; all tools when no names are given. An unknown name throws TOOL_NOT_FOUND.
   */
  list(names?: readonly string[]): readonly ToolSpec[] {
    return this.#select(names, []).map((tool) => tool.spec);
  }

  /**
   * A view exposing only the tools `names` grant, by the family rule of `list`. Calls to anything else return
   * `not-granted`; unknown names throw TOOL_NOT_FOUND now, so a typo in a worker's grants fails at start-up.
   */
  scoped(names: readonly string[]): ScopedToolRegistry {
    return this.#view(names, []);
  }

  /** Runs a call (see {@link ToolRegistryPort.call}); rejects only with an AbortError when the run is cancelled. */
  call(name: string, args: unknown, context: ToolCallContext): Promise<ToolCallResult> {
    return this.#call(name, args, context, []);
  }

  // A scope is the grant lists of a view and of every view it was narrowed from: a name is visible only when
  // each level grants it, so narrowing can never widen what a worker may call.
  #select(names: readonly string[] | undefined, scope: Scope): Tool[] {
    const visible = [...this.#tools.values()].filter((tool) => isVisible(scope, tool.spec.name));
    if (names === undefined) return visible;
    const chosen = new Set<Tool>();
    for (const name of names) {
      const matches = visible.filter((tool) => grants(name, tool.spec.name));
      if (matches.length === 0) {
        const known = visible.map((tool) => tool.spec.name);
        const where =
          scope.length === 0 ? "registered" : `in this view (tools: ${known.join(", ") || "none"})`;
        throw new EdgecrewError(
          ErrorCodes.TOOL_NOT_FOUND,
          `no tool \`${name}\` is ${where}${didYouMean(name, known)}`,
          { context: { tool: name, known } },
        );
      }
      for (const tool of matches) chosen.add(tool);
    }
    return visible.filter((tool) => chosen.has(tool));
  }

  #view(names: readonly string[], parent: Scope): ScopedToolRegistry {
    // Checked now so that a typo in a worker's grants fails at start-up; the view itself stays live, so a
    // family member registered later is visible too.
    this.#select(names, parent);
    const granted = Object.freeze([...names]);
    const scope: Scope = [...parent, granted];
    return Object.freeze({
      granted,
      has: (name: string) => this.#tools.has(name) && isVisible(scope, name),
      list: (list?: readonly string[]) => this.#select(list, scope).map((tool) => tool.spec),
      scoped: (inner: readonly string[]) => this.#view(inner, scope),
      call: (name: string, args: unknown, context: ToolCallContext) => this.#call(name, args, context, scope),
    });
  }

  async #call(name: string, args: unknown, context: ToolCallContext, scope: Scope): Promise<ToolCallResult> {
    throwIfAborted(context.signal);
    const { now } = this.#settings;
    const started = now();
    const base = { subtaskId: context.subtaskId, tool: name };
    safeEmit(context, { type: "tool.called", ...base, args: toLoggableJson(args) });
    const result = await this.#execute(name, args, context, scope);
    safeEmit(context, { type: "tool.result", ...base, result, ms: now() - started });
    return result;
  }

  async #execute(
    name: string,
    args: unknown,
    context: ToolCallContext,
    scope: Scope,
  ): Promise<ToolCallResult> {
    const tool = this.#tools.get(name);
    if (tool === undefined || !isVisible(scope, name)) {
      const available = [...this.#tools.keys()].filter((known) => isVisible(scope, known));
      return {
        ok: false,
        reason: "not-granted",
        error: `the tool \`${name}\` is not available to you${didYouMean(name, available)}; available tools: ${available.join(", ") || "none"}`,
      };
    }

    const parsed = tool.parseArgs(args);
    if (!parsed.ok) {
      return {
        ok: false,
        reason: "invalid-input",
        error: `invalid arguments for \`${name}\`:\n${parsed.errors.map((line) => `- ${line}`).join("\n")}`,
      };
    }

    if (tool.spec.approve) {
      const denial = await this.#approve(tool.spec, parsed.value, context);
      if (denial !== undefined) return { ok: false, reason: "denied", error: denial };
    }

    const timeoutMs = tool.timeoutMs ?? this.#settings.timeoutMs;
    const outcome = await runWithLimits((signal) => tool.run(parsed.value, { ...context, signal }), {
      signal: context.signal,
      timeoutMs,
    });
    if (outcome.kind === "timeout") {
      return { ok: false, reason: "timeout", error: `\`${name}\` did not finish within ${timeoutMs} ms` };
    }
    if (outcome.kind === "error") {
      return { ok: false, reason: "failed", error: `\`${name}\` failed: ${messageOf(outcome.error)}` };
    }

    const output = tool.parseOutput(outcome.value);
    if (!output.ok) {
      return {
        ok: false,
        reason: "failed",
        error: `\`${name}\` returned an invalid output:\n${output.errors.map((line) => `- ${line}`).join("\n")}`,
      };
    }
    const limit = tool.maxOutputBytes ?? this.#settings.maxOutputBytes;
    const size = keptByteLength(output.value);
    if (size <= limit) return { ok: true, output: output.value };
    const cut = truncateToFit(output.value, limit);
    const checked = cut === undefined ? undefined : tool.parseOutput(cut);
    if (checked?.ok === true) return { ok: true, output: checked.value };
    return {
      ok: false,
      reason: "failed",
      error: `\`${name}\` returned ${formatBytes(size)} of output, over the ${formatBytes(limit)} limit; ask for less (a narrower query or a smaller file)`,
    };
  }

  /** Undefined when approved, else the reason for the denial (told to the model). */
  async #approve(spec: ToolSpec, args: unknown, context: ToolCallContext): Promise<string | undefined> {
    const { onApproval } = this.#settings;
    if (onApproval === undefined) {
      return `\`${spec.name}\` needs a human's approval and no approver is configured, so the call was denied`;
    }
    // Approval waits for a human, so it is not under the tool's timeout; it does end when the run is cancelled.
    const outcome = await runWithLimits(
      () =>
        onApproval({
          tool: spec,
          args: toLoggableJson(args),
          subtaskId: context.subtaskId,
          worker: context.worker,
          signal: context.signal,
        }),
      { signal: context.signal, timeoutMs: 2 ** 31 - 1 },
    );
    if (outcome.kind === "value" && outcome.value === true) return undefined;
    if (outcome.kind === "error")
      return `the approval of \`${spec.name}\` failed (${messageOf(outcome.error)}), so the call was denied`;
    return `a human denied this call of \`${spec.name}\``;
  }
}

/**
 * The tool journal: a registry wrapper that records every tool call in the run store — the intent before the
 * tool runs, the result after — so that a resumed run never repeats a side effect it cannot vouch for. On
 * resume, a call the journal already holds a result for gets that result back without the tool running; a
 * non-idempotent call whose intent has no result (the process died while it ran) fails its subtask with a
 * "side effect uncertain" error instead of running again; an idempotent one simply runs again.
 *
 * Matching a resumed call to a journaled one: each call gets a `callId` of `<n>:<tool>`, `n` counting the calls
 * of its subtask (1-based) in this process, so a subtask that re-runs after a crash makes the same ids in the
 * same order. A call matches a journaled entry only with the same id, tool and (deep-equal) arguments. When the
 * re-run diverges (same position and tool, other arguments) the call is new, and is journaled as
 * `<n>:<tool>#<k>` (the smallest free k ≥ 2) so that it neither hides the earlier call's entry nor is hidden by
 * it (the store's fold keeps a result over a later intent of the same id).
 */
import { EdgecrewError, ErrorCodes, isEdgecrewError, throwIfAborted } from "../errors.js";
import { toLoggableJson } from "../tools/jsonValue.js";
import type {
  JsonValue,
  RunEventInput,
  RunStore,
  ToolCallContext,
  ToolCallResult,
  ToolJournalEntry,
  ToolRegistryPort,
  ToolSpec,
} from "../types.js";

/** A registry that may hand out narrower views, as `ToolRegistry` and its scoped views do. */
export type ScopableToolRegistry = ToolRegistryPort & {
  scoped?(names: readonly string[]): ToolRegistryPort;
};

/** A journaled registry; it has `scoped` exactly when the registry it wraps has. */
export interface JournaledToolRegistry extends ToolRegistryPort {
  /** A view of the wrapped registry's `scoped(names)`, journaled like this one (same call counts). */
  scoped?(names: readonly string[]): JournaledToolRegistry;
}

/**
 * The journal of earlier attempts of a run, as `StoredRun.toolJournal` gives it: one list (for a wrapper that
 * serves that one run), or a look-up by run id (for a wrapper shared by every run of a crew; `undefined` for a
 * run that is not being resumed).
 */
export type PriorToolJournal =
  | readonly ToolJournalEntry[]
  | ((runId: string) => readonly ToolJournalEntry[] | undefined);

/** Options of {@link journalTools}. */
export interface JournalToolsOptions {
  /** Where intents and results are written (`journalTool`); a failed write rejects the call. */
  readonly store: Pick<RunStore, "journalTool">;
  /** The journal of the run being resumed; absent for fresh runs. */
  readonly prior?: PriorToolJournal;
  /** Applied to arguments and results before they are journaled (and compared): secret redaction. */
  readonly redact?: (value: JsonValue) => JsonValue;
}

/** Marks the error {@link journalTools} throws for an uncertain side effect (in its `context.reason`). */
export const SIDE_EFFECT_UNCERTAIN = "side-effect-uncertain";

/** True for the SUBTASK_FAILED error a journaled call throws when its side effect is uncertain. */
export function isSideEffectUncertain(error: unknown): error is EdgecrewError {
  return (
    isEdgecrewError(error) &&
    error.code === ErrorCodes.SUBTASK_FAILED &&
    error.context.reason === SIDE_EFFECT_UNCERTAIN
  );
}

interface JournalState {
  readonly store: Pick<RunStore, "journalTool">;
  readonly prior: (runId: string) => readonly ToolJournalEntry[];
  /** Journaled calls so far, by run and subtask, in this process. */
  readonly counts: Map<string, number>;
  readonly redact: (value: JsonValue) => JsonValue;
}

type Decision =
  | { readonly kind: "reuse"; readonly result: ToolCallResult }
  | { readonly kind: "uncertain"; readonly entry: ToolJournalEntry }
  | { readonly kind: "run"; readonly callId: string };

/**
 * Wraps `registry` so that every call of a tool it can reach is journaled in `options.store` (see the file
 * comment). Calls of unknown or ungranted tools go straight through (the registry refuses them as data) and
 * are not journaled. Rejects with the store's error when a journal write fails — a run must not go on
 * without its journal — and with a SUBTASK_FAILED error (`isSideEffectUncertain`) when a resumed call of a
 * non-idempotent tool may already have had its effect; the worker lets both end the subtask.
 *
 * @example
 * const tools = journalTools(registry, { store, prior: stored.toolJournal });
 * const workers = createLocalWorkers({ workers: agent.workers, manager, tools });
 */
export function journalTools(
  registry: ScopableToolRegistry,
  options: JournalToolsOptions,
): JournaledToolRegistry {
  const { prior } = options;
  const state: JournalState = {
    store: options.store,
    prior:
      prior === undefined
        ? () => []
        : typeof prior === "function"
          ? (runId) => prior(runId) ?? []
          : () => prior,
    counts: new Map(),
    redact: options.redact ?? ((value) => value),
  };
  return wrap(registry, state);
}

function wrap(registry: ScopableToolRegistry, state: JournalState): JournaledToolRegistry {
  const journaled: JournaledToolRegistry = {
    list: (names?: readonly string[]) => registry.list(names),
    call: (name: string, args: unknown, context: ToolCallContext) =>
      journaledCall(registry, state, name, args, context),
  };
  const { scoped } = registry;
  if (scoped === undefined) return journaled;
  // Views share the state: a worker calls through its view, and its calls must count with everyone else's.
  return { ...journaled, scoped: (names) => wrap(scoped.call(registry, names), state) };
}

/** The spec of exactly the tool `name`, when `registry` lets it be called. */
function specOf(registry: ToolRegistryPort, name: string): ToolSpec | undefined {
  try {
    // `list` also expands family names (`fs` → `fs.read`, …): only a tool of exactly this name counts.
    return registry.list([name]).find((spec) => spec.name === name);
  } catch (error) {
    if (isEdgecrewError(error) && error.code === ErrorCodes.TOOL_NOT_FOUND) return undefined;
    throw error;
  }
}

async function journaledCall(
  registry: ToolRegistryPort,
  state: JournalState,
  name: string,
  args: unknown,
  context: ToolCallContext,
): Promise<ToolCallResult> {
  const spec = specOf(registry, name);
  if (spec === undefined) return registry.call(name, args, context);
  throwIfAborted(context.signal);
  const { runId, subtaskId } = context;
  const key = JSON.stringify([runId, subtaskId]);
  const n = (state.counts.get(key) ?? 0) + 1;
  state.counts.set(key, n);
  const logged = state.redact(toLoggableJson(args));
  const decision = decide(state.prior(runId), subtaskId, `${n}:${name}`, spec, logged);

  if (decision.kind === "reuse") {
    report(context, name, logged, decision.result);
    return decision.result;
  }
  if (decision.kind === "uncertain") {
    const error = sideEffectUncertain(name, decision.entry);
    report(context, name, logged, { ok: false, reason: "failed", error: error.message });
    throw error;
  }
  const intent: ToolJournalEntry = {
    subtaskId,
    callId: decision.callId,
    tool: name,
    args: logged,
    idempotent: spec.idempotent,
  };
  await state.store.journalTool(runId, intent);
  const result = await registry.call(name, args, context);
  await state.store.journalTool(runId, { ...intent, result: state.redact(result) as ToolCallResult });
  return result;
}

/**
 * What to do with call `base` (`<n>:<tool>`) of `subtaskId`, given the earlier attempts' journal. A call whose
 * exact twin has a result reuses it. Otherwise, an unresulted intent of the same non-idempotent tool anywhere in
 * the subtask makes the call uncertain — whatever its position or arguments, since a re-run model may reorder or
 * reword the call that was cut off, and running it could repeat that effect. Else the call runs: under its
 * twin's id when it has one (an idempotent retry), under a fresh id otherwise.
 */
function decide(
  prior: readonly ToolJournalEntry[],
  subtaskId: string,
  base: string,
  spec: ToolSpec,
  args: JsonValue,
): Decision {
  const ofSubtask = prior.filter((entry) => entry.subtaskId === subtaskId);
  const atPosition = ofSubtask.filter((entry) => baseOf(entry.callId) === base);
  const twin = atPosition.find((entry) => entry.tool === spec.name && jsonEqual(entry.args, args));
  if (twin?.result !== undefined) return { kind: "reuse", result: twin.result };
  // Either side saying "not idempotent" is enough: the tool may have been redeclared since the crash.
  const open = ofSubtask.find(
    (entry) =>
      entry.tool === spec.name && entry.result === undefined && !(entry.idempotent && spec.idempotent),
  );
  if (open !== undefined) return { kind: "uncertain", entry: open };
  if (twin !== undefined) return { kind: "run", callId: twin.callId };
  return { kind: "run", callId: freeCallId(base, atPosition) };
}

/** `3:fs.read` for `3:fs.read#2`; tool names cannot contain `#`. */
function baseOf(callId: string): string {
  const mark = callId.lastIndexOf("#");
  return mark === -1 ? callId : callId.slice(0, mark);
}

function freeCallId(base: string, taken: readonly ToolJournalEntry[]): string {
  const ids = new Set(taken.map((entry) => entry.callId));
  if (!ids.has(base)) return base;
  let k = 2;
  while (ids.has(`${base}#${k}`)) k++;
  return `${base}#${k}`;
}

/** Deep equality of JSON values; object key order does not matter (a store may not keep it). */
function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, index) => jsonEqual(item, b[index] as JsonValue))
    );
  }
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key] as JsonValue, b[key] as JsonValue))
  );
}

/**
 * The SUBTASK_FAILED error of a non-idempotent call that may already have had its effect (`entry` is the intent
 * journaled without a result). Also thrown by a journal store that finds the call journaled by another execution.
 */
export function sideEffectUncertain(tool: string, entry: ToolJournalEntry): EdgecrewError {
  return new EdgecrewError(
    ErrorCodes.SUBTASK_FAILED,
    `side effect uncertain: ${tool} may already have run before the crash (no result was journaled); not repeating a non-idempotent call`,
    {
      context: {
        reason: SIDE_EFFECT_UNCERTAIN,
        subtaskId: entry.subtaskId,
        callId: entry.callId,
        tool,
        args: entry.args,
      },
    },
  );
}

/**
 * The events the registry emits for a call it runs, for a call answered from the journal (or refused): the
 * event log stays complete, and a call that did not run takes no time.
 */
function report(context: ToolCallContext, tool: string, args: JsonValue, result: ToolCallResult): void {
  const base = { subtaskId: context.subtaskId, tool };
  safeEmit(context, { type: "tool.called", ...base, args });
  safeEmit(context, { type: "tool.result", ...base, result, ms: 0 });
}

// Events go to user code; a throwing listener must not change what the call returns.
function safeEmit(context: ToolCallContext, event: RunEventInput): void {
  try {
    context.emit(event);
  } catch {
    // deliberately ignored: see above
  }
}

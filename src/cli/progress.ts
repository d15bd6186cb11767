/**
 * Live progress of a run on a terminal: a pure reducer folds run events into a {@link ProgressState}, and
 * {@link renderFrame} turns that state into the lines of one frame (header, the plan as a tree with each
 * subtask's state, worker, model, tokens and time, model loads, plan revisions, and a status line). A small
 * painter redraws the frame in place with ANSI sequences, throttled.
 */
import type { ErrorInfo } from "../errors.js";
import type { Plan, RunEvent, Subtask, SubtaskResult } from "../types.js";

/** Where a subtask stands. */
export type SubtaskPhase = "pending" | "running" | "done" | "escalated" | "failed";

/** What the live view knows about one subtask. */
export interface SubtaskView {
  readonly id: string;
  readonly worker: string;
  readonly dependsOn: readonly string[];
  readonly phase: SubtaskPhase;
  readonly model?: string;
  /** When it started (event time, ms). */
  readonly startedAt?: number;
  /** Repair attempts so far. */
  readonly repairs: number;
  readonly result?: SubtaskResult;
  /** Why it was escalated to the planner. */
  readonly escalation?: string;
  readonly error?: ErrorInfo;
  /** Its result was carried over from an earlier plan revision or run. */
  readonly reused: boolean;
  /** With streaming: the last line of the text its model is generating, and the turn it belongs to. */
  readonly text?: { readonly turn: number; readonly line: string };
}

/** A model's residency as the events tell it. */
export interface ModelView {
  readonly model: string;
  readonly phase: "loading" | "loaded" | "unloaded";
  readonly bytes?: number;
  readonly ms?: number;
}

/** How the run ended. */
export interface ProgressEnd {
  readonly status: "completed" | "failed" | "cancelled";
  readonly at: number;
  readonly message?: string;
}

/** Everything the live view shows, folded from the run's events. */
export interface ProgressState {
  readonly runId?: string;
  readonly agent?: string;
  readonly task?: string;
  readonly startedAt?: number;
  /** The current plan's subtasks, in plan order. */
  readonly subtasks: readonly SubtaskView[];
  /** The finished subtasks of earlier plans, by id (a revision may reuse them). */
  readonly earlier: Readonly<Record<string, SubtaskView>>;
  /** Subtasks a resumed run had already done. */
  readonly resumedDone: readonly string[];
  readonly planAttempts: number;
  readonly planRejections: number;
  /**
   * The revision of the plan shown, when its `plan.created` (or `run.resumed`) said it. Runs recorded before
   * plan.created carried it announced a replan's plan before its `plan.revised`.
   */
  readonly planRevision?: number;
  /** Final answers (or join decisions) and escalated answers of the planner that were rejected. */
  readonly answerRejections: number;
  readonly revisions: readonly {
    readonly revision: number;
    readonly reason: string;
    readonly reused: readonly string[];
  }[];
  readonly models: readonly ModelView[];
  readonly end?: ProgressEnd;
  /** With streaming: the last line of the planner's reply being written (cleared when a plan arrives). */
  readonly plannerLine?: string;
}

/** The state before the first event. */
export const initialProgress: ProgressState = {
  subtasks: [],
  earlier: {},
  resumedDone: [],
  planAttempts: 0,
  planRejections: 0,
  answerRejections: 0,
  revisions: [],
  models: [],
};

function pendingView(subtask: Subtask): SubtaskView {
  return {
    id: subtask.id,
    worker: subtask.worker,
    dependsOn: subtask.dependsOn,
    phase: "pending",
    repairs: 0,
    reused: false,
  };
}

/** A plan's subtasks as views: pending, or done (and reused) for those a resumed run already holds. */
function planViews(plan: Plan, done: readonly string[]): SubtaskView[] {
  const held = new Set(done);
  return plan.subtasks.map((s) =>
    held.has(s.id) ? { ...pendingView(s), phase: "done" as const, reused: true } : pendingView(s),
  );
}

/** The views with the subtasks a replan reused marked done, with the earlier plan's result. */
function markReused(
  subtasks: readonly SubtaskView[],
  earlier: Readonly<Record<string, SubtaskView>>,
  reusedIds: readonly string[],
): SubtaskView[] {
  const reused = new Set(reusedIds);
  return subtasks.map((s) => {
    if (!reused.has(s.id)) return s;
    const before = earlier[s.id];
    return {
      ...s,
      ...(before?.result === undefined ? {} : { result: before.result, model: before.model }),
      phase: "done" as const,
      reused: true,
    };
  });
}

function updateSubtask(
  state: ProgressState,
  id: string,
  worker: string | undefined,
  change: (view: SubtaskView) => SubtaskView,
): ProgressState {
  const index = state.subtasks.findIndex((s) => s.id === id);
  if (index === -1) {
    // A subtask no plan event showed (a run.resumed written before events carried the stored plan).
    const fresh: SubtaskView = {
      id,
      worker: worker ?? "?",
      dependsOn: [],
      phase: "pending",
      repairs: 0,
      reused: false,
    };
    return { ...state, subtasks: [...state.subtasks, change(fresh)] };
  }
  const subtasks = state.subtasks.slice();
  subtasks[index] = change(subtasks[index] as SubtaskView);
  return { ...state, subtasks };
}

function setModel(state: ProgressState, view: ModelView): ProgressState {
  const index = state.models.findIndex((m) => m.model === view.model);
  if (index === -1) return { ...state, models: [...state.models, view] };
  const models = state.models.slice();
  const before = models[index] as ModelView;
  models[index] = {
    ...view,
    ...(view.bytes === undefined && before.bytes !== undefined ? { bytes: before.bytes } : {}),
  };
  return { ...state, models };
}

/** Most characters of a streamed line kept: more than any terminal shows. */
const STREAMED_LINE_CHARS = 400;

/** The last line of `before + text`, at most {@link STREAMED_LINE_CHARS} characters from its end. */
function lastLine(before: string, text: string): string {
  const joined = before + text;
  const line = joined.slice(joined.lastIndexOf("\n") + 1);
  return line.length > STREAMED_LINE_CHARS ? line.slice(-STREAMED_LINE_CHARS) : line;
}

/** Folds one event into the state (pure: the input is never changed). */
export function reduceProgress(state: ProgressState, event: RunEvent): ProgressState {
  const withStart =
    state.startedAt === undefined ? { ...state, startedAt: event.at, runId: event.runId } : state;
  switch (event.type) {
    case "run.started":
      return { ...withStart, runId: event.runId, agent: event.agent, task: event.task };
    case "run.resumed": {
      const resumed = {
        ...withStart,
        runId: event.runId,
        agent: event.agent,
        task: event.task,
        resumedDone: event.completed,
        planRevision: event.revision,
      };
      // The stored plan is drawn at once, its finished subtasks done, rather than as each subtask starts.
      return event.plan === undefined
        ? resumed
        : { ...resumed, subtasks: planViews(event.plan, event.completed) };
    }
    case "plan.rejected":
      return { ...withStart, planAttempts: event.attempt, planRejections: withStart.planRejections + 1 };
    case "answer.rejected":
      return { ...withStart, answerRejections: withStart.answerRejections + 1 };
    case "plan.created": {
      const earlier: Record<string, SubtaskView> = { ...withStart.earlier };
      for (const s of withStart.subtasks) if (s.phase === "done") earlier[s.id] = s;
      let subtasks = planViews(event.plan, withStart.resumedDone);
      // The replan announced just before this plan (its plan.revised) says which subtasks it reuses.
      const revised = withStart.revisions.find((r) => r.revision === event.revision);
      if (event.revision !== undefined && revised !== undefined)
        subtasks = markReused(subtasks, earlier, revised.reused);
      const { planRevision: _, plannerLine: __, ...rest } = withStart;
      return {
        ...rest,
        planAttempts: event.attempt,
        subtasks,
        earlier,
        ...(event.revision === undefined ? {} : { planRevision: event.revision }),
      };
    }
    case "plan.revised": {
      // Recorded before plan.created said its revision, the new plan came first: mark its reused subtasks now.
      const subtasks =
        withStart.planRevision === undefined
          ? markReused(withStart.subtasks, withStart.earlier, event.reused)
          : withStart.subtasks;
      return {
        ...withStart,
        subtasks,
        revisions: [
          ...withStart.revisions,
          { revision: event.revision, reason: event.reason, reused: event.reused },
        ],
      };
    }
    case "subtask.started":
      return updateSubtask(withStart, event.subtaskId, event.worker, (s) => ({
        ...s,
        worker: event.worker,
        model: event.model,
        phase: "running",
        startedAt: event.at,
      }));
    case "subtask.repairing":
      return updateSubtask(withStart, event.subtaskId, undefined, (s) => ({ ...s, repairs: event.attempt }));
    case "subtask.escalated":
      return updateSubtask(withStart, event.subtaskId, event.worker, (s) => ({
        ...s,
        phase: "escalated",
        escalation: event.reason,
      }));
    case "subtask.routed":
      return updateSubtask(withStart, event.subtaskId, event.worker, (s) => ({
        ...s,
        phase: "escalated",
        escalation: `routed: first-try ${Math.round(event.rate * 100)}% < ${Math.round(event.below * 100)}%`,
      }));
    case "subtask.completed":
      return updateSubtask(withStart, event.subtaskId, event.result.worker, (s) => ({
        ...s,
        phase: "done",
        result: event.result,
      }));
    case "subtask.failed":
      return updateSubtask(withStart, event.subtaskId, undefined, (s) => ({
        ...s,
        phase: "failed",
        error: event.error,
      }));
    case "model.loading":
      return setModel(withStart, {
        model: event.model,
        phase: "loading",
        ...(event.estimatedBytes === undefined ? {} : { bytes: event.estimatedBytes }),
      });
    case "model.loaded":
      return setModel(withStart, {
        model: event.model,
        phase: "loaded",
        ms: event.ms,
        ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
      });
    case "model.unloaded":
      return setModel(withStart, {
        model: event.model,
        phase: "unloaded",
        ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
      });
    case "tool.called":
    case "tool.result":
    case "tool.shortened":
    case "tool.progress":
    case "tools.offered":
      return withStart;
    case "subtask.delta":
      return updateSubtask(withStart, event.subtaskId, undefined, (s) => ({
        ...s,
        // A new turn (after a tool call, a repair) starts a new line.
        text: {
          turn: event.turn,
          line: lastLine(s.text?.turn === event.turn ? s.text.line : "", event.text),
        },
      }));
    case "planner.delta":
      return { ...withStart, plannerLine: lastLine(withStart.plannerLine ?? "", event.text) };
    case "planner.request":
      return withStart;
    case "run.completed":
      return { ...withStart, end: { status: "completed", at: event.at } };
    case "run.failed":
      return {
        ...withStart,
        end: { status: "failed", at: event.at, message: `${event.error.code}: ${event.error.message}` },
      };
    case "run.cancelled":
      return { ...withStart, end: { status: "cancelled", at: event.at, message: event.reason } };
    default: {
      const unhandled: never = event;
      return unhandled;
    }
  }
}

/** Whether an event changes what a subtask, the plan or the run is doing (worth an immediate redraw). */
export function isStateChange(event: RunEvent): boolean {
  return ![
    "tool.called",
    "tool.result",
    "tool.shortened",
    "tool.progress",
    "tools.offered",
    "subtask.repairing",
    "subtask.delta",
    "planner.delta",
    "planner.request",
  ].includes(event.type);
}

// ─── Rendering ───────────────────────────────────────────────────────────────────────────────────────────

/** The terminal's width and the current time, for elapsed times. */
export interface FrameOptions {
  readonly width: number;
  readonly now: number;
}

const GLYPHS: Record<SubtaskPhase, string> = {
  pending: "·",
  running: "▶",
  done: "✓",
  escalated: "↑",
  failed: "✗",
};

function flat(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Clips a line to `width` characters (code points), ending with `…` when cut. */
export function clipLine(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return width <= 1 ? chars.slice(0, Math.max(0, width)).join("") : `${chars.slice(0, width - 1).join("")}…`;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function tokensOf(result: SubtaskResult): { prompt: number; completion: number } {
  let prompt = 0;
  let completion = 0;
  for (const u of result.usage) {
    prompt += u.promptTokens;
    completion += u.completionTokens;
  }
  return { prompt, completion };
}

function detail(view: SubtaskView, now: number): string {
  switch (view.phase) {
    case "pending":
      return "waiting";
    case "running": {
      const repair = view.repairs > 0 ? ` · repair ${view.repairs}` : "";
      return `running ${seconds(now - (view.startedAt ?? now))}${repair}`;
    }
    case "escalated":
      return `escalated to the planner (${view.escalation ?? "?"})`;
    case "failed":
      return view.error === undefined ? "failed" : `${view.error.code}: ${flat(view.error.message)}`;
    case "done": {
      if (view.result === undefined) return "reused";
      const t = tokensOf(view.result);
      const by = view.result.by === "planner" ? " · by planner ↑" : "";
      const reused = view.reused ? " · reused" : "";
      return `${t.prompt}+${t.completion} tok · ${view.result.endedAt - view.result.startedAt} ms${by}${reused}`;
    }
    default: {
      const unhandled: never = view.phase;
      return unhandled;
    }
  }
}

function subtaskLine(view: SubtaskView, now: number, extraDeps: readonly string[]): string {
  const model = view.model === undefined ? "" : ` · ${view.model}`;
  const deps = extraDeps.length > 0 ? ` ← ${extraDeps.join(", ")}` : "";
  return `${GLYPHS[view.phase]} ${view.id} ${view.worker}${model}${deps}  ${detail(view, now)}`;
}

/** Whether a subtask's frame row has its streamed line under it. */
function showsText(view: SubtaskView): boolean {
  return view.phase === "running" && view.text !== undefined && flat(view.text.line) !== "";
}

/** Whether the frame ends with the planner's streamed line. */
function showsPlannerLine(state: ProgressState): boolean {
  return state.end === undefined && state.plannerLine !== undefined && flat(state.plannerLine) !== "";
}

/** How many streamed lines a frame of `state` shows. */
function streamedLineCount(state: ProgressState): number {
  return state.subtasks.filter(showsText).length + (showsPlannerLine(state) ? 1 : 0);
}

/** The end of a streamed line that fits `width` after `lead` (cut at its start, with `…`). */
function streamedLine(lead: string, line: string, width: number): string {
  // A model's text could hold terminal escapes: control characters are dropped, not painted.
  const chars = Array.from(flat(line).replace(/\p{Cc}/gu, ""));
  const room = width - Array.from(lead).length;
  if (room <= 1 || chars.length <= room) return `${lead}${chars.join("")}`;
  return `${lead}…${chars.slice(chars.length - (room - 1)).join("")}`;
}

/**
 * The plan as a tree: a subtask hangs under its last dependency (in plan order); any other dependencies are
 * listed after it as `← deps`. A running subtask's streamed text, when there is any, shows under its row.
 */
function treeLines(subtasks: readonly SubtaskView[], now: number, width: number): string[] {
  const ids = new Set(subtasks.map((s) => s.id));
  const order = new Map(subtasks.map((s, i) => [s.id, i]));
  const parentOf = new Map<string, string>();
  for (const s of subtasks) {
    const known = s.dependsOn.filter((d) => ids.has(d) && d !== s.id);
    const parent = known.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0)).at(-1);
    if (parent !== undefined) parentOf.set(s.id, parent);
  }
  const children = new Map<string | undefined, SubtaskView[]>();
  for (const s of subtasks) {
    const parent = parentOf.get(s.id);
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  const lines: string[] = [];
  const seen = new Set<string>();
  const walk = (view: SubtaskView, prefix: string, last: boolean, root: boolean): void => {
    if (seen.has(view.id)) return;
    seen.add(view.id);
    const parent = parentOf.get(view.id);
    const extra = view.dependsOn.filter((d) => d !== parent);
    const branch = root ? "" : last ? "└─ " : "├─ ";
    lines.push(`  ${prefix}${branch}${subtaskLine(view, now, extra)}`);
    const kids = children.get(view.id) ?? [];
    const nextPrefix = root ? "" : `${prefix}${last ? "   " : "│  "}`;
    if (showsText(view)) {
      const rail = kids.length > 0 ? "│" : " ";
      lines.push(streamedLine(`  ${nextPrefix}${rail} ┆ `, view.text?.line ?? "", width));
    }
    for (const [i, kid] of kids.entries()) walk(kid, nextPrefix, i === kids.length - 1, false);
  };
  for (const root of children.get(undefined) ?? []) walk(root, "", true, true);
  // Anything left (a dependency cycle the planner should never produce) is still shown.
  for (const s of subtasks) if (!seen.has(s.id)) walk(s, "", true, true);
  return lines;
}

function statusLine(state: ProgressState): string {
  const done = state.subtasks.filter((s) => s.phase === "done").length;
  const running = state.subtasks.filter((s) => s.phase === "running" || s.phase === "escalated").length;
  const failed = state.subtasks.filter((s) => s.phase === "failed").length;
  let prompt = 0;
  let completion = 0;
  for (const s of state.subtasks) {
    if (s.result === undefined || s.reused) continue;
    const t = tokensOf(s.result);
    prompt += t.prompt;
    completion += t.completion;
  }
  const counts = `${done}/${state.subtasks.length} done${running > 0 ? `, ${running} running` : ""}${failed > 0 ? `, ${failed} failed` : ""} · ${prompt}+${completion} tokens`;
  const end = state.end;
  if (end === undefined) {
    const planning = state.subtasks.length === 0 ? "planning…" : "running";
    return `${planning} · ${counts}`;
  }
  const elapsed = seconds(end.at - (state.startedAt ?? end.at));
  const why = end.message === undefined ? "" : `: ${flat(end.message)}`;
  return `${end.status} in ${elapsed}${why} · ${counts}`;
}

/** The lines of one frame of the live view, each clipped to `options.width`. */
export function renderFrame(state: ProgressState, options: FrameOptions): string[] {
  const now = state.end?.at ?? options.now;
  const elapsed = state.startedAt === undefined ? "" : ` · ${seconds(now - state.startedAt)}`;
  const lines = [`run ${state.runId ?? "?"} · agent ${state.agent ?? "?"}${elapsed}`];
  if (state.task !== undefined) lines.push(`task: ${flat(state.task)}`);
  if (state.subtasks.length > 0) {
    const attempt = state.planAttempts > 1 ? ` · attempt ${state.planAttempts}` : "";
    const revision = state.revisions.length > 0 ? ` · revision ${state.revisions.at(-1)?.revision}` : "";
    const n = state.subtasks.length;
    lines.push(`plan (${n} subtask${n === 1 ? "" : "s"}${revision}${attempt}):`);
    lines.push(...treeLines(state.subtasks, options.now, options.width));
  } else if (state.planRejections > 0) {
    lines.push(`planning… (${state.planRejections} plan${state.planRejections === 1 ? "" : "s"} rejected)`);
  }
  if (showsPlannerLine(state)) {
    lines.push(streamedLine("planner ┆ ", state.plannerLine ?? "", options.width));
  }
  for (const r of state.revisions) {
    const reused = r.reused.length > 0 ? `; reusing ${r.reused.join(", ")}` : "";
    lines.push(`plan revised (${r.revision}): ${flat(r.reason)}${reused}`);
  }
  if (state.answerRejections > 0) {
    const n = state.answerRejections;
    lines.push(`planner: ${n} answer${n === 1 ? "" : "s"} rejected and asked again`);
  }
  if (state.models.length > 0) {
    lines.push("models:");
    for (const m of state.models) {
      const size =
        m.bytes === undefined ? "" : m.phase === "loading" ? ` ~${mib(m.bytes)}` : ` ${mib(m.bytes)}`;
      const ms = m.phase === "loaded" && m.ms !== undefined ? ` in ${m.ms} ms` : "";
      lines.push(`  ${m.phase.padEnd(8)} ${m.model}${size}${ms}`);
    }
  }
  lines.push(statusLine(state));
  return lines.map((line) => clipLine(line, Math.max(1, options.width)));
}

// ─── Painting ────────────────────────────────────────────────────────────────────────────────────────────

/** ANSI sequences the painter writes. */
export const Ansi = {
  hideCursor: "\x1b[?25l",
  showCursor: "\x1b[?25h",
  /** Moves to the start of the line `n` lines up, then clears to the end of the screen. */
  rewind: (n: number): string => `\x1b[${n}F\x1b[0J`,
} as const;

/** What the painter needs from its surroundings (injected so it can be tested without a terminal). */
export interface PainterOptions {
  readonly write: (text: string) => void;
  readonly width: () => number;
  /** Terminal rows, when known: a frame taller than the screen is cut so the rewind stays on screen. */
  readonly rows?: () => number | undefined;
  readonly now: () => number;
  /** Least time between two redraws that are not forced by a state change. */
  readonly throttleMs?: number;
  readonly setInterval?: (fn: () => void, ms: number) => { unref?: () => unknown };
  readonly clearInterval?: (handle: { unref?: () => unknown }) => void;
}

/** Redraws the frame in place as events arrive. */
export interface ProgressPainter {
  /** Folds an event in; redraws at once on a state change, otherwise on the next tick. */
  update(event: RunEvent): void;
  /** Draws the current frame now. */
  draw(): void;
  /** Forgets the frame on screen (something else was written below it): the next draw starts fresh. */
  detach(): void;
  /** Draws the final frame, stops the ticker and shows the cursor again. Safe to call more than once. */
  finish(): void;
  /** Shows the cursor again and stops the ticker, without drawing (for a forced exit). */
  restore(): void;
  /**
   * Steps aside while `fn` uses the terminal (a y/N prompt): no redraws, cursor shown; afterwards the frame is
   * drawn afresh below whatever `fn` printed.
   */
  hold<T>(fn: () => Promise<T>): Promise<T>;
  readonly state: ProgressState;
}

/** Creates a painter; it hides the cursor until {@link ProgressPainter.finish} or `restore`. */
export function createProgressPainter(options: PainterOptions): ProgressPainter {
  const throttle = options.throttleMs ?? 100;
  const setTick = options.setInterval ?? ((fn, ms) => setInterval(fn, ms));
  const clearTick =
    options.clearInterval ?? ((handle) => clearInterval(handle as ReturnType<typeof setInterval>));
  let state = initialProgress;
  let shown = 0;
  let dirty = false;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let closed = false;
  let held = 0;

  const draw = (): void => {
    if (closed || held > 0) return;
    let lines = renderFrame(state, { width: Math.max(1, options.width() - 1), now: options.now() });
    const rows = options.rows?.();
    if (rows !== undefined && rows > 2 && lines.length > rows - 1) {
      const last = lines.at(-1) ?? "";
      lines = [...lines.slice(0, rows - 3), "  …", last];
    }
    const rewind = shown > 0 ? Ansi.rewind(shown) : "";
    options.write(`${rewind}${lines.join("\n")}\n`);
    shown = lines.length;
    dirty = false;
    lastDraw = options.now();
  };

  options.write(Ansi.hideCursor);
  const ticker = setTick(() => {
    const running = state.subtasks.some((s) => s.phase === "running");
    if ((dirty || running) && options.now() - lastDraw >= throttle) draw();
  }, throttle);
  ticker.unref?.();

  const restore = (): void => {
    if (closed) return;
    closed = true;
    clearTick(ticker);
    options.write(Ansi.showCursor);
  };

  return {
    get state() {
      return state;
    },
    update(event) {
      const before = state;
      state = reduceProgress(state, event);
      // A streamed line that appears is drawn at once too: a short generation would otherwise end (a state
      // change, which hides its line) before the next tick, and never be seen.
      if (isStateChange(event) || streamedLineCount(state) > streamedLineCount(before)) draw();
      else dirty = true;
    },
    draw,
    detach() {
      shown = 0;
    },
    finish() {
      if (closed) return;
      draw();
      restore();
    },
    restore,
    async hold(fn) {
      held++;
      if (!closed) options.write(Ansi.showCursor);
      try {
        return await fn();
      } finally {
        held--;
        if (held === 0 && !closed) {
          shown = 0;
          options.write(Ansi.hideCursor);
          draw();
        }
      }
    },
  };
}

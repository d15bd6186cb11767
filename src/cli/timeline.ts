/**
 * The timeline of a stored run, for `edgecrew inspect`: who did each subtask, when, for how many tokens, and
 * how much ran in parallel. Pure: a StoredRun goes in, data and text come out, so it is tested without a store,
 * a model or a clock. The events are the source of truth (they cover every plan revision and a run that was
 * killed before its outcome was written); stored results and the outcome refine what they say.
 */
import type { ErrorInfo } from "../errors.js";
import { buildLedger } from "../runtime/ledger.js";
import type { JsonValue, Ledger, RunEvent, StoredRun, SubtaskResult, UsageRecord } from "../types.js";
import { columns } from "./columns.js";
import { renderLedger } from "./render.js";

/** How a stored run stands: its outcome's status, or `interrupted` when it never recorded one. */
export type TimelineStatus = "completed" | "failed" | "cancelled" | "interrupted";

/** Where a subtask of the timeline got to. */
export type SubtaskState = "completed" | "failed" | "running" | "pending";

/** One subtask of one plan revision, as the timeline shows it. */
export interface TimelineSubtask {
  readonly id: string;
  /** The plan revision it belongs to (0 for the first plan). */
  readonly revision: number;
  readonly worker: string;
  /** The worker's model, as the `subtask.started` event named it (absent for a subtask never started). */
  readonly model?: string;
  readonly state: SubtaskState;
  /** Who produced the answer; absent when there is none. */
  readonly by?: "worker" | "planner";
  /** In a fleet: the device whose worker produced the answer. */
  readonly device?: string;
  /** Why the worker handed the subtask to the planner, when it did. */
  readonly escalated?: "invalid-output" | "model-failed";
  /** Milliseconds from the start of the run to the start of the subtask. */
  readonly startMs?: number;
  /**
   * Wall time of the subtask, from its dispatch to its result; absent while it had not ended. It includes time
   * the subtask waited before its model could generate for it: see `parts`.
   */
  readonly durationMs?: number;
  /** Where the wall time went; absent without a result of its own (not ended, failed, reused). */
  readonly parts?: TimelineParts;
  /** Offset of the escalation from the start of the run, to split the Gantt bar. */
  readonly escalatedAtMs?: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Generation attempts of the answer (0 when there is no answer). */
  readonly attempts: number;
  /** Repair turns the worker was given (`subtask.repairing` events). */
  readonly repairs: number;
  readonly toolCalls: number;
  /** Whether its result was carried over from the previous plan revision instead of being run again. */
  readonly reused: boolean;
  readonly error?: ErrorInfo;
}

/**
 * A subtask's wall time split up. Generating and loading are what its usage records (the ledger's call and load
 * times), tools what its `tool.result` events took; waiting is the rest: the runtime starts the clock when it
 * dispatches the subtask, so this is the wait for a sequence of its model while other subtasks hold them all
 * (workers sharing a model share its sequences), for a load another subtask started, and the preparation of
 * prompts and grammars between turns.
 */
export interface TimelineParts {
  readonly generatingMs: number;
  readonly loadingMs: number;
  readonly toolsMs: number;
  readonly waitingMs: number;
}

/** A replan, as noted on the timeline. */
export interface TimelineRevision {
  readonly revision: number;
  readonly atMs: number;
  readonly reason: string;
  readonly reused: readonly string[];
}

/** An escalation to the planner, as noted on the timeline. */
export interface TimelineEscalation {
  readonly subtaskId: string;
  readonly revision: number;
  readonly worker: string;
  readonly atMs: number;
  readonly reason: "invalid-output" | "model-failed";
  readonly errors: readonly string[];
}

/** Everything `inspect` shows about a run; also what `inspect --json` prints. */
export interface Timeline {
  readonly runId: string;
  readonly agent: string;
  readonly task: string;
  readonly status: TimelineStatus;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  /** Epoch milliseconds of the end, or of the last event of an interrupted run. */
  readonly endedAt: number;
  readonly durationMs: number;
  /** The current plan revision. */
  readonly revision: number;
  readonly subtasks: readonly TimelineSubtask[];
  readonly revisions: readonly TimelineRevision[];
  readonly escalations: readonly TimelineEscalation[];
  /** Most subtasks that ran at the same time. */
  readonly maxParallel: number;
  readonly ledger: Ledger;
  /**
   * Whether the ledger is the outcome's (`true`), or only what the subtasks' results record because the run
   * has no outcome (planning and joining tokens are then missing).
   */
  readonly ledgerComplete: boolean;
  readonly answer?: JsonValue;
  readonly error?: ErrorInfo;
  /** Problems the store tolerated when it loaded the run (a torn last line, …). */
  readonly warnings: readonly string[];
}

interface RowDraft {
  id: string;
  revision: number;
  worker: string;
  model?: string;
  started?: number;
  ended?: number;
  result?: SubtaskResult;
  escalated?: { at: number; reason: "invalid-output" | "model-failed" };
  repairs: number;
  toolCalls: number;
  /** Milliseconds its tool calls took (`tool.result` events). */
  toolMs: number;
  reused: boolean;
  error?: ErrorInfo;
}

const keyOf = (revision: number, id: string) => `${revision}\u0000${id}`;

function sumTokens(usage: readonly UsageRecord[]): { prompt: number; completion: number } {
  let prompt = 0;
  let completion = 0;
  for (const u of usage) {
    prompt += u.promptTokens;
    completion += u.completionTokens;
  }
  return { prompt, completion };
}

/** Most intervals open at once (an interval ending exactly when another starts does not overlap it). */
export function peakOverlap(intervals: readonly { start: number; end: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { at: i.start, delta: 1 },
    { at: i.end, delta: -1 },
  ]);
  // Ends sort before starts at the same instant, so back-to-back subtasks count as sequential.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let peak = 0;
  for (const edge of edges) {
    open += edge.delta;
    peak = Math.max(peak, open);
  }
  return peak;
}

/**
 * The revision of the plan announced by `events[index]` (a `plan.created`). The runtime stamps it on the event
 * (emitted after the replan's `plan.revised`). Runs recorded before that announced a plan first, and then its
 * `plan.revised`: a plan followed by its `plan.revised` belongs to it; a plan followed by anything else of
 * consequence (a subtask, the end) belongs to the revision in force.
 */
function revisionOfPlan(events: readonly RunEvent[], index: number, current: number): number {
  const stamped = events[index];
  if (stamped?.type === "plan.created" && stamped.revision !== undefined) return stamped.revision;
  for (const next of events.slice(index + 1)) {
    if (next.type === "plan.revised") return next.revision;
    if (next.type.startsWith("subtask.") || next.type.startsWith("run.") || next.type === "plan.created")
      return current;
  }
  return current;
}

/** Splits a subtask's wall time (see TimelineParts); waiting is never below zero. */
function partsOf(durationMs: number, usage: readonly UsageRecord[], toolsMs: number): TimelineParts {
  let generatingMs = 0;
  let loadingMs = 0;
  for (const u of usage) {
    generatingMs += u.durationMs;
    loadingMs += u.loadMs;
  }
  return {
    generatingMs,
    loadingMs,
    toolsMs,
    waitingMs: Math.max(0, durationMs - generatingMs - loadingMs - toolsMs),
  };
}

/**
 * Builds the timeline of a stored run from its events, results and outcome.
 *
 * @example
 * const timeline = buildTimeline(await store.load(runId));
 * console.log(renderTimeline(timeline));
 */
export function buildTimeline(run: StoredRun & { readonly warnings?: readonly string[] }): Timeline {
  const { meta, events, outcome } = run;
  const first = events[0];
  const startedAt = outcome?.startedAt ?? (first?.type === "run.started" ? first.at : meta.createdAt);
  const lastAt = events.reduce((latest, e) => Math.max(latest, e.at), startedAt);
  const endedAt = outcome?.endedAt ?? lastAt;
  const offset = (at: number) => Math.max(0, at - startedAt);

  const rows = new Map<string, RowDraft>();
  const revisions: TimelineRevision[] = [];
  const escalations: TimelineEscalation[] = [];
  let revision = 0;
  let ended: TimelineStatus | undefined;
  const row = (id: string, worker = "?"): RowDraft => {
    const key = keyOf(revision, id);
    let draft = rows.get(key);
    if (draft === undefined) {
      draft = { id, revision, worker, repairs: 0, toolCalls: 0, toolMs: 0, reused: false };
      rows.set(key, draft);
    }
    return draft;
  };

  for (const [index, event] of events.entries()) {
    switch (event.type) {
      case "run.resumed":
        revision = event.revision;
        break;
      case "plan.revised":
        revision = event.revision;
        revisions.push({
          revision: event.revision,
          atMs: offset(event.at),
          reason: event.reason,
          reused: event.reused,
        });
        break;
      case "plan.created": {
        revision = revisionOfPlan(events, index, revision);
        for (const s of event.plan.subtasks) row(s.id, s.worker).worker = s.worker;
        break;
      }
      case "subtask.started": {
        const draft = row(event.subtaskId, event.worker);
        // A resumed run starts an unfinished subtask again: the later start is the one that counts.
        Object.assign(draft, { worker: event.worker, model: event.model, started: event.at });
        draft.ended = undefined;
        draft.error = undefined;
        break;
      }
      case "subtask.repairing":
        row(event.subtaskId).repairs++;
        break;
      case "subtask.escalated":
        row(event.subtaskId, event.worker).escalated = { at: event.at, reason: event.reason };
        escalations.push({
          subtaskId: event.subtaskId,
          revision,
          worker: event.worker,
          atMs: offset(event.at),
          reason: event.reason,
          errors: event.errors,
        });
        break;
      case "tool.called":
        row(event.subtaskId).toolCalls++;
        break;
      case "tool.result":
        row(event.subtaskId).toolMs += event.ms;
        break;
      case "subtask.completed": {
        const draft = row(event.subtaskId, event.result.worker);
        draft.result = event.result;
        draft.ended = event.at;
        break;
      }
      case "subtask.failed": {
        const draft = row(event.subtaskId);
        draft.error = event.error;
        draft.ended = event.at;
        break;
      }
      case "run.completed":
        ended = "completed";
        break;
      case "run.failed":
        ended = "failed";
        break;
      case "run.cancelled":
        ended = "cancelled";
        break;
      default:
        break;
    }
  }

  // Stored results are what resume trusts: a result whose event a crash lost still counts, and a carried
  // result of a replan appears here without ever being started in this revision.
  revision = run.revision;
  for (const result of Object.values(run.results)) {
    const draft = row(result.subtaskId, result.worker);
    if (draft.result === undefined) {
      draft.result = result;
      draft.reused = draft.started === undefined;
    }
  }
  const carried = new Set(revisions.find((r) => r.revision === run.revision)?.reused ?? []);
  for (const draft of rows.values()) {
    if (draft.revision === run.revision && carried.has(draft.id) && draft.started === undefined)
      draft.reused = true;
  }

  const subtasks = [...rows.values()].map((draft): TimelineSubtask => {
    const result = draft.result;
    const tokens = sumTokens(result?.usage ?? []);
    const start = result !== undefined && !draft.reused ? result.startedAt : draft.started;
    const end = result !== undefined && !draft.reused ? result.endedAt : draft.ended;
    const durationMs =
      start === undefined || end === undefined || draft.reused ? undefined : Math.max(0, end - start);
    const state: SubtaskState =
      result !== undefined
        ? "completed"
        : draft.error !== undefined
          ? "failed"
          : draft.started !== undefined
            ? "running"
            : "pending";
    return {
      id: draft.id,
      revision: draft.revision,
      worker: draft.worker,
      ...(draft.model === undefined ? {} : { model: draft.model }),
      state,
      ...(result === undefined
        ? draft.escalated === undefined
          ? {}
          : { by: "planner" as const }
        : { by: result.by }),
      ...(result?.device === undefined ? {} : { device: result.device }),
      ...(draft.escalated === undefined
        ? {}
        : { escalated: draft.escalated.reason, escalatedAtMs: offset(draft.escalated.at) }),
      ...(start === undefined || draft.reused ? {} : { startMs: offset(start) }),
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(durationMs === undefined || result === undefined
        ? {}
        : { parts: partsOf(durationMs, result.usage, draft.toolMs) }),
      promptTokens: draft.reused ? 0 : tokens.prompt,
      completionTokens: draft.reused ? 0 : tokens.completion,
      attempts: result?.attempts ?? 0,
      repairs: draft.repairs,
      toolCalls: draft.toolCalls,
      reused: draft.reused,
      ...(draft.error === undefined ? {} : { error: draft.error }),
    };
  });

  const status: TimelineStatus = outcome?.status ?? ended ?? "interrupted";
  const intervals = subtasks.flatMap((s) =>
    s.startMs === undefined
      ? []
      : [{ start: s.startMs, end: s.durationMs === undefined ? offset(endedAt) : s.startMs + s.durationMs }],
  );
  const ledger =
    outcome?.ledger ??
    buildLedger([...rows.values()].flatMap((d) => (d.reused ? [] : (d.result?.usage ?? []))));
  return {
    runId: meta.runId,
    agent: meta.agent,
    task: meta.task,
    status,
    startedAt,
    endedAt,
    durationMs: Math.max(0, endedAt - startedAt),
    revision: run.revision,
    subtasks,
    revisions,
    escalations,
    maxParallel: peakOverlap(intervals),
    ledger,
    ledgerComplete: outcome !== undefined,
    ...(outcome?.answer === undefined ? {} : { answer: outcome.answer }),
    ...(outcome?.error === undefined ? {} : { error: outcome.error }),
    warnings: run.warnings ?? [],
  };
}

// ─── Text ──────────────────────────────────────────────────────────────────────────────────────────────

/** Milliseconds as people read them: `850 ms`, `12.3 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A subtask's label: its id, prefixed by its revision once the plan was revised (ids repeat across plans). */
function labelOf(s: TimelineSubtask, revised: boolean): string {
  return revised ? `r${s.revision}:${s.id}` : s.id;
}

function byCell(s: TimelineSubtask): string {
  if (s.reused) return "reused";
  if (s.escalated !== undefined) return `planner ↑ (${s.escalated})`;
  return s.device === undefined ? (s.by ?? "") : `${s.by ?? ""} on ${s.device}`;
}

/** The subtask table: one row per subtask of every plan revision. */
export function renderSubtaskTable(timeline: Timeline): string {
  const revised = timeline.revisions.length > 0;
  const head = [
    "id",
    "worker",
    "model",
    "by",
    "state",
    "start",
    "took",
    "waited",
    "tokens",
    "tries/repairs",
    "tools",
  ];
  const rows = timeline.subtasks.map((s) => [
    labelOf(s, revised),
    s.worker,
    s.model ?? "",
    byCell(s),
    s.state,
    s.startMs === undefined ? "" : `+${formatDuration(s.startMs)}`,
    s.durationMs === undefined ? "" : formatDuration(s.durationMs),
    s.parts === undefined ? "" : formatDuration(s.parts.waitingMs),
    s.reused ? "" : `${s.promptTokens}+${s.completionTokens}`,
    `${s.attempts}/${s.repairs}`,
    String(s.toolCalls),
  ]);
  return columns([head, ...rows])
    .map((line) => `  ${line}`)
    .join("\n");
}

/** Cells of the Gantt: empty track, worker time, planner time after an escalation, unfinished, failed. */
export const GANTT_CELLS = {
  empty: "░",
  worker: "█",
  planner: "▓",
  unfinished: "▒",
  failed: "✗",
} as const;

/**
 * A text Gantt of the subtasks over the run's duration, `width` cells wide: one row per started subtask, so
 * overlapping bars show what ran in parallel. The part of a bar after an escalation is drawn as planner time;
 * a subtask still running when the run was interrupted is drawn up to the last event; a failed one ends in ✗.
 */
export function renderGantt(timeline: Timeline, width = 40): string {
  const revised = timeline.revisions.length > 0;
  const started = timeline.subtasks.filter((s) => s.startMs !== undefined);
  if (started.length === 0) return "  (no subtask started)";
  const span = Math.max(
    1,
    timeline.durationMs,
    ...started.map((s) => (s.startMs ?? 0) + (s.durationMs ?? 0)),
  );
  // A cell covers span/width ms; a bar covers every cell its interval touches, and at least one.
  const cell = (ms: number) => Math.min(width - 1, Math.floor((ms / span) * width));
  const labels = started.map((s) => labelOf(s, revised));
  const labelWidth = Math.max(...labels.map((l) => l.length), revised ? "replan".length : 0);
  const lines = started.map((s, index) => {
    const from = s.startMs ?? 0;
    const to = s.durationMs === undefined ? timeline.durationMs : from + s.durationMs;
    const first = cell(from);
    const last = Math.max(first, Math.ceil((to / span) * width) - 1);
    const escalatedCell = s.escalatedAtMs === undefined ? Number.POSITIVE_INFINITY : cell(s.escalatedAtMs);
    const cells: string[] = Array.from({ length: width }, () => GANTT_CELLS.empty);
    for (let i = first; i <= Math.min(last, width - 1); i++) {
      if (s.state === "running") cells[i] = GANTT_CELLS.unfinished;
      else cells[i] = i >= escalatedCell ? GANTT_CELLS.planner : GANTT_CELLS.worker;
    }
    if (s.state === "failed") cells[Math.min(last, width - 1)] = GANTT_CELLS.failed;
    const mark = s.escalated !== undefined ? " ↑" : s.state === "running" ? " …" : "";
    return `  ${(labels[index] ?? "").padEnd(labelWidth)} ${cells.join("")}${mark}`;
  });
  if (timeline.revisions.length > 0) {
    const cells: string[] = Array.from({ length: width }, () => " ");
    for (const r of timeline.revisions) cells[cell(r.atMs)] = "↻";
    lines.push(`  ${"replan".padEnd(labelWidth)} ${cells.join("").trimEnd()}`);
  }
  const end = formatDuration(span);
  lines.push(`  ${" ".repeat(labelWidth)} 0${end.padStart(width - 1)}`);
  return lines.join("\n");
}

function statusLine(timeline: Timeline): string {
  if (timeline.status === "interrupted")
    return `status: interrupted (resume with edgecrew resume ${timeline.runId})`;
  const error =
    timeline.error === undefined ? "" : `: ${timeline.error.code}: ${clip(timeline.error.message, 200)}`;
  return `status: ${timeline.status}${error}`;
}

/** The whole `inspect` text: header, subtask table, Gantt, revisions and escalations, ledger. */
export function renderTimeline(timeline: Timeline, options: { readonly width?: number } = {}): string {
  const out: string[] = [
    `run ${timeline.runId} · agent ${timeline.agent}`,
    `task: ${clip(timeline.task, 400)}`,
    statusLine(timeline),
    `started ${new Date(timeline.startedAt).toISOString()}, ${timeline.status === "interrupted" ? "last event after" : "took"} ${formatDuration(timeline.durationMs)}; plan revision ${timeline.revision}; up to ${timeline.maxParallel} subtask${timeline.maxParallel === 1 ? "" : "s"} at once`,
  ];
  for (const warning of timeline.warnings) out.push(`warning: ${warning}`);
  out.push("", `subtasks (${timeline.subtasks.length}):`);
  out.push(timeline.subtasks.length > 0 ? renderSubtaskTable(timeline) : "  (no plan)");
  if (timeline.subtasks.some((s) => s.parts !== undefined && s.parts.waitingMs > 0)) {
    out.push(
      "  took: from dispatch to result; waited: the part not generating, loading or in tools (a sequence of a busy model, another subtask's load, prompts and grammars)",
    );
  }
  out.push("", "parallelism:", renderGantt(timeline, options.width));
  if (timeline.subtasks.some((s) => s.startMs !== undefined)) {
    out.push(
      `  ${GANTT_CELLS.worker} worker  ${GANTT_CELLS.planner} planner (escalated)  ${GANTT_CELLS.unfinished} unfinished  ${GANTT_CELLS.failed} failed`,
    );
  }
  if (timeline.revisions.length > 0) {
    out.push("", "plan revisions:");
    for (const r of timeline.revisions) {
      const reused = r.reused.length > 0 ? `; reused ${r.reused.join(", ")}` : "";
      out.push(`  ↻ ${r.revision} at +${formatDuration(r.atMs)}: ${clip(r.reason, 200)}${reused}`);
    }
  }
  if (timeline.escalations.length > 0) {
    out.push("", "escalations:");
    const revised = timeline.revisions.length > 0;
    for (const e of timeline.escalations) {
      const id = revised ? `r${e.revision}:${e.subtaskId}` : e.subtaskId;
      out.push(
        `  ↑ ${id} [${e.worker}] at +${formatDuration(e.atMs)} (${e.reason}): ${clip(e.errors.join("; "), 200)}`,
      );
    }
  }
  out.push("", renderLedger(timeline.ledger));
  if (!timeline.ledgerComplete)
    out.push("  (from the subtasks' results only: the run has no outcome, planning tokens are not counted)");
  return out.join("\n");
}

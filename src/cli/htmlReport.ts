/**
 * `edgecrew inspect <runId> --html <file>`: one self-contained HTML page about a stored run — the plan as a DAG,
 * a Gantt of subtasks and of model loads, the ledger, tool calls and escalations. Pure: a StoredRun (and its
 * timeline) goes in, a string comes out. Everything is laid out here, at generation time, so the page needs no
 * layout library, no network and no fonts; its one small script only adds click-for-details and is pinned by a
 * Content-Security-Policy hash, so nothing injected through the run's strings could execute even if it were not
 * escaped (it is: task, instructions, answers and tool arguments are untrusted).
 */
import { createHash } from "node:crypto";
import type { JsonValue, Plan, RunEvent, StoredRun, Subtask } from "../types.js";
import { formatDuration, type Timeline, type TimelineSubtask } from "./timeline.js";

/**
 * The colours the page draws with. They are distinctive on purpose: the browser test finds the DAG and the Gantt
 * in a screenshot by them, so nothing else on the page uses them.
 */
export const REPORT_COLOURS = {
  nodeCompleted: "#167d8f",
  nodeFailed: "#b8322a",
  nodeRunning: "#c98a0b",
  nodePending: "#8e979c",
  nodeReused: "#6f4fa0",
  barWorker: "#e8590c",
  barPlanner: "#9c36b5",
  barRunning: "#f2b705",
  barFailed: "#c92a2a",
  modelLoad: "#2b9348",
  modelResident: "#cdeed5",
  tokensLocal: "#3a6ea5",
  tokensRemote: "#d9822b",
} as const;

// ─── Escaping ────────────────────────────────────────────────────────────────────────────────────────────

/** Text or attribute value made inert in HTML (every attribute here is double-quoted). */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** JSON that can sit inside a `<script>` element: no `<` at all, so no `</script>` and no `<!--`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function jsonText(value: JsonValue | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

const px = (n: number) => (Math.round(n * 10) / 10).toString();

// ─── The plan as a DAG ───────────────────────────────────────────────────────────────────────────────────

/** Sizes of the DAG drawing, in CSS pixels. */
export const DAG_BOX = { width: 176, height: 54, columnGap: 72, rowGap: 18, margin: 12 } as const;

/** One node of a laid-out DAG: its subtask and the top-left corner of its box. */
export interface DagNode {
  readonly subtask: Subtask;
  readonly depth: number;
  readonly x: number;
  readonly y: number;
}

/** A DAG laid out in layers: column = depth (longest chain of dependencies), rows within a column. */
export interface DagLayout {
  readonly nodes: readonly DagNode[];
  readonly edges: readonly { readonly from: DagNode; readonly to: DagNode }[];
  readonly width: number;
  readonly height: number;
}

/**
 * Lays out a plan left to right: a subtask's column is its depth (0 without dependencies, else one more than its
 * deepest dependency); within a column, subtasks are ordered by the mean row of their dependencies (one
 * barycentre pass, which untangles the small plans a planner writes), ties in plan order, and each sits level
 * with that mean where the column leaves room. Unknown dependencies
 * and cycles (a validated plan has neither) are ignored rather than looped on.
 */
export function layoutDag(plan: Plan): DagLayout {
  const byId = new Map(plan.subtasks.map((s) => [s.id, s]));
  const depths = new Map<string, number>();
  const depthOf = (id: string, seen: ReadonlySet<string>): number => {
    const known = depths.get(id);
    if (known !== undefined) return known;
    const subtask = byId.get(id);
    if (subtask === undefined || seen.has(id)) return 0;
    const next = new Set(seen).add(id);
    const deps = subtask.dependsOn.filter((d) => byId.has(d) && !next.has(d));
    const depth = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((d) => depthOf(d, next)));
    depths.set(id, depth);
    return depth;
  };
  const columns: Subtask[][] = [];
  for (const s of plan.subtasks) {
    const depth = depthOf(s.id, new Set());
    const column = columns[depth] ?? [];
    column.push(s);
    columns[depth] = column;
  }
  const row = new Map<string, number>();
  const placed: DagNode[] = [];
  let rows = 0;
  const { width: w, height: h, columnGap, rowGap, margin } = DAG_BOX;
  for (const [depth, column] of columns.entries()) {
    if (column === undefined) continue;
    const order = column.map((s, index) => {
      const depRows = s.dependsOn.flatMap((d) => {
        const r = row.get(d);
        return r === undefined ? [] : [r];
      });
      const centre = depRows.length === 0 ? index : depRows.reduce((a, b) => a + b, 0) / depRows.length;
      return { s, centre, index };
    });
    order.sort((a, b) => a.centre - b.centre || a.index - b.index);
    // A node sits level with its dependencies where the column leaves room, else on the next free row.
    let next = 0;
    for (const { s, centre } of order) {
      const at = s.dependsOn.length === 0 ? next : Math.max(next, Math.round(centre));
      row.set(s.id, at);
      next = at + 1;
      rows = Math.max(rows, next);
      placed.push({
        subtask: s,
        depth,
        x: margin + depth * (w + columnGap),
        y: margin + at * (h + rowGap),
      });
    }
  }
  const nodeOf = new Map(placed.map((n) => [n.subtask.id, n]));
  const edges = placed.flatMap((to) =>
    to.subtask.dependsOn.flatMap((d) => {
      const from = nodeOf.get(d);
      return from === undefined || from === to ? [] : [{ from, to }];
    }),
  );
  const layers = columns.length;
  const tallest = rows;
  return {
    nodes: placed,
    edges,
    width: margin * 2 + Math.max(1, layers) * w + Math.max(0, layers - 1) * columnGap,
    height: margin * 2 + Math.max(1, tallest) * h + Math.max(0, tallest - 1) * rowGap,
  };
}

/** The plan of every revision, from the events (the stored plan wins for the current revision). */
function plansByRevision(run: StoredRun): Map<number, Plan> {
  const plans = new Map<number, Plan>();
  let revision = 0;
  const { events } = run;
  for (const [index, event] of events.entries()) {
    if (event.type === "plan.revised" || event.type === "run.resumed") revision = event.revision;
    if (event.type === "run.resumed" && event.plan !== undefined) plans.set(event.revision, event.plan);
    if (event.type !== "plan.created") continue;
    // Runs recorded before plan.created carried its revision announced the plan before its plan.revised.
    let of = event.revision;
    if (of === undefined) {
      of = revision;
      for (const next of events.slice(index + 1)) {
        if (next.type === "plan.revised") {
          of = next.revision;
          break;
        }
        if (next.type.startsWith("subtask.") || next.type.startsWith("run.") || next.type === "plan.created")
          break;
      }
    }
    plans.set(of, event.plan);
  }
  if (run.plan !== undefined) plans.set(run.revision, run.plan);
  return plans;
}

const keyOf = (revision: number, id: string) => `r${revision}-${id}`;

function nodeColour(s: TimelineSubtask | undefined): string {
  if (s === undefined) return REPORT_COLOURS.nodePending;
  if (s.reused) return REPORT_COLOURS.nodeReused;
  switch (s.state) {
    case "completed":
      return REPORT_COLOURS.nodeCompleted;
    case "failed":
      return REPORT_COLOURS.nodeFailed;
    case "running":
      return REPORT_COLOURS.nodeRunning;
    default:
      return REPORT_COLOURS.nodePending;
  }
}

function stateLabel(s: TimelineSubtask | undefined): string {
  if (s === undefined) return "pending";
  if (s.reused) return "reused";
  const by = s.escalated !== undefined ? " ↑planner" : "";
  return `${s.state}${by}`;
}

function dagSvg(plan: Plan, revision: number, rows: ReadonlyMap<string, TimelineSubtask>): string {
  const layout = layoutDag(plan);
  const { width: w, height: h } = DAG_BOX;
  const edges = layout.edges.map(({ from, to }) => {
    const x1 = from.x + w;
    const y1 = from.y + h / 2;
    const x2 = to.x - 6;
    const y2 = to.y + h / 2;
    const mid = (x1 + x2) / 2;
    return `<path class="edge" d="M${px(x1)},${px(y1)} C${px(mid)},${px(y1)} ${px(mid)},${px(y2)} ${px(x2)},${px(y2)}" marker-end="url(#arrow)"/>`;
  });
  const nodes = layout.nodes.map((n) => {
    const key = keyOf(revision, n.subtask.id);
    const s = rows.get(key);
    const title = `${n.subtask.id} · ${n.subtask.worker}${s?.model === undefined ? "" : ` (${s.model})`}\n${stateLabel(s)}${s?.durationMs === undefined ? "" : `, ${formatDuration(s.durationMs)}`}\n${clip(n.subtask.instruction, 300)}`;
    return [
      `<g class="node" data-key="${escapeHtml(key)}" tabindex="0">`,
      `<title>${escapeHtml(title)}</title>`,
      `<rect x="${px(n.x)}" y="${px(n.y)}" width="${w}" height="${h}" rx="6" fill="${nodeColour(s)}"/>`,
      `<text x="${px(n.x + 10)}" y="${px(n.y + 21)}" class="node-id">${escapeHtml(clip(n.subtask.id, 20))}</text>`,
      `<text x="${px(n.x + 10)}" y="${px(n.y + 40)}" class="node-sub">${escapeHtml(clip(`${n.subtask.worker} · ${stateLabel(s)}`, 26))}</text>`,
      "</g>",
    ].join("");
  });
  return [
    `<svg class="dag" data-revision="${revision}" width="${px(layout.width)}" height="${px(layout.height)}" viewBox="0 0 ${px(layout.width)} ${px(layout.height)}" role="img" aria-label="plan revision ${revision}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>',
    ...edges,
    ...nodes,
    "</svg>",
  ].join("\n");
}

// ─── Gantt ───────────────────────────────────────────────────────────────────────────────────────────────

/** Sizes of the Gantt drawing, in CSS pixels. */
export const GANTT_BOX = { label: 168, chart: 960, row: 24, bar: 16, axis: 26, minBar: 3 } as const;

/** A model's time on the device, from its events: loads (loading → loaded) and residency (loaded → unloaded). */
interface ModelLane {
  readonly model: string;
  readonly loads: { start: number; end: number }[];
  readonly resident: { start: number; end: number }[];
}

function modelLanes(events: readonly RunEvent[], startedAt: number, endMs: number): ModelLane[] {
  const lanes = new Map<string, ModelLane & { loadingAt?: number; loadedAt?: number }>();
  const lane = (model: string) => {
    let found = lanes.get(model);
    if (found === undefined) {
      found = { model, loads: [], resident: [] };
      lanes.set(model, found);
    }
    return found;
  };
  const at = (t: number) => Math.max(0, t - startedAt);
  for (const event of events) {
    if (event.type === "model.loading") lane(event.model).loadingAt = at(event.at);
    else if (event.type === "model.loaded") {
      const l = lane(event.model);
      const end = at(event.at);
      l.loads.push({ start: l.loadingAt ?? Math.max(0, end - event.ms), end });
      l.loadingAt = undefined;
      l.loadedAt = end;
    } else if (event.type === "model.unloaded") {
      const l = lane(event.model);
      if (l.loadedAt !== undefined) l.resident.push({ start: l.loadedAt, end: at(event.at) });
      l.loadedAt = undefined;
    }
  }
  for (const l of lanes.values()) {
    if (l.loadedAt !== undefined) l.resident.push({ start: l.loadedAt, end: endMs });
    // A load the run never saw finish (interrupted) is drawn up to the end.
    if (l.loadingAt !== undefined) l.loads.push({ start: l.loadingAt, end: endMs });
  }
  return [...lanes.values()].map(({ model, loads, resident }) => ({ model, loads, resident }));
}

function ganttSvg(timeline: Timeline, lanes: readonly ModelLane[], revised: boolean): string {
  const { label, chart, row, bar, axis, minBar } = GANTT_BOX;
  const started = timeline.subtasks.filter((s) => s.startMs !== undefined);
  const span = Math.max(
    1,
    timeline.durationMs,
    ...started.map((s) => (s.startMs ?? 0) + (s.durationMs ?? 0)),
    ...lanes.flatMap((l) => [...l.loads, ...l.resident].map((i) => i.end)),
  );
  const x = (ms: number) => label + (Math.min(Math.max(ms, 0), span) / span) * chart;
  const rect = (from: number, to: number, y: number, fill: string, cls: string) => {
    const x1 = x(from);
    const width = Math.max(minBar, x(to) - x1);
    return `<rect class="${cls}" x="${px(x1)}" y="${px(y)}" width="${px(width)}" height="${bar}" fill="${fill}"/>`;
  };
  const out: string[] = [];
  let y = 0;
  const heading = (text: string) => {
    out.push(`<text x="0" y="${px(y + 16)}" class="lane-head">${escapeHtml(text)}</text>`);
    y += row;
  };
  heading(started.length === 0 ? "subtasks (none started)" : "subtasks");
  for (const s of started) {
    const key = keyOf(s.revision, s.id);
    const from = s.startMs ?? 0;
    const to = s.durationMs === undefined ? timeline.durationMs : from + s.durationMs;
    const top = y + (row - bar) / 2;
    const parts =
      s.parts === undefined
        ? ""
        : `\ngenerating ${formatDuration(s.parts.generatingMs)}, loading ${formatDuration(s.parts.loadingMs)}, tools ${formatDuration(s.parts.toolsMs)}, waiting ${formatDuration(s.parts.waitingMs)}`;
    const title = `${revised ? `r${s.revision}:` : ""}${s.id} · ${s.worker} · ${stateLabel(s)}\n+${formatDuration(from)} for ${formatDuration(Math.max(0, to - from))}${parts}`;
    const bars: string[] = [];
    if (s.state === "running") bars.push(rect(from, to, top, REPORT_COLOURS.barRunning, "bar running"));
    else if (s.escalatedAtMs !== undefined && s.escalatedAtMs > from) {
      bars.push(rect(from, s.escalatedAtMs, top, REPORT_COLOURS.barWorker, "bar worker"));
      bars.push(rect(s.escalatedAtMs, to, top, REPORT_COLOURS.barPlanner, "bar planner"));
    } else if (s.escalatedAtMs !== undefined)
      bars.push(rect(from, to, top, REPORT_COLOURS.barPlanner, "bar planner"));
    else bars.push(rect(from, to, top, REPORT_COLOURS.barWorker, "bar worker"));
    if (s.state === "failed") bars.push(rect(to, to, top, REPORT_COLOURS.barFailed, "bar failed"));
    out.push(
      `<g class="gantt-row" data-key="${escapeHtml(key)}"><title>${escapeHtml(title)}</title><text x="8" y="${px(y + 16)}" class="lane">${escapeHtml(clip(`${revised ? `r${s.revision}:` : ""}${s.id} ${s.worker}`, 24))}</text>${bars.join("")}</g>`,
    );
    y += row;
  }
  if (lanes.length > 0) {
    heading("models");
    for (const l of lanes) {
      const top = y + (row - bar) / 2;
      const loads = l.loads.map((i) => `${formatDuration(i.end - i.start)} at +${formatDuration(i.start)}`);
      const title = `${l.model}\nloads: ${loads.join(", ") || "none in this run"}`;
      out.push(
        `<g class="model-row"><title>${escapeHtml(title)}</title><text x="8" y="${px(y + 16)}" class="lane">${escapeHtml(clip(l.model, 24))}</text>${l.resident.map((i) => rect(i.start, i.end, top, REPORT_COLOURS.modelResident, "resident")).join("")}${l.loads.map((i) => rect(i.start, i.end, top, REPORT_COLOURS.modelLoad, "load")).join("")}</g>`,
      );
      y += row;
    }
  }
  for (const r of timeline.revisions) {
    out.push(
      `<line class="replan" x1="${px(x(r.atMs))}" x2="${px(x(r.atMs))}" y1="0" y2="${px(y)}"><title>${escapeHtml(`replan ${r.revision}: ${clip(r.reason, 200)}`)}</title></line>`,
    );
  }
  const ticks = Array.from({ length: 6 }, (_, i) => (span * i) / 5);
  out.push(`<line class="axis" x1="${label}" x2="${label + chart}" y1="${px(y + 2)}" y2="${px(y + 2)}"/>`);
  for (const t of ticks) {
    const anchor = t === 0 ? "start" : t === span ? "end" : "middle";
    out.push(
      `<line class="axis" x1="${px(x(t))}" x2="${px(x(t))}" y1="${px(y + 2)}" y2="${px(y + 7)}"/><text class="tick" x="${px(x(t))}" y="${px(y + 20)}" text-anchor="${anchor}">${escapeHtml(formatDuration(t))}</text>`,
    );
  }
  const height = y + axis;
  const width = label + chart + 4;
  return `<svg class="gantt" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Gantt of subtasks and model loads">\n${out.join("\n")}\n</svg>`;
}

// ─── Tables ──────────────────────────────────────────────────────────────────────────────────────────────

function table(head: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(empty)}</p>`;
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map((r) => `<tr>${r.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function ledgerSection(timeline: Timeline): string {
  const { ledger } = timeline;
  const local = ledger.local.promptTokens + ledger.local.completionTokens;
  const remote = ledger.remote.promptTokens + ledger.remote.completionTokens;
  const total = Math.max(1, local + remote);
  const width = 600;
  const localWidth = (local / total) * width;
  const barSvg = `<svg class="tokens" width="${width}" height="18" viewBox="0 0 ${width} 18" role="img" aria-label="local vs remote tokens"><rect x="0" y="0" width="${px(localWidth)}" height="18" fill="${REPORT_COLOURS.tokensLocal}"/><rect x="${px(localWidth)}" y="0" width="${px(width - localWidth)}" height="18" fill="${local + remote === 0 ? "#eeeeee" : REPORT_COLOURS.tokensRemote}"/></svg>`;
  const rows = ledger.models.map((m) => [
    m.model,
    m.locality,
    String(m.calls),
    String(m.promptTokens),
    String(m.completionTokens),
    formatDuration(m.durationMs),
    m.loadMs > 0 ? formatDuration(m.loadMs) : "",
  ]);
  const note = timeline.ledgerComplete
    ? ""
    : '<p class="note">From the subtasks\' results only: the run has no outcome, planning tokens are not counted.</p>';
  return [
    '<section id="ledger"><h2>Ledger</h2>',
    `<p class="totals"><span class="swatch local"></span>local ${ledger.local.promptTokens}+${ledger.local.completionTokens} tokens · <span class="swatch remote"></span>remote ${ledger.remote.promptTokens}+${ledger.remote.completionTokens} tokens (prompt+completion)</p>`,
    barSvg,
    table(
      ["model", "where", "calls", "prompt", "completion", "time", "load"],
      rows,
      "No model calls recorded.",
    ),
    note,
    "</section>",
  ].join("\n");
}

function toolCallsOf(events: readonly RunEvent[], startedAt: number): string[][] {
  const rows: { cells: string[]; subtaskId: string; tool: string; done: boolean }[] = [];
  for (const event of events) {
    if (event.type === "tool.called") {
      rows.push({
        subtaskId: event.subtaskId,
        tool: event.tool,
        done: false,
        cells: [
          `+${formatDuration(Math.max(0, event.at - startedAt))}`,
          event.subtaskId,
          event.tool,
          clip(JSON.stringify(event.args), 400),
          "no result recorded",
          "",
        ],
      });
    } else if (event.type === "tool.result") {
      const call = rows.find((r) => !r.done && r.subtaskId === event.subtaskId && r.tool === event.tool);
      if (call === undefined) continue;
      call.done = true;
      const result = event.result;
      call.cells[4] = result.ok
        ? `ok: ${clip(JSON.stringify(result.output) ?? "", 300)}`
        : `${result.reason}: ${clip(result.error, 300)}`;
      call.cells[5] = formatDuration(event.ms);
    }
  }
  return rows.map((r) => r.cells);
}

// ─── The page ────────────────────────────────────────────────────────────────────────────────────────────

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #ffffff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
.meta { margin: 0 0 2px; color: #57606a; }
.task { margin: 8px 0; padding: 8px 12px; background: #f6f8fa; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.status-completed { color: #1a7f37; } .status-failed { color: #cf222e; } .status-cancelled, .status-interrupted { color: #9a6700; }
.scroll { overflow-x: auto; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
.dag .node-id { font-weight: 600; fill: #ffffff; font-size: 13px; }
.dag .node-sub { fill: #ffffff; font-size: 11px; }
.dag .node { cursor: pointer; }
.dag .node.selected rect { stroke: #1f2328; stroke-width: 3; }
.dag .edge { fill: none; stroke: #57606a; stroke-width: 1.5; }
.dag .arrow { fill: #57606a; }
.gantt .lane-head { font-weight: 600; }
.gantt .gantt-row { cursor: pointer; }
.gantt .gantt-row.selected .lane { font-weight: 700; }
.gantt .axis { stroke: #8c959f; }
.gantt .tick { fill: #57606a; font-size: 11px; }
.gantt .replan { stroke: #cf222e; stroke-dasharray: 4 3; }
.legend { margin: 6px 0; color: #57606a; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin: 0 4px 0 10px; }
.swatch.worker { background: ${REPORT_COLOURS.barWorker}; } .swatch.planner { background: ${REPORT_COLOURS.barPlanner}; }
.swatch.running { background: ${REPORT_COLOURS.barRunning}; } .swatch.failed { background: ${REPORT_COLOURS.barFailed}; }
.swatch.load { background: ${REPORT_COLOURS.modelLoad}; } .swatch.resident { background: ${REPORT_COLOURS.modelResident}; }
.swatch.local { background: ${REPORT_COLOURS.tokensLocal}; } .swatch.remote { background: ${REPORT_COLOURS.tokensRemote}; }
.swatch.n-completed { background: ${REPORT_COLOURS.nodeCompleted}; } .swatch.n-failed { background: ${REPORT_COLOURS.nodeFailed}; }
.swatch.n-running { background: ${REPORT_COLOURS.nodeRunning}; } .swatch.n-pending { background: ${REPORT_COLOURS.nodePending}; }
.swatch.n-reused { background: ${REPORT_COLOURS.nodeReused}; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
td { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 520px; }
th { background: #f6f8fa; }
.empty, .note { color: #57606a; }
pre { background: #f6f8fa; padding: 8px 12px; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; }
#detail { min-height: 1em; }
#detail:empty::before { content: "Click a subtask in the DAG or the Gantt for its instruction and answer."; color: #57606a; }
`;

/** Reads the embedded data with JSON.parse and writes details with textContent only: nothing becomes markup. */
const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var detail = document.getElementById("detail");
  function show(key) {
    var s = data.subtasks[key];
    if (!s) return;
    document.querySelectorAll("[data-key]").forEach(function (el) {
      el.classList.toggle("selected", el.getAttribute("data-key") === key);
    });
    detail.textContent = "";
    var h = document.createElement("h3");
    h.textContent = s.label;
    detail.appendChild(h);
    [["instruction", s.instruction], ["answer", s.answer], ["error", s.error]].forEach(function (part) {
      if (!part[1]) return;
      var p = document.createElement("p");
      p.textContent = part[0] + ":";
      var pre = document.createElement("pre");
      pre.textContent = part[1];
      detail.appendChild(p);
      detail.appendChild(pre);
    });
  }
  document.querySelectorAll("[data-key]").forEach(function (el) {
    el.addEventListener("click", function () { show(el.getAttribute("data-key")); });
    el.addEventListener("keydown", function (e) { if (e.key === "Enter") show(el.getAttribute("data-key")); });
  });
  // Where the drawings are, for tests that look at a screenshot of the page.
  document.querySelectorAll("svg.dag, svg.gantt").forEach(function (svg) {
    var r = svg.getBoundingClientRect();
    svg.setAttribute("data-rect", [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height].map(Math.round).join(","));
  });
  document.documentElement.setAttribute("data-report-ready", "true");
})();
`;

const cspHash = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/**
 * The run report: one self-contained HTML page (inline CSS, SVG and script, no network) with the plan of every
 * revision as a DAG, a Gantt of subtasks and of model loads per model, the ledger, tool calls, escalations and
 * the answer. Every string from the run is escaped; a Content-Security-Policy allows only the page's own script
 * and style (by hash) and no fetch of anything.
 *
 * @example
 * const run = await store.load(runId);
 * await writeFile("report.html", renderHtmlReport(run, buildTimeline(run)));
 */
export function renderHtmlReport(run: StoredRun, timeline: Timeline): string {
  const revised = timeline.revisions.length > 0;
  const rows = new Map(timeline.subtasks.map((s) => [keyOf(s.revision, s.id), s]));
  const plans = [...plansByRevision(run).entries()].sort((a, b) => b[0] - a[0]);
  const results = run.results;

  const details: Record<string, { label: string; instruction: string; answer: string; error: string }> = {};
  for (const [revision, plan] of plans) {
    for (const s of plan.subtasks) {
      const key = keyOf(revision, s.id);
      const row = rows.get(key);
      const result = revision === run.revision ? results[s.id] : undefined;
      details[key] = {
        label: `${revised ? `r${revision}:` : ""}${s.id} · ${s.worker} · ${stateLabel(row)}`,
        instruction: s.instruction,
        answer: jsonText(result?.answer),
        error: row?.error === undefined ? "" : `${row.error.code}: ${row.error.message}`,
      };
    }
  }

  const lanes = modelLanes(run.events, timeline.startedAt, timeline.durationMs);
  const dags =
    plans.length === 0
      ? '<p class="empty">No plan was recorded.</p>'
      : plans
          .map(
            ([revision, plan]) =>
              `${plans.length > 1 ? `<h3>plan revision ${revision}${revision === timeline.revision ? " (current)" : ""}</h3>` : ""}<div class="scroll">${dagSvg(plan, revision, rows)}</div>`,
          )
          .join("\n");
  const escalations = timeline.escalations.map((e) => [
    `+${formatDuration(e.atMs)}`,
    `${revised ? `r${e.revision}:` : ""}${e.subtaskId}`,
    e.worker,
    e.reason,
    clip(e.errors.join("\n"), 1000),
  ]);
  const revisions = timeline.revisions.map((r) => [
    String(r.revision),
    `+${formatDuration(r.atMs)}`,
    clip(r.reason, 500),
    r.reused.join(", "),
  ]);
  const error = timeline.error === undefined ? "" : `: ${timeline.error.code}: ${timeline.error.message}`;
  const took = timeline.status === "interrupted" ? "last event after" : "took";
  const body = [
    `<h1>edgecrew run ${escapeHtml(timeline.runId)}</h1>`,
    `<p class="meta">agent <b>${escapeHtml(timeline.agent)}</b> · status <b class="status-${timeline.status}">${escapeHtml(timeline.status + error)}</b></p>`,
    `<p class="meta">started ${escapeHtml(new Date(timeline.startedAt).toISOString())}, ${took} ${escapeHtml(formatDuration(timeline.durationMs))} · plan revision ${timeline.revision} · up to ${timeline.maxParallel} subtask${timeline.maxParallel === 1 ? "" : "s"} at once</p>`,
    `<div class="task" id="task">${escapeHtml(timeline.task)}</div>`,
    ...timeline.warnings.map((w) => `<p class="note">warning: ${escapeHtml(w)}</p>`),
    '<section id="plan"><h2>Plan</h2>',
    '<p class="legend"><span class="swatch n-completed"></span>completed<span class="swatch n-running"></span>running<span class="swatch n-failed"></span>failed<span class="swatch n-pending"></span>pending<span class="swatch n-reused"></span>reused from the previous plan</p>',
    dags,
    '<div id="detail"></div>',
    "</section>",
    '<section id="timeline"><h2>Timeline</h2>',
    '<p class="legend"><span class="swatch worker"></span>worker<span class="swatch planner"></span>planner (escalated)<span class="swatch running"></span>unfinished<span class="swatch failed"></span>failed<span class="swatch load"></span>model loading<span class="swatch resident"></span>model resident</p>',
    `<div class="scroll">${ganttSvg(timeline, lanes, revised)}</div>`,
    "</section>",
    ledgerSection(timeline),
    '<section id="tools"><h2>Tool calls</h2>',
    table(
      ["at", "subtask", "tool", "arguments", "result", "took"],
      toolCallsOf(run.events, timeline.startedAt),
      "No tool calls.",
    ),
    "</section>",
    '<section id="escalations"><h2>Escalations</h2>',
    table(["at", "subtask", "worker", "reason", "errors"], escalations, "No escalations."),
    "</section>",
    ...(revisions.length === 0
      ? []
      : [
          '<section id="revisions"><h2>Plan revisions</h2>',
          table(["revision", "at", "reason", "reused"], revisions, ""),
          "</section>",
        ]),
    '<section id="answer"><h2>Answer</h2>',
    timeline.answer === undefined
      ? `<p class="empty">${escapeHtml(timeline.error === undefined ? "No answer recorded." : `No answer: ${timeline.error.code}: ${timeline.error.message}`)}</p>`
      : `<pre>${escapeHtml(jsonText(timeline.answer))}</pre>`,
    "</section>",
  ].join("\n");
  const csp = `default-src 'none'; style-src ${cspHash(STYLE)}; script-src ${cspHash(SCRIPT)}; img-src 'none'; base-uri 'none'; form-action 'none'`;
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(`edgecrew run ${timeline.runId} · ${clip(timeline.task, 80)}`)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    body,
    `<script type="application/json" id="report-data">${scriptJson({ subtasks: details })}</script>`,
    `<script>${SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

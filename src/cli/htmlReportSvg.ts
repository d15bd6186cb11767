/**
 * The drawings of the HTML run report (src/cli/htmlReport.ts): the plan as a layered DAG and the Gantt of
 * subtasks and model loads, as SVG text laid out here, at generation time, so the page needs no layout library.
 * Every string from the run goes through escapeHtml.
 */
import type { Plan, RunEvent, StoredRun, Subtask } from "../types.js";
import { formatDuration, type Timeline, type TimelineSubtask } from "./timeline.js";

/**
 * The colours the page draws with. They are distinctive on purpose: the browser test finds the DAG and the Gantt
 * in a screenshot by them, so nothing else inside the drawings uses them (the legends' swatches sit outside).
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

/** `text` on one line, cut to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A coordinate as SVG text: one decimal at most. */
export const px = (n: number) => (Math.round(n * 10) / 10).toString();

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
export function plansByRevision(run: StoredRun): Map<number, Plan> {
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

/** The key of a subtask of a plan revision in the page (`data-key`): ids repeat across revisions. */
export const keyOf = (revision: number, id: string) => `r${revision}-${id}`;

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

/** Where a subtask got to, in words (`completed ↑planner`, `reused`, …). */
export function stateLabel(s: TimelineSubtask | undefined): string {
  if (s === undefined) return "pending";
  if (s.reused) return "reused";
  const by = s.escalated !== undefined ? " ↑planner" : "";
  return `${s.state}${by}`;
}

/** The SVG of one plan revision's DAG: a box per subtask, coloured by its state, and an arrow per dependency. */
export function dagSvg(plan: Plan, revision: number, rows: ReadonlyMap<string, TimelineSubtask>): string {
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
export interface ModelLane {
  readonly model: string;
  readonly loads: { start: number; end: number }[];
  readonly resident: { start: number; end: number }[];
}

/** Each model's loads and residency over the run, in milliseconds from its start, from the model events. */
export function modelLanes(events: readonly RunEvent[], startedAt: number, endMs: number): ModelLane[] {
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

/**
 * The SVG Gantt: a row per started subtask (worker time, planner time after an escalation, unfinished, failed)
 * and a row per model (loads over residency), on one time axis, with a dashed line at each replan.
 */
export function ganttSvg(timeline: Timeline, lanes: readonly ModelLane[], revised: boolean): string {
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

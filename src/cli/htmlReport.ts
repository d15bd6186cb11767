/**
 * `edgecrew inspect <runId> --html <file>`: one self-contained HTML page about a stored run — the plan as a DAG,
 * a Gantt of subtasks and of model loads, the ledger, tool calls and escalations. Pure: a StoredRun (and its
 * timeline) goes in, a string comes out. Everything is laid out at generation time (the drawings in
 * htmlReportSvg.ts), so the page needs no layout library, no network and no fonts; its one small script only adds click-for-details and is pinned by a
 * Content-Security-Policy hash, so nothing injected through the run's strings could execute even if it were not
 * escaped (it is: task, instructions, answers and tool arguments are untrusted).
 */

import { createHash } from "node:crypto";
import type { JsonValue, RunEvent, StoredRun } from "../types.js";
import { buildFlows, originText } from "./flows.js";
import {
  clip,
  dagSvg,
  escapeHtml,
  ganttSvg,
  keyOf,
  modelLanes,
  plansByRevision,
  px,
  REPORT_COLOURS,
  stateLabel,
} from "./htmlReportSvg.js";
import { formatDuration, type Timeline } from "./timeline.js";

export { DAG_BOX, escapeHtml, GANTT_BOX, layoutDag, REPORT_COLOURS } from "./htmlReportSvg.js";

/** JSON that can sit inside a `<script>` element: no `<` at all, so no `</script>` and no `<!--`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function jsonText(value: JsonValue | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
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

/** The data-flow ledger (`inspect --flows`): each request to a remote model, where its content came from. */
function flowsSection(run: StoredRun, startedAt: number): string {
  const flows = buildFlows(run.meta.runId, run.events);
  const rows = flows.requests.map((r) => [
    formatDuration(r.at - startedAt),
    r.subtaskId === undefined ? r.purpose : `${r.purpose} ${r.subtaskId}`,
    r.model,
    String(r.bytes),
    r.promptTokens === undefined ? "" : `${r.promptTokens}+${r.completionTokens ?? 0}`,
    r.origins.map(originText).join(", "),
  ]);
  const t = flows.totals;
  return [
    '<section id="flows"><h2>Data flows</h2>',
    rows.length === 0
      ? ""
      : `<p class="totals">${t.requests} request${t.requests === 1 ? "" : "s"} to remote models, ${t.bytes} bytes; private origins: ${t.placeholders} as placeholders, ${t.withheld} withheld, ${t.privateSent} sent</p>`,
    table(
      ["at", "purpose", "model", "bytes", "tokens", "from"],
      rows,
      "No request left the device (no remote planner call was recorded).",
    ),
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
    flowsSection(run, timeline.startedAt),
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

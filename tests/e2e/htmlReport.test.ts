/**
 * `edgecrew inspect <runId> --html <file>` on a real run of the offline demo, looked at in a real headless browser
 * (Debian's `chromium`, driven by its command line): the page renders with no console message, its script ran,
 * nothing from the run became markup, and a screenshot shows the DAG's nodes and the Gantt's bars where the page
 * says it drew them. A second page, rendered from a hand-made run, covers what the demo does not produce (edges,
 * tool calls, an escalation, a failure, a replan). Fails, never skips, without chromium.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPORT_COLOURS, renderHtmlReport } from "../../src/cli/htmlReport.js";
import { buildTimeline, type Timeline } from "../../src/cli/timeline.js";
import type { RunEvent, StoredRun } from "../../src/types.js";
import {
  type BrowserRun,
  chromium,
  countColour,
  decodePng,
  type Rect,
  requireChromium,
  WINDOW,
} from "./browser.js";
import { runCli } from "./cli.js";

const env = { EDGECREW_CACHE_DIR: mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-")) };
const work = mkdtempSync(join(tmpdir(), "edgecrew-e2e-html-"));
const runDir = join(work, "runs");
const payload = "</script><img src=x onerror=alert(1)>";
const task = `A weekend by the sea ${payload} & "more"`;

/** The `data-rect`s the page's script wrote on its `svg.<cls>` elements (x,y,width,height in CSS pixels). */
function rectsOf(dom: string, cls: string): Rect[] {
  const rects = [
    ...dom.matchAll(new RegExp(`<svg class="${cls}"[^>]*data-rect="(\\d+),(\\d+),(\\d+),(\\d+)"`, "g")),
  ].map((match) => {
    const [x, y, width, height] = match.slice(1).map(Number) as [number, number, number, number];
    return { x, y, width, height };
  });
  if (rects.length === 0) throw new Error(`no data-rect on svg.${cls} in the DOM`);
  return rects;
}

/** Serialised text of `s` as chromium's --dump-dom writes it in a text node. */
const domText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

describe("edgecrew inspect --html in headless chromium", () => {
  let runId: string;
  let html: string;
  let dom: BrowserRun;
  let timeline: Timeline;

  beforeAll(async () => {
    requireChromium();
    const run = await runCli(["run", "agents/offline-demo.yaml", "--run-dir", runDir, "--json", task], {
      env,
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    runId = (JSON.parse(run.stdout) as { runId: string }).runId;
    html = join(work, "report.html");
    const inspect = await runCli(["inspect", runId, "--run-dir", runDir, "--html", html], { env });
    expect(inspect.stderr).toBe("");
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toBe(`wrote ${html}\n`);
    timeline = JSON.parse(
      (await runCli(["inspect", runId, "--run-dir", runDir, "--json"], { env })).stdout,
    ) as Timeline;
    dom = await chromium(html, ["--dump-dom"]);
    expect(dom.code, dom.stderr).toBe(0);
  }, 120_000);

  it("is one self-contained file: no external resource, a CSP that forbids fetching anything", () => {
    const text = readFileSync(html, "utf8");
    expect(text).not.toMatch(/\b(src|href)\s*=\s*"(?!#)/i);
    expect(text).not.toMatch(/https?:\/\//);
    expect(text).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;/);
  });

  it("renders with no console message, and its script ran", () => {
    expect(dom.console).toEqual([]);
    expect(dom.stdout).toMatch(/<html lang="en" data-report-ready="true">/);
  });

  it("escapes the task: the payload is text, no element came of it", () => {
    expect(readFileSync(html, "utf8")).not.toContain("<img");
    expect(dom.stdout).not.toMatch(/<img/i);
    expect(dom.stdout).toContain(`<div class="task" id="task">${domText(task)}</div>`);
  });

  it("draws one DAG node per subtask of the plan and one Gantt row per started subtask", () => {
    const current = timeline.subtasks.filter((s) => s.revision === timeline.revision);
    const nodes = dom.stdout.match(/<g class="node"/g) ?? [];
    expect(nodes.length).toBe(timeline.subtasks.length);
    for (const s of current)
      expect(dom.stdout).toContain(`<g class="node" data-key="r${s.revision}-${s.id}"`);
    const started = timeline.subtasks.filter((s) => s.startMs !== undefined);
    expect((dom.stdout.match(/<g class="gantt-row"/g) ?? []).length).toBe(started.length);
    for (const m of timeline.ledger.models) expect(dom.stdout).toContain(domText(m.model));
    expect(dom.stdout).toMatch(/local \d+\+\d+ tokens/);
  });

  it("a screenshot shows the DAG's node colour in the DAG and the Gantt's bar colours in the Gantt", async () => {
    const png = join(work, "report.png");
    const shot = await chromium(html, [`--screenshot=${png}`]);
    expect(shot.code, shot.stderr).toBe(0);
    expect(shot.console).toEqual([]);
    const image = decodePng(png);
    expect([image.width, image.height]).toEqual([WINDOW.width, WINDOW.height]);
    // One DAG per plan revision (random weights may make the joiner replan), all above the Gantt.
    const dags = rectsOf(dom.stdout, "dag");
    const [gantt] = rectsOf(dom.stdout, "gantt") as [Rect];
    expect(gantt.y + gantt.height).toBeLessThanOrEqual(WINDOW.height);
    const inDags = (hex: string) => dags.reduce((n, rect) => n + countColour(image, rect, hex), 0);
    const nodes = timeline.subtasks.filter((s) => s.state === "completed" && !s.reused).length;
    expect(nodes).toBeGreaterThan(0);
    // A node is a 176×54 box; its labels cover a small part of it.
    expect(inDags(REPORT_COLOURS.nodeCompleted)).toBeGreaterThan(nodes * 176 * 54 * 0.6);
    // A bar is 16 px high and at least 3 px wide: two of its columns at least are never antialiased.
    expect(countColour(image, gantt, REPORT_COLOURS.barWorker)).toBeGreaterThan(30);
    expect(countColour(image, gantt, REPORT_COLOURS.modelLoad)).toBeGreaterThan(30);
    // The regions are told apart: neither drawing's colour shows in the other.
    expect(inDags(REPORT_COLOURS.barWorker)).toBe(0);
    expect(countColour(image, gantt, REPORT_COLOURS.nodeCompleted)).toBe(0);
  });

  it("--html with --json still prints the JSON; an unwritable file is exit 2 with one line", async () => {
    const both = join(work, "both.html");
    const json = await runCli(["inspect", runId, "--run-dir", runDir, "--json", "--html", both], { env });
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as Timeline).runId).toBe(runId);
    expect(readFileSync(both, "utf8")).toBe(readFileSync(html, "utf8"));
    const missing = join(work, "no-such-dir", "report.html");
    const bad = await runCli(["inspect", runId, "--run-dir", runDir, "--html", missing], { env });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(
      new RegExp(`^edgecrew: cannot write the HTML report to ${missing}: ENOENT[^\n]*\n$`),
    );
  });

  it("the console check sees a page's errors (so an empty list means none)", async () => {
    const bad = join(work, "bad.html");
    writeFileSync(bad, '<!DOCTYPE html><script>console.error("boom"); missingFunction();</script>');
    const run = await chromium(bad, ["--dump-dom"]);
    expect(run.console.join("\n")).toContain('"boom"');
    expect(run.console.join("\n")).toContain("missingFunction is not defined");
  });
});

// ─── A hand-made run: what the demo does not produce ─────────────────────────────────────────────────────

const t0 = Date.UTC(2026, 10, 30, 12, 0, 0);
let seq = 0;
const ev = (offsetMs: number, event: Record<string, unknown>): RunEvent =>
  ({ runId: "20261130-120000-abcdef", seq: seq++, at: t0 + offsetMs, ...event }) as unknown as RunEvent;
const usage = (model: string) => [
  { model, locality: "local" as const, promptTokens: 100, completionTokens: 20, durationMs: 300, loadMs: 0 },
];
const plan0 = {
  subtasks: [{ id: "s1", worker: "researcher", instruction: "first try", dependsOn: [] }],
};
const plan1 = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: `find ${payload}`, dependsOn: [] },
    { id: "s2", worker: "fetcher", instruction: "fetch {{s1.answer.url}}", dependsOn: ["s1"] },
    { id: "s3", worker: "writer", instruction: "draft", dependsOn: ["s1"] },
    { id: "s4", worker: "writer", instruction: "combine", dependsOn: ["s2", "s3"] },
  ],
};
const s1Result = {
  subtaskId: "s1",
  worker: "researcher",
  answer: { url: `https://example.test/${payload}` },
  by: "worker" as const,
  attempts: 1,
  startedAt: t0 + 1_500,
  endedAt: t0 + 2_500,
  usage: usage("fixture:researcher"),
};
const s3Result = {
  ...s1Result,
  subtaskId: "s3",
  worker: "writer",
  answer: "a draft",
  by: "planner" as const,
  startedAt: t0 + 2_600,
  endedAt: t0 + 4_000,
};
const events: RunEvent[] = [
  ev(0, { type: "run.started", task: payload, agent: "handmade" }),
  ev(5, { type: "model.loading", model: "fixture:planner" }),
  ev(400, { type: "model.loaded", model: "fixture:planner", ms: 395 }),
  ev(900, { type: "plan.created", plan: plan0, attempt: 1, revision: 0 }),
  ev(1_000, { type: "plan.revised", reason: `too small ${payload}`, revision: 1, reused: [] }),
  ev(1_400, { type: "plan.created", plan: plan1, attempt: 1, revision: 1 }),
  ev(1_500, {
    type: "subtask.started",
    subtaskId: "s1",
    worker: "researcher",
    model: "fixture:researcher",
    instruction: "x",
  }),
  ev(1_500, { type: "model.loading", model: "fixture:researcher" }),
  ev(1_800, { type: "model.loaded", model: "fixture:researcher", ms: 300 }),
  ev(2_500, { type: "subtask.completed", subtaskId: "s1", result: s1Result }),
  ev(2_600, {
    type: "subtask.started",
    subtaskId: "s2",
    worker: "fetcher",
    model: "fixture:fetcher",
    instruction: "x",
  }),
  ev(2_600, {
    type: "subtask.started",
    subtaskId: "s3",
    worker: "writer",
    model: "fixture:writer",
    instruction: "x",
  }),
  ev(2_700, { type: "tool.called", subtaskId: "s2", tool: "http", args: { url: payload } }),
  ev(2_900, {
    type: "tool.result",
    subtaskId: "s2",
    tool: "http",
    ms: 200,
    result: { ok: false, reason: "denied", error: `not allowed: ${payload}` },
  }),
  ev(3_000, {
    type: "subtask.escalated",
    subtaskId: "s3",
    worker: "writer",
    reason: "invalid-output",
    errors: [payload],
  }),
  ev(3_200, {
    type: "subtask.failed",
    subtaskId: "s2",
    error: { code: "SUBTASK_FAILED", message: `failed ${payload}` },
  }),
  ev(4_000, { type: "subtask.completed", subtaskId: "s3", result: s3Result }),
  ev(4_100, { type: "model.unloaded", model: "fixture:researcher" }),
  ev(4_200, {
    type: "planner.request",
    purpose: "join",
    model: "openai:gpt-4o-mini",
    bytes: 1234,
    messages: 2,
    promptTokens: 300,
    completionTokens: 40,
    origins: [
      { kind: "task", id: "task", private: false },
      { kind: "result", id: "s1", private: true, sent: "placeholders" },
      { kind: "result", id: "s3", private: true, sent: "withheld" },
    ],
  }),
];
const handmade: StoredRun = {
  meta: { runId: "20261130-120000-abcdef", agent: "handmade", task: payload, createdAt: t0 },
  events,
  plan: plan1,
  revision: 1,
  results: { s1: s1Result, s3: s3Result },
  toolJournal: [],
};

describe("an HTML report of a hand-made run (edges, tools, escalation, failure, replan) in headless chromium", () => {
  let dom: BrowserRun;
  let text: string;

  beforeAll(async () => {
    requireChromium();
    text = renderHtmlReport(handmade, buildTimeline(handmade));
    const file = join(work, "handmade.html");
    writeFileSync(file, text);
    dom = await chromium(file, ["--dump-dom"]);
    expect(dom.code, dom.stderr).toBe(0);
  }, 60_000);

  it("renders with no console message and makes no element of any string of the run", () => {
    expect(dom.console).toEqual([]);
    expect(dom.stdout).toContain('data-report-ready="true"');
    expect(text).not.toContain("<img");
    expect(dom.stdout).not.toMatch(/<img/i);
    // The details panel's data (instructions, answers) sits in a JSON script with no `<` in it.
    const data =
      /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(text)?.[1] ?? "";
    expect(data).not.toContain("<");
    expect(data).toContain("\\u003c/script>\\u003cimg");
  });

  it("draws both plan revisions, the edges of the DAG, and every table", () => {
    expect(dom.stdout).toContain('<svg class="dag" data-revision="1"');
    expect(dom.stdout).toContain('<svg class="dag" data-revision="0"');
    expect((dom.stdout.match(/<path class="edge"/g) ?? []).length).toBe(4);
    expect((dom.stdout.match(/<g class="node"/g) ?? []).length).toBe(5);
    expect(dom.stdout).toContain(`fill="${REPORT_COLOURS.nodeFailed}"`);
    expect(dom.stdout).toContain(`fill="${REPORT_COLOURS.nodePending}"`);
    expect(dom.stdout).toContain(`fill="${REPORT_COLOURS.barPlanner}"`);
    expect(dom.stdout).toContain(`<td>${domText(JSON.stringify({ url: payload }))}</td>`);
    expect(dom.stdout).toContain(`<td>denied: not allowed: ${domText(payload)}</td>`);
    expect(dom.stdout).toMatch(/<td>r1:s3<\/td><td>writer<\/td><td>invalid-output<\/td>/);
    expect(dom.stdout).toContain(`<td>too small ${domText(payload)}</td>`);
    expect(dom.stdout).toContain("planning tokens are not counted");
    // The data-flow ledger: each remote request, its bytes and where its content came from.
    expect(dom.stdout).toContain(
      "<td>join</td><td>openai:gpt-4o-mini</td><td>1234</td><td>300+40</td><td>task, s1.answer (private: placeholders), s3.answer (private: withheld)</td>",
    );
    expect(dom.stdout).toContain(
      "1 request to remote models, 1234 bytes; private origins: 1 as placeholders, 1 withheld, 0 sent",
    );
  });

  it("the generator is deterministic: the same run gives the same page", () => {
    expect(renderHtmlReport(handmade, buildTimeline(handmade))).toBe(text);
    expect(existsSync(join(work, "handmade.html"))).toBe(true);
  });
});

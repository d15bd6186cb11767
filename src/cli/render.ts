/**
 * Plain, line-per-event rendering of a run for terminals and logs: the plan, each subtask's worker and
 * validated answer, model loads, and the token ledger at the end.
 */
import type { Ledger, Plan, RunEvent, RunResult, UsageRecord } from "../types.js";

function clip(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** " on <device>" for an event that happened on a fleet device, else nothing. */
function at(event: { readonly device?: string }): string {
  return event.device === undefined ? "" : ` on ${event.device}`;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "" : `${(bytes / 1024 / 1024).toFixed(1)} MiB, `;
}

function tokens(usage: readonly UsageRecord[]): string {
  const prompt = usage.reduce((n, u) => n + u.promptTokens, 0);
  const completion = usage.reduce((n, u) => n + u.completionTokens, 0);
  return `${prompt}+${completion} tokens`;
}

/**
 * Streamed text on one line: line breaks and tabs shown as `↵` and `→`, other control characters (a model's text
 * could hold terminal escapes) dropped.
 */
function deltaText(text: string): string {
  return text
    .replace(/\r?\n/g, "↵")
    .replace(/\t/g, "→")
    .replace(/\p{Cc}/gu, "");
}

/** A plan as lines: a header, then one line per subtask with its worker and dependencies. */
function planLines(plan: Plan): string[] {
  const lines = [`plan (${plan.subtasks.length} subtask${plan.subtasks.length === 1 ? "" : "s"}):`];
  for (const s of plan.subtasks) {
    const deps = s.dependsOn.length > 0 ? ` ← ${s.dependsOn.join(", ")}` : "";
    lines.push(`  ${s.id} [${s.worker}]${deps}: ${clip(s.instruction, 120)}`);
  }
  return lines;
}

/** One line (or a few) for an event; undefined for events not shown. */
export function renderEvent(event: RunEvent): string | undefined {
  switch (event.type) {
    case "run.started":
      return `run ${event.runId} · agent ${event.agent}\ntask: ${clip(event.task, 400)}`;
    case "run.resumed": {
      const head = `run ${event.runId} · agent ${event.agent} resumed (plan revision ${event.revision}; done before: ${event.completed.length > 0 ? event.completed.join(", ") : "none"})`;
      return event.plan === undefined ? head : `${head}\n${planLines(event.plan).join("\n")}`;
    }
    case "plan.rejected":
      return `plan rejected (attempt ${event.attempt}):\n${event.errors.map((e) => `  - ${clip(e)}`).join("\n")}`;
    case "answer.rejected": {
      const what = event.subtaskId === undefined ? "final answer" : `${event.subtaskId} planner answer`;
      return `${what} rejected (attempt ${event.attempt}):\n${event.errors.map((e) => `  - ${clip(e)}`).join("\n")}`;
    }
    case "plan.created":
      return planLines(event.plan).join("\n");
    case "plan.revised":
      return `plan revised (${event.revision}): ${clip(event.reason)}${event.reused.length > 0 ? `; reusing ${event.reused.join(", ")}` : ""}`;
    case "subtask.escalated":
      return `↑ ${event.subtaskId} [${event.worker}] escalated to the planner (${event.reason}): ${clip(event.errors.join("; "))}`;
    case "subtask.routed":
      return `↷ ${event.subtaskId} [${event.worker}] routed to the planner: ${clip(event.reason)}`;
    case "tool.called":
      return `  ${event.subtaskId} → ${event.tool} ${clip(JSON.stringify(event.args), 120)}`;
    case "tool.result":
      return `  ${event.subtaskId} ← ${event.tool} ${event.result.ok ? clip(JSON.stringify(event.result.output), 120) : `${event.result.reason}: ${clip(event.result.error)}`} (${event.ms} ms)`;
    case "tool.shortened":
      return `  ${event.subtaskId} ✂ ${event.tool} result shown to the model cut to ${event.shownCharacters} of ${event.totalCharacters} characters (context ${event.contextSize} tokens)`;
    case "tool.progress":
      return `  ${event.subtaskId} … ${event.tool} ${event.progress}${event.total === undefined ? "" : `/${event.total}`}${event.message === undefined ? "" : ` ${clip(event.message)}`}`;
    case "tools.offered":
      return `  ${event.subtaskId} [${event.worker}] offered ${event.tools.length} of ${event.ranked.length} tools${event.ranker === "embedding" ? ` (ranked by ${event.model})` : ""}: ${event.tools.join(", ")}`;
    case "model.loading":
      return `  loading model ${event.model}${at(event)}${event.estimatedBytes ? ` (~${mib(event.estimatedBytes).slice(0, -2)})` : ""}`;
    case "model.loaded":
      return `  loaded model ${event.model}${at(event)} (${mib(event.bytes)}${event.ms} ms)`;
    case "model.unloaded":
      return `  unloaded model ${event.model}${at(event)}`;
    case "subtask.started":
      return `▶ ${event.subtaskId} [${event.worker}] on ${event.model}`;
    case "subtask.repairing":
      return `  ${event.subtaskId} repair ${event.attempt}: ${clip(event.errors.join("; "))}`;
    case "subtask.completed": {
      const r = event.result;
      const by = r.by === "planner" ? " (escalated to planner)" : "";
      return `✓ ${event.subtaskId} [${r.worker}]${by}${r.device === undefined ? "" : ` on ${r.device}`} ${clip(JSON.stringify(r.answer))} (${tokens(r.usage)}, ${r.endedAt - r.startedAt} ms)`;
    }
    case "subtask.failed":
      return `✗ ${event.subtaskId} ${event.error.code}: ${clip(event.error.message, 300)}`;
    // Only a run started with streaming (--stream) has deltas: each is printed as it comes, on its own line.
    case "subtask.delta":
      return `  ${event.subtaskId} ┆ ${deltaText(event.text)}`;
    case "planner.delta":
      return `  planner ┆ ${deltaText(event.text)}`;
    case "planner.request": {
      const kept = event.origins.filter((o) => o.private).map((o) => `${o.id} ${o.sent ?? "sent"}`);
      return `  → ${event.model} ${event.purpose}${event.subtaskId === undefined ? "" : ` ${event.subtaskId}`}: ${event.bytes} bytes${kept.length === 0 ? "" : ` (private: ${kept.join(", ")})`}`;
    }
    case "run.completed":
    case "run.failed":
    case "run.cancelled":
      return undefined;
    default: {
      // A new event type must be given a rendering (or an explicit undefined) here.
      const unhandled: never = event;
      return unhandled;
    }
  }
}

/** The ledger as a few lines: one per model, then local/remote totals. */
export function renderLedger(ledger: Ledger): string {
  const lines = ["tokens (prompt+completion):"];
  for (const m of ledger.models) {
    const load = m.loadMs > 0 ? `, load ${m.loadMs} ms` : "";
    lines.push(
      `  ${m.locality.padEnd(6)} ${m.model}: ${m.promptTokens}+${m.completionTokens} in ${m.calls} call${m.calls === 1 ? "" : "s"}, ${m.durationMs} ms${load}`,
    );
  }
  lines.push(
    `  total local ${ledger.local.promptTokens}+${ledger.local.completionTokens}, remote ${ledger.remote.promptTokens}+${ledger.remote.completionTokens}`,
  );
  return lines.join("\n");
}

/** The end of a run: the answer (or the error) and the ledger. */
export function renderResult(result: RunResult): string {
  const seconds = ((result.endedAt - result.startedAt) / 1000).toFixed(1);
  const head =
    result.status === "completed"
      ? `answer: ${typeof result.answer === "string" ? result.answer : JSON.stringify(result.answer, null, 2)}`
      : `run ${result.status}: ${result.error?.code ?? ""} ${result.error?.message ?? ""}`.trim();
  return `${head}\n${renderLedger(result.ledger)}\n${result.status} in ${seconds} s (run ${result.runId})`;
}

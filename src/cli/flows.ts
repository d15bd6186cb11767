/**
 * The data-flow ledger of a stored run (`edgecrew inspect --flows`): every request the run sent to a remote
 * planner model (`planner.request` events), with its size, tokens and where its content came from — private
 * origins marked with what was sent of them (placeholders, or nothing).
 */
import type { FlowOrigin, RunEvent } from "../types.js";

/** One request to a remote model, as the ledger holds it. */
export interface FlowRow {
  readonly seq: number;
  readonly at: number;
  readonly model: string;
  readonly purpose: string;
  readonly subtaskId?: string;
  readonly bytes: number;
  readonly messages: number;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly origins: readonly FlowOrigin[];
}

/** The ledger of a run: its requests in order and their totals. */
export interface Flows {
  readonly runId: string;
  readonly requests: readonly FlowRow[];
  readonly totals: {
    readonly requests: number;
    readonly bytes: number;
    readonly promptTokens: number;
    readonly completionTokens: number;
    /** Private origins that went out as placeholders / were withheld, over all requests. */
    readonly placeholders: number;
    readonly withheld: number;
    /** Private origins sent as they are: always 0 for a remote planner (a local one records no flows). */
    readonly privateSent: number;
  };
}

/** Collects the data-flow ledger from a run's events. */
export function buildFlows(runId: string, events: readonly RunEvent[]): Flows {
  const requests: FlowRow[] = [];
  for (const event of events) {
    if (event.type !== "planner.request") continue;
    requests.push({
      seq: event.seq,
      at: event.at,
      model: event.model,
      purpose: event.purpose,
      ...(event.subtaskId === undefined ? {} : { subtaskId: event.subtaskId }),
      bytes: event.bytes,
      messages: event.messages,
      ...(event.promptTokens === undefined ? {} : { promptTokens: event.promptTokens }),
      ...(event.completionTokens === undefined ? {} : { completionTokens: event.completionTokens }),
      origins: event.origins,
    });
  }
  const origins = requests.flatMap((r) => r.origins.filter((o) => o.private));
  return {
    runId,
    requests,
    totals: {
      requests: requests.length,
      bytes: requests.reduce((sum, r) => sum + r.bytes, 0),
      promptTokens: requests.reduce((sum, r) => sum + (r.promptTokens ?? 0), 0),
      completionTokens: requests.reduce((sum, r) => sum + (r.completionTokens ?? 0), 0),
      placeholders: origins.filter((o) => o.sent === "placeholders").length,
      withheld: origins.filter((o) => o.sent === "withheld").length,
      privateSent: origins.filter((o) => o.sent === undefined).length,
    },
  };
}

/** One origin of a request's content, as the ledger prints it: `s2.answer (private: placeholders)`. */
export function originText(origin: FlowOrigin): string {
  const name =
    origin.kind === "result"
      ? `${origin.id}.answer`
      : origin.kind === "errors"
        ? `${origin.id}.errors`
        : origin.id;
  return origin.private ? `${name} (private: ${origin.sent ?? "SENT"})` : name;
}

/** The ledger as text: one line per request, then the totals. */
export function renderFlows(flows: Flows): string {
  if (flows.requests.length === 0)
    return `run ${flows.runId}: no request left the device (no remote planner call was recorded)`;
  const lines = [`run ${flows.runId}: requests to remote models`];
  for (const r of flows.requests) {
    const tokens =
      r.promptTokens === undefined ? "" : `, ${r.promptTokens}+${r.completionTokens ?? 0} tokens`;
    const subtask = r.subtaskId === undefined ? "" : ` ${r.subtaskId}`;
    lines.push(`  #${r.seq} ${r.purpose}${subtask} → ${r.model}: ${r.bytes} bytes${tokens}`);
    lines.push(`      from: ${r.origins.map(originText).join(", ")}`);
  }
  const t = flows.totals;
  lines.push(
    `  total: ${t.requests} requests, ${t.bytes} bytes, ${t.promptTokens}+${t.completionTokens} tokens; private origins: ${t.placeholders} as placeholders, ${t.withheld} withheld, ${t.privateSent} sent`,
  );
  return lines.join("\n");
}

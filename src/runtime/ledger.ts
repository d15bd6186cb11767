/** Aggregates usage records into a ledger: per model, and local vs remote. */
import type { Ledger, ModelUsage, UsageRecord } from "../types.js";

/** Sums usage records per model (in first-seen order) and per locality. */
export function buildLedger(records: readonly UsageRecord[]): Ledger {
  const models = new Map<string, ModelUsage>();
  const local = { promptTokens: 0, completionTokens: 0 };
  const remote = { promptTokens: 0, completionTokens: 0 };
  for (const r of records) {
    const key = `${r.locality}\u0000${r.model}`;
    const prev = models.get(key);
    models.set(key, {
      model: r.model,
      locality: r.locality,
      calls: (prev?.calls ?? 0) + 1,
      promptTokens: (prev?.promptTokens ?? 0) + r.promptTokens,
      completionTokens: (prev?.completionTokens ?? 0) + r.completionTokens,
      durationMs: (prev?.durationMs ?? 0) + r.durationMs,
      loadMs: (prev?.loadMs ?? 0) + r.loadMs,
    });
    const side = r.locality === "local" ? local : remote;
    side.promptTokens += r.promptTokens;
    side.completionTokens += r.completionTokens;
  }
  return { models: [...models.values()], local, remote };
}

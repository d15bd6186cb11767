/**
 * Reusing results across a replan: a subtask of the revised plan that is the same work as a completed subtask
 * of the previous plan — same worker, same instruction, same dependencies (compared recursively, so ids may
 * be renumbered) — takes that result instead of running again.
 */
import { findReferences } from "../references.js";
import type { Plan, SubtaskResult } from "../types.js";

/** A canonical description of each subtask's work, independent of the ids it was given. */
function signatures(plan: Plan): Map<string, string> {
  const byId = new Map(plan.subtasks.map((s) => [s.id, s]));
  const memo = new Map<string, string>();
  const sign = (id: string): string => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const subtask = byId.get(id);
    if (subtask === undefined) return `?${id}`;
    // Plans are validated DAGs, so this recursion ends.
    let instruction = subtask.instruction;
    for (const ref of findReferences(subtask.instruction)) {
      instruction = instruction
        .split(ref.text)
        .join(`{{<${sign(ref.subtaskId)}>${JSON.stringify(ref.path)}}}`);
    }
    const deps = subtask.dependsOn.map(sign).sort();
    const signature = JSON.stringify([subtask.worker, instruction, deps]);
    memo.set(id, signature);
    return signature;
  };
  for (const s of plan.subtasks) sign(s.id);
  return memo;
}

/**
 * Maps completed results of `previous` onto the subtasks of `next` that do the same work: `results` are keyed by
 * their id in `next` (with `subtaskId` rewritten); `dropped` are the previous results nothing reuses.
 */
export function reuseResults(
  previous: Plan,
  results: Readonly<Record<string, SubtaskResult>>,
  next: Plan,
): { results: Record<string, SubtaskResult>; dropped: SubtaskResult[] } {
  const done = new Map<string, SubtaskResult>();
  for (const [id, signature] of signatures(previous)) {
    const result = results[id];
    if (result !== undefined) done.set(signature, result);
  }
  const reused: Record<string, SubtaskResult> = {};
  const used = new Set<SubtaskResult>();
  for (const [id, signature] of signatures(next)) {
    const result = done.get(signature);
    if (result === undefined) continue;
    reused[id] = { ...result, subtaskId: id };
    used.add(result);
  }
  return { results: reused, dropped: Object.values(results).filter((r) => !used.has(r)) };
}

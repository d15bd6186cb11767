/**
 * Auto-escalation (`escalation.auto`): routing learned from history. At the start of a run the runtime reads
 * this agent's stored runs, newest first, and counts each auto-routed worker's most recent subtasks on its
 * current model and LoRA adapters (its identity) with the measure `edgecrew stats` uses (firstTry.ts). A worker
 * whose first-try rate over them is below `below` (with at least `min` counted) has its subtasks sent straight
 * to the planner for this run (`subtask.routed`), without running the worker.
 *
 * Cost: `store.list()` reads every run's meta (one small file per run for the FileRunStore); then whole runs are
 * loaded (events, plans, results) newest first, only this agent's, and at most `window` of them — fewer once
 * every auto-routed worker has `window` subtasks. It happens once per run, not per subtask, and a failure to read
 * the history (or one damaged run) never fails the run: the worker then simply runs.
 *
 * Recovery: a routed subtask is not the worker's (it is not counted), so the rate moves only with subtasks the
 * worker ran. A new model or adapter set is a new identity with an empty history: the worker runs again. A
 * worker routed in `window` consecutive runs has no subtask left in the runs read, so it runs again too, and
 * its next results decide (a probe every `window` runs at worst).
 */
import type {
  AgentDefinition,
  AutoEscalationConfig,
  RunEventPayloads,
  RunStore,
  StoredRun,
  WorkerDefinition,
} from "../types.js";
import { firstTryFigures, type SubtaskTally } from "./firstTry.js";

/**
 * What a worker's history is keyed by: its model reference as written, plus its LoRA adapters (path and scale,
 * in order) when it has any — the same spelling as the model manager's key. Changing either starts a new
 * history.
 *
 * @example
 * workerIdentity(worker); // "fixture:tiny+lora(/adapters/a.gguf@1)"
 */
export function workerIdentity(worker: Pick<WorkerDefinition, "model" | "lora">): string {
  const lora = worker.lora ?? [];
  if (lora.length === 0) return worker.model.raw;
  return `${worker.model.raw}+lora(${lora.map((a) => `${a.path}@${a.scale}`).join(",")})`;
}

/** One subtask a worker was dispatched in a stored run, with what the first-try measure needs. */
export interface WorkerSubtask {
  readonly worker: string;
  /** The worker's identity then (`subtask.started`'s `identity`, else its `model`). */
  readonly identity: string;
  readonly tally: SubtaskTally;
}

interface Draft {
  worker: string;
  identity: string;
  state: SubtaskTally["state"];
  by?: "worker" | "planner";
  escalated?: "invalid-output" | "model-failed";
  repairs: number;
  attempts: number;
}

/**
 * The subtasks dispatched in a stored run, in dispatch order (oldest first), read from its events like the
 * timeline reads them: a subtask is keyed by plan revision and id, a resumed subtask's later start counts,
 * stored results fill in a completion whose event a crash lost. Subtasks never started (pending, or carried
 * over by a replan) are not listed.
 */
export function dispatchedSubtasks(run: StoredRun): WorkerSubtask[] {
  const drafts = new Map<string, Draft>();
  let revision = 0;
  const keyOf = (id: string) => `${revision}\u0000${id}`;
  for (const event of run.events) {
    switch (event.type) {
      case "run.resumed":
      case "plan.revised":
        revision = event.revision;
        break;
      case "plan.created":
        if (event.revision !== undefined) revision = event.revision;
        break;
      case "subtask.started": {
        const known = drafts.get(keyOf(event.subtaskId));
        const draft: Draft = {
          worker: event.worker,
          identity: event.identity ?? event.model,
          state: "running",
          repairs: known?.repairs ?? 0,
          attempts: 0,
        };
        // Re-inserted, so a resumed subtask sits where it was last dispatched.
        drafts.delete(keyOf(event.subtaskId));
        drafts.set(keyOf(event.subtaskId), draft);
        break;
      }
      case "subtask.repairing": {
        const draft = drafts.get(keyOf(event.subtaskId));
        if (draft !== undefined) draft.repairs++;
        break;
      }
      case "subtask.escalated": {
        const draft = drafts.get(keyOf(event.subtaskId));
        if (draft !== undefined) {
          draft.escalated = event.reason;
          draft.by = "planner";
        }
        break;
      }
      case "subtask.routed": {
        const draft = drafts.get(keyOf(event.subtaskId));
        if (draft !== undefined) draft.by = "planner";
        break;
      }
      case "subtask.completed": {
        const draft = drafts.get(keyOf(event.subtaskId));
        if (draft !== undefined) {
          draft.state = "completed";
          draft.by = event.result.by;
          draft.attempts = event.result.attempts;
        }
        break;
      }
      case "subtask.failed": {
        const draft = drafts.get(keyOf(event.subtaskId));
        if (draft !== undefined) draft.state = "failed";
        break;
      }
      default:
        break;
    }
  }
  revision = run.revision;
  for (const result of Object.values(run.results)) {
    const draft = drafts.get(keyOf(result.subtaskId));
    if (draft !== undefined && draft.state !== "completed") {
      draft.state = "completed";
      draft.by = result.by;
      draft.attempts = result.attempts;
    }
  }
  return [...drafts.values()].map((d) => ({
    worker: d.worker,
    identity: d.identity,
    tally: {
      state: d.state,
      ...(d.by === undefined ? {} : { by: d.by }),
      ...(d.escalated === undefined ? {} : { escalated: d.escalated }),
      repairs: d.repairs,
      attempts: d.attempts,
      reused: false,
    },
  }));
}

/** A worker's standing for this run, from its history. */
export interface WorkerStanding {
  readonly worker: string;
  readonly identity: string;
  /** Subtasks counted (≤ window), newest first across runs. */
  readonly subtasks: number;
  readonly firstTry: number;
  readonly rate: number;
  /** Whether its subtasks go straight to the planner in this run. */
  readonly routed: boolean;
}

/** The routing of one run: each auto-routed worker's standing, and the runs read to get it. */
export interface RoutingTable {
  readonly workers: ReadonlyMap<string, WorkerStanding>;
  /** Runs loaded (at most `window`). */
  readonly runsRead: number;
  /** Runs that could not be loaded and were skipped. */
  readonly skipped: readonly string[];
}

/** Options of {@link readRouting}. */
export interface ReadRoutingOptions {
  /** The run being started (or resumed): not part of its own history. */
  readonly excludeRunId?: string;
}

/**
 * Reads the routing of a run of `agent` from `store` (see the file comment for what it reads and costs). With
 * no `escalation.auto`, or `to` other than the planner, nothing is read and nothing is routed.
 */
export async function readRouting(
  store: Pick<RunStore, "list" | "load">,
  agent: AgentDefinition,
  options: ReadRoutingOptions = {},
): Promise<RoutingTable> {
  const auto = agent.escalation.auto;
  if (auto === undefined || agent.escalation.to !== "planner")
    return { workers: new Map(), runsRead: 0, skipped: [] };
  const identities = new Map(agent.workers.map((w) => [w.name, workerIdentity(w)]));
  // Each worker's subtasks on its current identity, newest first.
  const history = new Map<string, SubtaskTally[]>(agent.workers.map((w) => [w.name, []]));
  const full = () => [...history.values()].every((tallies) => tallies.length >= auto.window);
  const metas = (await store.list()).filter(
    (m) => m.agent === agent.name && m.runId !== options.excludeRunId,
  );
  let runsRead = 0;
  const skipped: string[] = [];
  for (const meta of metas) {
    if (runsRead >= auto.window || full()) break;
    runsRead++;
    let run: StoredRun;
    try {
      run = await store.load(meta.runId);
    } catch {
      skipped.push(meta.runId);
      continue;
    }
    const subtasks = dispatchedSubtasks(run).reverse();
    for (const s of subtasks) {
      const tallies = history.get(s.worker);
      if (tallies === undefined || s.identity !== identities.get(s.worker)) continue;
      if (tallies.length < auto.window) tallies.push(s.tally);
    }
  }
  const workers = new Map<string, WorkerStanding>();
  for (const [worker, tallies] of history) {
    const figures = firstTryFigures(tallies);
    workers.set(worker, {
      worker,
      identity: identities.get(worker) ?? "",
      ...figures,
      routed: isRouted(figures, auto),
    });
  }
  return { workers, runsRead, skipped };
}

function isRouted(figures: { subtasks: number; rate: number }, auto: AutoEscalationConfig): boolean {
  return figures.subtasks >= auto.min && figures.rate < auto.below;
}

/**
 * The `subtask.routed` event for a subtask of `worker`, when the table routes it; undefined when the worker runs.
 */
export function routeOf(
  table: RoutingTable,
  agent: AgentDefinition,
  subtaskId: string,
  worker: string,
): RunEventPayloads["subtask.routed"] | undefined {
  const auto = agent.escalation.auto;
  const standing = table.workers.get(worker);
  if (auto === undefined || standing === undefined || !standing.routed) return undefined;
  const percent = (x: number) => `${Math.round(x * 100)}%`;
  return {
    subtaskId,
    worker,
    identity: standing.identity,
    rate: standing.rate,
    subtasks: standing.subtasks,
    window: auto.window,
    below: auto.below,
    reason: `not run: ${worker}'s first-try rate is ${percent(standing.rate)} (${standing.firstTry} of its last ${standing.subtasks} subtasks on ${standing.identity}), below escalation.auto.below (${percent(auto.below)})`,
  };
}

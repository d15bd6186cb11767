/**
 * Per-worker figures over recent stored runs, for `edgecrew stats`: how often a worker answers validly on its
 * first try, how often it needs repairs, is escalated (and why) or fails, and how long its subtasks take. Built
 * on the run timeline (timeline.ts), which already says per subtask who answered, its repairs, its escalation
 * and where its wall time went, so the two commands can never disagree. Pure: timelines in, figures out.
 */
import { countsForWorker, firstTryRate, isFirstTry } from "../runtime/firstTry.js";
import { columns } from "./columns.js";
import { formatDuration, type Timeline, type TimelineSubtask } from "./timeline.js";

/** Median and 95th percentile of a set of durations, in milliseconds (absent without any). */
export interface LatencyFigures {
  readonly count: number;
  readonly medianMs?: number;
  readonly p95Ms?: number;
}

/** One worker's figures over the runs looked at. */
export interface WorkerStats {
  readonly worker: string;
  /** Subtasks it was given that ended or are running (results carried over by a replan are not counted twice). */
  readonly subtasks: number;
  /** Answered validly by the worker itself with no repair turn. */
  readonly firstTry: number;
  /** `firstTry / subtasks` (0 without subtasks). */
  readonly firstTryRate: number;
  /** Repair turns given, in total. */
  readonly repairs: number;
  /** Subtasks that needed at least one repair and were then answered by the worker. */
  readonly repaired: number;
  /** Subtasks handed to the planner, by the worker's reason. */
  readonly escalations: {
    readonly total: number;
    readonly invalidOutput: number;
    readonly modelFailed: number;
  };
  /** Subtasks that ended without an answer. */
  readonly failures: number;
  /** Wall time of the completed subtasks (dispatch to result). */
  readonly wall: LatencyFigures;
  /** Time its model spent generating for the completed subtasks. */
  readonly generating: LatencyFigures;
}

/** What `stats --json` prints. */
export interface StatsReport {
  /** The runs looked at, newest first. */
  readonly runs: readonly string[];
  readonly workers: readonly WorkerStats[];
}

/** The nearest-rank percentile `p` (0–100) of `values`; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

function latency(values: readonly number[]): LatencyFigures {
  const median = percentile(values, 50);
  const p95 = percentile(values, 95);
  return {
    count: values.length,
    ...(median === undefined ? {} : { medianMs: median }),
    ...(p95 === undefined ? {} : { p95Ms: p95 }),
  };
}

interface Accumulator {
  subtasks: number;
  firstTry: number;
  repairs: number;
  repaired: number;
  invalidOutput: number;
  modelFailed: number;
  failures: number;
  wall: number[];
  generating: number[];
}

function add(acc: Accumulator, s: TimelineSubtask): void {
  acc.subtasks++;
  acc.repairs += s.repairs;
  if (s.escalated === "invalid-output") acc.invalidOutput++;
  if (s.escalated === "model-failed") acc.modelFailed++;
  if (s.state === "failed") acc.failures++;
  if (isFirstTry(s)) acc.firstTry++;
  else if (s.state === "completed" && s.by === "worker") acc.repaired++;
  if (s.state === "completed") {
    if (s.durationMs !== undefined) acc.wall.push(s.durationMs);
    if (s.parts !== undefined) acc.generating.push(s.parts.generatingMs);
  }
}

/**
 * The figures of every worker (or only `worker`) over `timelines`, sorted by worker name. Subtasks never
 * started are not counted; a subtask reused by a replan counts once, in the revision that ran it; a subtask
 * routed past its worker by auto-escalation is not the worker's (runtime/firstTry.ts, shared with routing).
 *
 * @example
 * const report = buildStats(metas.map(async (m) => buildTimeline(await store.load(m.runId))));
 */
export function buildStats(
  timelines: readonly Timeline[],
  options: { readonly worker?: string } = {},
): StatsReport {
  const byWorker = new Map<string, Accumulator>();
  for (const timeline of timelines) {
    for (const s of timeline.subtasks) {
      if (!countsForWorker(s)) continue;
      if (options.worker !== undefined && s.worker !== options.worker) continue;
      let acc = byWorker.get(s.worker);
      if (acc === undefined) {
        acc = {
          subtasks: 0,
          firstTry: 0,
          repairs: 0,
          repaired: 0,
          invalidOutput: 0,
          modelFailed: 0,
          failures: 0,
          wall: [],
          generating: [],
        };
        byWorker.set(s.worker, acc);
      }
      add(acc, s);
    }
  }
  const workers = [...byWorker.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([worker, acc]): WorkerStats => ({
        worker,
        subtasks: acc.subtasks,
        firstTry: acc.firstTry,
        firstTryRate: firstTryRate(acc.firstTry, acc.subtasks),
        repairs: acc.repairs,
        repaired: acc.repaired,
        escalations: {
          total: acc.invalidOutput + acc.modelFailed,
          invalidOutput: acc.invalidOutput,
          modelFailed: acc.modelFailed,
        },
        failures: acc.failures,
        wall: latency(acc.wall),
        generating: latency(acc.generating),
      }),
    );
  return { runs: timelines.map((t) => t.runId), workers };
}

const ms = (value: number | undefined) => (value === undefined ? "-" : formatDuration(value));

/** The text table `edgecrew stats` prints. */
export function renderStats(report: StatsReport): string {
  if (report.workers.length === 0) return `no worker subtasks in ${report.runs.length} run(s)\n`;
  const rows = [
    [
      "worker",
      "subtasks",
      "first-try",
      "repairs",
      "escalated",
      "failed",
      "wall p50",
      "p95",
      "gen p50",
      "p95",
    ],
    ...report.workers.map((w) => [
      w.worker,
      String(w.subtasks),
      `${w.firstTry} (${Math.round(w.firstTryRate * 100)}%)`,
      `${w.repairs} (${w.repaired} subtasks)`,
      w.escalations.total === 0
        ? "0"
        : `${w.escalations.total} (invalid ${w.escalations.invalidOutput}, model ${w.escalations.modelFailed})`,
      String(w.failures),
      ms(w.wall.medianMs),
      ms(w.wall.p95Ms),
      ms(w.generating.medianMs),
      ms(w.generating.p95Ms),
    ]),
  ];
  return `${columns(rows).join("\n")}\nover the last ${report.runs.length} run(s)\n`;
}

/**
 * The privacy of one run, as its planner calls see it: which parts of each request are private. The planner port
 * of a run is the crew's port with every call's context carrying `privacy` (a {@link CallPrivacy}); the planner
 * itself decides what that means for a remote model (src/planner/privacy.ts), and ignores it for a local one.
 *
 * Which answers are private: a worker marked `private: true`, or one granted a private tool, answers privately;
 * a worker marked `private: false` answers publicly whatever it read (a declassifier, e.g. a summariser whose
 * schema has no private fields); any other worker's answer is private when a subtask it depends on is.
 */
import type {
  AgentDefinition,
  CallContext,
  CallPrivacy,
  Plan,
  PlannerPort,
  PrivacyPolicy,
  Subtask,
  ToolSpec,
} from "../types.js";

/** The privacy settings of a run. */
export interface RunPrivacyOptions {
  readonly policy: PrivacyPolicy;
  /** The task itself is private. */
  readonly privateTask: boolean;
  /** Workers whose answers are private by themselves (`private: true`, or a private tool granted). */
  readonly privateWorkers: readonly string[];
  /** Workers marked `private: false`: their answers are public whatever their dependencies. */
  readonly publicWorkers: readonly string[];
}

/** Ids of the plan's subtasks whose answers are private. */
export function privateSubtasks(plan: Plan, options: RunPrivacyOptions): Set<string> {
  const byId = new Map(plan.subtasks.map((s) => [s.id, s]));
  const memo = new Map<string, boolean>();
  const isPrivate = (subtask: Subtask, seen: Set<string>): boolean => {
    const known = memo.get(subtask.id);
    if (known !== undefined) return known;
    let result: boolean;
    if (options.publicWorkers.includes(subtask.worker)) result = false;
    else if (options.privateWorkers.includes(subtask.worker)) result = true;
    else {
      seen.add(subtask.id);
      result = subtask.dependsOn.some((id) => {
        const dependency = byId.get(id);
        // A dependency the plan does not hold (or a cycle, which a valid plan has not) counts as private.
        return dependency === undefined || seen.has(id) || isPrivate(dependency, seen);
      });
    }
    memo.set(subtask.id, result);
    return result;
  };
  return new Set(plan.subtasks.filter((s) => isPrivate(s, new Set())).map((s) => s.id));
}

/** Whether anything in a run with these settings can be private. */
export function hasPrivateData(options: RunPrivacyOptions): boolean {
  return options.privateTask || options.privateWorkers.length > 0;
}

/**
 * The planner port of one run with its privacy on every call. It remembers the run's latest plan, so that an
 * escalated subtask's dependencies are judged by it; a dependency of no plan it has seen counts as private.
 */
export function privatePlanner(planner: PlannerPort, options: RunPrivacyOptions): PlannerPort {
  let latest: Plan | undefined;
  const context = (base: CallContext, results: Iterable<string>, worker?: boolean): CallContext => {
    const privacy: CallPrivacy = {
      policy: options.policy,
      task: options.privateTask,
      results: [...results],
      ...(worker === undefined ? {} : { worker }),
    };
    return { ...base, privacy };
  };
  return {
    model: planner.model,
    async plan(request, base) {
      const previous = request.revision?.previous;
      const produced = await planner.plan(
        request,
        context(base, previous === undefined ? [] : privateSubtasks(previous, options)),
      );
      latest = produced.value;
      return produced;
    },
    join(request, base) {
      latest = request.plan;
      return planner.join(request, context(base, privateSubtasks(request.plan, options)));
    },
    solve(request, base) {
      const plan = latest;
      const known = plan === undefined ? new Set<string>() : privateSubtasks(plan, options);
      const ids = plan === undefined ? new Set<string>() : new Set(plan.subtasks.map((s) => s.id));
      const results = Object.keys(request.dependencies).filter((id) => known.has(id) || !ids.has(id));
      const own = ids.has(request.subtask.id)
        ? known.has(request.subtask.id)
        : !options.publicWorkers.includes(request.worker.name) &&
          (options.privateWorkers.includes(request.worker.name) || results.length > 0);
      return planner.solve(request, context(base, results, own));
    },
  };
}

/**
 * The privacy settings of a run of `agent`: its policy (default strict), whether the task is private, and which
 * workers answer privately — `private: true`, or (unless `private: false`) a granted tool that is private: its
 * spec says so (`defineTool({ private: true })`) or its YAML entry does (`- fs: { root: ./data, private: true }`;
 * a `langchain:` entry needs its `name:` for that).
 * `grantedTools` lists the specs a worker's grants cover.
 */
export function runPrivacyOf(
  agent: AgentDefinition,
  grantedTools: (grants: readonly string[]) => readonly ToolSpec[],
  privateTask: boolean,
): RunPrivacyOptions {
  // YAML entries marked private, by the name workers grant (a built-in's family, an MCP server's namespace).
  const privateEntries = agent.tools.flatMap((tool) =>
    tool.private === true && (tool.kind !== "langchain" || tool.name !== undefined)
      ? [tool.kind === "langchain" ? (tool.name as string) : tool.name]
      : [],
  );
  // A grant and an entry name meet when one is the other or a dotted family of it (`fs` and `fs.read`).
  const meets = (grant: string, name: string): boolean =>
    grant === name || grant.startsWith(`${name}.`) || name.startsWith(`${grant}.`);
  const privateWorkers: string[] = [];
  const publicWorkers: string[] = [];
  for (const worker of agent.workers) {
    if (worker.private === false) publicWorkers.push(worker.name);
    else if (
      worker.private === true ||
      grantedTools(worker.tools).some((tool) => tool.private === true) ||
      worker.tools.some((grant) => privateEntries.some((name) => meets(grant, name)))
    )
      privateWorkers.push(worker.name);
  }
  return { policy: agent.privacy?.policy ?? "strict", privateTask, privateWorkers, publicWorkers };
}

/** The run's planner port: the crew's own when nothing in the run can be private, else {@link privatePlanner}. */
export function plannerForRun(planner: PlannerPort, options: RunPrivacyOptions): PlannerPort {
  return hasPrivateData(options) ? privatePlanner(planner, options) : planner;
}

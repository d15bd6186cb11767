/**
 * `createCrew`: the library's composition root. It resolves an agent's models — local workers through the model
 * manager, the planner as a LangChain chat model (a cloud model, edgecrew's local chat model on the same manager,
 * or one the caller passes in) — and wires them into the runtime through its ports. node-llama-cpp and LangChain
 * are imported lazily here, so importing `edgecrew` stays cheap.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { loadAgent, parseAgent } from "./config/loadAgent.js";
import { shortSecretProblem } from "./config/secretChecks.js";
import { AgentDefinitionError, DisposedError, EdgecrewError, ErrorCodes } from "./errors.js";
import type { RunEventListener } from "./runtime/EventHub.js";
import { plannerForRun, type RunPrivacyOptions, runPrivacyOf } from "./runtime/privacy.js";
import { createRedactor, type Redactor, secretValuesFrom } from "./runtime/redact.js";
import { singleSubtaskPlanner } from "./runtime/singleSubtask.js";
import { type Run, startRun } from "./runtime/startRun.js";
import { makeAgentCopy } from "./runtime/store/agentCopy.js";
import { FileRunStore } from "./runtime/store/FileRunStore.js";
import { runCorrupt } from "./runtime/store/storeErrors.js";
import { checkRecord } from "./runtime/store/storeSchemas.js";
import { journalTools } from "./runtime/toolJournal.js";
import { type AnyTool, type ApprovalCallback, type ProvidedTool, toolNames, toTool } from "./tools/index.js";
import type {
  AgentCopy,
  AgentDefinition,
  AnyWorkerAnswers,
  JsonValue,
  Locality,
  PlannerPort,
  RunEvent,
  RunEventInput,
  RunResult,
  RunStore,
  StoredRun,
  SubtaskResultOf,
  ToolJournalEntry,
  WorkerAnswerTypes,
  WorkerPort,
} from "./types.js";
import { agentToolRegistry, startWorkerSide } from "./workerSide.js";

/** Where runs are kept when no `runDir` or `store` is given: `.edgecrew/runs` under the working directory. */
export function defaultRunDir(cwd: string = process.cwd()): string {
  return join(cwd, ".edgecrew", "runs");
}

/** Options of {@link createCrew}. */
export interface CrewOptions {
  /** A LangChain chat model to plan and join with; wins over the agent's `planner.model`. */
  readonly planner?: BaseChatModel;
  /** How a passed-in planner is named in events and the ledger (default: its LangChain name). */
  readonly plannerLabel?: string;
  /**
   * Where a passed-in planner runs, for the ledger's local/remote split and `limits.maxRemoteTokens`: `"local"`
   * for a model in this process or on this device (e.g. a LangChain model over a local server), `"remote"` for
   * a provider's API. Default: `"remote"` for a LangChain model, `"local"` for edgecrew's own node-llama-cpp one.
   */
  readonly plannerLocality?: Locality;
  /** Receives every event of every run of this crew (after the run's own listener). */
  readonly onEvent?: RunEventListener;
  /** Where `fixture:` models are generated (default `~/.cache/edgecrew/fixtures`, or `$EDGECREW_CACHE_DIR`). */
  readonly fixtureCacheDir?: string;
  /** Where `hf:` models are downloaded (default `~/.cache/edgecrew/models`, or `$EDGECREW_MODELS_DIR`). */
  readonly modelsDir?: string;
  /** Sampling seed for every local generation, for reproducible runs (default: random). */
  readonly seed?: number;
  /** Called when an event listener throws; the run goes on either way. */
  readonly onListenerError?: (error: unknown, event: RunEvent) => void;
  /**
   * Tools defined in code, registered next to the agent's `tools:`; a worker calls the ones its `tools:` grant by
   * name. Each is a `defineTool` (or `fromLangChainTool`) result or a LangChain tool as it is (`tool()`,
   * `StructuredTool`, `DynamicStructuredTool`), adapted with `fromLangChainTool`'s defaults (not idempotent, no
   * approval); use `fromLangChainTool` yourself to rename one or set those. When `createCrew` is given a path, the
   * file may grant these tools without declaring them; an agent loaded separately needs `loadAgent(path, { tools })`.
   */
  readonly tools?: readonly AnyTool[];
  /** Asked before each call of a tool marked `approve`; without it such calls are denied (as data). */
  readonly onApproval?: ApprovalCallback;
  /**
   * Run the workers on a fleet through this NATS hub (`nats://host:4222`, credentials allowed here: they are never
   * stored); wins over the agent's `fleet.hub`. The devices (`edgecrew device`) run the workers and their tools.
   */
  readonly hub?: string;
  /** Directory of durable runs (default `.edgecrew/runs` under the working directory). */
  readonly runDir?: string;
  /** A run store to use instead of the file store in `runDir`; `false` keeps runs in memory only. */
  readonly store?: RunStore | false;
  /** How long each MCP server of the agent may take to start and list its tools (default 10 s). */
  readonly mcpStartTimeoutMs?: number;
  /** Receives warnings, e.g. an MCP tool skipped for an unusable schema (default: `process.emitWarning`). */
  readonly onWarning?: (message: string) => void;
  /**
   * The YAML text `agent` was parsed from (its `source` file). Each run keeps a copy of it with its SHA-256, which
   * is what `edgecrew resume` rebuilds the agent from (never a path the run directory names). `createCrew(path)`
   * reads it itself; `readAgentFile` returns both.
   */
  readonly agentText?: string;
}

/** Options of {@link Crew.run}. */
export interface CrewRunOptions {
  /** Aborting it cancels the run: generation stops, the run ends `cancelled` with finished results kept. */
  readonly signal?: AbortSignal;
  /** Receives this run's events. */
  readonly onEvent?: RunEventListener;
  /**
   * The RunResult keeps the values of the agent's secrets (and key-shaped strings) in `task`, the plan, the
   * results and the answer, as the run produced them. Off by default: the result is redacted like the events
   * and the run directory, which stay redacted either way (so a resumed run's earlier results are redacted too).
   */
  readonly revealSecrets?: boolean;
  /**
   * Runs the task as one subtask of this worker, without asking the planner for a plan or a final answer: the
   * run's answer is the worker's (valid against its `output` schema). Escalation still goes to the planner.
   * Throws USAGE for a worker the agent lacks. (`resume` of such a run joins through the planner.)
   */
  readonly worker?: string;
  /**
   * Streams generated text as it comes: `subtask.delta` events (a local worker's text, per subtask, coalesced to
   * about one event per 50 ms and at each turn's end) and `planner.delta` (the planner's reply, when its model
   * streams). Deltas reach `events` and listeners but are never written to the run store. Default false.
   */
  readonly stream?: boolean;
  /**
   * The task itself is private data: a remote planner never gets it as it is (the agent's `privacy.policy`:
   * strict fails the run before anything is sent, redact sends a placeholder). Default false.
   */
  readonly private?: boolean;
}

/**
 * An agent with its models, ready to run tasks. Dispose it to free the models. Its runs' results are typed by the
 * agent's answer types (`defineAgent` with zod schemas); a YAML agent's are any JSON.
 */
export interface Crew<TAnswer = JsonValue, TWorkerAnswers extends WorkerAnswerTypes = AnyWorkerAnswers>
  extends AsyncDisposable {
  readonly agent: AgentDefinition<TAnswer, TWorkerAnswers>;
  /** The store runs are written to (undefined when runs are not durable). */
  readonly store: RunStore | undefined;
  /** Starts a run; its `events` stream and `result` promise report progress and outcome. */
  run(task: string, options?: CrewRunOptions): Run<TAnswer, SubtaskResultOf<TWorkerAnswers>>;
  /**
   * Continues a stored run of this agent after a crash or stop: completed subtasks are not run again. A run that
   * already ended resolves to its stored outcome. Throws RUN_NOT_FOUND / RUN_CORRUPT from the store.
   */
  resume(runId: string, options?: CrewRunOptions): Promise<Run<TAnswer, SubtaskResultOf<TWorkerAnswers>>>;
  /** Cancels active runs, waits for them, and frees every model. Idempotent. */
  dispose(): Promise<void>;
}

function describePlanner(
  model: BaseChatModel,
  label: string | undefined,
  locality: Locality | undefined,
): { label: string; locality: Locality } {
  // Unless the caller says: edgecrew's own chat model on node-llama-cpp runs in-process, anything else is remote.
  const local = model._llmType() === "node-llama-cpp";
  return { label: label ?? model.getName(), locality: locality ?? (local ? "local" : "remote") };
}

/**
 * Reads and validates an agent YAML file like `loadAgent`, and also returns its text, read once, for
 * `CrewOptions.agentText` (so the copy a run keeps is exactly the text that was validated).
 *
 * @example
 * const { agent, text } = await readAgentFile("agents/offline-demo.yaml");
 * const crew = await createCrew(agent, { agentText: text });
 */
export async function readAgentFile(
  path: string,
  options: { readonly tools?: readonly ProvidedTool[] } = {},
): Promise<{ agent: AgentDefinition; text?: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    // loadAgent words every way a file cannot be read (missing, a directory, …) as a definition error.
    return { agent: await loadAgent(path, options) };
  }
  return {
    agent: parseAgent(text, { file: path, ...(options.tools === undefined ? {} : { tools: options.tools }) }),
    text,
  };
}

/**
 * The values of the agent's secrets in this process's environment; a value too short to redact is refused here
 * too, since the environment a crew runs in may not be the one its file was validated in.
 */
function secretValuesOf(agent: AgentDefinition): string[] {
  const names = agent.secrets ?? [];
  const issues = names.flatMap((name, index) => {
    const message = shortSecretProblem(name, process.env[name] ?? "");
    return message === undefined
      ? []
      : [
          {
            ...(agent.source === undefined ? {} : { file: agent.source }),
            path: `secrets[${index}]`,
            message,
          },
        ];
  });
  if (issues.length > 0) {
    throw new AgentDefinitionError(issues, agent.source === undefined ? {} : { file: agent.source });
  }
  return secretValuesFrom(names);
}

/**
 * The copy of the agent's YAML each run keeps, or undefined: without a source file or its text there is nothing
 * to copy, and a text that holds a secret (or a key-shaped string) is not copied, since the run directory must
 * not hold it in clear text and a redacted copy would not be the agent. Resuming such a run needs `--agent`.
 */
function agentCopyOf(
  agent: AgentDefinition,
  text: string | undefined,
  redactor: Redactor,
): AgentCopy | undefined {
  if (agent.source === undefined || text === undefined) return undefined;
  if (redactor.text(text) !== text) return undefined;
  return makeAgentCopy(agent.source, text);
}

/**
 * Creates a crew from an agent definition (or the path of an agent YAML file).
 *
 * @example
 * await using crew = await createCrew("agents/offline-demo.yaml");
 * const run = crew.run("Plan a weekend trip to the mountains");
 * for await (const event of run.events) console.log(event.type);
 * const result = await run.result; // { status: "completed", answer, ledger, … }
 * if (result.status === "completed") console.log(result.answer); // else result.error: { code, message }
 */
export async function createCrew<
  TAnswer = JsonValue,
  TWorkerAnswers extends WorkerAnswerTypes = AnyWorkerAnswers,
>(
  agentOrPath: AgentDefinition<TAnswer, TWorkerAnswers> | string,
  options: CrewOptions = {},
): Promise<Crew<TAnswer, TWorkerAnswers>> {
  // LangChain tools are adapted here, once; a value that is no tool at all is TOOL_INVALID, naming its index.
  const codeTools = (options.tools ?? []).map((tool, index) => toTool(tool, `CrewOptions.tools[${index}]`));
  const { agent, text: agentText } =
    typeof agentOrPath === "string"
      ? await readAgentFile(agentOrPath, { tools: toolNames(codeTools) })
      : { agent: agentOrPath as AgentDefinition, text: options.agentText };
  // Secrets named by the agent, plus key-shaped strings, never reach events, the run directory or the result.
  const redactor = createRedactor(secretValuesOf(agent));
  const agentCopy = agentCopyOf(agent, agentText, redactor);
  const workersModule = await import("./workers/index.js");
  const plannerModule = await import("./planner/index.js");
  // A corrupt or missing model file fails here, before any planning spends tokens.
  // In a fleet, workers' models live on the devices: only the planner's is this process's business.
  const hubUrl = options.hub ?? agent.fleet?.hub;
  const files = new Set(
    [agent.planner.model, ...(hubUrl === undefined ? agent.workers.map((w) => w.model) : [])].flatMap((m) =>
      m.kind === "file" ? [m.path] : [],
    ),
  );
  await Promise.all([...files].map((path) => workersModule.inspectModelFile(path)));
  const store =
    options.store === false
      ? undefined
      : (options.store ?? new FileRunStore({ root: resolve(options.runDir ?? defaultRunDir()) }));
  // The tool journal of each run being resumed: journaled results are reused, uncertain side effects refused.
  const journals = new Map<string, readonly ToolJournalEntry[]>();

  // Model events concern every active run (the models are shared), so the manager's stream fans out to all.
  const activeRuns = new Map<string, { run: Run; emit: (event: RunEventInput) => void }>();
  const manager = new workersModule.ModelManager({
    device: agent.device,
    resolve: {
      ...(options.fixtureCacheDir === undefined ? {} : { fixtureCacheDir: options.fixtureCacheDir }),
      ...(options.modelsDir === undefined ? {} : { modelsDir: options.modelsDir }),
    },
    onEvent: (event) => {
      for (const active of activeRuns.values()) active.emit(event);
    },
  });
  let workers: WorkerPort;
  let closeWorkers: () => Promise<void>;
  let privacyOf: (privateTask: boolean) => RunPrivacyOptions;
  try {
    if (hubUrl === undefined) {
      // MCP servers start before any model loads, all at once: one that cannot start fails the crew, by name.
      const side = await startWorkerSide(agent, {
        manager,
        tools: codeTools,
        ...(options.onApproval === undefined ? {} : { onApproval: options.onApproval }),
        ...(options.mcpStartTimeoutMs === undefined ? {} : { mcpStartTimeoutMs: options.mcpStartTimeoutMs }),
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
        ...(store === undefined
          ? {}
          : {
              wrapTools: (tools) =>
                journalTools(tools, { store, prior: (runId) => journals.get(runId), redact: redactor.json }),
            }),
        ...(options.seed === undefined ? {} : { seed: options.seed }),
      });
      workers = side.workers;
      closeWorkers = () => side.close();
      privacyOf = (privateTask) => runPrivacyOf(agent, (grants) => side.tools.list(grants), privateTask);
    } else {
      // A fleet: the devices run the workers and their tools (`edgecrew device`); this process plans and joins.
      // The tools' specs are still read here, for the privacy policy (which tools are private); MCP servers
      // are not started here, so their tools are judged by their YAML entries alone.
      const fleet = await import("./fleet/index.js");
      const tools = await agentToolRegistry(agent, { tools: codeTools });
      const known = (grants: readonly string[]) =>
        grants.flatMap((grant) => {
          try {
            return tools.list([grant]);
          } catch {
            return [];
          }
        });
      const remote = await fleet.createRemoteWorkers(agent, hubUrl);
      workers = remote;
      closeWorkers = () => remote.dispose();
      privacyOf = (privateTask) => runPrivacyOf(agent, known, privateTask);
    }
  } catch (error) {
    await manager.dispose();
    throw error;
  }

  let plannerPort: PlannerPort;
  try {
    let model = options.planner;
    const ref = agent.planner.model;
    if (model === undefined) {
      model =
        ref.kind === "remote"
          ? await plannerModule.createRemoteChatModel(ref, agent.planner)
          : new workersModule.ChatNodeLlamaCpp({
              manager,
              model: ref,
              ...(agent.planner.contextSize === undefined ? {} : { contextSize: agent.planner.contextSize }),
              ...(agent.planner.temperature === undefined ? {} : { temperature: agent.planner.temperature }),
              ...(agent.planner.maxTokens === undefined ? {} : { maxTokens: agent.planner.maxTokens }),
            });
    }
    const described =
      options.planner === undefined
        ? describePlanner(model, ref.raw, undefined)
        : describePlanner(model, options.plannerLabel, options.plannerLocality);
    plannerPort = plannerModule.createLangChainPlanner({
      model,
      ...described,
      ...(agent.planner.maxTokens === undefined ? {} : { maxTokens: agent.planner.maxTokens }),
    });
  } catch (error) {
    await closeWorkers();
    await manager.dispose();
    throw error;
  }

  let disposing: Promise<void> | undefined;
  const start = (task: string, runOptions: CrewRunOptions, resume?: StoredRun): Run => {
    if (disposing !== undefined) throw new DisposedError("Crew");
    let emit: ((event: RunEventInput) => void) | undefined;
    const run = startRun(agent, task, {
      planner: plannerForRun(
        runOptions.worker === undefined
          ? plannerPort
          : singleSubtaskPlanner(plannerPort, agent, runOptions.worker),
        // A run started with a private task stays private when resumed.
        privacyOf(runOptions.private === true || resume?.meta.privateTask === true),
      ),
      workers,
      ...(store === undefined ? {} : { store }),
      ...(agent.source === undefined ? {} : { agentSource: agent.source }),
      ...(agentCopy === undefined ? {} : { agentCopy }),
      ...(resume === undefined ? {} : { resume }),
      redactor,
      ...(runOptions.revealSecrets === true ? { revealSecrets: true } : {}),
      ...(runOptions.stream === true ? { stream: true } : {}),
      ...(runOptions.private === true ? { privateTask: true } : {}),
      ...(runOptions.signal === undefined ? {} : { signal: runOptions.signal }),
      ...(options.onListenerError === undefined ? {} : { onListenerError: options.onListenerError }),
      listeners: [runOptions.onEvent, options.onEvent].filter((l) => l !== undefined),
      connect: (sink) => {
        emit = sink;
      },
    });
    if (emit !== undefined) activeRuns.set(run.id, { run, emit });
    void run.result.then(() => activeRuns.delete(run.id));
    return run;
  };
  const crew: Crew = {
    agent,
    store,
    run(task, runOptions = {}) {
      return start(task, runOptions);
    },
    async resume(runId, runOptions = {}) {
      if (store === undefined) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          "this crew keeps no runs (store: false): nothing to resume",
        );
      }
      if (activeRuns.has(runId)) throw new EdgecrewError(ErrorCodes.USAGE, `run ${runId} is already running`);
      const stored = await store.load(runId);
      // Whatever store this is, a snapshot the ledger cannot add up must stop the resume before any work.
      const snapshot = stored.snapshot === undefined ? undefined : checkRecord("snapshot", stored.snapshot);
      if (snapshot?.ok === false) {
        throw runCorrupt(runId, "snapshot.json", `unexpected content: ${snapshot.problems}`);
      }
      if (stored.meta.agent !== agent.name) {
        throw new EdgecrewError(
          ErrorCodes.USAGE,
          `run ${runId} belongs to agent "${stored.meta.agent}", not "${agent.name}"`,
          { context: { runId, agent: stored.meta.agent } },
        );
      }
      const outcome = stored.outcome;
      if (outcome !== undefined) {
        // Already ended: report what it recorded, run nothing.
        return {
          id: runId,
          events: (async function* () {
            yield* stored.events;
          })(),
          result: Promise.resolve(outcome),
          cancel: () => {},
        };
      }
      journals.set(runId, stored.toolJournal);
      try {
        const run = start(stored.meta.task, runOptions, stored);
        void run.result.finally(() => journals.delete(runId));
        return run;
      } catch (error) {
        journals.delete(runId);
        throw error;
      }
    },
    dispose() {
      disposing ??= (async () => {
        const pending: Promise<RunResult>[] = [];
        for (const { run } of activeRuns.values()) {
          run.cancel("the crew was disposed");
          pending.push(run.result);
        }
        await Promise.all(pending);
        await closeWorkers();
        await manager.dispose();
      })();
      return disposing;
    },
    async [Symbol.asyncDispose]() {
      await crew.dispose();
    },
  };
  // The runtime works on JSON; the answer types are the agent's schemas', which validated every answer.
  return crew as unknown as Crew<TAnswer, TWorkerAnswers>;
}

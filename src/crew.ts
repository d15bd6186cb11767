/**
 * `createCrew`: the library's composition root. It resolves an agent's models — local workers through the model
 * manager, the planner as a LangChain chat model (a cloud model, edgecrew's local chat model on the same manager,
 * or one the caller passes in) — and wires them into the runtime through its ports. node-llama-cpp and LangChain
 * are imported lazily here, so importing `edgecrew` stays cheap.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { loadAgent } from "./config/loadAgent.js";
import { DisposedError } from "./errors.js";
import type { RunEventListener } from "./runtime/EventHub.js";
import { type Run, startRun } from "./runtime/startRun.js";
import { createRegistryFromConfig, type Tool } from "./tools/index.js";
import type { AgentDefinition, Locality, PlannerPort, RunEvent, RunEventInput, RunResult } from "./types.js";

/** Options of {@link createCrew}. */
export interface CrewOptions {
  /** A LangChain chat model to plan and join with; wins over the agent's `planner.model`. */
  readonly planner?: BaseChatModel;
  /** How a passed-in planner is named in events and the ledger (default: its LangChain name). */
  readonly plannerLabel?: string;
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
   * Tools defined in code (`defineTool`, `fromLangChainTool`), registered next to the agent's built-in
   * `tools:`; a worker calls the ones its `tools:` grant by name.
   */
  readonly tools?: readonly Tool[];
}

/** Options of {@link Crew.run}. */
export interface CrewRunOptions {
  /** Aborting it cancels the run: generation stops, the run ends `cancelled` with finished results kept. */
  readonly signal?: AbortSignal;
  /** Receives this run's events. */
  readonly onEvent?: RunEventListener;
}

/** An agent with its models, ready to run tasks. Dispose it to free the models. */
export interface Crew extends AsyncDisposable {
  readonly agent: AgentDefinition;
  /** Starts a run; its `events` stream and `result` promise report progress and outcome. */
  run(task: string, options?: CrewRunOptions): Run;
  /** Cancels active runs, waits for them, and frees every model. Idempotent. */
  dispose(): Promise<void>;
}

function describePlanner(
  model: BaseChatModel,
  label: string | undefined,
): { label: string; locality: Locality } {
  // edgecrew's own chat model on node-llama-cpp runs in-process; anything else is treated as remote.
  const local = model._llmType() === "node-llama-cpp";
  return { label: label ?? model.getName(), locality: local ? "local" : "remote" };
}

/**
 * Creates a crew from an agent definition (or the path of an agent YAML file).
 *
 * @example
 * await using crew = await createCrew("agents/offline-demo.yaml");
 * const run = crew.run("Plan a weekend trip to the mountains");
 * for await (const event of run.events) console.log(event.type);
 * const result = await run.result; // { status: "completed", answer, ledger, … }
 */
export async function createCrew(
  agentOrPath: AgentDefinition | string,
  options: CrewOptions = {},
): Promise<Crew> {
  const agent = typeof agentOrPath === "string" ? await loadAgent(agentOrPath) : agentOrPath;
  const workersModule = await import("./workers/index.js");
  const plannerModule = await import("./planner/index.js");

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
  let workers: ReturnType<typeof workersModule.createLocalWorkers>;
  try {
    // Built-ins from the YAML plus the caller's tools; each worker gets a view of only what it is granted.
    const tools = createRegistryFromConfig(agent.tools, { tools: options.tools ?? [] });
    workers = workersModule.createLocalWorkers({
      workers: agent.workers,
      manager,
      tools,
      retries: agent.escalation.retries,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
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
    const described = describePlanner(model, options.planner === undefined ? ref.raw : options.plannerLabel);
    plannerPort = plannerModule.createLangChainPlanner({
      model,
      ...described,
      ...(agent.planner.maxTokens === undefined ? {} : { maxTokens: agent.planner.maxTokens }),
    });
  } catch (error) {
    await workers.dispose();
    await manager.dispose();
    throw error;
  }

  let disposing: Promise<void> | undefined;
  const crew: Crew = {
    agent,
    run(task, runOptions = {}) {
      if (disposing !== undefined) throw new DisposedError("Crew");
      let emit: ((event: RunEventInput) => void) | undefined;
      const run = startRun(agent, task, {
        planner: plannerPort,
        workers,
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
    },
    dispose() {
      disposing ??= (async () => {
        const pending: Promise<RunResult>[] = [];
        for (const { run } of activeRuns.values()) {
          run.cancel("the crew was disposed");
          pending.push(run.result);
        }
        await Promise.all(pending);
        await workers.dispose();
        await manager.dispose();
      })();
      return disposing;
    },
    async [Symbol.asyncDispose]() {
      await crew.dispose();
    },
  };
  return crew;
}

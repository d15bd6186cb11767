/**
 * The crew as an MCP server: one more face of the engine, next to the CLI and the library. Like cli/ it is a
 * composition root that talks to the engine only through the public {@link Crew} (one crew, created by the
 * caller, serves every call, so models stay loaded between them). It offers `run_task` (the whole crew) and,
 * optionally, each worker as its own tool (a one-subtask run on that worker, no planning), reports each subtask
 * as MCP progress, and cancels a run when the client cancels its call. Transports: stdio here, streamable HTTP in
 * http.ts.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
  type ProgressToken,
} from "@modelcontextprotocol/sdk/types.js";
import type { Crew } from "../crew.js";
import { ErrorCodes } from "../errors.js";
import type { JsonSchema, JsonValue, RunEvent, RunResult, WorkerDefinition } from "../types.js";

/** The name of the tool that runs the whole crew. */
export const RUN_TASK_TOOL = "run_task";

/** The tool name of a worker exposed on its own (`--expose-workers`). */
export function workerToolName(worker: string): string {
  return `worker_${worker}`;
}

/** Options of {@link createCrewMcpServer}. */
export interface CrewMcpServerOptions {
  /** Also offer each worker as its own tool, running one subtask on it without the planner. */
  readonly exposeWorkers?: boolean;
  /** The version the server reports in the MCP handshake. */
  readonly version?: string;
  /** Receives one line per call started and ended (never stdout: in stdio mode that is the protocol's). */
  readonly log?: (line: string) => void;
}

/** What a tool call asks the crew to do. */
type Job = { readonly kind: "crew" } | { readonly kind: "worker"; readonly worker: WorkerDefinition };

/**
 * The output schema of a tool whose answer has schema `answer`: `{ runId, status, answer?, error? }`. MCP wants
 * an object at the root, so the answer is wrapped; its `$defs`/`definitions` move to the wrapper's root, where
 * its `#/$defs/…` references now resolve.
 */
export function resultSchemaOf(answer: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, $defs, definitions, ...inner } = answer as Record<string, JsonValue>;
  return {
    type: "object",
    properties: {
      runId: { type: "string", description: "the run's id (its directory under the run dir)" },
      status: { enum: ["completed", "failed", "cancelled"] },
      answer: { ...inner, description: "the validated answer; present when status is completed" },
      error: {
        type: "object",
        properties: { code: { type: "string" }, message: { type: "string" } },
        required: ["code", "message"],
        description: "why the run did not complete",
      },
    },
    required: ["runId", "status"],
    ...($defs === undefined ? {} : { $defs }),
    ...(definitions === undefined ? {} : { definitions }),
  } as JsonSchema;
}

/** The tools the crew offers. */
function toolsOf(crew: Crew, exposeWorkers: boolean): McpTool[] {
  const { agent } = crew;
  const workers = agent.workers.map((w) => `${w.name} (${w.description})`).join("; ");
  const runTask: McpTool = {
    name: RUN_TASK_TOOL,
    title: `Run the ${agent.name} crew`,
    description:
      `Hands a task to the local "${agent.name}" crew: ${agent.description} A planner splits the task into ` +
      `subtasks for small local models (workers: ${workers}); returns the validated final answer and the run id.`,
    inputSchema: {
      type: "object",
      properties: { task: { type: "string", minLength: 1, description: "the task, in words" } },
      required: ["task"],
      additionalProperties: false,
    },
    outputSchema: resultSchemaOf(agent.answer ?? { type: "string" }) as McpTool["outputSchema"],
    annotations: { readOnlyHint: false, openWorldHint: agent.tools.length > 0 },
  };
  if (!exposeWorkers) return [runTask];
  return [
    runTask,
    ...agent.workers.map(
      (worker): McpTool => ({
        name: workerToolName(worker.name),
        title: `Ask the ${worker.name} worker`,
        description:
          `${worker.description} Runs one instruction on the local worker "${worker.name}" of the ` +
          `"${agent.name}" crew, without planning; returns its answer (valid against its output schema) and the run id.`,
        inputSchema: {
          type: "object",
          properties: {
            instruction: { type: "string", minLength: 1, description: "what the worker should do" },
          },
          required: ["instruction"],
          additionalProperties: false,
        },
        outputSchema: resultSchemaOf(worker.output) as McpTool["outputSchema"],
        annotations: { readOnlyHint: false, openWorldHint: worker.tools.length > 0 },
      }),
    ),
  ];
}

/** The job a tool name stands for, or undefined. */
function jobOf(crew: Crew, name: string, exposeWorkers: boolean): Job | undefined {
  if (name === RUN_TASK_TOOL) return { kind: "crew" };
  if (!exposeWorkers) return undefined;
  const worker = crew.agent.workers.find((w) => workerToolName(w.name) === name);
  return worker === undefined ? undefined : { kind: "worker", worker };
}

/** A tool error the calling model can read and correct (not a protocol error). */
function inputError(message: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: `${ErrorCodes.USAGE}: ${message}` }],
  };
}

/** A run's outcome as a tool result: structured content, and the same as JSON text for older clients. */
export function toolResultOf(result: RunResult): CallToolResult {
  const structured: Record<string, JsonValue> =
    result.status === "completed"
      ? { runId: result.runId, status: result.status, answer: result.answer ?? null }
      : {
          runId: result.runId,
          status: result.status,
          error: {
            code: result.error?.code ?? ErrorCodes.ABORTED,
            message: result.error?.message ?? `the run was ${result.status}`,
          },
        };
  return {
    ...(result.status === "completed" ? {} : { isError: true }),
    content: [{ type: "text", text: JSON.stringify(structured) }],
    structuredContent: structured,
  };
}

/**
 * Turns a run's events into MCP progress: the run's start (with its id), its plan, and each subtask started and
 * ended advance `progress`, and so does the validated answer; `total` is known once the plan is (plan, two steps
 * per subtask, the answer).
 */
function progressReporter(send: (progress: number, total: number | undefined, message: string) => void) {
  let progress = 0;
  let total: number | undefined;
  const step = (message: string, last = false) => {
    progress += 1;
    // A replan can outrun the estimate (the total grows) or reuse results (the last step closes the gap).
    if (last || (total !== undefined && progress >= total)) total = last ? progress : progress + 1;
    send(progress, total, message);
  };
  return (event: RunEvent) => {
    switch (event.type) {
      case "run.started":
        send(progress, total, `run ${event.runId} started`);
        break;
      case "plan.created": {
        const subtasks = event.plan.subtasks;
        total = progress + 1 + 2 * subtasks.length + 1;
        step(
          `plan: ${subtasks.length} subtask(s): ${subtasks.map((s) => `${s.id} → ${s.worker}`).join(", ")}`,
        );
        break;
      }
      case "subtask.started":
        step(`subtask ${event.subtaskId} started on worker ${event.worker}`);
        break;
      case "subtask.completed":
        step(
          event.result.by === "worker"
            ? `subtask ${event.subtaskId} completed by worker ${event.result.worker}`
            : `subtask ${event.subtaskId} of worker ${event.result.worker} completed by the planner (escalated)`,
        );
        break;
      case "subtask.failed":
        step(`subtask ${event.subtaskId} failed: ${event.error.code}`);
        break;
      case "run.completed":
        step("run completed: the answer is validated", true);
        break;
      default:
        break;
    }
  };
}

/**
 * Creates the MCP server of one client connection over `crew` (the SDK's `Server` holds one transport; HTTP makes
 * one per session, all on the same crew). `tools/list` offers `run_task` (and the workers with `exposeWorkers`);
 * `tools/call` runs the crew, reporting progress when the client sent a progress token and cancelling the run
 * when the client cancels the call. A run that fails or is cancelled is a tool result with `isError`.
 */
export function createCrewMcpServer(crew: Crew, options: CrewMcpServerOptions = {}): Server {
  const exposeWorkers = options.exposeWorkers === true;
  const log = options.log ?? (() => {});
  const server = new Server(
    { name: `edgecrew-${crew.agent.name}`, version: options.version ?? "0.0.0" },
    {
      capabilities: { tools: {} },
      instructions:
        `Local agent crew "${crew.agent.name}": ${crew.agent.description} Call ${RUN_TASK_TOOL} with a task; ` +
        "it reports progress per subtask and can be cancelled.",
    },
  );
  const tools = toolsOf(crew, exposeWorkers);
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name } = request.params;
    const job = jobOf(crew, name, exposeWorkers);
    if (job === undefined) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `unknown tool "${name}"; this server offers ${tools.map((t) => t.name).join(", ")}`,
      );
    }
    const field = job.kind === "crew" ? "task" : "instruction";
    const args = request.params.arguments ?? {};
    const text = args[field];
    if (typeof text !== "string" || text.trim() === "") {
      return inputError(`${name} needs "${field}": a non-empty string`);
    }
    const extraKeys = Object.keys(args).filter((key) => key !== field);
    if (extraKeys.length > 0) {
      return inputError(`${name} takes only "${field}", not ${extraKeys.map((k) => `"${k}"`).join(", ")}`);
    }
    const progressToken: ProgressToken | undefined = extra._meta?.progressToken;
    const onEvent =
      progressToken === undefined
        ? undefined
        : progressReporter((progress, total, message) => {
            // A client that went away cannot be told; the run goes on until it is cancelled or ends.
            extra
              .sendNotification({
                method: "notifications/progress",
                params: { progressToken, progress, ...(total === undefined ? {} : { total }), message },
              })
              .catch(() => {});
          });
    let run: ReturnType<Crew["run"]>;
    try {
      run = crew.run(text, {
        signal: extra.signal,
        ...(onEvent === undefined ? {} : { onEvent }),
        ...(job.kind === "worker" ? { worker: job.worker.name } : {}),
      });
    } catch (error) {
      // The crew is shutting down (DisposedError) or refused the run before it started.
      const message = error instanceof Error ? error.message : String(error);
      return { isError: true, content: [{ type: "text", text: message }] };
    }
    log(`${name}: run ${run.id} started`);
    const result = await run.result;
    log(
      `${name}: run ${run.id} ${result.status}${result.error === undefined ? "" : ` (${result.error.code})`}`,
    );
    return toolResultOf(result);
  });
  return server;
}

/** A running MCP server over one transport kind; `close()` stops accepting calls and closes every connection. */
export interface CrewMcpServing {
  /** The endpoint URL (HTTP only). */
  readonly url?: string;
  /** Resolves when the transport ended on its own (stdio: the client closed stdin). */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

/** Serves `crew` over this process's stdin/stdout; `ended` resolves when stdin closes. */
export async function serveStdio(crew: Crew, options: CrewMcpServerOptions = {}): Promise<CrewMcpServing> {
  const server = createCrewMcpServer(crew, options);
  const transport = new StdioServerTransport();
  const ended = new Promise<void>((resolve) => {
    // The SDK's stdio transport does not watch for the end of input: a client that exits closes our stdin.
    process.stdin.once("end", () => resolve());
    process.stdin.once("close", () => resolve());
    transport.onclose = () => resolve();
  });
  await server.connect(transport);
  return { ended, close: () => server.close() };
}

/**
 * The zod schema of an agent definition as written in YAML: the *input* shape, with a description on every key
 * (exported as JSON Schema for editors) and defaults for every optional one. Checks that need only the value
 * itself (a model reference's syntax, a memory string, whether an answer schema compiles) live here so they run
 * for every key at once; checks that relate keys to each other live in crossChecks.ts.
 */
import { z } from "zod";
import { isEdgecrewError } from "../errors.js";
import { compileSchema } from "../schema/compile.js";
import { DEFAULT_WORKER_OUTPUT } from "../schema/describe.js";
import { didYouMean } from "../suggest.js";
import type { JsonSchema, JsonValue } from "../types.js";
import { DEFAULT_ESCALATION, DEFAULT_GPU, DEFAULT_LIMITS, DEFAULT_WORKER_SETTINGS } from "./defaults.js";
import { MEMORY_SIZE_HINT, MEMORY_SIZE_PATTERN, parseMemorySize } from "./memory.js";
import { parseModelRef } from "./modelRef.js";
import { toolEntrySchema } from "./toolSchema.js";

/** Pattern of an agent's `name`. */
export const AGENT_NAME = /^[a-z0-9_-]+$/;
/** Pattern of a worker's `name` (it appears in plans, so it must start with a letter). */
export const WORKER_NAME = /^[a-z][a-z0-9_-]*$/;

const GPU_CHOICES = ["auto", "cuda", "vulkan", "metal"] as const;

/** Why a worker cannot use a remote model; shown wherever one is given. */
export const REMOTE_WORKER_MESSAGE =
  "workers run in-process with node-llama-cpp, so a worker needs a local model: use a GGUF path (./models/model.gguf), hf:owner/repo:quant or fixture:NAME (a remote provider:model can be the planner)";

function isJsonValue(value: unknown): value is JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.values(value).every(isJsonValue);
}

function modelField(where: "planner" | "worker") {
  return z.string().superRefine((raw, ctx) => {
    try {
      const ref = parseModelRef(raw);
      if (where === "worker" && ref.kind === "remote") {
        ctx.addIssue({ code: "custom", message: `"${raw}" is a remote model, but ${REMOTE_WORKER_MESSAGE}` });
      }
    } catch (error) {
      ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
    }
  });
}

// A worker's answer and the agent's final answer are JSON objects (plans reference their fields), so the
// schema must say `type: object` at the top and must compile with the same compiler that validates answers.
function answerSchemaField(what: string) {
  return z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
    if (!isJsonValue(schema)) {
      ctx.addIssue({
        code: "custom",
        message: `the ${what} schema must be plain JSON (mappings, lists, strings, finite numbers, booleans, null)`,
      });
      return;
    }
    if (schema.type !== "object") {
      ctx.addIssue({
        code: "custom",
        path: schema.type === undefined ? [] : ["type"],
        message:
          schema.type === undefined
            ? `the ${what} schema needs \`type: object\` at the top (answers are JSON objects)`
            : `the ${what} schema must have \`type: object\` at the top (answers are JSON objects), got ${JSON.stringify(schema.type)}`,
      });
      return;
    }
    try {
      compileSchema(schema as JsonSchema);
    } catch (error) {
      if (!isEdgecrewError(error)) throw error;
      ctx.addIssue({ code: "custom", message: `the ${what} schema cannot be used: ${error.message}` });
    }
  });
}

const temperature = () => z.number().min(0).max(2);

const plannerSchema = z
  .strictObject({
    model: modelField("planner").describe(
      "The planner model: a LangChain provider:model (openai:gpt-4o-mini, ollama:qwen2.5:7b) or a local GGUF path, hf: or fixture: reference.",
    ),
    temperature: temperature().optional().describe("Sampling temperature of the planner, 0 to 2."),
    maxTokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Most tokens the planner may generate per reply."),
    contextSize: z
      .number()
      .int()
      .min(64)
      .optional()
      .describe("Context size in tokens when the planner is a local model."),
  })
  .describe("The model that splits a task into subtasks, takes over failed ones and joins the results.");

const workerSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        WORKER_NAME,
        "a worker name starts with a lowercase letter and has only a-z, 0-9, - and _ (e.g. researcher)",
      )
      .describe("Unique name the planner uses to assign subtasks, e.g. researcher."),
    description: z
      .string()
      .min(1)
      .describe("What this worker is good at; the planner reads it to decide who does what."),
    model: modelField("worker").describe(
      "A local model run in-process by node-llama-cpp: a .gguf path (relative to this file), file:, hf:owner/repo[:quant] or fixture:NAME.",
    ),
    system: z.string().optional().describe("System prompt of the worker."),
    tools: z
      .array(z.string().min(1))
      .default(() => [])
      .describe("Names of tools (declared under top-level `tools`) this worker may call."),
    toolChoice: z
      .enum(["auto", "required"])
      .default(DEFAULT_WORKER_SETTINGS.toolChoice)
      .describe(
        "auto (default): each turn the model either calls a tool or answers; required: every subtask starts with a forced call of one of the worker's tools (small models often answer instead of calling), then the model decides.",
      ),
    maxToolCalls: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Most tool calls in one subtask (default 8); after the last one the model may only answer."),
    toolSearch: z
      .strictObject({
        k: z
          .number()
          .int()
          .min(1)
          .describe("Most tools offered to one subtask (tools the plan names for the subtask always stay)."),
        model: modelField("worker")
          .optional()
          .describe(
            "A local GGUF embedding model that ranks the tools instead of BM25: cosine similarity of the instruction's embedding to each tool's (name, description, parameters), through node-llama-cpp's embedding context. A .gguf path (relative to this file), file:, hf:owner/repo[:quant] or fixture:NAME; loaded on the model manager like a worker's model (memory budget, shared by workers naming the same one). Absent: BM25.",
          ),
      })
      .optional()
      .describe(
        "Tool RAG for many tools in a small context: each subtask is offered only its k most relevant granted tools (BM25 over tool names, descriptions and parameters against its instruction, or an embedding model's cosine similarity with `model`), fewer when their documentation would not fit the context with maxTokens. Absent: every granted tool is offered.",
      ),
    output: answerSchemaField("output")
      .default(() => structuredClone(DEFAULT_WORKER_OUTPUT))
      .describe(
        "JSON Schema (type: object) of the worker's answer; generation is grammar-constrained to it. Default: { answer: string }.",
      ),
    context: z
      .strictObject({
        size: z
          .number()
          .int()
          .min(64)
          .default(DEFAULT_WORKER_SETTINGS.contextSize)
          .describe("Context size in tokens (default 2048)."),
      })
      .default(() => ({ size: DEFAULT_WORKER_SETTINGS.contextSize }))
      .describe("The worker's context on its model."),
    maxTokens: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_WORKER_SETTINGS.maxTokens)
      .describe("Most tokens per answer (default 512); must be smaller than the context size."),
    temperature: temperature()
      .default(DEFAULT_WORKER_SETTINGS.temperature)
      .describe("Sampling temperature, 0 to 2 (default 0)."),
    parallel: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(DEFAULT_WORKER_SETTINGS.parallel)
      .describe(
        "Sequences on the worker's model: how many of its subtasks may run at once, 1 to 64 (default 1).",
      ),
    lora: z
      .array(
        z
          .strictObject({
            path: z
              .string()
              .min(1)
              .describe("The adapter's GGUF file; a relative path resolves against the agent file."),
            scale: z
              .number()
              .min(0)
              .max(4)
              .default(1)
              .describe("How strongly the adapter applies, 0 to 4 (default 1; 0 is the base model)."),
          })
          .describe("A LoRA adapter: { path, scale }."),
      )
      .max(8)
      .optional()
      .describe(
        "LoRA adapters (GGUF, for the worker's base model) applied to the worker's model; the model with these adapters gets its own context.",
      ),
    private: z
      .boolean()
      .optional()
      .describe(
        "Privacy of this worker's answers. true: private (never sent to a remote planner as they are). false: public even when its tools or dependencies are private (a declassifier, e.g. a summariser whose output has no private fields). Absent: private when a granted tool is private or a subtask it depends on answered privately.",
      ),
  })
  .describe("A specialised worker running on a small local model.");

const limitsSchema = z
  .strictObject({
    maxSubtasks: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(DEFAULT_LIMITS.maxSubtasks)
      .describe("Most subtasks a plan may have (default 8)."),
    maxParallel: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(DEFAULT_LIMITS.maxParallel)
      .describe("Most subtasks running at once (default 2)."),
    maxReplans: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(DEFAULT_LIMITS.maxReplans)
      .describe("Most revised plans per run, 0 to 10 (default 1)."),
    timeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_LIMITS.timeoutSeconds)
      .describe("Whole-run time limit in seconds (default 600)."),
    subtaskTimeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_LIMITS.subtaskTimeoutSeconds)
      .describe("Per-subtask time limit in seconds (default 120); at most timeoutSeconds."),
    maxRemoteTokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Budget of tokens (prompt + completion) spent on remote models per run; crossing it fails the run (default: no budget).",
      ),
  })
  .default(() => ({ ...DEFAULT_LIMITS }))
  .describe("Bounds on a run.");

const memorySchema = z
  .union(
    [
      z.number().int().positive(),
      z
        .string()
        // abort: a malformed string is reported once, by the union, rather than also as "not positive".
        .regex(new RegExp(MEMORY_SIZE_PATTERN), { abort: true })
        .refine((text) => parseMemorySize(text) !== undefined, "the memory size must be greater than zero"),
    ],
    { error: (issue) => `${MEMORY_SIZE_HINT}, got ${JSON.stringify(issue.input)}` },
  )
  .describe(
    "Memory budget for resident models and contexts: bytes, or a size like 6GiB or 512MB. No budget when absent.",
  );

const gpuSchema = z
  .union([z.enum(GPU_CHOICES), z.literal(false)], {
    error: (issue) => {
      const shown = typeof issue.input === "string" ? `"${issue.input}"` : String(issue.input);
      const hint = typeof issue.input === "string" ? didYouMean(issue.input, GPU_CHOICES) : "";
      return `expected one of auto, cuda, vulkan, metal or false, got ${shown}${hint}`;
    },
  })
  .default(DEFAULT_GPU)
  .describe("GPU backend: auto (default), cuda, vulkan, metal, or false for CPU only.");

const deviceSchema = z
  .strictObject({
    memory: memorySchema.optional(),
    threads: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .optional()
      .describe("llama.cpp threads; default: the machine's physical cores."),
    gpu: gpuSchema,
  })
  .default(() => ({ gpu: DEFAULT_GPU }))
  .describe("What the device offers the local models.");

const escalationSchema = z
  .strictObject({
    retries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .default(DEFAULT_ESCALATION.retries)
      .describe("Repair turns a worker gets after an invalid answer, 0 to 5 (default 1)."),
    to: z
      .enum(["planner", "fail"])
      .default(DEFAULT_ESCALATION.to)
      .describe(
        "Who takes a subtask the worker could not answer: the planner (default), or fail the subtask.",
      ),
    auto: z
      .strictObject({
        below: z
          .number()
          .min(0)
          .max(1)
          .describe("First-try rate (0 to 1) under which a worker's subtasks go straight to the planner."),
        window: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(50)
          .describe("The worker's most recent subtasks the rate is computed over, 1 to 1000 (default 50)."),
        min: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(5)
          .describe(
            "Fewest subtasks counted before the rate is trusted (default 5); with fewer the worker runs.",
          ),
      })
      .optional()
      .describe(
        "Routing learned from history: skip a worker while its recent first-try rate (as `edgecrew stats` computes it, on its current model and adapters) is below `below`.",
      ),
  })
  .superRefine((value, ctx) => {
    if (value.auto !== undefined && value.to !== "planner")
      ctx.addIssue({
        code: "custom",
        path: ["auto"],
        message: "escalation.auto sends subtasks to the planner: it needs `to: planner`",
      });
    if (value.auto !== undefined && value.auto.min > value.auto.window)
      ctx.addIssue({
        code: "custom",
        path: ["auto", "min"],
        message: `escalation.auto.min (${value.auto.min}) cannot exceed window (${value.auto.window})`,
      });
  })
  .default(() => ({ ...DEFAULT_ESCALATION }))
  .describe("What happens when a worker cannot give a valid answer.");

const seconds = (what: string, fallback: number, max: number) =>
  z.number().positive().max(max).default(fallback).describe(`${what} (default ${fallback}).`);

const fleetSchema = z
  .strictObject({
    hub: z
      .string()
      .regex(/^(nats|tls):\/\/[^\s/]+$/, "a NATS URL, e.g. nats://hub.local:4222 or tls://hub.local:4222")
      .refine(
        (url) => !/^[a-z]+:\/\/[^/@]*@/.test(url),
        "no credentials in the agent file (runs keep a copy of it): put them in EDGECREW_HUB_USER / EDGECREW_HUB_PASSWORD or EDGECREW_HUB_TOKEN, or pass --hub on the command line",
      )
      .describe(
        "The NATS JetStream hub that spreads this agent's subtasks over devices (`edgecrew device`). Credentials come from the environment (EDGECREW_HUB_USER/PASSWORD, EDGECREW_HUB_TOKEN), TLS files from EDGECREW_HUB_CA/CERT/KEY.",
      ),
    ackWaitSeconds: seconds(
      "How long a device may stay silent on a subtask before the hub hands it to another device; a working device extends it every quarter of it",
      30,
      3600,
    ),
    deviceWaitSeconds: seconds(
      "How long a subtask waits for a live device that serves its worker before it fails with NO_DEVICE",
      60,
      86400,
    ),
  })
  .describe(
    "Run this agent's workers on a fleet of devices through a NATS JetStream hub; without it, workers run in this process.",
  );

/**
 * The zod schema of an agent YAML document (strict: unknown keys are errors). Its output still holds model
 * references and memory sizes as written; {@link buildAgentDefinition} turns it into an AgentDefinition.
 */
export const agentInputSchema = z
  .strictObject({
    name: z
      .string()
      .regex(AGENT_NAME, "an agent name has only lowercase letters, digits, - and _ (e.g. trip-planner)")
      .describe("Name of the agent, e.g. trip-planner."),
    description: z.string().min(1).describe("What the agent does."),
    planner: plannerSchema,
    workers: z
      .array(workerSchema)
      .min(1, "an agent needs at least one worker")
      .describe("The workers, at least one."),
    tools: z
      .array(toolEntrySchema)
      .default(() => [])
      .describe("Built-in tools the workers may use (default none)."),
    limits: limitsSchema,
    device: deviceSchema,
    escalation: escalationSchema,
    answer: answerSchemaField("answer")
      .optional()
      .describe("JSON Schema (type: object) of the final answer; free-form when absent."),
    privacy: z
      .strictObject({
        policy: z
          .enum(["strict", "redact"])
          .default("strict")
          .describe(
            "strict (default): no private value is ever sent to a remote planner — a request that would carry one (a private task, an escalation with private inputs) fails with PRIVACY_VIOLATION before it is sent, and private answers are withheld from final-answer and replan prompts. redact: private values are sent as placeholders (⟨private:s2.answer.name⟩) that are filled back in on the device.",
          ),
      })
      .optional()
      .describe(
        "What a remote planner may see of private data (workers and tools marked private, tasks run with --private-task). Absent: policy strict. A local planner sees everything: nothing leaves the device.",
      ),
    fleet: fleetSchema.optional(),
    secrets: z
      .array(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name, e.g. OPENAI_API_KEY"),
      )
      .default(() => [])
      .describe(
        "Environment variables whose values are redacted from events and the run directory (API keys are redacted anyway).",
      ),
  })
  .meta({
    title: "edgecrew agent",
    description: "An edgecrew agent: a planner, its workers, their tools and limits.",
  });

/** An agent definition as accepted by `defineAgent` (the YAML shape, optional keys optional). */
export type AgentInput = z.input<typeof agentInputSchema>;

/** An agent definition after schema validation and defaults, before model references are resolved. */
export type ValidatedAgentInput = z.output<typeof agentInputSchema>;

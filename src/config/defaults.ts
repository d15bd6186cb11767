/**
 * Default values of every optional key of an agent definition, in one place so that the zod schema, the
 * cross-field checks and the JSON Schema for editors cannot disagree about them.
 */
import { BUILTIN_TOOL_DEFAULTS } from "../tools/builtins/options.js";
import type { EscalationConfig, GpuSetting, Limits } from "../types.js";

/** Run limits used when the YAML has no `limits` (or leaves some out). */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxSubtasks: 8,
  maxParallel: 2,
  maxReplans: 1,
  timeoutSeconds: 600,
  subtaskTimeoutSeconds: 120,
});

/** Per-worker settings used when a worker leaves them out. */
export const DEFAULT_WORKER_SETTINGS = Object.freeze({
  contextSize: 2048,
  maxTokens: 512,
  temperature: 0,
  parallel: 1,
  /** Whether a worker must call a tool before answering; `auto` lets the model decide. */
  toolChoice: "auto" as "auto" | "required",
});

/**
 * Most tokens per reply of a local (GGUF) planner when `planner.maxTokens` is absent. Plans and final answers are
 * sized to fit it (`validate` refuses an agent whose plan cannot).
 */
export const DEFAULT_LOCAL_PLANNER_MAX_TOKENS = 1024;

/** Escalation used when the YAML has no `escalation`: one repair turn, then the planner takes over. */
export const DEFAULT_ESCALATION: EscalationConfig = Object.freeze({ retries: 1, to: "planner" });

/** GPU backend used when `device.gpu` is absent: let node-llama-cpp pick the best available. */
export const DEFAULT_GPU: GpuSetting = "auto";

/** Options the built-in tools get for the keys their YAML entry leaves out (the tools layer owns them). */
export const DEFAULT_TOOL_OPTIONS = BUILTIN_TOOL_DEFAULTS;

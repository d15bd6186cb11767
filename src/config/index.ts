/**
 * Agent definitions: the YAML loader with line:col errors, `defineAgent` for definitions in code, model
 * references, and the JSON Schema of the format for editors.
 */

export { closestMatch, didYouMean, editDistance } from "../suggest.js";
export {
  type AgentInput,
  agentInputSchema,
  REMOTE_WORKER_MESSAGE,
  type ValidatedAgentInput,
} from "./agentSchema.js";
export {
  DEFAULT_ESCALATION,
  DEFAULT_GPU,
  DEFAULT_LIMITS,
  DEFAULT_TOOL_OPTIONS,
  DEFAULT_WORKER_SETTINGS,
} from "./defaults.js";
export {
  type AgentValidation,
  type AnswerOf,
  type DefineAgentInput,
  type DefineAgentOptions,
  type DefineWorkerInput,
  defineAgent,
  type SchemaOutput,
  validateAgentValue,
  type WorkerAnswerOf,
  type WorkerAnswersOf,
} from "./defineAgent.js";
export { formatIssuePath, type PathSegment, type RawIssue } from "./issues.js";
export { agentJsonSchema } from "./jsonSchema.js";
export {
  type LoadAgentOptions,
  loadAgent,
  type ModelFileCheck,
  type ParseAgentOptions,
  parseAgent,
} from "./loadAgent.js";
export { MEMORY_SIZE_PATTERN, parseMemorySize } from "./memory.js";
export { FIXTURE_SIZES, isLocalModelRef, type ParseModelRefOptions, parseModelRef } from "./modelRef.js";
export { BUILTIN_TOOLS, HTTP_METHODS } from "./toolSchema.js";

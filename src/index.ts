/**
 * edgecrew's public API. Importing it loads neither node-llama-cpp nor LangChain: those load on first use of a
 * local model or a planner (`createCrew`).
 *
 * @example
 * import { createCrew } from "edgecrew";
 * await using crew = await createCrew("agents/offline-demo.yaml");
 * const result = await crew.run("Plan a weekend trip").result;
 */

export {
  type AnswerOf,
  agentJsonSchema,
  type DefineAgentInput,
  type DefineAgentOptions,
  type DefineWorkerInput,
  defineAgent,
  type LoadAgentOptions,
  loadAgent,
  type ModelFileCheck,
  type ParseAgentOptions,
  type ParseModelRefOptions,
  parseAgent,
  parseModelRef,
  type SchemaOutput,
  type WorkerAnswerOf,
  type WorkerAnswersOf,
} from "./config/index.js";
export {
  type Crew,
  type CrewOptions,
  type CrewRunOptions,
  createCrew,
  defaultRunDir,
  readAgentFile,
} from "./crew.js";
export {
  AbortError,
  AgentDefinitionError,
  type DefinitionIssue,
  DisposedError,
  EdgecrewError,
  type ErrorCode,
  ErrorCodes,
  type ErrorContext,
  type ErrorInfo,
  errorFromInfo,
  formatIssue,
  isAbortError,
  isAgentDefinitionError,
  isDisposedError,
  isEdgecrewError,
  isErrorInfo,
  isModelError,
  isPlanError,
  isValidationError,
  ModelError,
  PlanError,
  ValidationError,
} from "./errors.js";
/** Whether an event is streamed text (`*.delta`, opt-in): delivered live, never stored. */
export { isTransientEvent } from "./runtime/EventHub.js";
export type { Run, RunEventListener } from "./runtime/index.js";
export { FileRunStore, type FileRunStoreOptions, MemoryRunStore } from "./runtime/store/index.js";
export { type CompiledSchema, compileSchema, describeSchema, type ValidationResult } from "./schema/index.js";
export {
  type AnyTool,
  type ApprovalCallback,
  type ApprovalRequest,
  defineTool,
  type FromLangChainToolOptions,
  fromLangChainTool,
  type LangChainTool,
  type ProvidedTool,
  type Tool,
  type ToolDefinition,
  ToolRegistry,
  type ToolRegistryOptions,
} from "./tools/index.js";
export type * from "./types.js";

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
  agentJsonSchema,
  defineAgent,
  type LoadAgentOptions,
  loadAgent,
  parseAgent,
  parseModelRef,
} from "./config/index.js";
export { type Crew, type CrewOptions, type CrewRunOptions, createCrew, defaultRunDir } from "./crew.js";
export {
  AbortError,
  AgentDefinitionError,
  type DefinitionIssue,
  DisposedError,
  EdgecrewError,
  type ErrorCode,
  ErrorCodes,
  type ErrorInfo,
  formatIssue,
  isAbortError,
  isAgentDefinitionError,
  isDisposedError,
  isEdgecrewError,
  isModelError,
  isPlanError,
  isValidationError,
  ModelError,
  PlanError,
  ValidationError,
} from "./errors.js";
export type { Run, RunEventListener } from "./runtime/index.js";
export { FileRunStore, MemoryRunStore } from "./runtime/store/index.js";
export { compileSchema, describeSchema } from "./schema/index.js";
export {
  type ApprovalRequest,
  defineTool,
  fromLangChainTool,
  type Tool,
  type ToolDefinition,
  ToolRegistry,
} from "./tools/index.js";
export type * from "./types.js";

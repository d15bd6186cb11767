/**
 * Local models for edgecrew: the model manager, the worker port on local GGUF models, the LangChain chat model
 * used as a local planner, and the GGUF and schema helpers they share. This is the only entry that loads
 * node-llama-cpp; the package root imports it lazily (`await import()`), on first use of a local model.
 */
export {
  type AgentMemoryEstimate,
  type AgentMemoryOptions,
  DEFAULT_PLANNER_CONTEXT_SIZE,
  estimateAgentMemory,
  type ModelMemoryRow,
} from "./agentMemory.js";
export {
  type ChatModelTool,
  ChatNodeLlamaCpp,
  type ChatNodeLlamaCppCallOptions,
  type ChatNodeLlamaCppFields,
  type StructuredOutputSchema,
} from "./ChatNodeLlamaCpp.js";
export { formatBytes } from "./formatBytes.js";
export { inspectModelFile, type ModelFileInfo } from "./ggufCheck.js";
export {
  DEFAULT_GRAMMAR_MAX_ENUM_RANGE,
  DEFAULT_GRAMMAR_MAX_LENGTH,
  GRAMMAR_MAX_ITEMS,
  GRAMMAR_MAX_STRING_LENGTH,
  type GrammarSchemaOptions,
  type GrammarSchemaResult,
  toGrammarSchema,
} from "./grammarSchema.js";
export { createLocalWorkers, LocalWorker, type LocalWorkersOptions } from "./LocalWorker.js";
export {
  type LlamaRuntime,
  type LlamaRuntimeOptions,
  parseCpuinfoCores,
  physicalCoreCount,
  resolveThreads,
  startLlama,
} from "./llamaRuntime.js";
export {
  type AcquireOptions,
  MAX_SEQUENCES,
  ModelManager,
  type ModelManagerOptions,
  type ModelRequirements,
  type ResidentModel,
  type SequenceLease,
} from "./ModelManager.js";
export {
  estimateModelMemory,
  type MemoryEstimate,
  type MemoryEstimateRequest,
  machineMemoryBytes,
} from "./memoryEstimate.js";
export {
  type EvictionCandidate,
  type Peak,
  type PeakModel,
  peakMemory,
  planRoom,
  type RoomPlan,
  type RoomRequest,
} from "./memoryPolicy.js";
export { defaultModelsDir, type ResolveModelOptions, resolveModelPath } from "./resolveModel.js";

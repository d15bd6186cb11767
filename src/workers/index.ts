/**
 * Local models for edgecrew: the model manager, the worker port on local GGUF models, the LangChain chat model
 * used as a local planner, the turn grammars they generate under, and the GGUF helpers they share. This is the only entry that loads
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
export { callSyntaxOf } from "./callSyntax.js";
export {
  cosineSimilarity,
  EMBEDDING_CONTEXT_SIZE,
  EmbeddingRanker,
  type EmbeddingRankOptions,
  embedText,
  rankByEmbeddings,
} from "./embeddingRanker.js";
export { formatBytes } from "./formatBytes.js";
export { inspectLoraFile, inspectModelFile, type LoraFileInfo, type ModelFileInfo } from "./ggufCheck.js";
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
  type EmbeddingAcquireOptions,
  type EmbeddingLease,
  embeddingModelKey,
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
export {
  type CallableTool,
  type CallSyntax,
  compileTurnGrammar,
  type ParsedTurn,
  parseTurn,
  type TurnGrammar,
  type TurnSpec,
} from "./turnGrammar.js";

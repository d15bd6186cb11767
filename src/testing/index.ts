/**
 * `edgecrew/testing`: what edgecrew's own tests use, for users' tests too. Generated fixture GGUF models
 * (tiny, seeded, deterministic llama models that real node-llama-cpp loads), the GGUF writer behind them,
 * and a scripted LangChain chat model for testing planners offline.
 */
export {
  CHATML_CHAT_TEMPLATE,
  type CreateFixtureModelOptions,
  createFixtureModel,
  defaultFixtureCacheDir,
  FIXTURE_GENERATOR_VERSION,
  FIXTURE_MODEL_CONFIGS,
  type FixtureModelConfig,
  type FixtureModelFile,
  type FixtureModelRef,
  type FixtureVocabulary,
  fixtureFileName,
  fixtureGgufDocument,
  fixtureModelBytes,
  fixtureVocabulary,
  type ResolveFixtureModelOptions,
  resolveFixtureModel,
} from "./fixtureModel.js";
export {
  encodeGguf,
  type GgufArrayItemType,
  type GgufDocument,
  type GgufLayout,
  type GgufTensor,
  type GgufTensorPlacement,
  type GgufTensorType,
  type GgufValue,
  type GgufWriteResult,
  planGgufLayout,
  writeGgufFile,
} from "./gguf/ggufWriter.js";
export {
  type ScriptedCallInfo,
  type ScriptedCallRecord,
  ScriptedChatModel,
  type ScriptedChatModelCallOptions,
  type ScriptedChatModelOptions,
  type ScriptedMessage,
  type ScriptedReply,
  type ScriptedReplyFunction,
  type ScriptedReplyValue,
  type ScriptedToolCall,
} from "./scriptedChatModel.js";

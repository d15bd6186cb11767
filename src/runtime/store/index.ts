/**
 * Run stores: where a run's events, plans, results, snapshot, tool journal and outcome are kept so that a run
 * survives a crash and can be resumed. `FileRunStore` is the durable one; `MemoryRunStore` keeps runs for the
 * life of the process. Both pass the conformance suite in tests/helpers/runStoreConformance.ts (a test helper:
 * it imports vitest, so it stays out of the library's import path).
 */
export { FileRunStore, type FileRunStoreOptions, type FileStoredRun } from "./FileRunStore.js";
export { MemoryRunStore } from "./MemoryRunStore.js";
export {
  isSafeRunId,
  MAX_RUN_ID_LENGTH,
  RUN_ID_PATTERN,
  type StoreFailureReason,
} from "./storeErrors.js";
export { foldToolJournal } from "./storeRules.js";

/**
 * Every run store edgecrew ships passes the same conformance suite: the file store in a fresh temporary
 * directory per test, and the memory store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileRunStore, MemoryRunStore } from "../../../src/runtime/store/index.js";
import { describeRunStoreConformance } from "../../helpers/runStoreConformance.js";

describeRunStoreConformance("FileRunStore", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edgecrew-store-"));
  // A root that does not exist yet: the store creates it on the first run.
  return {
    store: new FileRunStore({ root: join(dir, "runs") }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeRunStoreConformance("MemoryRunStore", async () => ({
  store: new MemoryRunStore(),
  cleanup: async () => {},
}));

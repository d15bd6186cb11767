/**
 * A temporary directory per test file for crew tests: `root` (for the files a test writes), `fixtures` (the
 * fixture model cache) and `runs` (the run store), made before the file's tests and removed after them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

export interface TestDirs {
  readonly root: string;
  readonly fixtures: string;
  readonly runs: string;
}

/** Registers the file's beforeAll/afterAll; the fields are set once beforeAll has run (then `setup(root)`). */
export function useTestDirs(prefix: string, setup?: (root: string) => Promise<void>): TestDirs {
  const dirs = { root: "", fixtures: "", runs: "" };
  beforeAll(async () => {
    dirs.root = await mkdtemp(join(tmpdir(), prefix));
    dirs.fixtures = join(dirs.root, "fixtures");
    dirs.runs = join(dirs.root, "runs");
    await setup?.(dirs.root);
  });
  afterAll(async () => {
    if (dirs.root !== "") await rm(dirs.root, { recursive: true, force: true });
  });
  return dirs;
}

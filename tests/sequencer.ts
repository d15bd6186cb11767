/**
 * Longest test files first. The model and e2e tiers run two files at a time, and a few files take minutes (chaos,
 * the family worker paths, resume); if one of them starts last, the other worker idles while it runs. Vitest
 * orders by the durations in its own cache, which a clean clone (CI) does not have, and then falls back to file
 * size, which says little here (a short file can spawn minutes of child processes). So the durations of the last
 * full run are committed in tests/durations.json (`npm run test:durations` rewrites it from vitest's cache) and
 * used where the cache has none; files in neither run first, as vitest runs unknown files.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const COMMITTED = new URL("./durations.json", import.meta.url);

function committedDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(COMMITTED, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const committed = committedDurations();
    const key = (file: TestSpecification) =>
      `${file.project.name}:${relative(this.ctx.config.root, file.moduleId).replaceAll("\\", "/")}`;
    const known = (file: TestSpecification) => {
      const cached = this.ctx.cache.getFileTestResults(key(file));
      return {
        failed: cached?.failed ?? false,
        ms: cached?.duration ?? (committed[key(file)] ?? Infinity) * 1000,
      };
    };
    return [...files].sort((a, b) => {
      const group = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (group !== 0) return group;
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1;
      const [ka, kb] = [known(a), known(b)];
      if (ka.failed !== kb.failed) return ka.failed ? -1 : 1;
      if (ka.ms === kb.ms) return 0;
      return ka.ms === Infinity ? -1 : kb.ms === Infinity ? 1 : kb.ms - ka.ms;
    });
  }
}

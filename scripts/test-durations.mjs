// `npm run test:durations`: writes tests/durations.json (seconds per test file, keyed "project:path") from the
// durations vitest cached for its last run, so that a clean clone runs the longest files first
// (tests/sequencer.ts). Run it after a full `npm test` on a quiet machine.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const cacheRoot = "node_modules/.vite/vitest";
const results = readdirSync(cacheRoot, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join(cacheRoot, entry.name, "results.json"))
  .flatMap((path) => {
    try {
      return [JSON.parse(readFileSync(path, "utf8"))];
    } catch {
      return [];
    }
  });
if (results.length === 0) {
  console.error(`no vitest results under ${cacheRoot}: run npm test first`);
  process.exit(1);
}
const durations = {};
for (const { results: entries } of results)
  for (const [key, { duration }] of entries) durations[key] = Math.round(duration / 100) / 10;
const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync("tests/durations.json", `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`tests/durations.json: ${Object.keys(sorted).length} files`);

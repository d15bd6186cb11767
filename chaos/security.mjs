// The "security" section of `npm run chaos` (issue 12): replays each attack of the security review against the
// built package and CLI, one module per area under chaos/security/, and reports it held or broken. Each module
// exports `attacks({ scratch, log })` → `[{ attack, result: "held" | "broken", detail }]`; a module that throws
// counts as one broken row (an attack that cannot be replayed proves nothing).
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const AREAS = [
  ["shell", "./security/shell.mjs"],
  ["fs", "./security/fs.mjs"],
  ["calculator, http", "./security/calcHttp.mjs"],
  ["run directories, secrets", "./security/runs.mjs"],
];

export async function securityAttacks({ scratch, log }) {
  const cases = [];
  for (const [area, file] of AREAS) {
    const dir = join(scratch, `security-${area.replace(/[^a-z]+/g, "-")}`);
    mkdirSync(dir, { recursive: true });
    const started = performance.now();
    let rows;
    try {
      rows = await (await import(file)).attacks({ scratch: dir, log });
    } catch (error) {
      rows = [
        { attack: `${area}: the replay itself`, result: "broken", detail: `threw: ${error?.stack ?? error}` },
      ];
    }
    log(`security: ${area}: ${rows.filter((row) => row.result === "held").length}/${rows.length} held`);
    for (const row of rows) {
      cases.push({
        area,
        name: row.attack,
        result: row.result,
        detail: row.detail,
        pass: row.result === "held",
        problems: row.result === "held" ? [] : [row.detail],
        areaMs: Math.round(performance.now() - started),
      });
    }
  }
  return { cases };
}

// Regenerates docs/images/report.png, the README's picture of `edgecrew inspect <runId> --html <file>`. Runs the
// offline demo's workers (real inference on fixture models) with a scripted planner, so the plan is a fixed
// diamond (s1 → s2, s3 → s4) and the picture shows a DAG with edges and two subtasks in parallel on every run;
// then the built CLI writes the run's HTML report and headless chromium screenshots it.
// Needs the build (`npx tsc -p tsconfig.build.json` or `npm run build`) and `chromium` (`apt-get install chromium`).
// Usage: node scripts/report-screenshot.mjs [out.png]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createCrew, loadAgent } from "../dist/index.js";
import { ScriptedChatModel } from "../dist/testing/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(process.argv[2] ?? join(root, "docs/images/report.png"));
const work = mkdtempSync(join(tmpdir(), "edgecrew-report-shot-"));
const runDir = join(work, "runs");
const MAX_BYTES = 300 * 1024;

const plan = {
  subtasks: [
    { id: "s1", worker: "researcher", instruction: "Pick two mountain destinations.", dependsOn: [] },
    {
      id: "s2",
      worker: "scheduler",
      instruction: "Plan two days around {{s1.answer.places}}.",
      dependsOn: ["s1"],
    },
    {
      id: "s3",
      worker: "budgeter",
      instruction: "Estimate a day at {{s1.answer.places}}.",
      dependsOn: ["s1"],
    },
    {
      id: "s4",
      worker: "scheduler",
      instruction: "Fit {{s2.answer.days}} into {{s3.answer.perDay}} a day.",
      dependsOn: ["s2", "s3"],
    },
  ],
};
const planner = new ScriptedChatModel([
  JSON.stringify(plan),
  JSON.stringify({ decision: { answer: "Two days in the mountains, within budget." } }),
]);
const agent = await loadAgent(join(root, "agents/offline-demo.yaml"));
const crew = await createCrew(agent, { planner, plannerLabel: "scripted:planner", runDir });
let run;
try {
  run = await crew.run("Plan a weekend trip to the mountains").result;
} finally {
  await crew.dispose();
}
if (run.status !== "completed") throw new Error(`the run ${run.status}: ${run.error?.message ?? ""}`);

function edgecrew(args) {
  const result = spawnSync(process.execPath, [join(root, "bin/edgecrew.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (result.status !== 0) throw new Error(`edgecrew ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

const chosen = { runId: run.runId };
const html = join(work, "report.html");
edgecrew(["inspect", chosen.runId, "--run-dir", runDir, "--html", html]);
const profile = join(work, "profile");
const shot = spawnSync(
  "chromium",
  [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    `--user-data-dir=${profile}`,
    "--window-size=1280,1100",
    `--screenshot=${out}`,
    pathToFileURL(html).href,
  ],
  { encoding: "utf8" },
);
if (shot.status !== 0) throw new Error(`chromium failed (is it installed?):\n${shot.stderr}`);
const bytes = statSync(out).size;
rmSync(work, { recursive: true, force: true });
process.stdout.write(`wrote ${out} (${Math.round(bytes / 1024)} kB) from run ${chosen.runId}\n`);
if (bytes > MAX_BYTES) {
  process.stderr.write(`${out} is over ${MAX_BYTES / 1024} kB: too big to commit\n`);
  process.exitCode = 1;
}

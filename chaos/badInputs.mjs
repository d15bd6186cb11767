// Bad inputs: broken GGUF files (truncated, missing metadata, unknown or mislabelled architecture), a run
// directory that cannot be created, a full disk, and an aborted run (SIGINT). Each must end with a typed error:
// exit 1 or 2 (130 for SIGINT), a clear error line, no signal death, no hang, nothing lost in the run directory.
import { mkdirSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createFixtureModel, fixtureGgufDocument, writeGgufFile } from "../dist/testing/index.js";
import { diskFull } from "./diskFull.mjs";
import { agentFile, badCase, cli, TASK } from "./lib.mjs";

export async function badInputs({ scratch, log }) {
  const started = performance.now();
  const bad = join(scratch, "bad");
  mkdirSync(bad);

  /** An agent whose planner is the given local GGUF (so `run` reaches it first) and one fixture worker. */
  function agentWithModel(name, modelPath) {
    const file = join(bad, `${name}.yaml`);
    writeFileSync(
      file,
      [
        `name: ${name}`,
        "description: An agent with a broken model file",
        "planner:",
        `  model: ${modelPath}`,
        "workers:",
        "  - name: researcher",
        "    description: Finds facts",
        "    model: fixture:researcher?seed=11",
        "    output: { type: object, properties: { a: { type: string } }, required: [a], additionalProperties: false }",
        "device: { memory: 1GiB, threads: 1, gpu: false }",
        "",
      ].join("\n"),
    );
    return file;
  }

  const doc = fixtureGgufDocument({ name: "chaos", seed: 3, size: "tiny" });
  const truncated = join(bad, "truncated.gguf");
  await createFixtureModel({ seed: 3, size: "tiny", name: "chaos", path: truncated });
  truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
  const noFfn = join(bad, "no-ffn.gguf");
  await writeGgufFile(noFfn, {
    ...doc,
    metadata: doc.metadata.filter(([key]) => key !== "llama.feed_forward_length"),
  });
  // An architecture llama.cpp does not know, with every hyper-parameter present under its name: the header
  // check passes, so this reaches llama.cpp itself.
  const wrongArch = join(bad, "wrong-arch.gguf");
  await writeGgufFile(wrongArch, {
    ...doc,
    metadata: doc.metadata.map(([key, value]) =>
      key === "general.architecture"
        ? [key, { type: "string", value: "chaosarch" }]
        : [key.startsWith("llama.") ? `chaosarch.${key.slice(6)}` : key, value],
    ),
  });
  // An architecture string llama.cpp knows, on a llama file: the qwen2.* keys are all missing.
  const mislabelled = join(bad, "mislabelled-arch.gguf");
  await writeGgufFile(mislabelled, {
    ...doc,
    metadata: doc.metadata.map(([key, value]) =>
      key === "general.architecture" ? [key, { type: "string", value: "qwen2" }] : [key, value],
    ),
  });

  const cases = [];
  for (const [name, path] of [
    ["truncated GGUF", truncated],
    ["GGUF without llama.feed_forward_length", noFfn],
    ["GGUF of an unknown architecture (chaosarch)", wrongArch],
    ["llama GGUF labelled qwen2", mislabelled],
  ]) {
    const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
    const file = agentWithModel(slug.replace(/^-|-$/g, "").slice(0, 40), path);
    cases.push(
      await badCase(`validate: ${name}`, ["validate", file], {
        codes: [2],
        pattern: /:\d+:\d+: planner\.model/,
      }),
    );
    const runDir = join(bad, `runs-${slug}`);
    const run = await badCase(`run: ${name}`, ["run", file, "--run-dir", runDir, TASK], { codes: [1, 2] });
    cases.push(run);
  }

  // A read-only run directory: as root chmod does not stop writes, so the run directory's parent is a FILE and
  // every mkdir below it fails with ENOTDIR.
  const notADir = join(bad, "not-a-directory");
  writeFileSync(notADir, "a file, not a directory\n");
  cases.push(
    await badCase(
      "run: run directory cannot be created (parent is a file)",
      ["run", agentFile, "--run-dir", join(notADir, "runs"), TASK],
      { codes: [1] },
    ),
  );
  {
    const r = await cli(["run", agentFile, "--run-dir", join(notADir, "runs"), "--json", TASK], {
      timeoutMs: 60_000,
    });
    let code;
    try {
      code = JSON.parse(r.stdout).error?.code;
    } catch {}
    const pass = r.signal === null && !r.timedOut && r.code === 1 && code === "RUN_STORE_FAILED";
    cases.push({
      name: "run --json: run directory cannot be created → RUN_STORE_FAILED",
      code: r.code,
      signal: r.signal,
      ms: r.ms,
      stderr: code ?? r.stderr.trim().split("\n")[0] ?? "",
      pass,
      problems: pass ? [] : [`exit ${r.code}, error code ${code}`],
    });
  }

  // An aborted run: SIGINT while a subtask runs → exit 130, and the run stays on disk, stored as cancelled.
  {
    const runDir = join(bad, "runs-sigint");
    const aborted = await badCase(
      "run: SIGINT during a subtask → exit 130",
      ["run", agentFile, "--run-dir", runDir, TASK],
      {
        codes: [130],
        onLine: (line, _n, kill) => {
          if (/^▶ s\d+ /.test(line)) kill("SIGINT");
        },
      },
    );
    if (aborted.code === 130 && aborted.runId !== undefined) {
      // Nothing lost: the interrupted run is on disk with its status.
      const inspect = await cli(["inspect", aborted.runId, "--run-dir", runDir, "--json"]);
      try {
        aborted.storedStatus = JSON.parse(inspect.stdout).status;
      } catch {
        aborted.problems.push(`inspect after SIGINT exited ${inspect.code}`);
      }
      const resumed = await cli(["resume", aborted.runId, "--run-dir", runDir, "--json"], {
        timeoutMs: 120_000,
      });
      try {
        aborted.resumedStatus = JSON.parse(resumed.stdout).status;
      } catch {}
      // A cancelled run is final: resume reports it (informational), it does not run it again.
      if (aborted.storedStatus !== "cancelled")
        aborted.problems.push(`the interrupted run is stored as ${aborted.storedStatus}, not cancelled`);
      aborted.stderr += ` → stored as ${aborted.storedStatus}, resume ${aborted.resumedStatus}`;
      aborted.pass = aborted.problems.length === 0;
    }
    cases.push(aborted);
  }

  cases.push(...(await diskFull({ scratch, log })));
  return { cases, ms: Math.round(performance.now() - started) };
}

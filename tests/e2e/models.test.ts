/**
 * `edgecrew models estimate` and `models list` through the built CLI (run `npm run build` first, as
 * `npm run test:e2e` does). Fixture models are generated into a temporary cache, never the user's.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

let env: Record<string, string>;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-models-"));
  env = { EDGECREW_CACHE_DIR: join(dir, "cache"), EDGECREW_MODELS_DIR: join(dir, "models") };
});

const DEMO_MODELS = [
  "fixture:planner?seed=7&size=tiny",
  "fixture:researcher?seed=11",
  "fixture:scheduler?seed=23",
  "fixture:budgeter?seed=5",
];

function agentFile(memory: string): string {
  const file = join(dir, `agent-${memory}.yaml`);
  writeFileSync(
    file,
    `name: tight
description: d
planner: { model: "openai:gpt-4o-mini" }
workers:
  - { name: a, description: d, model: "fixture:a?seed=1&size=small", parallel: 2 }
  - { name: b, description: d, model: "fixture:b?seed=2" }
device: { memory: ${memory}, gpu: false, threads: 1 }
`,
  );
  return file;
}

describe("edgecrew models (child process)", () => {
  it("estimates the offline demo: a row per local model and a peak that fits, exit 0", async () => {
    const result = await runCli(["models", "estimate", "agents/offline-demo.yaml"], { env });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    for (const model of DEMO_MODELS) {
      expect(lines.some((line) => line.startsWith(`${model} `) && /MiB\s+yes$/.test(line))).toBe(true);
    }
    expect(result.stdout).toMatch(
      /^peak [\d.]+ MiB \(the 2 largest models .*\) of device\.memory 1\.0 GiB: fits$/m,
    );
  });

  it("prints JSON with --json", async () => {
    const result = await runCli(["models", "estimate", "agents/offline-demo.yaml", "--json"], { env });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      models: { model: string; estimatedBytes: number; fileBytes: number; fits: boolean }[];
      peakBytes: number;
      peakModels: string[];
      fits: boolean;
    };
    expect(report.models.map((m) => m.model)).toEqual(DEMO_MODELS);
    for (const model of report.models) {
      expect(model.estimatedBytes).toBeGreaterThan(model.fileBytes);
      expect(model.fits).toBe(true);
    }
    const [first, second] = report.models.map((m) => m.estimatedBytes).sort((x, y) => y - x);
    expect(report.peakBytes).toBe((first ?? 0) + (second ?? 0));
    expect(report.fits).toBe(true);
  });

  it("exits 1 when the peak does not fit device.memory, and says whether the models fit alone", async () => {
    const tight = await runCli(["models", "estimate", agentFile("32MiB")], { env });
    expect(tight.code).toBe(1);
    expect(tight.stdout).toMatch(/: does not fit$/m);
    expect(tight.stdout).toContain("every model fits alone");

    const tiny = await runCli(["models", "estimate", agentFile("1MB")], { env });
    expect(tiny.code).toBe(1);
    expect(tiny.stdout).toMatch(/NO$/m);
    expect(tiny.stdout).toContain("does not fit even alone");
  });

  it("exits 2 for an invalid definition, with file:line:col", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "name: t\ndescription: d\nplanner: { model: 'openai:gpt-4o-mini' }\nworkers: [\n");
    const result = await runCli(["models", "estimate", file], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad\.yaml:\d+:\d+: /);
  });

  it("has --help with an example, and lists the generated fixture files", async () => {
    const help = await runCli(["models", "estimate", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("edgecrew models estimate agents/offline-demo.yaml");
    const list = await runCli(["models", "list"], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`fixtures (${join(dir, "cache", "fixtures")}):`);
    expect(list.stdout).toMatch(/planner-tiny-s7\.gguf\s+513\.7 KiB/);
  });
});

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ANSI, runCli, runInPty as runPty } from "./cli.js";

const cacheDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-cache-"));
const runDir = mkdtempSync(join(tmpdir(), "edgecrew-e2e-runs-"));
const ESC = "\x1b";
const runInPty = (args: readonly string[]) => runPty(args, { env: { EDGECREW_CACHE_DIR: cacheDir } });

describe("edgecrew run: live progress on a TTY", () => {
  it("redraws the plan tree in place, then prints the summary and shows the cursor again", async () => {
    const result = await runInPty([
      "run",
      "agents/offline-demo.yaml",
      "--run-dir",
      runDir,
      "Plan a weekend trip to the mountains",
    ]);
    expect(result.code).toBe(0);
    const out = result.output.replace(/\r/g, "");
    expect(out).toContain(`${ESC}[?25l`);
    expect(out).toMatch(new RegExp(`${ESC}\\[\\d+F${ESC}\\[0J`));
    const text = out.replace(ANSI, "");
    expect(text).toMatch(/^ {2}✓ s1 \S+ · fixture:\S+ {2}\d+\+\d+ tok · \d+ ms/m);
    expect(text).toMatch(/^plan \(\d+ subtasks?\):$/m);
    expect(text).toMatch(/^models:$/m);
    expect(text).toMatch(/^completed in [\d.]+ s · (\d+)\/\1 done · \d+\+\d+ tokens$/m);
    expect(text).toMatch(/^answer: /m);
    expect(text).toMatch(/^completed in [\d.]+ s \(run /m);
    // The cursor is shown again, after the last time it was hidden.
    expect(out.lastIndexOf(`${ESC}[?25h`)).toBeGreaterThan(out.lastIndexOf(`${ESC}[?25l`));
    // Every line of the frame fits the terminal.
    for (const line of text.split("\n")) {
      if (line.startsWith("answer:")) break;
      expect(Array.from(line).length).toBeLessThanOrEqual(100);
    }
  });

  it("--json on a TTY prints only the JSON result, no ANSI", async () => {
    const result = await runInPty([
      "run",
      "agents/offline-demo.yaml",
      "--run-dir",
      runDir,
      "--json",
      "Lisbon",
    ]);
    expect(result.code).toBe(0);
    expect(result.output).not.toContain(ESC);
    expect(JSON.parse(result.output.replace(/\r/g, "")).status).toBe("completed");
  });

  it("prints plain line-per-event output with no ANSI escape when stdout is not a TTY", async () => {
    const result = await runCli(["run", "agents/offline-demo.yaml", "--run-dir", runDir, "A day in Porto"], {
      env: { EDGECREW_CACHE_DIR: cacheDir, TERM: "xterm", COLUMNS: "100" },
    });
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(ESC);
    expect(result.stdout).toMatch(/^✓ s1 \[\S+\] /m);
    expect(result.stdout).toMatch(/^completed in [\d.]+ s \(run /m);
  });
});

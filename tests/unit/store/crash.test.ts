/**
 * kill -9 loses nothing: a child process writes to a run through FileRunStore and is killed with SIGKILL at
 * arbitrary points, several times over, each time continuing the same run. Every write it acknowledged must
 * load back, what loads must be intact and in order, and the next writer must carry on cleanly after whatever
 * torn line the kill left.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileRunStore } from "../../../src/runtime/store/FileRunStore.js";
import { fixtureEvent, fixtureMeta } from "../../helpers/storeFixtures.js";
import { BIG, HUGE } from "./appendLoop.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const childModule = join(here, "appendLoop.ts");
// Node 20 cannot run TypeScript itself; vite (a dev dependency already) transpiles the child's modules.
const BOOT = `
const { runnerImport } = await import("vite");
const [, modulePath, root, runId, mode] = process.argv;
const { module } = await runnerImport(modulePath, { configFile: false, logLevel: "silent" });
await module.main(root, runId, mode);
`;

interface Killed {
  /** The sequence numbers the child acknowledged before it was killed. */
  readonly acked: readonly number[];
  readonly signal: NodeJS.Signals | null;
}

/**
 * Runs the writer child in `mode` and SIGKILLs it `extraMs` after the first stdout line for which `killOn`
 * (given the line and the acknowledgements so far) says so.
 */
function runAndKill(
  root: string,
  runId: string,
  mode: "loop" | "huge",
  killOn: (line: string, acked: readonly number[]) => boolean,
  extraMs: number,
): Promise<Killed> {
  return new Promise((done, fail) => {
    const args = ["--input-type=module", "-e", BOOT, childModule, root, runId, mode];
    const child: ChildProcess = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const acked: number[] = [];
    let stderr = "";
    let buffered = "";
    let killing = false;
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("ack ")) acked.push(Number(line.slice(4)));
        if (!killing && killOn(line, acked)) {
          killing = true;
          if (extraMs === 0) child.kill("SIGKILL");
          else setTimeout(() => child.kill("SIGKILL"), extraMs);
        }
      }
    });
    child.on("error", fail);
    child.on("exit", (_code, signal) => {
      if (!killing) fail(new Error(`the writer exited before it was killed:\n${stderr}`));
      else done({ acked: [...acked], signal });
    });
  });
}

describe("FileRunStore under SIGKILL", () => {
  let dir: string;
  let root: string;
  let store: FileRunStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgecrew-crash-"));
    root = join(dir, "runs");
    store = new FileRunStore({ root });
    await store.create(fixtureMeta("crashy"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps every acknowledged write through repeated kills, and the run stays loadable", async () => {
    const acked = new Set<number>();
    // Kill points vary: right on an acknowledgement, and a few milliseconds into the next writes.
    for (const [target, extraMs] of [
      [12, 0],
      [7, 3],
      [9, 11],
      [5, 1],
    ] as const) {
      const killed = await runAndKill(
        root,
        "crashy",
        "loop",
        (_line, seen) => seen.length >= target,
        extraMs,
      );
      expect(killed.signal).toBe("SIGKILL");
      // Each writer carried on where the previous one was killed.
      expect(Math.min(...killed.acked)).toBeGreaterThan(Math.max(0, ...acked));
      for (const seq of killed.acked) acked.add(seq);

      const run = await store.load("crashy");
      const seqs = run.events.map((event) => event.seq);
      // Intact and in order: exactly 1..n, nothing lost, duplicated or garbled in between.
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(seqs.length).toBeGreaterThanOrEqual(Math.max(...acked));
      for (const event of run.events) {
        if (event.type === "subtask.started" && event.seq % 5 === 0) expect(event.model).toHaveLength(BIG);
      }
      // Every stored event's intent was journaled before it; every acknowledged one's result is there too.
      const calls = new Map(run.toolJournal.map((entry) => [entry.callId, entry]));
      for (const seq of seqs) expect(calls.has(`${seq}:fs.write`)).toBe(true);
      for (const seq of acked)
        expect(calls.get(`${seq}:fs.write`)?.result).toEqual({ ok: true, output: seq });
      const lastSnapshot = Math.max(0, ...[...acked].filter((seq) => seq % 3 === 0));
      expect((run.snapshot as { seq?: number } | undefined)?.seq ?? 0).toBeGreaterThanOrEqual(lastSnapshot);
      // A torn line is tolerated only at the very end of a log, and reported.
      for (const warning of run.warnings) expect(warning).toMatch(/^(events|tools)\.jsonl:\d+: dropped/);
    }
  }, 60_000);

  it("a kill in the middle of a long append leaves at most a torn last line, which the next writer cuts", async () => {
    let tornSeen = 0;
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const killed = await runAndKill(root, "crashy", "huge", (line) => line.startsWith("writing "), 0);
      expect(killed.signal).toBe("SIGKILL");
      const run = await store.load("crashy");
      const seqs = run.events.map((event) => event.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(seqs.length).toBeGreaterThanOrEqual(Math.max(...killed.acked));
      const last = run.events.at(-1);
      if (last !== undefined && last.type === "subtask.started" && last.model.length > 100) {
        expect(last.model).toHaveLength(HUGE); // the append finished before the kill: whole, never partial
      }
      if (run.warnings.length > 0) {
        tornSeen += 1;
        expect(run.warnings).toEqual([
          expect.stringMatching(/^events\.jsonl:\d+: dropped an unterminated last line/),
        ]);
      }
      // This process is the next writer: its first append cuts the torn tail, and the log is clean again.
      const next = seqs.length + 1;
      await store.appendEvent("crashy", fixtureEvent("crashy", next));
      const after = await store.load("crashy");
      expect(after.warnings).toEqual([]);
      expect(after.events.map((event) => event.seq)).toEqual(Array.from({ length: next }, (_, i) => i + 1));
    }
    // Timing decides whether a kill tears the line; report how often it did, for whoever reads the test output.
    console.info(`torn last lines seen: ${tornSeen} of ${rounds} kills`);
  }, 60_000);
});

// `npm run bench:schemas -- --data <file.jsonl> [options]`: measures edgecrew's JSON Schema → GBNF compiler
// on a file in JSONSchemaBench's format (one `{id, split, schema, tests: [{description, valid, data}]}` per
// line) and prints, per split and overall: how many schemas compile (no throw, nothing `unsupported`), grammar
// completeness (valid test instances the grammar admits, invalid ones it already excludes; llama.cpp's grammar
// parser decides, the compiler's JS matcher cross-checks), empirical coverage (the JSONSchemaBench paper's
// metric: a fixture model decodes under the grammar with seeds 1..S, and ajv validates every output), compile
// time and grammar size; plus tokens/s under the grammar vs free decoding. Plain ESM over the built dist/.
//
// Options:
//   --data FILE         the JSONL file (required)
//   --out FILE          results JSON (default bench/results/schemas-<YYYY-MM-DD>.json)
//   --seeds N           generations per schema (default 3; 0 skips decoding)
//   --max-tokens N      token budget B of each generation (default 1024; the decoding grammar is
//                       compileGrammar(schema, { maxTokens: B })). When given, the completeness grammar is
//                       fitted to B too; otherwise it has default caps.
//   --max-budget N      a schema whose shortest output needs more than B tokens is decoded with the next power of
//                       two that fits, up to N (default 8192; as a user raises maxTokens when TOKEN_BUDGET_EXCEEDED
//                       names what a schema needs); results record it per schema and count it per split
//   --model REF         fixture:… reference or GGUF path (default fixture:tiny?seed=1, the toy fixture)
//   --only SPLIT        only this split (comma-separated list allowed)
//   --limit N           only the first N schemas (after --only)
//   --workers N         worker processes, one thread each (default: 2, at most the core count)
//   --schema-timeout S  a worker that spends longer on one schema is replaced and the schema recorded as
//                       timed out (default 300; the slowest schema of the sample takes about a minute)
//   --free-every K      free decoding (seed 1) on every K-th schema for the tokens/s comparison (default 1)
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_CAPS } from "../../dist/schema/grammar/index.js";
import { DEEP_CAPS, LARGE_CAPS } from "./completeness.mjs";
import { DEFAULT_MODEL, promptFor } from "./decode.mjs";
import { markdown, summarize } from "./summary.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const log = (...args) => console.error("[schemas]", ...args);

const { values: args } = parseArgs({
  options: {
    data: { type: "string" },
    out: { type: "string" },
    seeds: { type: "string", default: "3" },
    "max-tokens": { type: "string" },
    "max-budget": { type: "string", default: "8192" },
    model: { type: "string", default: DEFAULT_MODEL },
    only: { type: "string" },
    limit: { type: "string" },
    workers: { type: "string" },
    "schema-timeout": { type: "string", default: "300" },
    "free-every": { type: "string", default: "1" },
  },
});
if (args.data === undefined) {
  console.error(
    "usage: npm run bench:schemas -- --data <file.jsonl> [--out file] [--seeds N] [--max-tokens N] [--max-budget N]",
  );
  console.error(
    "       [--model ref] [--only split] [--limit n] [--workers n] [--schema-timeout s] [--free-every k]",
  );
  process.exit(2);
}
const integer = (name, text, min) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer ≥ ${min}, got ${text}`);
    process.exit(2);
  }
  return value;
};
const cores = availableParallelism();
const settings = {
  data: resolve(args.data),
  seeds: integer("seeds", args.seeds, 0),
  maxTokens: args["max-tokens"] === undefined ? 1024 : integer("max-tokens", args["max-tokens"], 1),
  completenessFitted: args["max-tokens"] !== undefined,
  model: args.model,
  freeEvery: integer("free-every", args["free-every"], 0),
};
settings.maxBudget = Math.max(settings.maxTokens, integer("max-budget", args["max-budget"], 1));
const workerCount = Math.min(
  args.workers === undefined ? Math.min(2, cores) : integer("workers", args.workers, 1),
  Math.max(1, cores),
);
const schemaTimeoutMs = integer("schema-timeout", args["schema-timeout"], 1) * 1000;
const date = new Date().toISOString().slice(0, 10);
const out = resolve(args.out ?? join(root, "bench", "results", `schemas-${date}.json`));

// ─── Input ──────────────────────────────────────────────────────────────────────────────────────────────

let entries = [];
for (const [i, line] of readFileSync(settings.data, "utf8").split("\n").entries()) {
  if (line.trim() === "") continue;
  try {
    entries.push(JSON.parse(line));
  } catch (error) {
    console.error(`${settings.data}:${i + 1}: not JSON: ${error.message}`);
    process.exit(2);
  }
}
if (args.only !== undefined) {
  const splits = new Set(args.only.split(","));
  entries = entries.filter((entry) => splits.has(entry.split));
}
if (args.limit !== undefined) entries = entries.slice(0, integer("limit", args.limit, 1));
if (entries.length === 0) {
  console.error("no schemas to measure");
  process.exit(2);
}

// ─── Workers ────────────────────────────────────────────────────────────────────────────────────────────

const records = new Array(entries.length);
// Largest schemas first (a proxy for cost), so that the slowest ones do not end up last on one worker.
const queue = entries.map((_, index) => index);
queue.sort((a, b) => JSON.stringify(entries[b].schema).length - JSON.stringify(entries[a].schema).length);
let done = 0;
let modelInfo;
const started = performance.now();
const loadBefore = loadavg();
const workerEnv = { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? "131072" };

function runWorker(slot) {
  return new Promise((resolveWorker) => {
    let child;
    let current;
    let timer;
    let dying;
    const spawnChild = () => {
      child = fork(join(here, "worker.mjs"), [], {
        env: workerEnv,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      child.on("message", onMessage);
      child.on("exit", onExit);
      child.send({ type: "init", settings });
    };
    const next = () => {
      const index = queue.shift();
      if (index === undefined) {
        current = undefined;
        child.removeListener("exit", onExit);
        child.send({ type: "exit" });
        resolveWorker();
        return;
      }
      current = { index, since: performance.now() };
      timer = setTimeout(() => {
        log(`worker ${slot}: ${entries[index].id} passed ${schemaTimeoutMs / 1000} s; replacing the worker`);
        finish(index, {
          id: entries[index].id,
          split: entries[index].split,
          ...current.partial,
          crash: {
            code: "TIMEOUT",
            phase: current.partial === undefined ? "compile/completeness" : "decoding",
          },
        });
        child.removeListener("message", onMessage);
        child.removeListener("exit", onExit);
        child.kill("SIGKILL");
        spawnChild();
      }, schemaTimeoutMs);
      child.send({ type: "job", index, position: index, entry: entries[index] });
    };
    const finish = (index, record) => {
      clearTimeout(timer);
      record.wallMs = performance.now() - current.since;
      record.testCount ??= entries[index].tests.length;
      records[index] = record;
      done++;
      log(`${done}/${entries.length} w${slot} ${progressLine(record)}`);
    };
    function onMessage(message) {
      if (message.type === "ready") {
        modelInfo ??= message.model;
        next();
      } else if (message.type === "result") {
        finish(message.index, message.record);
        next();
      } else if (message.type === "partial") {
        if (current?.index === message.index) current.partial = message.record;
      } else if (message.type === "dying") {
        dying = message.error;
      } else if (message.type === "fatal") {
        log(`worker ${slot} could not start: ${message.error.message}`);
        process.exit(1);
      }
    }
    function onExit(code, signal) {
      if (current === undefined) {
        log(`worker ${slot} exited before it was ready (${signal ?? `code ${code}`})`);
        process.exit(1);
      }
      const entry = entries[current.index];
      log(
        `worker ${slot} died on ${entry.id} (${signal ?? `code ${code}`}${dying === undefined ? "" : `: ${dying.message}`}); replacing it`,
      );
      finish(current.index, {
        id: entry.id,
        split: entry.split,
        ...current.partial,
        crash: {
          code: "WORKER_DIED",
          signal,
          exitCode: code,
          ...(dying === undefined ? {} : { error: dying }),
        },
      });
      dying = undefined;
      spawnChild();
    }
    spawnChild();
  });
}

function progressLine(record) {
  const parts = [record.id];
  if (record.crash !== undefined) parts.push(`CRASH ${record.crash.code}`);
  else {
    parts.push(
      record.compiled
        ? "compiled"
        : `NOT compiled (${record.compile?.error?.code ?? "unsupported keywords"})`,
    );
    const c = record.completeness;
    if (c !== undefined && c.validTotal !== undefined)
      parts.push(
        `valid ${c.validAdmitted}/${c.validTotal} invalid-excluded ${c.invalidExcluded}/${c.invalidTotal}`,
      );
    const d = record.decode;
    if (d !== undefined) {
      parts.push(
        d.fit.ok
          ? `outputs valid ${d.seeds.filter((s) => s.valid).length}/${d.seeds.length}`
          : `no decode (${d.fit.error.code})`,
      );
    }
  }
  parts.push(`${(record.wallMs / 1000).toFixed(1)} s`);
  return parts.join(" · ");
}

log(
  `${entries.length} schemas, ${workerCount} worker process(es), seeds ${settings.seeds}, B ${settings.maxTokens}, model ${settings.model}`,
);
await Promise.all(Array.from({ length: workerCount }, (_, slot) => runWorker(slot)));
const wallSeconds = (performance.now() - started) / 1000;

// ─── Results ────────────────────────────────────────────────────────────────────────────────────────────

const summary = summarize(records, settings.seeds);
const readVersion = (path) => JSON.parse(readFileSync(path, "utf8")).version;
const result = {
  benchmark: "edgecrew bench:schemas",
  date,
  wallSeconds,
  settings: {
    data: settings.data,
    schemas: entries.length,
    only: args.only ?? null,
    limit: args.limit === undefined ? null : Number(args.limit),
    seeds: settings.seeds,
    maxTokens: settings.maxTokens,
    completenessGrammar: settings.completenessFitted
      ? `compileGrammar(schema, { maxTokens: ${settings.maxTokens} })`
      : "compileGrammar(schema) with default caps",
    defaultCaps: DEFAULT_CAPS,
    recheckCaps: { large: LARGE_CAPS, deep: DEEP_CAPS },
    canonicalization:
      "property order canonicalized to the schema's declared order (then required-only names, then the rest as given); enum/const values spelled as the schema spells them; JSON.stringify, compact",
    completenessAuthority:
      "llama.cpp's grammar parser (LlamaGrammar#_testText, whole-text match); cross-check: builder.matches",
    decoding: {
      model: settings.model,
      ...modelInfo,
      api: "LlamaCompletion, one sequence, evaluated prompt prefix reused across seeds",
      temperature: 0.8,
      seeds: Array.from({ length: settings.seeds }, (_, i) => i + 1),
      grammar: `compileGrammar(schema, { maxTokens: ${settings.maxTokens} })`,
      maxBudget: settings.maxBudget,
      raisedBudget:
        "where the shortest output needs more than B, the next power of two ≥ that need (≤ maxBudget); per schema in decode.raised",
      prompt: promptFor({ "…": "schema" }).replace(
        '{"…":"schema"}',
        "<JSON.stringify(schema).slice(0, 2000)>",
      ),
      byteBan:
        "fixture byte tokens 0x80–0xFF banned for random-weight models unless the grammar requires non-ASCII (as the product does)",
      freeEvery: settings.freeEvery,
      validator: "compileSchema(schema).validate(JSON.parse(text))",
    },
    workers: workerCount,
    threadsPerWorker: 1,
    schemaTimeoutSeconds: schemaTimeoutMs / 1000,
  },
  versions: {
    node: process.version,
    edgecrew: readVersion(join(root, "package.json")),
    nodeLlamaCpp: readVersion(join(root, "node_modules", "node-llama-cpp", "package.json")),
    ajv: readVersion(join(root, "node_modules", "ajv", "package.json")),
  },
  machine: {
    cores,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    // Other work on the machine slows every figure here; the 1-minute load average before and after says how much.
    loadAverageBefore: loadBefore[0],
    loadAverageAfter: loadavg()[0],
  },
  ...summary,
  schemas: records,
};
await mkdir(dirname(out), { recursive: true });
await writeFile(`${out}.tmp`, `${JSON.stringify(result, null, 1)}\n`);
await rename(`${out}.tmp`, out);
console.log(markdown(result));
log(`wrote ${out} (${wallSeconds.toFixed(0)} s)`);

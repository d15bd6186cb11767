// Aggregation and the printed table of bench/schemas/run.mjs: per split and overall figures from the per-schema
// records the workers return, the failures behind them grouped by cause, and the tokens/s comparison.

function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? sorted[0];
}

const spread = (values) => ({
  p50: quantile(values, 0.5),
  p95: quantile(values, 0.95),
  max: values.length === 0 ? null : Math.max(...values),
  n: values.length,
});

const share = (count, total) => ({ count, total, percent: total === 0 ? null : (100 * count) / total });

/** Why a schema did not compile: the error code, or its `unsupported` keywords. */
function compileFailure(record) {
  if (record.compile === undefined) return { reason: `crash: ${record.crash?.code ?? "unknown"}` };
  if (record.compile.ok === false) {
    return { reason: record.compile.error.code, message: record.compile.error.message };
  }
  return {
    reason: "unsupported keywords",
    unsupported: record.compile.unsupported.map((item) => ({
      pointer: item.pointer,
      keyword: item.keyword,
      note: item.note,
    })),
  };
}

function figures(records, seeds) {
  const n = records.length;
  const ok = records.filter((record) => record.compile?.ok === true);
  let validTotal = 0;
  let validAdmitted = 0;
  let invalidTotal = 0;
  let invalidExcluded = 0;
  let capsRejections = 0;
  let otherRejections = 0;
  let instancesWithoutGrammar = 0;
  for (const record of records) {
    const c = record.completeness;
    if (c === undefined || c.validTotal === undefined) continue;
    validTotal += c.validTotal;
    validAdmitted += c.validAdmitted;
    invalidTotal += c.invalidTotal;
    invalidExcluded += c.invalidExcluded;
    capsRejections += c.rejected.filter((r) => r.kind === "caps").length;
    otherRejections += c.rejected.filter((r) => r.kind === "other").length;
  }
  for (const record of records) {
    if (record.completeness === undefined) instancesWithoutGrammar += record.testCount ?? 0;
  }
  let covered = 0;
  let generations = 0;
  let validGenerations = 0;
  for (const record of records) {
    const rows = record.decode?.seeds ?? [];
    const valid = rows.filter((row) => row.valid).length;
    if (record.compiled === true) validGenerations += valid;
    generations += seeds;
    // A schema that does not compile (a throw, or an `unsupported` keyword) counts as not covered.
    if (seeds > 0 && record.compiled === true && rows.length === seeds && valid === seeds) covered++;
  }
  return {
    n,
    compiled: share(records.filter((record) => record.compiled === true).length, n),
    completeness: {
      validAdmitted: share(validAdmitted, validTotal),
      invalidExcluded: share(invalidExcluded, invalidTotal),
      validRejectedByCaps: capsRejections,
      validRejectedOther: otherRejections,
      instancesOfSchemasWithoutGrammar: instancesWithoutGrammar,
    },
    coverage:
      seeds === 0
        ? null
        : {
            allSeeds: share(covered, n),
            generations: share(validGenerations, generations),
            // Schemas decoded with a budget raised past B to what their shortest output needs.
            raisedBudget: records.filter((record) => record.decode?.raised !== undefined).length,
          },
    compileMs: spread(ok.map((record) => record.compile.ms)),
    grammarKB: spread(ok.map((record) => record.compile.bytes / 1024)),
    rules: spread(ok.map((record) => record.compile.rules)),
  };
}

/** Groups items by `key(item)`: count, distinct schemas, up to five example schema ids, biggest first. */
function groupBy(items, key) {
  const groups = new Map();
  for (const item of items) {
    const name = key(item);
    const group = groups.get(name) ?? { cause: name, count: 0, schemas: new Set() };
    group.count++;
    group.schemas.add(item.id);
    groups.set(name, group);
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count)
    .map((group) => ({
      cause: group.cause,
      count: group.count,
      schemas: group.schemas.size,
      examples: [...group.schemas].slice(0, 5),
    }));
}

/** Everything `run.mjs` writes besides settings and the per-schema records. */
export function summarize(records, seeds) {
  const splits = {};
  for (const split of [...new Set(records.map((record) => record.split))]) {
    splits[split] = figures(
      records.filter((record) => record.split === split),
      seeds,
    );
  }
  const compileFailures = records
    .filter((record) => record.compiled !== true)
    .map((record) => ({ id: record.id, split: record.split, ...compileFailure(record) }));
  const rejected = records.flatMap((record) =>
    (record.completeness?.rejected ?? []).map((item) => ({ id: record.id, ...item })),
  );
  const invalidAdmitted = records.flatMap((record) =>
    (record.completeness?.invalidAdmitted ?? []).map((item) => ({ id: record.id, ...item })),
  );
  const generationFailures = records.flatMap((record) => {
    const d = record.decode;
    if (d === undefined) return [];
    if (!d.fit.ok) return [{ id: record.id, seed: null, cause: `no grammar within B: ${d.fit.error.code}` }];
    return d.seeds
      .filter((row) => !row.valid)
      .map((row) => ({
        id: record.id,
        seed: row.seed,
        errors: row.errors,
        failedKeywords: row.failedKeywords ?? [],
        blame: row.blame ?? "n/a",
        validatorKeywords: d.validatorKeywords,
        ...(row.blamedErrors === undefined ? {} : { blamedErrors: row.blamedErrors, text: row.text }),
        ...(row.text !== undefined && row.blamedErrors === undefined ? { text: row.text } : {}),
      }));
  });
  const crashedOrNoDecode = records.filter((record) => seeds > 0 && record.decode === undefined);
  const coverageFailures = [
    ...generationFailures,
    ...crashedOrNoDecode.map((record) => ({
      id: record.id,
      seed: null,
      cause:
        record.crash !== undefined
          ? `crash: ${record.crash.code}${record.crash.error === undefined ? "" : ` (${record.crash.error.message.slice(0, 90)})`}`
          : "not decoded",
    })),
  ];
  const rows = records.flatMap((record) => record.decode?.seeds ?? []).filter((row) => row.decodeMs > 0);
  const frees = records.map((record) => record.decode?.free).filter((free) => free?.decodeMs > 0);
  const paired = records.filter(
    (record) => record.decode?.free?.decodeMs > 0 && record.decode.seeds[0]?.decodeMs > 0,
  );
  const rate = (list) => {
    const tokens = list.reduce((sum, row) => sum + row.decodeTokens, 0);
    const ms = list.reduce((sum, row) => sum + row.decodeMs, 0);
    return { tokens, seconds: ms / 1000, tokensPerSecond: ms === 0 ? null : (1000 * tokens) / ms };
  };
  const grammarRate = rate(rows);
  const freeRate = rate(frees);
  const pairedGrammar = rate(paired.map((record) => record.decode.seeds[0]));
  const pairedFree = rate(paired.map((record) => record.decode.free));
  const stopReasons = {};
  for (const row of records.flatMap((record) => record.decode?.seeds ?? [])) {
    stopReasons[row.stopReason ?? "error"] = (stopReasons[row.stopReason ?? "error"] ?? 0) + 1;
  }
  return {
    splits,
    overall: figures(records, seeds),
    speed: {
      grammar: { ...grammarRate, generations: rows.length },
      free: { ...freeRate, generations: frees.length },
      paired: {
        schemas: paired.length,
        grammarTokensPerSecond: pairedGrammar.tokensPerSecond,
        freeTokensPerSecond: pairedFree.tokensPerSecond,
        ratio:
          pairedGrammar.tokensPerSecond === null || pairedFree.tokensPerSecond === null
            ? null
            : pairedGrammar.tokensPerSecond / pairedFree.tokensPerSecond,
      },
      meanTokensPerGeneration: rows.length === 0 ? null : grammarRate.tokens / rows.length,
      stopReasons,
      note: "tokens after the first / time from the first token to the last (prompt evaluation left out); grammar: every generation, free: seed 1 of the sampled schemas; paired: the same schemas and seed",
    },
    causes: {
      compile: groupBy(compileFailures, (item) =>
        item.unsupported === undefined
          ? item.reason
          : `unsupported ${item.unsupported.map((u) => `${u.keyword}: ${(u.note ?? "").replace(/"[^"]*"/g, "…").slice(0, 60)}`).join("; ")}`,
      ),
      completenessRejected: groupBy(rejected, (item) =>
        item.kind === "caps" ? `caps: ${item.caps}` : `other: ${item.reason}`,
      ),
      invalidAdmitted: groupBy(invalidAdmitted, (item) =>
        item.blame === "grammar"
          ? `SUSPECT (grammar keywords only): ${[...new Set(item.errors.map((e) => e.keyword))].join(", ")}`
          : `validator keywords: ${[...new Set(item.errors.filter((e) => e.enforcement !== "grammar").map((e) => `${e.keyword} (${e.enforcement})`))].join(", ") || "none reported"}`,
      ),
      coverage: groupBy(coverageFailures, (item) =>
        item.cause !== undefined
          ? item.cause
          : item.blame === "grammar"
            ? `SUSPECT (grammar keywords only): ${item.failedKeywords.join(", ")}`
            : item.failedKeywords.length > 0
              ? `validator: ${item.failedKeywords.join(", ")}`
              : (item.errors?.[0] ?? "unknown").replace(/\(.*$/, "").slice(0, 80),
      ),
    },
    failures: {
      compile: compileFailures,
      completenessRejected: rejected,
      invalidAdmitted,
      coverage: coverageFailures,
      disagreements: records.flatMap((record) =>
        (record.completeness?.disagreements ?? []).map((item) => ({ id: record.id, ...item })),
      ),
      // The bench compiles with compileGrammar's own steps to keep the build; on fast schemas it compares.
      emulationChecked: records.filter((record) => record.compile?.sameAsCompileGrammar !== undefined).length,
      emulationMismatches: records
        .filter((record) => record.compile?.sameAsCompileGrammar === false)
        .map((record) => record.id),
      recheckParseErrors: records
        .filter((record) => (record.completeness?.recheckParseErrors ?? []).length > 0)
        .map((record) => ({ id: record.id, errors: record.completeness.recheckParseErrors })),
      llamaParseErrors: records
        .filter((record) => record.completeness?.parseError !== undefined)
        .map((record) => ({ id: record.id, error: record.completeness.parseError })),
      crashes: records
        .filter((record) => record.crash !== undefined || record.completeness?.error !== undefined)
        .map((record) => ({ id: record.id, crash: record.crash ?? record.completeness.error })),
    },
  };
}

const pct = (s) => (s === null || s === undefined || s.percent === null ? "–" : `${s.percent.toFixed(1)}`);
const num = (x, digits = 1) => (x === null || x === undefined ? "–" : x.toFixed(digits));

/** The printed report: one table row per split and overall, tokens/s, and the top causes. */
export function markdown(result) {
  const lines = [];
  lines.push(
    `## bench:schemas — ${result.settings.data.split("/").at(-1)} (${result.settings.schemas} schemas, ${result.date})`,
  );
  lines.push("");
  lines.push(
    `Completeness: ${result.settings.completenessGrammar}; instances re-serialized with property order canonicalized to the schema's declared order; llama.cpp's grammar parser decides. Coverage: ${result.settings.seeds} seeds, temperature 0.8, B = ${result.settings.maxTokens} tokens, model ${result.settings.decoding.model}; a schema whose shortest output needs more than B is decoded with the next power of two that fits (≤ ${result.settings.decoding.maxBudget} tokens; "raised" column), as a user raises maxTokens when TOKEN_BUDGET_EXCEEDED names the need; a schema that does not compile (or not within that) counts as not covered.`,
  );
  lines.push("");
  lines.push(
    "| split | n | compiled % | valid admitted % | invalid excluded % | coverage all seeds % | generations valid % | raised | compile ms p50/p95 | grammar KB p50/p95 |",
  );
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const row = (name, f) =>
    `| ${name} | ${f.n} | ${pct(f.compiled)} | ${pct(f.completeness.validAdmitted)} (${f.completeness.validAdmitted.count}/${f.completeness.validAdmitted.total}) | ${pct(f.completeness.invalidExcluded)} (${f.completeness.invalidExcluded.count}/${f.completeness.invalidExcluded.total}) | ${pct(f.coverage?.allSeeds)} | ${pct(f.coverage?.generations)} | ${f.coverage?.raisedBudget ?? "–"} | ${num(f.compileMs.p50)} / ${num(f.compileMs.p95)} | ${num(f.grammarKB.p50)} / ${num(f.grammarKB.p95)} |`;
  for (const [name, f] of Object.entries(result.splits)) lines.push(row(name, f));
  lines.push(row("**overall**", result.overall));
  lines.push("");
  const o = result.overall;
  lines.push(
    `Valid instances rejected: ${o.completeness.validRejectedByCaps} because of caps (admitted under larger caps), ${o.completeness.validRejectedOther} for other causes. Compile ms max ${num(o.compileMs.max)}; grammar KB max ${num(o.grammarKB.max)}; rules p50/p95/max ${o.rules.p50}/${o.rules.p95}/${o.rules.max}.`,
  );
  const s = result.speed;
  if (s.grammar.generations > 0) {
    lines.push(
      `Decoding (1 thread per worker, ${result.settings.workers} workers): under the grammar ${num(s.grammar.tokensPerSecond)} tok/s over ${s.grammar.generations} generations (mean ${num(s.meanTokensPerGeneration)} tokens); free ${num(s.free.tokensPerSecond)} tok/s over ${s.free.generations}; paired on ${s.paired.schemas} schemas: grammar ${num(s.paired.grammarTokensPerSecond)} vs free ${num(s.paired.freeTokensPerSecond)} tok/s (ratio ${num(s.paired.ratio, 2)}).`,
    );
  }
  lines.push(
    `Wall time ${num(result.wallSeconds / 60)} min on ${result.machine.cores} cores (load average ${num(result.machine.loadAverageBefore)} before, ${num(result.machine.loadAverageAfter)} after).`,
  );
  const top = (title, groups) => {
    if (groups.length === 0) return;
    lines.push("", `Top causes — ${title}:`);
    for (const g of groups.slice(0, 8)) {
      lines.push(
        `- ${g.cause}: ${g.count} (${g.schemas} schemas; e.g. ${g.examples.slice(0, 3).join(", ")})`,
      );
    }
  };
  top("not compiled", result.causes.compile);
  top("valid instances rejected", result.causes.completenessRejected);
  top("invalid instances admitted", result.causes.invalidAdmitted);
  top("coverage failures (generations)", result.causes.coverage);
  const f = result.failures;
  lines.push(
    "",
    `Cross-check: ${f.disagreements.length} llama.cpp/JS matcher disagreements, ${f.llamaParseErrors.length} grammars llama.cpp could not parse (${f.recheckParseErrors.length} schemas with a large-cap re-check grammar it could not parse: the JS matcher decided those), ${f.crashes.length} crashes/timeouts; the bench's compile matched compileGrammar's text on ${f.emulationChecked - f.emulationMismatches.length}/${f.emulationChecked} fast schemas.`,
  );
  return lines.join("\n");
}

// One worker process of bench/schemas/run.mjs (forked with an IPC channel): loads node-llama-cpp and the model
// once (1 thread, no GPU), then measures each schema the parent sends — compile, completeness, decoding — and
// answers with one record per schema. The parent kills and replaces a worker that takes too long or dies
// (a grammar llama.cpp cannot handle would take this process down with it, not the whole run).
import { getLlama } from "node-llama-cpp";
import { compileSchema } from "../../dist/schema/compile.js";
import {
  buildSchemaGrammar,
  compileGrammar,
  DEFAULT_CAPS,
  finishGrammar,
  fitCaps,
} from "../../dist/schema/grammar/index.js";
import { RefIndex } from "../../dist/schema/grammar/refs.js";
import { normalizeSchema } from "../../dist/schema/normalize.js";
import { blameErrors, checkInstances, rawErrors, reportIndex } from "./completeness.mjs";
import { openDecoder, promptFor } from "./decode.mjs";

const errorInfo = (error) => ({
  code: error?.code ?? "ERROR",
  message: (error instanceof Error ? error.message : String(error)).slice(0, 500),
});

function timed(fn) {
  const started = performance.now();
  try {
    return { value: fn(), ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

/** Whether a built grammar can only be finished with non-ASCII text (then the fixture byte ban stays off). */
function requiresNonAscii(built, gbnf) {
  if (typeof built.builder.requiresNonAscii === "function") return built.builder.requiresNonAscii(built.root);
  return [...gbnf].some((char) => (char.codePointAt(0) ?? 0) > 0x7f);
}

/**
 * compileGrammar(schema, options) step by step, as dist/schema/grammar/index.js does it (normalizeSchema, then
 * buildSchemaGrammar or fitCaps, then finishGrammar), keeping the build: the JS matcher needs it, and building
 * the largest schemas a second time costs ~30 s each. Schemas that compile in under 50 ms are compiled again
 * with compileGrammar itself and the texts compared (`sameAsCompileGrammar`), so a divergence shows.
 */
function compileKeepingBuild(schema, maxTokens) {
  const normalized = normalizeSchema(schema);
  const base = { ...DEFAULT_CAPS };
  const { built, caps, fitted } =
    maxTokens === undefined
      ? { built: buildSchemaGrammar(normalized, base), caps: base, fitted: false }
      : fitCaps((c) => buildSchemaGrammar(normalized, c), base, maxTokens, "the schema's output");
  return { grammar: finishGrammar(built, caps, fitted), built };
}

let settings;
let llama;
let decoder;

async function init(message) {
  settings = message.settings;
  llama = await getLlama({
    gpu: false,
    maxThreads: 1,
    build: "never",
    logLevel: "error",
    // llama.cpp prints a grammar it cannot parse in full (megabytes for some schemas): keep the first line.
    logger: (level, message) => {
      const line = message.split("\n").find((text) => text.trim() !== "") ?? "";
      if (line !== "") console.error(`[llama.cpp ${level}] ${line.slice(0, 200)}`);
    },
  });
  if (settings.seeds > 0) decoder = await openDecoder(llama, settings.model, settings.maxBudget);
  process.send({
    type: "ready",
    model:
      decoder === undefined
        ? undefined
        : {
            path: decoder.path,
            randomWeights: decoder.randomWeights,
            tokenBan: decoder.banKind,
            architecture: decoder.architecture,
            parameters: decoder.parameters,
            contextSize: decoder.contextSize,
          },
  });
}

async function measure(entry, position) {
  const record = { id: entry.id, split: entry.split, testCount: entry.tests.length };
  let normalized;
  try {
    normalized = normalizeSchema(entry.schema);
  } catch (error) {
    record.compile = { ok: false, ms: 0, error: errorInfo(error) };
    record.compiled = false;
    return record;
  }
  const B = settings.maxTokens;
  // The completeness grammar: default caps, or fitted to --max-tokens when it was given.
  const options = settings.completenessFitted ? { maxTokens: B } : {};
  const kept = timed(() => compileKeepingBuild(entry.schema, options.maxTokens));
  const compiled =
    kept.error === undefined
      ? { value: kept.value.grammar, ms: kept.ms }
      : { error: kept.error, ms: kept.ms };
  const built = kept.value?.built;
  if (compiled.error !== undefined) {
    record.compile = { ok: false, ms: compiled.ms, error: errorInfo(compiled.error) };
    record.compiled = false;
    if (compiled.ms < 50) {
      // compileGrammar must throw the same way.
      const check = timed(() => compileGrammar(entry.schema, options));
      record.compile.sameAsCompileGrammar = check.error?.code === compiled.error.code;
    }
  } else {
    const grammar = compiled.value;
    const unsupported = grammar.report.filter((item) => item.enforcement === "unsupported");
    record.compile = {
      ok: true,
      ms: compiled.ms,
      bytes: Buffer.byteLength(grammar.gbnf),
      rules: grammar.rules,
      maxTokens: Number.isFinite(grammar.maxTokens) ? grammar.maxTokens : null,
      minTokens: grammar.minTokens,
      fitted: grammar.fitted,
      unsupported,
    };
    record.compiled = unsupported.length === 0;
    if (compiled.ms < 50) {
      record.compile.sameAsCompileGrammar = compileGrammar(entry.schema, options).gbnf === grammar.gbnf;
    }
  }
  const index = compiled.error === undefined ? new RefIndex(normalized) : undefined;
  if (compiled.error === undefined) {
    const checked = timed(() =>
      checkInstances({
        llama,
        entry,
        normalized,
        index,
        grammar: compiled.value,
        built,
        reportMap: reportIndex(compiled.value.report),
        compileMs: compiled.ms,
      }),
    );
    record.completeness =
      checked.error === undefined
        ? { ...checked.value, ms: checked.ms }
        : { error: errorInfo(checked.error) };
  }
  if (settings.seeds > 0) {
    // What is known so far, in case decoding takes the process down (the parent keeps it with the crash).
    process.send({ type: "partial", index: position, record });
    record.decode = await decode(entry, normalized, compiled, built, position);
  }
  return record;
}

async function decode(entry, normalized, compiled, built, position) {
  let B = settings.maxTokens;
  const out = { seeds: [] };
  // compileGrammar(schema, { maxTokens: B }) returns the default-caps grammar itself when its longest output
  // already fits B (fitCaps), so that one is reused; otherwise the fit is done as compileGrammar does it, with
  // the default-caps build of the completeness check as fitCaps' first step instead of building it again.
  if (compiled.error !== undefined) {
    out.fit = { ok: false, ms: 0, error: errorInfo(compiled.error) };
    return out;
  }
  let fit;
  let fitBuilt;
  if (compiled.value.maxTokens <= B) {
    fit = compiled.value;
    fitBuilt = built;
    out.fit = { ok: true, reused: true, fitted: fit.fitted, maxTokens: fit.maxTokens };
  } else {
    const base = compiled.value.caps;
    const fitTo = (budget) =>
      timed(() => {
        const result = fitCaps(
          (caps) => (caps === base ? built : buildSchemaGrammar(normalized, caps)),
          base,
          budget,
          "the schema's output",
        );
        return { ...result, grammar: finishGrammar(result.built, result.caps, result.fitted) };
      });
    let attempt = fitTo(B);
    // A schema whose shortest output needs more than B: the product's TOKEN_BUDGET_EXCEEDED names the tokens
    // it needs, and a user raises maxTokens to that. The bench does the same, up to --max-budget, and records it.
    const needed = attempt.error?.context?.tokensNeeded;
    if (
      attempt.error?.code === "TOKEN_BUDGET_EXCEEDED" &&
      Number.isFinite(needed) &&
      needed <= settings.maxBudget
    ) {
      const to = Math.min(settings.maxBudget, 2 ** Math.ceil(Math.log2(needed)));
      out.raised = { from: B, to, needed };
      B = to;
      attempt = fitTo(B);
    }
    if (attempt.error !== undefined) {
      out.fit = { ok: false, ms: attempt.ms, error: errorInfo(attempt.error) };
      return out;
    }
    fitBuilt = attempt.value.built;
    fit = attempt.value.grammar;
    out.fit = {
      ok: true,
      reused: false,
      ms: attempt.ms,
      fitted: fit.fitted,
      maxTokens: fit.maxTokens,
      caps: fit.caps,
    };
  }
  out.validatorKeywords = [
    ...new Set(fit.report.filter((item) => item.enforcement === "validator").map((item) => item.keyword)),
  ];
  out.asciiOnly = !requiresNonAscii(fitBuilt, fit.gbnf);
  let validator;
  try {
    validator = compileSchema(entry.schema);
  } catch (error) {
    out.validatorError = errorInfo(error);
  }
  const reportMap = reportIndex(fit.report);
  const prompt = promptFor(entry.schema);
  for (let seed = 1; seed <= settings.seeds; seed++) {
    const row = { seed };
    try {
      const generation = await decoder.generate({
        prompt,
        gbnf: fit.gbnf,
        seed,
        asciiOnly: out.asciiOnly,
        budget: B,
      });
      Object.assign(row, {
        tokens: generation.tokens,
        decodeTokens: generation.decodeTokens,
        decodeMs: generation.decodeMs,
        ms: generation.ms,
        stopReason: generation.stopReason,
      });
      let value;
      try {
        value = JSON.parse(generation.text);
      } catch (error) {
        row.valid = false;
        row.errors = [`not JSON (${error.message}); stop: ${generation.stopReason}`];
        row.text = generation.text.slice(0, 300);
      }
      if (row.errors === undefined) {
        if (validator === undefined) {
          row.valid = false;
          row.errors = [`validator unusable: ${out.validatorError.message}`];
        } else {
          let result;
          try {
            result = validator.validate(value);
          } catch (error) {
            // validate() promises never to throw; ajv does on some schemas (a finding, not a bench failure).
            result = { ok: false, errors: [`validator threw: ${errorInfo(error).message.slice(0, 120)}`] };
          }
          row.valid = result.ok;
          if (!result.ok) {
            row.errors = result.errors.slice(0, 4);
            const blamed = blameErrors(rawErrors(normalized, value), reportMap, value);
            row.blame = blamed.blame;
            row.failedKeywords = [
              ...new Set(
                blamed.errors.map((e) =>
                  e.note?.startsWith("a default")
                    ? `${e.keyword} (of a default the validator filled in)`
                    : e.keyword,
                ),
              ),
            ];
            if (blamed.blame === "grammar") {
              row.blamedErrors = blamed.errors.slice(0, 4);
              row.text = generation.text.slice(0, 600);
            }
          }
        }
      }
    } catch (error) {
      row.valid = false;
      row.errors = [`generation failed: ${errorInfo(error).message}`];
    }
    out.seeds.push(row);
  }
  // Free decoding (no grammar) of the same prompt, for the tokens/s comparison.
  if (settings.freeEvery > 0 && position % settings.freeEvery === 0) {
    try {
      const free = await decoder.generate({ prompt, seed: 1, budget: settings.maxTokens });
      out.free = {
        tokens: free.tokens,
        decodeTokens: free.decodeTokens,
        decodeMs: free.decodeMs,
        ms: free.ms,
      };
    } catch (error) {
      out.free = { error: errorInfo(error).message };
    }
  }
  return out;
}

// node-llama-cpp can reject a promise nobody holds (seen: "Failed to accept token in sampler: Unexpected empty
// grammar stack"), and the generation then never settles: say why before dying, the parent records it.
for (const event of ["unhandledRejection", "uncaughtException"]) {
  process.on(event, (error) => {
    process.send({ type: "dying", error: errorInfo(error) }, () => process.exit(1));
  });
}

process.on("message", (message) => {
  if (message.type === "init") {
    init(message).catch((error) => {
      process.send({ type: "fatal", error: errorInfo(error) });
      process.exit(1);
    });
  } else if (message.type === "job") {
    measure(message.entry, message.position)
      .then((record) => process.send({ type: "result", index: message.index, record }))
      .catch((error) =>
        process.send({
          type: "result",
          index: message.index,
          record: { id: message.entry.id, split: message.entry.split, crash: errorInfo(error) },
        }),
      );
  } else if (message.type === "exit") {
    Promise.resolve(decoder?.dispose())
      .catch(() => {})
      .finally(() => process.exit(0));
  }
});

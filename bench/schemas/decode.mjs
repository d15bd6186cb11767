// Decoding for the empirical-coverage section of bench/schemas/run.mjs: one model, one context with one
// sequence, node-llama-cpp's LlamaCompletion (no chat template: the prompt is plain text), grammar-constrained
// generations with a seed each, and free (grammar-less) generations of the same prompt for the tokens/s
// comparison. Random-weight models get a token ban unless the grammar can only be finished with non-ASCII text
// (`requiresNonAscii`), when the product lifts it too: for the toy fixture the byte tokens 0x80–0xFF (what
// src/workers/generate.ts `fixtureByteBan` bans in the committed product), for other random-weight models
// (family fixtures) the product's current `fixtureByteBan`; and for every model, under a grammar, the control
// tokens, read from the product's vocabulary index.
//
// Why not the product's function for the toy fixture too: its working-tree version (being rewritten while this
// bench was written) bans every token that detokenizes to "" alone, which includes the toy fixture's "▁" space
// token; a grammar that requires a literal space ("Project ID", "New York") then leaves the sampler nothing to
// pick and node-llama-cpp throws "Unexpected empty grammar stack" from a promise nobody awaits.
import { LlamaCompletion, TokenBias } from "node-llama-cpp";
import { parseModelRef } from "../../dist/config/modelRef.js";
import { fixtureVocabulary } from "../../dist/testing/fixtureModel.js";
import { inspectModelFile } from "../../dist/workers/ggufCheck.js";
import { vocabularyIndex } from "../../dist/workers/grammarBias.js";
import { resolveModelPath } from "../../dist/workers/resolveModel.js";

/** The default model: the toy fixture (random weights, ~0.5 MB), generated into the fixture cache. */
export const DEFAULT_MODEL = "fixture:tiny?seed=1";

/** Whether `model` has the toy fixture's vocabulary. */
function isToyFixture(model) {
  const tokens = model.fileInfo.metadata.tokenizer?.ggml?.tokens;
  const toy = fixtureVocabulary().tokens;
  return (
    Array.isArray(tokens) && tokens.length === toy.length && tokens.every((token, i) => token === toy[i])
  );
}

/** The token ban of a random-weight model (see the file comment), control tokens included. */
function tokenBan(model, control) {
  if (!isToyFixture(model)) {
    // The tokens the product's fixtureByteBan forbids (src/workers/generate.ts reads the same index).
    const ban = new TokenBias(model.tokenizer).set([...vocabularyIndex(model).pieces, ...control], "never");
    return { ban, banKind: "product fixtureByteBan + control tokens" };
  }
  const ban = new TokenBias(model.tokenizer).set(control, "never");
  const { firstByteId } = fixtureVocabulary();
  for (let byte = 0x80; byte <= 0xff; byte++) ban.set(firstByteId + byte, "never");
  return { ban, banKind: "toy fixture byte tokens 0x80-0xFF + control tokens" };
}

/** The prompt of every generation (the model never sees the grammar). */
export function promptFor(schema) {
  return `Write one JSON value for this schema:\n${JSON.stringify(schema).slice(0, 2000)}\n`;
}

/**
 * Loads `modelRef` (a `fixture:` reference or a GGUF path, as agents write them) with one context of
 * `2048 + maxTokens` tokens (the largest budget a generation may get). Returns the decoder; `dispose()` it.
 */
export async function openDecoder(llama, modelRef, maxTokens) {
  const ref = parseModelRef(modelRef);
  if (ref.kind === "remote")
    throw new Error(`--model ${modelRef}: a local model (fixture: or a .gguf path) is needed`);
  const path = await resolveModelPath(ref, { download: false });
  const info = await inspectModelFile(path);
  const randomWeights = ref.kind === "fixture" || info.isFixture;
  const model = await llama.loadModel({ modelPath: path });
  // A fixture's random weights have no trained context length to respect; a real model's is kept.
  const contextSize = randomWeights
    ? 2048 + maxTokens
    : Math.min(2048 + maxTokens, info.contextLength ?? 2048 + maxTokens);
  const context = await model.createContext({ contextSize, sequences: 1, threads: 1 });
  const sequence = context.getSequence();
  const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
  // Control tokens other than end-of-generation, as the product's grammar bias forbids them (grammarBias.ts).
  const control = [...vocabularyIndex(model).control];
  const controlBan = new TokenBias(model.tokenizer).set(control, "never");
  const { ban, banKind } = randomWeights
    ? tokenBan(model, control)
    : { ban: undefined, banKind: "control tokens under a grammar" };
  const grammars = new Map();

  /**
   * One generation: `gbnf` (or undefined: free decoding), `seed`, `asciiOnly` (whether the grammar can be
   * finished with ASCII alone), `budget` (most tokens; default the decoder's `maxTokens`). Returns `{ text, tokens, decodeTokens, decodeMs, ms, stopReason, banned }`
   * (`decodeTokens` tokens after the first took `decodeMs`: generation speed without prompt evaluation); throws
   * on a model error
   * and when `timeoutMs` passes.
   */
  async function generate({ prompt, gbnf, seed, asciiOnly = true, budget = maxTokens, timeoutMs = 120_000 }) {
    let grammar;
    if (gbnf !== undefined) {
      grammar = grammars.get(gbnf);
      if (grammar === undefined) {
        grammars.clear();
        grammar = await llama.createGrammar({ grammar: gbnf });
        grammars.set(gbnf, grammar);
      }
    }
    const banned = ban !== undefined && asciiOnly;
    const bias = banned ? ban : grammar !== undefined && control.length > 0 ? controlBan : undefined;
    // No clearHistory: LlamaCompletion keeps the evaluated prefix that the new prompt shares (the same prompt for
    // every seed of a schema), which saves the prompt evaluation and changes no output.
    const before = sequence.tokenMeter.getState();
    const started = performance.now();
    let firstToken;
    let lastToken = started;
    let count = 0;
    const response = await completion.generateCompletionWithMeta(prompt, {
      maxTokens: budget,
      onToken: (tokens) => {
        const now = performance.now();
        firstToken ??= now;
        lastToken = now;
        count += tokens.length;
      },
      temperature: 0.8,
      seed,
      signal: AbortSignal.timeout(timeoutMs),
      ...(bias === undefined ? {} : { tokenBias: bias }),
      ...(grammar === undefined ? {} : { grammar }),
    });
    const ms = performance.now() - started;
    const used = sequence.tokenMeter.usedOutputTokens - before.usedOutputTokens;
    // Decode speed counts from the first token on, so that prompt evaluation (the same for both) is left out.
    const decodeMs = firstToken === undefined ? 0 : lastToken - firstToken;
    return {
      text: response.response,
      tokens: Math.max(used, count),
      decodeTokens: Math.max(0, count - 1),
      decodeMs,
      ms,
      stopReason: response.metadata.stopReason,
      banned,
    };
  }

  return {
    path,
    randomWeights,
    banKind,
    architecture: info.architecture,
    parameters: info.parameters,
    contextSize,
    generate,
    async dispose() {
      completion.dispose();
      await context.dispose();
      await model.dispose();
    },
  };
}

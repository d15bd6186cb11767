// The grammar bias (src/workers/grammarBias.ts) against llama.cpp's own grammar, on the families' real
// vocabularies: walking a valid answer token by token, every token the bias forbids must be one llama.cpp's
// grammar refuses there (or one whose text the answer never shows), and where it raises a set instead, that set
// must be exactly the tokens llama.cpp accepts. Anything else would change which tokens are drawn, not only how
// fast. llama.cpp is asked token by token through node-llama-cpp's internal grammar check (what its own sampler
// and LlamaChat use); a fixed sample of the vocabulary keeps each position well under a second.
import { type LlamaGrammar, LlamaGrammarEvaluationState, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FixtureFamily } from "../../../src/testing/families/familySpecs.js";
import { grammarBiasSession, vocabularySize } from "../../../src/workers/grammarBias.js";
import { ModelManager } from "../../../src/workers/ModelManager.js";
import type { SequenceLease } from "../../../src/workers/modelManagerTypes.js";
import { TEST_DEVICE } from "../workers/helpers.js";
import { FAMILY_ANSWER, familyRef } from "./familyHelpers.js";

interface Judge {
  canBeNext(state: LlamaGrammarEvaluationState, token: Token): boolean;
  accept(state: LlamaGrammarEvaluationState, token: Token): void;
}

/** llama.cpp's grammar check of one token, through node-llama-cpp's addon (what its LlamaSampler calls). */
const judgeOf = (model: LlamaModel): Judge => {
  interface Addon {
    canBeNextTokenForGrammarEvaluationState(state: unknown, token: Token): boolean;
    acceptGrammarEvaluationStateToken(state: unknown, token: Token): void;
  }
  const addon = (model as unknown as { _llama: { _bindings: { AddonSampler: Addon } } })._llama._bindings
    .AddonSampler;
  const inner = (state: LlamaGrammarEvaluationState) => (state as unknown as { _state: unknown })._state;
  return {
    canBeNext: (state, token) => addon.canBeNextTokenForGrammarEvaluationState(inner(state), token),
    accept: (state, token) => addon.acceptGrammarEvaluationStateToken(inner(state), token),
  };
};

const ANSWER = FAMILY_ANSWER;

// Strings at their bounds ("alpine hikes" is 12 characters, the most a tag may have), an escape, a quote inside.
const TEXT =
  '{"title":"Weekend in the Alps","meta":{"done":false,"kind":"note","tags":["ski","alpine hikes"]},' +
  '"steps":[{"n":1,"what":"Check the \\"window\\" for Saturday"}]}';

/** A fixed sample of token ids (an xorshift walk), the same on every run. */
function sample(size: number, count: number): Token[] {
  const out = new Set<number>();
  let x = 12345;
  while (out.size < Math.min(count, size)) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.add((x >>> 0) % size);
  }
  return [...out] as Token[];
}

// A byte-level BPE vocabulary (Qwen3) and a SentencePiece one with byte fallback and unused tokens (Gemma 3).
const families: FixtureFamily[] = ["qwen3", "gemma3"];

describe.each(families)(
  "grammar bias on %s (tiny): never changes what the grammar lets through",
  (family) => {
    let manager: ModelManager;
    let lease: SequenceLease;
    let grammar: LlamaGrammar;
    let turn: Awaited<ReturnType<ModelManager["turnGrammar"]>>;

    beforeAll(async () => {
      manager = new ModelManager({ device: TEST_DEVICE });
      lease = await manager.acquire(familyRef(family), { contextSize: 256, sequences: 1 });
      // A budget the whole answer fits in (a smaller one shrinks the grammar to what fits).
      turn = await manager.turnGrammar({ answer: ANSWER, maxTokens: 4096 });
      const { llama } = await manager.runtime();
      grammar = await llama.createGrammar({ grammar: turn.turn.gbnf });
    }, 120_000);

    afterAll(async () => {
      lease?.release();
      await manager?.dispose();
    });

    it("forbids only tokens llama.cpp refuses, and raises exactly the tokens it accepts", async () => {
      const model = lease.model;
      const judge = await judgeOf(model);
      const state = new LlamaGrammarEvaluationState({ model, grammar });
      const session = grammarBiasSession(turn.turn, model, undefined);
      const context = model.tokenize("a");
      const tokens = sample(vocabularySize(model), 3_000).filter((token) => !model.isEogToken(token));
      /** Tokens the bias leaves alone by design: pieces of a character, and text the answer never shows. */
      const shown = new Map<Token, boolean>();
      const isShown = (token: Token) => {
        let known = shown.get(token);
        if (known === undefined) {
          const attributes = model.getTokenAttributes(token);
          const text = model.detokenize([token], false, context);
          known = !(attributes.control || attributes.unused || attributes.undefined) && text !== "";
          known &&= !text.includes("\uFFFD");
          shown.set(token, known);
        }
        return known;
      };
      const seen = { ban: 0, boost: 0, none: 0, lengthBan: 0 };
      const walk = model.tokenize(TEXT);
      expect(model.detokenize(walk)).toBe(TEXT);
      for (const next of walk) {
        const bias = session.bias();
        const entries = (bias as unknown as { _biases?: Map<Token, number> } | undefined)?._biases;
        if (entries === undefined || entries.size === 0) seen.none++;
        else if ([...entries.values()].some((logit) => logit > 0)) {
          seen.boost++;
          for (const token of tokens) {
            if (!isShown(token)) continue;
            expect(
              entries.has(token),
              `${JSON.stringify(model.detokenize([token]))} after some of ${TEXT}`,
            ).toBe(judge.canBeNext(state, token));
          }
        } else {
          seen.ban++;
          let refusedPlain = 0;
          for (const token of tokens) {
            if (!entries.has(token) || !isShown(token)) continue;
            const text = model.detokenize([token], false, context);
            expect(judge.canBeNext(state, token), `${JSON.stringify(text)} was forbidden`).toBe(false);
            const chars = [...text];
            if (chars.length >= 2 && chars.every((c) => c !== '"' && c !== "\\" && c >= " ")) refusedPlain++;
          }
          if (refusedPlain > 0) seen.lengthBan++;
        }
        expect(judge.canBeNext(state, next), `${JSON.stringify(model.detokenize([next]))} in ${TEXT}`).toBe(
          true,
        );
        judge.accept(state, next);
        session.push([next]);
      }
      // Every kind of position was met: keys and punctuation (raised), strings (forbidden), string ends (by length).
      expect(seen.boost).toBeGreaterThan(5);
      expect(seen.ban).toBeGreaterThan(5);
      expect(seen.lengthBan).toBeGreaterThan(0);
    }, 120_000);

    it("forbids control tokens at every position: llama.cpp's grammar reads them by their special spelling", async () => {
      const model = lease.model;
      const judge = await judgeOf(model);
      const control = Array.from({ length: vocabularySize(model) }, (_, id) => id as Token).filter(
        (token) => model.getTokenAttributes(token).control && !model.isEogToken(token),
      );
      expect(control.length).toBeGreaterThan(0);
      const spelled = control.filter((token) => model.detokenize([token], true).startsWith("<"));
      expect(spelled.length).toBeGreaterThan(0);
      const state = new LlamaGrammarEvaluationState({ model, grammar });
      const session = grammarBiasSession(turn.turn, model, undefined);
      let inside = 0;
      for (const next of model.tokenize(TEXT)) {
        const entries = (session.bias() as unknown as { _biases: Map<Token, number> })._biases;
        for (const token of control)
          expect(entries.get(token), `token ${token}`).toBe(Number.NEGATIVE_INFINITY);
        // Inside a string llama.cpp itself lets one through (its text is "<|…|>"), and the text handed on would
        // leave it out: what the grammar checked would not be the answer.
        if (spelled.some((token) => judge.canBeNext(state, token))) inside++;
        judge.accept(state, next);
        session.push([next]);
      }
      expect(inside).toBeGreaterThan(0);
    }, 120_000);
  },
);

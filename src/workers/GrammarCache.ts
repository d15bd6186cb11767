/**
 * Turn grammars compiled once: compiling a schema (with its budget fitting) and parsing the GBNF in llama.cpp
 * both cost time, and every subtask of a worker (and every structured call of the planner) asks for the same
 * few turns.
 */
import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { EdgecrewError, ErrorCodes, isEdgecrewError } from "../errors.js";
import { compileTurnGrammar, type TurnGrammar, type TurnSpec } from "./turnGrammar.js";

/** A turn grammar with its llama.cpp grammar. */
export interface CompiledTurn {
  readonly turn: TurnGrammar;
  readonly grammar: LlamaGrammar;
}

/** A stable key for a turn spec (the call syntax's name template included). */
function keyOf(spec: TurnSpec): string {
  const call =
    spec.call === undefined
      ? undefined
      : {
          tools: spec.call.tools,
          syntax: { ...spec.call.syntax, paramsPrefix: spec.call.syntax.paramsPrefix("\u0000") },
        };
  return JSON.stringify({
    call,
    answer: spec.answer,
    text: spec.text,
    maxTokens: spec.maxTokens,
    caps: spec.caps,
  });
}

/** A cache of turn grammars for one `Llama` backend. */
export class GrammarCache {
  readonly #turns = new Map<string, Promise<CompiledTurn>>();

  /**
   * The grammar of a turn (see `compileTurnGrammar`). Throws an EdgecrewError SCHEMA_INVALID when the schemas
   * cannot become a grammar or llama.cpp rejects it, TOKEN_BUDGET_EXCEEDED when the turn cannot fit its
   * `maxTokens`; a failure is not cached.
   */
  get(llama: Llama, spec: TurnSpec): Promise<CompiledTurn> {
    const key = keyOf(spec);
    let compiled = this.#turns.get(key);
    if (compiled === undefined) {
      compiled = (async () => {
        const turn = compileTurnGrammar(spec);
        const grammar = await llama.createGrammar({ grammar: turn.gbnf });
        return { turn, grammar };
      })().catch((cause: unknown) => {
        this.#turns.delete(key);
        if (isEdgecrewError(cause)) throw cause;
        throw new EdgecrewError(
          ErrorCodes.SCHEMA_INVALID,
          `cannot build a grammar: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        );
      });
      this.#turns.set(key, compiled);
    }
    return compiled;
  }

  /** Forgets every grammar (when the backend goes away). */
  clear(): void {
    this.#turns.clear();
  }
}

/**
 * Grammars compiled once per schema: building a grammar parses GBNF in llama.cpp, and every subtask of a worker
 * (and every structured call of the planner) uses the same few schemas.
 */
import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import { EdgecrewError, ErrorCodes } from "../errors.js";
import type { JsonSchema } from "../types.js";
import { type GrammarSchemaOptions, toGrammarSchema } from "./grammarSchema.js";

/** A cache of grammars for one `Llama` backend, keyed by the converted schema. */
export class GrammarCache {
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();

  /**
   * The grammar for a JSON Schema (converted by `toGrammarSchema`). Throws an EdgecrewError SCHEMA_INVALID when
   * the schema cannot be converted or llama.cpp rejects the grammar; a failure is not cached.
   */
  get(llama: Llama, schema: JsonSchema, options: GrammarSchemaOptions = {}): Promise<LlamaGrammar> {
    const converted = toGrammarSchema(schema, options).schema;
    const key = JSON.stringify(converted);
    let grammar = this.#grammars.get(key);
    if (grammar === undefined) {
      grammar = llama.createGrammarForJsonSchema<GbnfJsonSchema>(converted).catch((cause: unknown) => {
        this.#grammars.delete(key);
        throw new EdgecrewError(
          ErrorCodes.SCHEMA_INVALID,
          `cannot build a grammar for the schema: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        );
      });
      this.#grammars.set(key, grammar);
    }
    return grammar;
  }

  /** Forgets every grammar (when the backend goes away). */
  clear(): void {
    this.#grammars.clear();
  }
}

/**
 * llama.cpp's own GBNF parser and matcher, without a model: the grammar tests check that what the compiler writes
 * is GBNF that llama.cpp accepts, and that it admits what it should. node-llama-cpp exposes whole-text matching
 * only as the internal `LlamaGrammar._testText`; this file is the one place that reaches for it.
 */

import { getLlama, type Llama, LlamaGrammar } from "node-llama-cpp";

let backend: Promise<Llama> | undefined;

/** The llama.cpp backend (CPU, one thread), loaded once per test file. */
export async function llamaBackend(): Promise<Llama> {
  backend ??= getLlama({ gpu: false, maxThreads: 1 });
  return backend;
}

/** Whether the grammar `gbnf` (rule `root`) matches the whole of `text`. Throws when llama.cpp cannot parse it. */
export function gbnfAccepts(llama: Llama, gbnf: string, text: string): boolean {
  const grammar = new LlamaGrammar(llama, { grammar: gbnf });
  return (grammar as unknown as { _testText(text: string): boolean })._testText(text);
}

/** Whether llama.cpp parses the grammar `gbnf`. */
export function gbnfParses(llama: Llama, gbnf: string): boolean {
  try {
    new LlamaGrammar(llama, { grammar: gbnf });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a JSONL file as the run store writes it: one JSON value per line, each line ended by `\n`. A record is
 * committed once its newline is on disk, so an unterminated last line is an append that a crash cut short; it
 * was never acknowledged and is dropped (and reported). A broken line anywhere else means the file was damaged
 * after the fact, which no crash of the writer can explain.
 */

/** A parsed JSONL file: the values with their 1-based line numbers, and the torn tail, when there was one. */
export type JsonLines =
  | {
      readonly ok: true;
      readonly values: readonly { readonly line: number; readonly value: unknown }[];
      /** The unterminated last line that was dropped: its line number and length in characters. */
      readonly torn?: { readonly line: number; readonly length: number };
    }
  | { readonly ok: false; readonly line: number; readonly cause: unknown };

/**
 * Parses `text` (a whole JSONL file). Fails with the line number of the first complete line that is not JSON.
 *
 * @example
 * parseJsonLines('{"a":1}\n{"a":'); // { ok: true, values: [{ line: 1, value: { a: 1 } }], torn: { line: 2, length: 5 } }
 */
export function parseJsonLines(text: string): JsonLines {
  const lines = text.split("\n");
  // After the last "\n" comes either "" (a clean end) or an unterminated tail.
  const tail = lines.pop() ?? "";
  const values: { line: number; value: unknown }[] = [];
  for (const [index, line] of lines.entries()) {
    try {
      values.push({ line: index + 1, value: JSON.parse(line) });
    } catch (cause) {
      return { ok: false, line: index + 1, cause };
    }
  }
  return tail === ""
    ? { ok: true, values }
    : { ok: true, values, torn: { line: lines.length + 1, length: tail.length } };
}

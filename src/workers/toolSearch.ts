/**
 * Tool RAG (TinyAgent's idea): a worker granted many tools — an MCP server's fourteen take thousands of tokens of
 * documentation — is offered, per subtask, only the few that the subtask's instruction is about. This file is
 * the deterministic lexical ranker: BM25 over each tool's name (split on `.`, `_`, `-` and camelCase, counted
 * twice: a name says most), its description, and its parameters' names and descriptions. Pure and
 * model-free: the same tools and instruction always give the same ranking, ties broken by grant order.
 *
 * LocalWorker uses it when a worker has `toolSearch: { k }` (see {@link selectTools}); fitting the offered set
 * into the context is LocalWorker's part, since only the model's tokenizer can measure it. With
 * `toolSearch: { model }` the embedding ranker (embeddingRanker.ts) ranks the same documents instead.
 */
import type { JsonSchema } from "../types.js";

/** What the ranker reads of a tool. */
export interface SearchableTool {
  readonly name: string;
  readonly description: string;
  readonly input: JsonSchema;
}

/** A tool's relevance to a query: its BM25 score (0: no term in common). */
export interface RankedTool {
  readonly tool: string;
  readonly score: number;
}

/** What a subtask asks for: its instruction, and the run's overall task (which weighs less). */
export interface ToolQuery {
  readonly instruction: string;
  readonly task?: string;
}

/** BM25's term-frequency saturation and length normalisation (the usual values). */
const K1 = 1.2;
const B = 0.75;
/** How much the overall task counts next to the instruction: it is shared by every subtask of the run. */
export const TASK_WEIGHT = 0.25;
/** How many times a tool's name terms count (a name is short and says most). */
const NAME_WEIGHT = 2;
/** How deep parameter schemas are read for names and descriptions. */
const MAX_SCHEMA_DEPTH = 4;

const STOPWORDS = new Set(
  (
    "a an and are as at be by can do does for from has have how i if in into is it its me my no not of on or " +
    "our so than that the their them then there these this those to use using was we what when where which " +
    "who will with you your"
  ).split(" "),
);

/** A light English stemmer: plural and third-person `s` endings, so "files", "notes" and "entities" match. */
function stem(word: string): string {
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(?:ss|x|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss") && !word.endsWith("us"))
    return word.slice(0, -1);
  return word;
}

/**
 * The search terms of a text: words split on anything not a letter or digit and on camelCase boundaries,
 * lower-cased, stop words dropped, lightly stemmed.
 *
 * @example
 * searchTerms("files.read_text_file"); // ["file", "read", "text", "file"]
 * searchTerms("dryRun: Preview changes"); // ["dry", "run", "preview", "change"]
 */
export function searchTerms(text: string): string[] {
  const spaced = text.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  const terms: string[] = [];
  for (const word of spaced.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (word === "" || STOPWORDS.has(word)) continue;
    terms.push(stem(word));
  }
  return terms;
}

/** Names and descriptions of a schema's properties, nested ones and array items included (bounded depth). */
function schemaText(schema: unknown, depth: number, out: string[]): void {
  if (depth > MAX_SCHEMA_DEPTH || schema === null || typeof schema !== "object" || Array.isArray(schema))
    return;
  const node = schema as Record<string, unknown>;
  if (depth > 0 && typeof node.description === "string") out.push(node.description);
  const properties = node.properties;
  if (properties !== null && typeof properties === "object" && !Array.isArray(properties)) {
    for (const [name, property] of Object.entries(properties)) {
      out.push(name);
      schemaText(property, depth + 1, out);
    }
  }
  if (node.items !== undefined) schemaText(node.items, depth + 1, out);
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const list = node[key];
    if (Array.isArray(list)) for (const part of list) schemaText(part, depth + 1, out);
  }
}

/**
 * One tool's document as text: its name, its description, and its parameters' names and descriptions, one
 * per line — what BM25 indexes ({@link toolDocumentTerms}), and what the embedding ranker embeds.
 *
 * @example
 * toolDocumentText({ name: "fs.read", description: "Read a file", input: { type: "object", properties: { path: { type: "string" } } } });
 * // "fs.read\nRead a file\npath"
 */
export function toolDocumentText(tool: SearchableTool): string {
  const parameters: string[] = [];
  schemaText(tool.input, 0, parameters);
  return [tool.name, tool.description, ...parameters].filter((part) => part.trim() !== "").join("\n");
}

/** The terms of one tool's document: its name (weighted), its description and its parameters. */
export function toolDocumentTerms(tool: SearchableTool): string[] {
  const name = searchTerms(tool.name);
  const parameters: string[] = [];
  schemaText(tool.input, 0, parameters);
  return [
    ...Array.from({ length: NAME_WEIGHT }, () => name).flat(),
    ...searchTerms(tool.description),
    ...parameters.flatMap(searchTerms),
  ];
}

function counts(terms: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const term of terms) map.set(term, (map.get(term) ?? 0) + 1);
  return map;
}

/**
 * Ranks `tools` by BM25 relevance to `query`: the instruction's terms, plus the task's at {@link TASK_WEIGHT}.
 * Every tool comes back, best first; equal scores keep the order of `tools` (grant order), so the ranking is
 * stable and deterministic. Scores are rounded to 4 decimals (what events record is what sorted).
 *
 * @example
 * rankTools(specs, { instruction: "read the file notes.txt" })[0]; // { tool: "fs.read_text_file", score: 4.1 }
 */
export function rankTools(tools: readonly SearchableTool[], query: ToolQuery): RankedTool[] {
  const documents = tools.map((tool) => counts(toolDocumentTerms(tool)));
  const lengths = tools.map((_, i) =>
    [...(documents[i] as Map<string, number>).values()].reduce((sum, n) => sum + n, 0),
  );
  const averageLength = lengths.reduce((sum, n) => sum + n, 0) / Math.max(1, lengths.length) || 1;
  const frequency = new Map<string, number>();
  for (const document of documents) {
    for (const term of document.keys()) frequency.set(term, (frequency.get(term) ?? 0) + 1);
  }
  const idf = (term: string) => {
    const n = frequency.get(term) ?? 0;
    return Math.log(1 + (tools.length - n + 0.5) / (n + 0.5));
  };
  const bm25 = (index: number, terms: ReadonlySet<string>) => {
    const document = documents[index] as Map<string, number>;
    const norm = K1 * (1 - B + (B * (lengths[index] as number)) / averageLength);
    let score = 0;
    for (const term of terms) {
      const tf = document.get(term) ?? 0;
      if (tf > 0) score += (idf(term) * tf * (K1 + 1)) / (tf + norm);
    }
    return score;
  };
  const instruction = new Set(searchTerms(query.instruction));
  const task = new Set(searchTerms(query.task ?? "").filter((term) => !instruction.has(term)));
  const ranked = tools.map((tool, index) => ({
    tool: tool.name,
    index,
    score: Math.round((bm25(index, instruction) + TASK_WEIGHT * bm25(index, task)) * 10_000) / 10_000,
  }));
  ranked.sort((a, b) => b.score - a.score || a.index - b.index);
  return ranked.map(({ tool, score }) => ({ tool, score }));
}

/**
 * The tools to offer: every `named` tool (the planner asked for them; they always stay), then the best-ranked
 * others until there are `k` (named ones count towards `k` but are never left out, so more than `k` may come
 * back). The result keeps the ranking's order; LocalWorker drops its last unnamed tools first when the prompt
 * does not fit.
 */
export function selectTools(
  ranked: readonly RankedTool[],
  options: { readonly k: number; readonly named?: readonly string[] },
): RankedTool[] {
  const named = new Set(options.named ?? []);
  const chosen = new Set<string>(ranked.filter((entry) => named.has(entry.tool)).map((entry) => entry.tool));
  for (const entry of ranked) {
    if (chosen.size >= options.k) break;
    chosen.add(entry.tool);
  }
  return ranked.filter((entry) => chosen.has(entry.tool));
}

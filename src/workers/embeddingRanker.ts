/**
 * Tool RAG's embedding ranker (a worker with `toolSearch: { model }`): a local GGUF embedding model, loaded on
 * the crew's model manager like any model (memory budget, `model.*` events, shared by every worker naming it,
 * disposed with the manager), embeds each tool's document — the same text BM25 indexes (toolDocumentText) —
 * and the subtask's instruction through node-llama-cpp's embedding context; tools are ranked by the cosine
 * similarity of their embedding to the instruction's.
 *
 * - Tool documents are embedded once per model and cached (a tool set is embedded on its first subtask); the
 *   instruction is embedded per subtask. The run's overall task is not embedded: it is the same for every
 *   subtask, so it cannot tell their tools apart.
 * - An input longer than the embedding context is cut to its first tokens (deterministically).
 * - Scores are rounded to 4 decimals, and equal scores keep grant order, so a ranking is deterministic and
 *   what `tools.offered` records is what sorted.
 * - A model that cannot load or run fails the subtask with its ModelError (MODEL_NOT_FOUND, MODEL_INVALID,
 *   MEMORY_BUDGET_EXCEEDED, MODEL_LOAD_FAILED); there is no silent fallback to BM25.
 * - Aborts are honoured between embeddings (node-llama-cpp's `getEmbeddingFor` takes no signal; one embedding
 *   of a small model's input takes milliseconds).
 */
import { ErrorCodes, isEdgecrewError, ModelError, throwIfAborted } from "../errors.js";
import type { LocalModelRef, RunEventInput } from "../types.js";
import type { EmbeddingLease, ModelManager } from "./ModelManager.js";
import { type RankedTool, type SearchableTool, toolDocumentText } from "./toolSearch.js";

/** Tokens of the embedding context: a tool document or instruction longer than this (less BOS/EOS) is cut. */
export const EMBEDDING_CONTEXT_SIZE = 2048;
/** Most tool documents cached per embedding model; past it the cache starts over (tool sets are far smaller). */
const MAX_CACHED_DOCUMENTS = 10_000;
/** Room left for the BOS and EOS tokens node-llama-cpp adds, and its `length < contextSize` check. */
const SPECIAL_TOKENS = 3;

/** Cosine similarity of two vectors (0 when either is all zeros or empty, or their lengths differ). */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || a.length !== b.length) return 0;
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  if (normA === 0 || normB === 0) return 0;
  return dot / Math.sqrt(normA * normB);
}

/**
 * Ranks tools by the cosine similarity of their document embeddings to the query's: every tool comes back,
 * best first, scores rounded to 4 decimals, equal scores in the order given (grant order). Pure.
 *
 * @example
 * rankByEmbeddings(["a", "b"], [[1, 0], [0, 1]], [0.2, 0.9]); // [{ tool: "b", score: 0.9762 }, { tool: "a", score: 0.2169 }]
 */
export function rankByEmbeddings(
  names: readonly string[],
  documents: readonly (readonly number[])[],
  query: readonly number[],
): RankedTool[] {
  const ranked = names.map((tool, index) => ({
    tool,
    index,
    score: Math.round(cosineSimilarity(documents[index] ?? [], query) * 10_000) / 10_000,
  }));
  ranked.sort((a, b) => b.score - a.score || a.index - b.index);
  return ranked.map(({ tool, score }) => ({ tool, score }));
}

/**
 * The embedding of `text` by the leased model: its tokens (cut to what the context holds) through
 * node-llama-cpp's `getEmbeddingFor`. Throws a ModelError MODEL_LOAD_FAILED when the model cannot embed.
 */
export async function embedText(lease: EmbeddingLease, text: string): Promise<readonly number[]> {
  try {
    const tokens = lease.model.tokenize(text, false);
    const room = Math.max(1, lease.contextSize - SPECIAL_TOKENS);
    const embedding = await lease.context.getEmbeddingFor(
      tokens.length > room ? tokens.slice(0, room) : tokens,
    );
    return embedding.vector;
  } catch (cause) {
    if (isEdgecrewError(cause)) throw cause;
    throw new ModelError(
      ErrorCodes.MODEL_LOAD_FAILED,
      `${lease.key}: could not embed a text: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, context: { model: lease.ref.raw } },
    );
  }
}

/** Options of {@link EmbeddingRanker.rank}. */
export interface EmbeddingRankOptions {
  readonly signal?: AbortSignal;
  /** Receives the embedding model's `model.loading` / `model.loaded` events (when the manager has no `onEvent`). */
  readonly emit?: (event: RunEventInput) => void;
}

/** Ranks tools with embedding models on a model manager, caching each model's tool document embeddings. */
export class EmbeddingRanker {
  readonly #manager: ModelManager;
  /** Per embedding model key: tool document text → its embedding. */
  readonly #documents = new Map<string, Map<string, readonly number[]>>();

  constructor(manager: ModelManager) {
    this.#manager = manager;
  }

  /** Declares an embedding model to the manager up front (its context size), as workers declare theirs. */
  declare(ref: LocalModelRef): void {
    this.#manager.declareEmbedding(ref, EMBEDDING_CONTEXT_SIZE);
  }

  /**
   * Ranks `tools` against `instruction` with the embedding model `ref` (see the file comment), loading it on
   * the manager if needed. Throws the manager's ModelError when it cannot load, MODEL_LOAD_FAILED when it
   * cannot embed, an AbortError when the signal fires.
   */
  async rank(
    ref: LocalModelRef,
    tools: readonly SearchableTool[],
    instruction: string,
    options: EmbeddingRankOptions = {},
  ): Promise<RankedTool[]> {
    const { signal } = options;
    const lease = await this.#manager.acquireEmbedding(ref, {
      contextSize: EMBEDDING_CONTEXT_SIZE,
      ...(signal === undefined ? {} : { signal }),
      ...(options.emit === undefined ? {} : { emit: options.emit }),
    });
    try {
      let cache = this.#documents.get(lease.key);
      if (cache === undefined || cache.size > MAX_CACHED_DOCUMENTS) {
        cache = new Map();
        this.#documents.set(lease.key, cache);
      }
      const documents: (readonly number[])[] = [];
      for (const tool of tools) {
        const text = toolDocumentText(tool);
        let vector = cache.get(text);
        if (vector === undefined) {
          throwIfAborted(signal);
          vector = await embedText(lease, text);
          cache.set(text, vector);
        }
        documents.push(vector);
      }
      throwIfAborted(signal);
      const query = await embedText(lease, instruction);
      throwIfAborted(signal);
      return rankByEmbeddings(
        tools.map((tool) => tool.name),
        documents,
        query,
      );
    } finally {
      lease.release();
    }
  }
}

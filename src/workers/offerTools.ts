/**
 * Tool RAG for one subtask (a worker with `toolSearch: { k }`): rank the worker's granted tools against the
 * subtask's instruction and task (toolSearch.ts's BM25, unless the caller brings the embedding ranker's
 * ranking, embeddingRanker.ts), keep the plan's named tools and the best-ranked others up to
 * `k`, then drop the lowest-ranked unnamed ones until the first prompt — system prompt, the offered tools'
 * documentation, the instruction — leaves room in the context for a call and the answer after it (`reserve`:
 * twice `maxTokens` when the worker may call; the call's result is then shown cut to the room left, see
 * contextRoom.ts), measured with the model's own template and tokenizer. A prompt that fits only one turn of
 * `maxTokens` would start, make its call and then have no room to answer. At least one tool is kept: when even
 * that does not fit, the turn loop's room check fails the subtask with CONTEXT_TOO_SMALL and the numbers, as for
 * any prompt too long.
 */
import type { ChatHistoryItem, ChatWrapper } from "node-llama-cpp";
import type { SubtaskRequest } from "../types.js";
import { roomFor } from "./contextRoom.js";
import type { SequenceLease } from "./ModelManager.js";
import { ToolChatWrapper } from "./ToolChatWrapper.js";
import { type RankedTool, rankTools, selectTools } from "./toolSearch.js";
import { toolFunctions, type WorkerTools } from "./workerTools.js";

/** The tools one subtask is offered, the chat wrapper documenting them, and the ranking behind the choice. */
export interface OfferedTools {
  readonly tools: WorkerTools;
  readonly chatWrapper: ToolChatWrapper;
  /** The offered tools' names, best first. */
  readonly offered: readonly string[];
  /** Every granted tool, best first. */
  readonly ranked: readonly RankedTool[];
  /** The plan's named tools that the worker is granted. */
  readonly named: readonly string[];
}

/** `tools` narrowed to `names` (the registry view stays: the turn grammar only writes calls of offered tools). */
function narrow(tools: WorkerTools, names: ReadonlySet<string>): WorkerTools {
  const specs = tools.specs.filter((spec) => names.has(spec.name));
  return {
    registry: tools.registry,
    specs,
    callable: tools.callable.filter((tool) => names.has(tool.name)),
    functions: toolFunctions(specs),
  };
}

/**
 * The tools to offer `request`'s subtask out of `tools` (see the file comment); `history` is the subtask's
 * first prompt (system and user turns), `base` the model's own chat wrapper, `reserve` the tokens the prompt must
 * leave free, `ranking` every granted tool ranked best first (default: BM25 against the instruction and task).
 */
export function offerTools(
  lease: SequenceLease,
  base: ChatWrapper,
  request: SubtaskRequest,
  tools: WorkerTools,
  history: readonly ChatHistoryItem[],
  k: number,
  reserve: number,
  ranking?: readonly RankedTool[],
): OfferedTools {
  const ranked =
    ranking ?? rankTools(tools.specs, { instruction: request.subtask.instruction, task: request.task });
  const granted = new Set(tools.specs.map((spec) => spec.name));
  const named = (request.subtask.tools ?? []).filter((name) => granted.has(name));
  const isNamed = new Set(named);
  const offered = selectTools(ranked, { k, named }).map((entry) => entry.tool);
  const keep = Math.max(1, named.length);
  for (;;) {
    const narrowed = narrow(tools, new Set(offered));
    const chatWrapper = new ToolChatWrapper(base, narrowed.functions);
    const fits = roomFor(lease, chatWrapper, history, reserve).fits;
    // The last unnamed tool is the lowest-ranked one that may go.
    const drop = offered.findLastIndex((name) => !isNamed.has(name));
    if (fits || offered.length <= keep || drop < 0)
      return { tools: narrowed, chatWrapper, offered, ranked, named };
    offered.splice(drop, 1);
  }
}

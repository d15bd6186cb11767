/**
 * Does each worker fit its context before any run? A worker's first prompt — its system prompt, the answer's
 * description, the documentation of its tools, the chat template around them — plus its `maxTokens` must fit the
 * context it asked for, and that context cannot exceed what its model was trained for (node-llama-cpp caps it
 * without a word). `validate` reports both with the numbers; a run checks the same thing per subtask
 * (LocalWorker) and fails a worker that cannot start, visibly, instead of letting it "complete" by escalation
 * alone.
 *
 * A worker with `toolSearch` is offered only some of its tools per subtask (offerTools.ts), at least one: it must
 * fit its first prompt with its smallest tool alone, and `validate` says which context that needs.
 *
 * Only the model's vocabulary is loaded (no weights). Tools are counted when their schemas are known before a
 * run (built-ins and tools defined in code); an MCP server's tools are known once it runs, and are counted then.
 */
import { dirname } from "node:path";
import { type ChatHistoryItem, getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import type {
  AgentDefinition,
  SubtaskRequest,
  ToolRegistryPort,
  ToolSpec,
  WorkerDefinition,
} from "../types.js";
import { chatWrapperFor } from "./generate.js";
import { type ResolveModelOptions, resolveModelPath } from "./resolveModel.js";
import { ToolChatWrapper } from "./ToolChatWrapper.js";
import { workerSystemPrompt, workerUserPrompt } from "./workerPrompts.js";
import { toolFunctions } from "./workerTools.js";

/** Where models are found, and the tools whose documentation counts. */
export interface PromptFitOptions extends Omit<ResolveModelOptions, "download"> {
  /** The tools known before a run (built-ins, tools defined in code); their grants are documented in prompts. */
  readonly tools?: ToolRegistryPort;
  readonly llama?: Llama;
}

/** A worker whose prompt, answer budget or context does not fit. */
export interface PromptFitProblem {
  readonly worker: string;
  readonly message: string;
}

/** A subtask request with an instruction of `length` characters, to measure a worker's first prompt. */
function probe(worker: WorkerDefinition, instruction: string): SubtaskRequest {
  return {
    runId: "validate",
    task: "",
    subtask: { id: "s1", worker: worker.name, instruction, dependsOn: [] },
    worker,
    dependencies: {},
  };
}

/**
 * The workers of `agent` whose first prompt (with an empty instruction) and `maxTokens` cannot fit their context,
 * or whose `context.size` exceeds their model's trained context. `hf:` models not downloaded yet are skipped.
 */
export async function checkPromptFit(
  agent: AgentDefinition,
  options: PromptFitOptions = {},
): Promise<PromptFitProblem[]> {
  const llama =
    options.llama ?? (await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error }));
  const problems: PromptFitProblem[] = [];
  const baseDir = options.baseDir ?? (agent.source === undefined ? undefined : dirname(agent.source));
  for (const worker of agent.workers) {
    let path: string;
    try {
      path = await resolveModelPath(worker.model, {
        ...options,
        download: false,
        ...(baseDir === undefined ? {} : { baseDir }),
      });
    } catch {
      continue; // not downloaded yet: `models estimate` says so
    }
    let model: Awaited<ReturnType<Llama["loadModel"]>>;
    try {
      model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    } catch {
      continue; // not a usable GGUF: the model check reports it
    }
    try {
      // A vocabulary-only load knows no context length; the GGUF header does.
      const trained = model.fileInsights.trainContextSize ?? worker.contextSize;
      if (worker.contextSize > trained) {
        problems.push({
          worker: worker.name,
          message: `context.size ${worker.contextSize} exceeds the ${trained} tokens ${worker.model.raw} was trained for (llama.cpp would cap it)`,
        });
      }
      const specs =
        worker.tools.length === 0 || options.tools === undefined ? [] : knownSpecs(options.tools, worker);
      const base = chatWrapperFor(model);
      const request = probe(worker, "");
      const history: ChatHistoryItem[] = [
        { type: "system", text: workerSystemPrompt(request, { hasTools: worker.tools.length > 0 }) },
        { type: "user", text: workerUserPrompt(request) },
        { type: "model", response: [] },
      ];
      const measure = (offered: readonly ToolSpec[]) => {
        const wrapper = offered.length === 0 ? base : new ToolChatWrapper(base, toolFunctions(offered));
        return wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer)
          .length;
      };
      const context = Math.min(worker.contextSize, trained);
      const problem = (worker.toolSearch !== undefined && specs.length > 0 ? toolSearchFit : allToolsFit)(
        worker,
        specs,
        measure,
        context,
      );
      if (problem !== undefined) problems.push({ worker: worker.name, message: problem });
    } finally {
      await model.dispose();
    }
  }
  return problems;
}

/** Why a worker that is offered every granted tool cannot start; undefined when its first prompt fits. */
function allToolsFit(
  worker: WorkerDefinition,
  specs: readonly ToolSpec[],
  measure: (offered: readonly ToolSpec[]) => number,
  context: number,
): string | undefined {
  const promptTokens = measure(specs);
  const needed = promptTokens + worker.maxTokens;
  if (needed <= context) return undefined;
  const hint = specs.length > 1 ? "; toolSearch: { k } offers each subtask only its most relevant tools" : "";
  return `its prompt before any instruction takes ${promptTokens} tokens (system prompt, answer description${specs.length > 0 ? `, ${specs.length} tool descriptions` : ""}); with maxTokens ${worker.maxTokens} that is ${needed}, more than its context of ${context} tokens${hint}`;
}

/**
 * Why a worker with `toolSearch` cannot work: Tool RAG offers at least one tool, and fits the offered set so that
 * the first prompt leaves room for a call and the answer (offerTools.ts), so the first prompt with its smallest
 * tool alone and twice `maxTokens` (once when it may make no call) must fit; undefined when it does.
 */
function toolSearchFit(
  worker: WorkerDefinition,
  specs: readonly ToolSpec[],
  measure: (offered: readonly ToolSpec[]) => number,
  context: number,
): string | undefined {
  let smallest: { name: string; tokens: number } | undefined;
  for (const spec of specs) {
    const tokens = measure([spec]);
    if (smallest === undefined || tokens < smallest.tokens) smallest = { name: spec.name, tokens };
  }
  if (smallest === undefined) return undefined;
  const turns = worker.maxToolCalls === 0 ? 1 : 2;
  const needed = smallest.tokens + turns * worker.maxTokens;
  if (needed <= context) return undefined;
  const room =
    turns === 2
      ? `maxTokens ${worker.maxTokens} for a call and for the answer`
      : `maxTokens ${worker.maxTokens}`;
  return `it cannot be offered even one tool: its prompt with only its smallest tool (${smallest.name}) takes ${smallest.tokens} tokens; with ${room} it needs a context of ${needed} tokens, more than its context of ${context} tokens`;
}

/** The specs of a worker's granted tools that are known before a run; unknown grants (MCP) are skipped. */
function knownSpecs(tools: ToolRegistryPort, worker: WorkerDefinition) {
  return worker.tools.flatMap((grant) => {
    try {
      return tools.list([grant]);
    } catch {
      return [];
    }
  });
}

// The `toolrag` section of `npm run bench` (BENCH_ONLY=toolrag runs it alone): Tool RAG on the tools of three real
// MCP servers from npm — server-filesystem, -memory and -everything, listed through the MCP SDK client and named as
// a crew registers them (`fs.read_text_file`, …; a tool that requires task-based execution is left out, as the
// crew skips it) — granted together to one worker.
//
// - Prompt tokens per subtask: the worker's first prompt (system prompt, tool documentation, instruction) in the
//   qwen3 family's real chat template and tokenizer (a vocabulary-only load of its fixture), with every tool
//   offered vs the top-k that edgecrew's lexical ranker (dist/workers/toolSearch.js) offers for the subtask.
// - Relevance: a scripted set of instructions, each with the tool (or tools) that does it; the share whose
//   expected tool is in the offered top-k (k = 1, 3, 5), and the instructions that miss at k = 3.
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { DEFAULT_WORKER_OUTPUT } from "../dist/schema/describe.js";
import { resolveFixtureModel } from "../dist/testing/fixtureModel.js";
import { chatWrapperFor } from "../dist/workers/generate.js";
import { ToolChatWrapper } from "../dist/workers/ToolChatWrapper.js";
import { rankTools, selectTools } from "../dist/workers/toolSearch.js";
import { workerSystemPrompt, workerUserPrompt } from "../dist/workers/workerPrompts.js";
import { toolFunctions } from "../dist/workers/workerTools.js";

/** The servers, the namespace a crew gives each, and their extra arguments. */
const SERVERS = [
  { name: "fs", pkg: "server-filesystem", args: (dir) => [dir] },
  { name: "memory", pkg: "server-memory", args: () => [] },
  { name: "everything", pkg: "server-everything", args: () => [] },
];

/** The scripted instructions: what a planner might write, and the tool(s) that do it. */
export const INSTRUCTIONS = [
  ["Read the file notes.txt", ["fs.read_text_file", "fs.read_file"]],
  ["Write the summary to report.md", ["fs.write_file"]],
  ["List the files in the docs directory", ["fs.list_directory", "fs.list_directory_with_sizes"]],
  ["Move draft.txt to archive/draft.txt", ["fs.move_file"]],
  ["Search for all files matching *.log", ["fs.search_files"]],
  ["Create a directory named output", ["fs.create_directory"]],
  ["Get the size and modification time of data.csv", ["fs.get_file_info"]],
  ["Replace the line 'debug: true' with 'debug: false' in config.yaml", ["fs.edit_file"]],
  ["Show the recursive tree of the src folder", ["fs.directory_tree"]],
  ["Read the image logo.png", ["fs.read_media_file"]],
  ["Read a.txt, b.txt and c.txt at once", ["fs.read_multiple_files"]],
  ["Remember Alice, who works at Acme: create an entity for her", ["memory.create_entities"]],
  ["Record the relation: Alice manages Bob", ["memory.create_relations"]],
  ["Add the observation 'likes tea' to Alice", ["memory.add_observations"]],
  ["Search the knowledge graph for nodes about Acme", ["memory.search_nodes"]],
  ["Delete the entity Bob from the knowledge graph", ["memory.delete_entities"]],
  ["Read the whole knowledge graph", ["memory.read_graph"]],
  ["Add 3 and 4: what is their sum?", ["everything.get-sum"]],
  ["Echo back the message hello", ["everything.echo"]],
  ["Show the environment variables of the server", ["everything.get-env"]],
  ["Compress the file with gzip", ["everything.gzip-file-as-resource"]],
  ["Return a tiny image", ["everything.get-tiny-image"]],
];

const K = 3;
const RECALL_AT = [1, 3, 5];

async function listTools(root, dir) {
  const tools = [];
  for (const server of SERVERS) {
    const client = new Client({ name: "edgecrew-bench", version: "1" });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        join(root, "node_modules/@modelcontextprotocol", server.pkg, "dist/index.js"),
        ...server.args(dir),
      ],
      env: { PATH: process.env.PATH ?? "", MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
      stderr: "ignore",
    });
    await client.connect(transport);
    try {
      const listed = await client.listTools();
      for (const tool of listed.tools) {
        if (tool.execution?.taskSupport === "required") continue;
        tools.push({
          name: `${server.name}.${tool.name}`,
          description: tool.description ?? "",
          input: tool.inputSchema,
        });
      }
    } finally {
      await client.close();
    }
  }
  return tools;
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted.at(-1) };
}

/** Runs the section: see the file comment. `dir` is a scratch directory, `cacheDir` the fixture cache. */
export async function toolRag({ root, dir, cacheDir }) {
  const tools = await listTools(root, dir);
  const path = await resolveFixtureModel(
    { name: "toolrag", seed: 1, size: "tiny", family: "qwen3" },
    { cacheDir },
  );
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  try {
    const base = chatWrapperFor(model);
    const worker = {
      name: "tools",
      description: "Uses tools",
      model: { kind: "fixture", raw: "fixture:toolrag" },
      tools: SERVERS.map((server) => server.name),
      toolChoice: "required",
      output: DEFAULT_WORKER_OUTPUT,
      contextSize: 4096,
      maxTokens: 384,
      temperature: 0,
      parallel: 1,
    };
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    const promptTokens = (instruction, offered) => {
      const request = {
        runId: "bench",
        task: "Help with the project",
        subtask: { id: "s1", worker: worker.name, instruction, dependsOn: [] },
        worker,
        dependencies: {},
      };
      const wrapper = new ToolChatWrapper(base, toolFunctions(offered.map((name) => byName.get(name))));
      const state = wrapper.generateContextState({
        chatHistory: [
          { type: "system", text: workerSystemPrompt(request, { hasTools: true }) },
          { type: "user", text: workerUserPrompt(request) },
          { type: "model", response: [] },
        ],
      });
      return state.contextText.tokenize(model.tokenizer).length;
    };
    const all = tools.map((tool) => tool.name);
    const unknown = INSTRUCTIONS.flatMap(([, expected]) => expected.filter((name) => !byName.has(name)));
    if (unknown.length > 0) throw new Error(`expected tools the servers do not list: ${unknown.join(", ")}`);
    const without = [];
    const withRag = [];
    const hits = Object.fromEntries(RECALL_AT.map((k) => [k, 0]));
    const misses = [];
    for (const [instruction, expected] of INSTRUCTIONS) {
      const ranked = rankTools(tools, { instruction, task: "Help with the project" });
      without.push(promptTokens(instruction, all));
      const offered = selectTools(ranked, { k: K }).map((entry) => entry.tool);
      withRag.push(promptTokens(instruction, offered));
      for (const k of RECALL_AT) {
        if (ranked.slice(0, k).some((entry) => expected.includes(entry.tool))) hits[k]++;
      }
      if (!offered.some((name) => expected.includes(name))) misses.push({ instruction, expected, offered });
    }
    const withoutStats = stats(without);
    const withStats = stats(withRag);
    return {
      tokenizer: "qwen3 (family fixture: real tokenizer and chat template)",
      servers: SERVERS.map((server) => `@modelcontextprotocol/${server.pkg}`),
      tools: tools.length,
      k: K,
      instructions: INSTRUCTIONS.length,
      promptTokensAllTools: withoutStats,
      promptTokensTopK: withStats,
      tokensSaved: withoutStats.median - withStats.median,
      shareExpectedInTopK: Object.fromEntries(
        RECALL_AT.map((k) => [`k=${k}`, Math.round((hits[k] / INSTRUCTIONS.length) * 1000) / 1000]),
      ),
      missesAtK: misses,
    };
  } finally {
    await model.dispose();
    await llama.dispose();
  }
}

/** The section's rows of the markdown table. */
export function toolRagRows(r) {
  const share = (key) => `${Math.round(r.shareExpectedInTopK[key] * r.instructions)}/${r.instructions}`;
  return [
    `| Tool RAG, ${r.tools} tools of 3 MCP servers: prompt tokens per subtask, top-${r.k} / all tools | ${(r.promptTokensTopK.median / r.promptTokensAllTools.median).toFixed(3)} | ${r.promptTokensTopK.median} [${r.promptTokensTopK.min}–${r.promptTokensTopK.max}] vs ${r.promptTokensAllTools.median} [${r.promptTokensAllTools.min}–${r.promptTokensAllTools.max}] tokens (${r.tokenizer}) |`,
    `| Tool RAG: expected tool in the offered top-k, ${r.instructions} scripted instructions | ${r.shareExpectedInTopK[`k=${r.k}`]} at k=${r.k} | k=1 ${share("k=1")}, k=3 ${share("k=3")}, k=5 ${share("k=5")} |`,
  ];
}

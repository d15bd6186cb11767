/**
 * Child process of memoryEstimate.test.ts: what the model manager does to a model, at node-llama-cpp's level
 * (plain JavaScript, without edgecrew's TypeScript). The backend is started before the baseline; then the header
 * is read twice (the file check and the estimate each parse it), the model loads, its context is created, and a
 * grammar-constrained generation runs. Prints the peak growth: VmHWM at the end minus VmRSS before the first
 * header read. A file of its own, not `node -e`: node-llama-cpp forks a binding test with this process's
 * execArgv, and `--input-type` there makes the fork fail.
 */
import { readFileSync } from "node:fs";
import { getLlama, LlamaCompletion, readGgufFileInfo } from "node-llama-cpp";

const { path, gbnf, contextSize, tokens } = JSON.parse(process.argv[2]);
const kib = (field) =>
  Number(new RegExp(`^${field}:\\s*(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"))[1]) *
  1024;
const llama = await getLlama({ gpu: false, maxThreads: 1, build: "never", logLevel: "error" });
const grammar = await llama.createGrammar({ grammar: gbnf });
const before = kib("VmRSS");
for (let i = 0; i < 2; i++)
  await readGgufFileInfo(path, { sourceType: "filesystem", readTensorInfo: true, logWarnings: false });
const model = await llama.loadModel({ modelPath: path });
const context = await model.createContext({
  contextSize,
  sequences: 1,
  threads: 1,
  failedCreationRemedy: false,
});
const sequence = context.getSequence();
let generated = 0;
for (let attempt = 0; generated < tokens && attempt < 8; attempt++) {
  const completion = new LlamaCompletion({ contextSequence: sequence });
  await completion.generateCompletion(
    "Write a note about the weather window for Saturday's hike, as JSON.\n",
    {
      grammar,
      maxTokens: tokens - generated,
      temperature: 0.8,
      seed: 7 + attempt,
      onToken: (chunk) => {
        generated += chunk.length;
      },
    },
  );
  completion.dispose({ disposeSequence: false });
}
console.log(JSON.stringify({ peakGrowthBytes: kib("VmHWM") - before, generated }));
process.exit(0);

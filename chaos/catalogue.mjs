// The catalogue of malformed agent YAML: each file must be rejected by `edgecrew validate` with exit 2 and a
// file:line:col line, and the same base without the fault (the control) must pass.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { badCase, cli } from "./lib.mjs";

const BASE = [
  "name: demo",
  "description: A demo agent",
  "planner:",
  "  model: openai:gpt-4o-mini",
  "workers:",
  "  - name: researcher",
  "    description: Finds facts",
  "    model: fixture:researcher?seed=11",
];
const y = (...lines) => `${lines.join("\n")}\n`;
const replace = (n, line) => BASE.map((old, i) => (i === n - 1 ? line : old));
const catalogue = [
  ["yaml-syntax", y("name: demo", "description: [unclosed", "planner: {}")],
  ["tab-indent", y("name: demo", "planner:", "\tmodel: x")],
  ["empty", ""],
  ["only-comment", y("# nothing yet")],
  ["list-not-mapping", y("- name: demo")],
  ["scalar-document", y("", "hello")],
  ["duplicate-key", y(BASE[0], "name: again", ...BASE.slice(1))],
  ["unknown-top-key", y(...BASE, "colour: blue")],
  ["typo-planner-key", y(...BASE.slice(0, 4), "  temprature: 0.2", ...BASE.slice(4))],
  ["typo-worker-key", y(...BASE, "    paralel: 2")],
  ["wrong-type", y(...BASE, "    parallel: two")],
  ["string-not-list", y(...BASE, "    tools: calculator")],
  ["not-integer", y(...BASE, "    maxTokens: 1.5")],
  ["too-low", y(...BASE, "limits: { maxParallel: 0 }")],
  ["too-high", y(...BASE, "    temperature: 3")],
  ["null-planner", y("name: demo", "description: A demo agent", "planner:", ...BASE.slice(4))],
  ["missing-required", y("name: demo", "planner:", "  model: openai:gpt-4o-mini")],
  ["missing-worker-key", y(...BASE.slice(0, 6), "    model: fixture:researcher?seed=11")],
  ["no-workers", y(...BASE.slice(0, 4), "workers: []")],
  ["bad-agent-name", y(...replace(1, "name: Trip Planner"))],
  ["bad-worker-name", y(...replace(6, '  - name: "1st"'))],
  [
    "duplicate-worker",
    y(...BASE, "  - name: researcher", "    description: Again", "    model: fixture:researcher?seed=11"),
  ],
  ["unknown-tool", y(...BASE, "    tools: [search]", "tools: [calculator]")],
  ["misspelt-tool", y(...BASE, "    tools: [calculater]", "tools: [calculator]")],
  ["undeclared-builtin-tool", y(...BASE, "    tools: [calculator]")],
  ["missing-model-file", y(...replace(8, "    model: ./models/missing.gguf"))],
  ["missing-planner-file", y(...replace(4, "  model: /nowhere/planner.gguf"))],
  ["remote-worker-model", y(...replace(8, "    model: openai:gpt-4o"))],
  ["model-not-gguf", y(...replace(8, "    model: ./models/qwen.bin"))],
  ["bad-fixture-query", y(...replace(8, "    model: fixture:tiny?temp=1"))],
  ["bad-fixture-seed", y(...replace(8, "    model: fixture:tiny?seed=-3"))],
  ["bad-hf-ref", y(...replace(8, "    model: hf:owner"))],
  ["bad-provider", y(...replace(4, "  model: OpenAI:gpt-4o"))],
  ["bad-memory", y(...BASE, "device: { memory: 6 gigs }")],
  ["zero-memory", y(...BASE, "device: { memory: 0GiB }")],
  ["negative-memory", y(...BASE, "device: { memory: -5 }")],
  ["unknown-gpu", y(...BASE, "device: { gpu: cdua }")],
  ["bad-escalation", y(...BASE, "escalation: { retries: 9, to: human }")],
  ["non-object-output", y(...BASE, "    output:", "      type: string")],
  ["unclosed-quote", y('name: "demo', ...BASE.slice(1))],
  ["anchor-undefined", y(...BASE, "limits: *nowhere")],
  ["binary-garbage", `${BASE.join("\n")}\n\u0000\u0001\u0002: [\n`],
];
/** Validates every file of the catalogue and the valid control; returns the cases and the control's outcome. */
export async function yamlCatalogue({ scratch }) {
  const started = performance.now();
  const dir = join(scratch, "catalogue");
  mkdirSync(dir, { recursive: true });
  const cases = [];
  for (const [name, text] of catalogue) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, text);
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    cases.push(
      await badCase(name, ["validate", file], {
        codes: [2],
        pattern: new RegExp(`^${escaped}:\\d+:\\d+`, "m"),
      }),
    );
  }
  // The control: the same base, valid, must pass, or the catalogue proves nothing.
  const file = join(dir, "control-valid.yaml");
  writeFileSync(file, y(...BASE));
  const r = await cli(["validate", file]);
  const control = { code: r.code, pass: r.code === 0, stderr: r.stderr.trim() };
  return { cases, control, ms: Math.round(performance.now() - started) };
}

// A catalogue of malformed agent definitions: each case pins the exact line:col, path and message of every
// problem, so a regression in parsing, validation or position mapping shows up as a concrete diff.
import { describe, expect, test } from "vitest";
import { BASE, type Expected, expectIssues, replaceLine, useAgentDir, yaml } from "./support.js";

const agentDir = useAgentDir();

describe("malformed agent definitions: each problem at its line:col, with its path", () => {
  const cases: readonly (readonly [string, string, readonly Expected[]])[] = [
    [
      "YAML syntax error",
      yaml("name: demo", "description: [unclosed", "planner: {}"),
      [["3:1", "", "Flow sequence"]],
    ],
    [
      "tab-indented YAML",
      yaml("name: demo", "planner:", "\tmodel: x"),
      [["3:1", "", "Tabs are not allowed"]],
    ],
    ["empty file", "", [["1:1", "", "the file is empty"]]],
    ["only a comment", yaml("# nothing yet"), [["1:1", "", "the file is empty"]]],
    [
      "a list instead of a mapping",
      yaml("- name: demo"),
      [["1:1", "", "must be a mapping with keys like name"]],
    ],
    ["a scalar document", yaml("", "hello"), [["2:1", "", "got a single value"]]],
    [
      "duplicate key",
      yaml(...BASE.slice(0, 1), "name: again", ...BASE.slice(1)),
      [["2:1", "name", "duplicate key `name`"]],
    ],
    [
      "unknown top-level key",
      yaml(...BASE, "colour: blue"),
      [["9:1", "colour", "unknown key `colour` (allowed keys: name, description, planner, workers,"]],
    ],
    [
      "typo'd key gets a did-you-mean",
      yaml(...BASE.slice(0, 4), "  temprature: 0.2", ...BASE.slice(4)),
      [["5:3", "planner.temprature", "unknown key `temprature`; did you mean `temperature`?"]],
    ],
    [
      "typo'd worker key",
      yaml(...BASE, "    paralel: 2"),
      [["9:5", "workers[0].paralel", "did you mean `parallel`?"]],
    ],
    [
      "wrong type",
      yaml(...BASE, "    parallel: two"),
      [["9:15", "workers[0].parallel", 'expected a number, got the string "two"']],
    ],
    [
      "a string where a list belongs",
      yaml(...BASE, "    tools: calculator"),
      [["9:12", "workers[0].tools", 'expected a list, got the string "calculator"']],
    ],
    [
      "not an integer",
      yaml(...BASE, "    maxTokens: 1.5"),
      [["9:16", "workers[0].maxTokens", "expected an integer"]],
    ],
    [
      "out of range (low)",
      yaml(...BASE, "limits: { maxParallel: 0 }"),
      [["9:24", "limits.maxParallel", "must be at least 1, got number 0"]],
    ],
    [
      "out of range (high)",
      yaml(...BASE, "    temperature: 3"),
      [["9:18", "workers[0].temperature", "must be at most 2, got number 3"]],
    ],
    [
      "empty value where a mapping belongs",
      yaml("name: demo", "description: A demo agent", "planner:", ...BASE.slice(4)),
      [["3:1", "planner", "expected a mapping, got null"]],
    ],
    [
      "missing required keys point at the mapping that lacks them",
      yaml("name: demo", "planner:", "  model: openai:gpt-4o-mini"),
      [
        ["1:1", "description", "missing required key `description`"],
        ["1:1", "workers", "missing required key `workers`"],
      ],
    ],
    [
      "missing worker key",
      yaml(...BASE.slice(0, 6), ...BASE.slice(7)),
      [["6:5", "workers[0].description", "missing required key `description`"]],
    ],
    [
      "no workers",
      yaml(...BASE.slice(0, 4), "workers: []"),
      [["5:10", "workers", "an agent needs at least one worker"]],
    ],
    [
      "bad agent name",
      yaml(...replaceLine(1, "name: Trip Planner")),
      [["1:7", "name", "only lowercase letters, digits, - and _"]],
    ],
    [
      "bad worker name",
      yaml(...replaceLine(6, '  - name: "1st"')),
      [["6:11", "workers[0].name", "a worker name starts with a lowercase letter"]],
    ],
    [
      "duplicate worker",
      yaml(...BASE, "  - name: researcher", "    description: Again", "    model: ./models/qwen.gguf"),
      [["9:11", "workers[1].name", "duplicate worker name `researcher` (first used by workers[0])"]],
    ],
    [
      "unknown tool in a worker",
      yaml(...BASE, "    tools: [search]", "tools: [calculator]"),
      [["9:13", "workers[0].tools[0]", "unknown tool `search` (declared tools: calculator)"]],
    ],
    [
      "misspelt tool in a worker",
      yaml(...BASE, "    tools: [calculater]", "tools: [calculator]"),
      [["9:13", "workers[0].tools[0]", "unknown tool `calculater`; did you mean `calculator`?"]],
    ],
    [
      "built-in tool not declared",
      yaml(...BASE, "    tools: [calculator]"),
      [["9:13", "workers[0].tools[0]", "the tool `calculator` is not declared under top-level `tools`"]],
    ],
    [
      "missing model file",
      yaml(...replaceLine(8, "    model: ./models/missing.gguf")),
      [["8:12", "workers[0].model", /^model file not found \(MODEL_NOT_FOUND\): .*models\/missing\.gguf/]],
    ],
    [
      "missing local planner file",
      yaml(...replaceLine(4, "  model: /nowhere/planner.gguf")),
      [["4:10", "planner.model", "model file not found (MODEL_NOT_FOUND): /nowhere/planner.gguf"]],
    ],
    [
      "remote model as a worker",
      yaml(...replaceLine(8, "    model: openai:gpt-4o")),
      [
        [
          "8:12",
          "workers[0].model",
          "workers run in-process with node-llama-cpp, so a worker needs a local model",
        ],
      ],
    ],
    [
      "model path without .gguf",
      yaml(...replaceLine(8, "    model: ./models/qwen.bin")),
      [["8:12", "workers[0].model", "a local model file must end in .gguf"]],
    ],
    [
      "bad fixture query",
      yaml(...replaceLine(8, "    model: fixture:tiny?temp=1")),
      [["8:12", "workers[0].model", 'unknown fixture parameter "temp" (allowed: seed, size, family)']],
    ],
    [
      "bad fixture seed",
      yaml(...replaceLine(8, "    model: fixture:tiny?seed=-3")),
      [["8:12", "workers[0].model", 'seed must be a non-negative integer, got "-3"']],
    ],
    [
      "bad hf ref",
      yaml(...replaceLine(8, "    model: hf:owner")),
      [["8:12", "workers[0].model", "an hf: reference is hf:owner/repo, hf:owner/repo:quant"]],
    ],
    [
      "bad provider",
      yaml(...replaceLine(4, "  model: OpenAI:gpt-4o")),
      [["4:10", "planner.model", '"OpenAI" is not a provider name']],
    ],
    [
      "bad memory string",
      yaml(...BASE, "device: { memory: 6 gigs }"),
      [
        [
          "9:19",
          "device.memory",
          'a size with a unit, like 6GiB or 512MB (units: B, KB, MB, GB, KiB, MiB, GiB), got "6 gigs"',
        ],
      ],
    ],
    [
      "zero memory",
      yaml(...BASE, "device: { memory: 0GiB }"),
      [["9:19", "device.memory", "the memory size must be greater than zero"]],
    ],
    [
      "negative memory",
      yaml(...BASE, "device: { memory: -5 }"),
      [["9:19", "device.memory", "must be greater than 0"]],
    ],
    [
      "unknown gpu",
      yaml(...BASE, "device: { gpu: cdua }"),
      [
        [
          "9:16",
          "device.gpu",
          'expected one of auto, cuda, vulkan, metal or false, got "cdua"; did you mean `cuda`?',
        ],
      ],
    ],
    [
      "bad escalation",
      yaml(...BASE, "escalation: { retries: 9, to: human }"),
      [
        ["9:24", "escalation.retries", "must be at most 5"],
        ["9:31", "escalation.to", 'expected one of "planner", "fail", got the string "human"'],
      ],
    ],
    [
      "non-object output schema",
      yaml(...BASE, "    output:", "      type: string"),
      [
        [
          "10:13",
          "workers[0].output.type",
          'must have `type: object` at the top (answers are JSON objects), got "string"',
        ],
      ],
    ],
    [
      "output schema without a type",
      yaml(...BASE, "    output: { properties: {} }"),
      [["9:13", "workers[0].output", "the output schema needs `type: object` at the top"]],
    ],
    [
      "output that is not a mapping",
      yaml(...BASE, "    output: [answer]"),
      [["9:13", "workers[0].output", "expected a mapping, got a list"]],
    ],
    [
      "uncompilable answer schema",
      yaml(...BASE, "answer:", "  type: object", "  properties:", "    a: { type: strin }"),
      [
        [
          "10:3",
          "answer",
          "the answer schema cannot be used: unusable JSON Schema: type must be JSONType or JSONType[]: strin",
        ],
      ],
    ],
    [
      "maxTokens that do not fit the context",
      yaml(...BASE, "    context: { size: 256 }"),
      [
        [
          "6:5",
          "workers[0].maxTokens",
          "maxTokens 512 (the default) must be smaller than the context size 256",
        ],
      ],
    ],
    [
      "subtask timeout longer than the run",
      yaml(...BASE, "limits: { timeoutSeconds: 60, subtaskTimeoutSeconds: 90 }"),
      [
        [
          "9:54",
          "limits.subtaskTimeoutSeconds",
          "subtaskTimeoutSeconds 90 is longer than the whole run's timeoutSeconds 60",
        ],
      ],
    ],
    [
      "unknown built-in tool",
      yaml(...BASE, "tools: [calculater]"),
      [["9:9", "tools[0]", "unknown built-in tool `calculater`; did you mean `calculator`?"]],
    ],
    [
      "duplicate tool declarations",
      yaml(...BASE, "tools: [calculator, calculator]"),
      [["9:21", "tools[1]", "the calculator tool is declared twice (first at tools[0])"]],
    ],
    [
      "fs named without options",
      yaml(...BASE, "tools:", "  - fs"),
      [["10:5", "tools[0]", "the fs tool needs options; write it as `- fs: { root: ./data }`"]],
    ],
    [
      "fs without root",
      yaml(...BASE, "tools:", "  - fs: { write: true }"),
      [["10:9", "tools[0].fs.root", "missing required key `root`"]],
    ],
    [
      "misspelt tool option",
      yaml(...BASE, "tools:", "  - fs: { root: ., wirte: true }"),
      [["10:20", "tools[0].fs.wirte", "unknown key `wirte`; did you mean `write`?"]],
    ],
    [
      "misspelt tool name as a key",
      yaml(...BASE, "tools:", "  - fz: { root: . }"),
      [["10:5", "tools[0].fz", "unknown key `fz`; did you mean `fs`?"]],
    ],
    [
      "two tools in one entry",
      yaml(...BASE, "tools:", "  - { calculator: {}, fs: { root: . } }"),
      [["10:5", "tools[0]", "one entry declares 2 tools (calculator, fs)"]],
    ],
    [
      "http with an empty allow list",
      yaml(...BASE, "tools:", "  - http: { allow: [] }"),
      [["10:20", "tools[0].http.allow", "the http tool needs at least one allowed URL pattern"]],
    ],
    [
      "http pattern that is not a URL",
      yaml(...BASE, "tools:", '  - http: { allow: ["ftp://x/*"], methods: [FETCH] }'),
      [
        [
          "10:21",
          "tools[0].http.allow[0]",
          '"ftp://x/*" is not a URL pattern: it must start with http:// or https://',
        ],
        [
          "10:45",
          "tools[0].http.methods[0]",
          'expected one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"',
        ],
      ],
    ],
    [
      "shell commands with paths, spaces or metacharacters",
      yaml(...BASE, "tools:", '  - shell: { allow: [ls, "rm -rf", "a;b", /bin/cat] }'),
      [
        ["10:26", "tools[0].shell.allow[1]", '"rm -rf" is not a bare command name'],
        ["10:36", "tools[0].shell.allow[2]", '"a;b" is not a bare command name'],
        ["10:43", "tools[0].shell.allow[3]", '"/bin/cat" is not a bare command name'],
      ],
    ],
    [
      "a tool entry that is a number",
      yaml(...BASE, "tools: [42]"),
      [["9:9", "tools[0]", "a tool entry is a built-in name (calculator) or a mapping"]],
    ],
  ];

  test("the catalogue is large enough", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  test.each(cases)("%s", (_name, text, expected) => {
    expectIssues(text, agentDir.file, expected);
  });
});

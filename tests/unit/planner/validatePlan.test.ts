import { describe, expect, it } from "vitest";
import { planGrammarSchema, validatePlan } from "../../../src/planner/index.js";
import { findReferences, substituteReferences } from "../../../src/references.js";
import type { WorkerSummary } from "../../../src/types.js";

const workers: WorkerSummary[] = [
  {
    name: "finder",
    description: "finds places",
    tools: [],
    output: {
      type: "object",
      properties: {
        places: { type: "array", items: { type: "object", properties: { name: { type: "string" } } } },
      },
      required: ["places"],
      additionalProperties: false,
    },
  },
  {
    name: "writer",
    description: "writes",
    tools: [],
    output: {
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
      additionalProperties: false,
    },
  },
];

const check = (subtasks: unknown, maxSubtasks = 8) => validatePlan({ subtasks }, { workers, maxSubtasks });

describe("validatePlan", () => {
  it("accepts a valid DAG and de-duplicates dependsOn", () => {
    const result = check([
      { id: "s1", worker: "finder", instruction: "find", dependsOn: [] },
      {
        id: "s2",
        worker: "writer",
        instruction: "write about {{s1.answer.places[0].name}}",
        dependsOn: ["s1", "s1"],
      },
    ]);
    expect(result).toEqual({
      ok: true,
      plan: {
        subtasks: [
          { id: "s1", worker: "finder", instruction: "find", dependsOn: [] },
          {
            id: "s2",
            worker: "writer",
            instruction: "write about {{s1.answer.places[0].name}}",
            dependsOn: ["s1"],
          },
        ],
      },
    });
  });

  it("reports every problem at once", () => {
    const result = check(
      [
        { id: "s1", worker: "finder", instruction: "a", dependsOn: ["s3"] },
        { id: "s2", worker: "poet", instruction: "b", dependsOn: ["s9"] },
        {
          id: "s3",
          worker: "writer",
          instruction: "c {{s2.answer.text}} {{s1.answer.nope}}",
          dependsOn: ["s1", "s3"],
        },
        { id: "s3", worker: "writer", instruction: "d", dependsOn: [] },
      ],
      3,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual(
      expect.arrayContaining([
        "the plan has 4 subtasks; the limit is 3",
        'subtask id "s3" is used more than once',
        's2: unknown worker "poet" (workers: finder, writer)',
        's2: depends on "s9", which is not in the plan',
        "s3: depends on itself",
        's3: instruction references s2.answer.text but does not list "s2" in dependsOn',
        's3: s1.answer.nope cannot exist: the answer has no field "nope" (fields: places)',
      ]),
    );
    expect(result.errors.some((e) => e.startsWith("dependency cycle: "))).toBe(true);
  });

  it("rejects a cycle and names it", () => {
    const result = check([
      { id: "a", worker: "writer", instruction: "x", dependsOn: ["b"] },
      { id: "b", worker: "writer", instruction: "x", dependsOn: ["a"] },
    ]);
    expect(result).toEqual({ ok: false, errors: ["dependency cycle: a → b → a"] });
  });

  it("rejects a malformed reply with paths", () => {
    const result = validatePlan({ subtasks: [{ id: "s1", worker: 3 }] }, { workers, maxSubtasks: 4 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join("\n")).toMatch(/subtasks\[0\]\.worker/);
  });
});

describe("planGrammarSchema", () => {
  it("fixes ids by position, lists workers as an enum, and lets subtask i depend only on earlier ones", () => {
    const schema = planGrammarSchema(workers, 3) as {
      properties: { subtasks: { prefixItems: { properties: Record<string, unknown> }[]; maxItems: number } };
    };
    const positions = schema.properties.subtasks.prefixItems;
    expect(schema.properties.subtasks.maxItems).toBe(3);
    expect(positions.map((p) => p.properties.id)).toEqual([
      { const: "s1" },
      { const: "s2" },
      { const: "s3" },
    ]);
    expect(positions[0]?.properties.worker).toEqual({ enum: ["finder", "writer"] });
    expect(positions[0]?.properties.dependsOn).toEqual({ type: "array", maxItems: 0 });
    expect(positions[2]?.properties.dependsOn).toEqual({
      type: "array",
      items: { enum: ["s1", "s2"] },
      maxItems: 2,
    });
  });
});

describe("references", () => {
  it("finds and substitutes answer references", () => {
    expect(findReferences("a {{s1.answer}} b {{ s2.answer.items[1].name }}")).toEqual([
      { text: "{{s1.answer}}", subtaskId: "s1", path: [] },
      { text: "{{ s2.answer.items[1].name }}", subtaskId: "s2", path: ["items", 1, "name"] },
    ]);
    const answers = { s1: { text: "hi" }, s2: { items: [{ name: "a" }, { name: "b" }] } };
    expect(
      substituteReferences("{{s1.answer.text}} / {{s2.answer.items[1].name}} / {{s1.answer}}", answers),
    ).toBe('hi / b / {"text":"hi"}');
    expect(substituteReferences("{{s1.answer.missing}}", answers)).toBe("(missing s1.answer.missing)");
  });
});

describe("validatePlan: tools a subtask names", () => {
  const withTools: WorkerSummary[] = [
    {
      name: "reader",
      description: "reads files",
      tools: ["files", "calculator"],
      output: { type: "string" },
    },
  ];
  const plan = (tools: unknown) =>
    validatePlan(
      { subtasks: [{ id: "s1", worker: "reader", instruction: "read notes.txt", tools }] },
      { workers: withTools, maxSubtasks: 4 },
    );

  it("keeps named tools the worker is granted, by name or under a granted server or family", () => {
    const result = plan(["files.read_text_file", "calculator", "files.read_text_file"]);
    expect(result).toEqual({
      ok: true,
      plan: {
        subtasks: [
          {
            id: "s1",
            worker: "reader",
            instruction: "read notes.txt",
            dependsOn: [],
            tools: ["files.read_text_file", "calculator"],
          },
        ],
      },
    });
    // An empty list, like none, leaves the choice to the worker.
    const empty = plan([]);
    expect(empty.ok && empty.plan.subtasks[0]?.tools).toBeUndefined();
  });

  it("rejects a named tool the worker is not granted, saying which tools it has", () => {
    expect(plan(["shell", "filesystem.read"])).toEqual({
      ok: false,
      errors: [
        's1: names the tool "shell", which worker "reader" is not granted (its tools: files, calculator)',
        's1: names the tool "filesystem.read", which worker "reader" is not granted (its tools: files, calculator)',
      ],
    });
  });
});

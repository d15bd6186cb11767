import { describe, expect, test } from "vitest";
import { z } from "zod";
import { agentJsonSchema } from "../../../src/config/index.js";
import type { JsonObject, JsonValue } from "../../../src/types.js";

function child(value: JsonValue | undefined, ...keys: string[]): JsonObject {
  let current = value;
  for (const key of keys) {
    if (typeof current !== "object" || current === null || Array.isArray(current))
      throw new Error(`no ${key}`);
    current = current[key];
  }
  if (typeof current !== "object" || current === null || Array.isArray(current))
    throw new Error("not an object");
  return current;
}

describe("agentJsonSchema", () => {
  const schema = agentJsonSchema();

  test("is plain JSON with $schema and the top-level keys", () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(["name", "description", "planner", "workers"]);
    expect(Object.keys(child(schema, "properties"))).toEqual([
      "name",
      "description",
      "planner",
      "workers",
      "tools",
      "limits",
      "device",
      "escalation",
      "answer",
      "privacy",
      "fleet",
      "secrets",
    ]);
  });

  test("describes keys and carries defaults for editors", () => {
    const worker = child(schema, "properties", "workers", "items");
    expect(worker.required).toEqual(["name", "description", "model"]);
    const properties = child(worker, "properties");
    expect(child(properties, "model").description).toMatch(/node-llama-cpp/);
    expect(child(properties, "maxTokens").default).toBe(512);
    expect(child(properties, "parallel")).toMatchObject({ default: 1, minimum: 1, maximum: 64 });
    expect(child(schema, "properties", "limits").default).toEqual({
      maxSubtasks: 8,
      maxParallel: 2,
      maxReplans: 1,
      timeoutSeconds: 600,
      subtaskTimeoutSeconds: 120,
    });
    const memory = child(schema, "properties", "device", "properties", "memory");
    expect(JSON.stringify(memory)).toContain("pattern");
  });

  test("every property in the schema has a description", () => {
    const undocumented: string[] = [];
    const visit = (node: JsonValue | undefined, path: string): void => {
      if (typeof node !== "object" || node === null) return;
      if (Array.isArray(node)) {
        node.forEach((item, index) => {
          visit(item, `${path}[${index}]`);
        });
        return;
      }
      const properties = node.properties;
      if (typeof properties === "object" && properties !== null && !Array.isArray(properties)) {
        for (const [key, value] of Object.entries(properties)) {
          if (
            typeof value !== "object" ||
            value === null ||
            Array.isArray(value) ||
            typeof value.description !== "string"
          ) {
            undocumented.push(`${path}.${key}`);
          }
        }
      }
      for (const [key, value] of Object.entries(node)) visit(value, `${path}/${key}`);
    };
    visit(schema, "");
    expect(undocumented).toEqual([]);
  });

  test("is a schema zod can read back, and it accepts a YAML-shaped agent", () => {
    const roundTrip = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    const agent = {
      name: "demo",
      description: "A demo",
      planner: { model: "openai:gpt-4o-mini" },
      workers: [{ name: "w", description: "W", model: "fixture:tiny" }],
      tools: ["calculator", { fs: { root: "./data" } }],
      device: { memory: "6GiB", gpu: false },
    };
    expect(roundTrip.safeParse(agent).success).toBe(true);
    expect(roundTrip.safeParse({ ...agent, colour: "blue" }).success).toBe(false);
    expect(roundTrip.safeParse({ ...agent, tools: [{}] }).success).toBe(false);
  });

  test("returns a fresh copy each time", () => {
    const first = agentJsonSchema();
    first.title = "changed";
    expect(agentJsonSchema().title).toBe("edgecrew agent");
  });
});

/**
 * Describes a JSON Schema in plain words for a prompt. A grammar forces the *shape* of the output, but the model
 * never sees it: without a description of each field it fills them with whatever fits the grammar.
 */
import type { JsonSchema, JsonValue } from "../types.js";

/** The answer schema a worker gets when its YAML declares no `output`. */
export const DEFAULT_WORKER_OUTPUT: JsonSchema = {
  type: "object",
  properties: { answer: { type: "string", maxLength: 1000, description: "the answer" } },
  required: ["answer"],
  additionalProperties: false,
};

function isSchema(value: JsonValue | undefined): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function schemaList(value: JsonValue | undefined): JsonSchema[] {
  return Array.isArray(value) ? value.filter(isSchema) : [];
}

function range(min: JsonValue | undefined, max: JsonValue | undefined, unit: string): string | undefined {
  const lo = typeof min === "number" ? min : undefined;
  const hi = typeof max === "number" ? max : undefined;
  if (lo !== undefined && hi !== undefined)
    return lo === hi ? `exactly ${lo} ${unit}` : `${lo} to ${hi} ${unit}`;
  if (lo !== undefined) return `at least ${lo} ${unit}`;
  if (hi !== undefined) return `at most ${hi} ${unit}`;
  return undefined;
}

/** A short type phrase for one schema, e.g. `integer from 1 to 7` or `array of string, 1 to 5 items`. */
export function describeType(schema: JsonSchema): string {
  if (schema.const !== undefined) return `exactly ${JSON.stringify(schema.const)}`;
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  const alternatives = [...schemaList(schema.anyOf), ...schemaList(schema.oneOf)];
  if (alternatives.length > 0) return alternatives.map(describeType).join(" or ");
  const type = schema.type;
  if (Array.isArray(type)) return type.map((t) => describeType({ ...schema, type: t })).join(" or ");
  const notes: string[] = [];
  switch (type) {
    case "string": {
      const length = range(schema.minLength, schema.maxLength, "characters");
      if (length) notes.push(length);
      if (typeof schema.format === "string") notes.push(`format ${schema.format}`);
      if (typeof schema.pattern === "string") notes.push(`matching /${schema.pattern}/`);
      break;
    }
    case "number":
    case "integer": {
      const lo = schema.minimum ?? schema.exclusiveMinimum;
      const hi = schema.maximum ?? schema.exclusiveMaximum;
      if (typeof lo === "number" && typeof hi === "number") notes.push(`from ${lo} to ${hi}`);
      else if (typeof lo === "number") notes.push(`at least ${lo}`);
      else if (typeof hi === "number") notes.push(`at most ${hi}`);
      break;
    }
    case "array": {
      const items = isSchema(schema.items) ? describeType(schema.items) : "any";
      const count = range(schema.minItems, schema.maxItems, "items");
      return `array of ${items}${count ? `, ${count}` : ""}`;
    }
    case "object":
      return "object";
    case undefined:
      return "any JSON value";
  }
  return notes.length > 0 ? `${String(type)} ${notes.join(", ")}` : String(type);
}

function describeFields(schema: JsonSchema, indent: string, lines: string[]): void {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  for (const [name, raw] of Object.entries(properties)) {
    if (!isSchema(raw)) continue;
    const description = typeof raw.description === "string" ? `: ${raw.description}` : "";
    const need = required.has(name) ? "required" : "optional";
    lines.push(`${indent}- "${name}" (${describeType(raw)}, ${need})${description}`);
    if (raw.type === "object") describeFields(raw, `${indent}  `, lines);
    if (raw.type === "array" && isSchema(raw.items) && raw.items.type === "object") {
      describeFields(raw.items, `${indent}  `, lines);
    }
  }
}

/**
 * Describes the JSON value a schema asks for, field by field, for a prompt.
 *
 * @example
 * describeSchema({ type: "object", properties: { city: { type: "string", maxLength: 40 } }, required: ["city"] });
 * // 'Reply with one JSON object with these fields:\n- "city" (string at most 40 characters, required)'
 */
export function describeSchema(schema: JsonSchema): string {
  if (schema.type !== "object") return `Reply with one JSON value: ${describeType(schema)}.`;
  const lines = ["Reply with one JSON object with these fields:"];
  describeFields(schema, "", lines);
  return lines.join("\n");
}

/**
 * The reply shapes the planner's prompts state, written from the very JSON Schema the reply is checked against,
 * so a prompt can never ask for a shape the check then rejects (docs/PLANNER.md).
 */
import type { JsonSchema } from "../types.js";

/** What to write for a property instead of its schema (`answer` → `<the final answer>`), by property name. */
export type ShapeLabels = Readonly<Record<string, string>>;

const isSchema = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Every combination of one alternative per part, in order. */
function product(parts: readonly (readonly string[])[]): string[][] {
  let out: string[][] = [[]];
  for (const part of parts) out = out.flatMap((prefix) => part.map((p) => [...prefix, p]));
  return out;
}

/** The alternatives a schema accepts, each as a JSON template with `<placeholders>` for free values. */
function alternatives(schema: unknown, labels: ShapeLabels): string[] {
  if (!isSchema(schema)) return ["<JSON value>"];
  if ("const" in schema) return [JSON.stringify(schema.const)];
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return [JSON.stringify(schema.enum[0])];
  const union = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(union) && union.length > 0) return union.flatMap((s) => alternatives(s, labels));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const properties = schema.properties;
  if ((type === "object" || type === undefined) && isSchema(properties)) {
    const entries = Object.entries(properties);
    const parts = entries.map(([name, field]) => {
      const label = labels[name];
      return label === undefined ? alternatives(field, labels) : [label];
    });
    return product(parts).map(
      (values) => `{${entries.map(([name], i) => `${JSON.stringify(name)}: ${values[i]}`).join(", ")}}`,
    );
  }
  switch (type) {
    case "object":
      return ["{…}"];
    case "array":
      return alternatives(schema.items, labels).map((item) => `[${item}]`);
    case "string":
      return ['"<string>"'];
    case "integer":
    case "number":
      return ["<number>"];
    case "boolean":
      return ["<boolean>"];
    case "null":
      return ["null"];
    default:
      return ["<JSON value>"];
  }
}

/**
 * The shapes `schema` accepts as one line, alternatives joined by " or " (`{"decision": {"answer": <the final
 * answer>}} or {"decision": {"replan": "<why>"}}`). Every property is written, optional ones too; `labels`
 * stand in for the values of the properties they name.
 */
export function replyShape(schema: JsonSchema, labels: ShapeLabels = {}): string {
  return alternatives(schema, labels).join(" or ");
}

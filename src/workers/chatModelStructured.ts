/**
 * Structured output of {@link ChatNodeLlamaCpp}: the schemas `withStructuredOutput` accepts (zod, Standard
 * (JSON) Schema, plain JSON Schema), the JSON Schema each gives the grammar, and the parsing and validation of
 * a reply against it. A value the grammar let through but the schema rejects is a ValidationError carrying
 * the errors, so the caller can re-ask with them.
 */
import type { BaseMessage } from "@langchain/core/messages";
import type { SerializableSchema } from "@langchain/core/utils/standard_schema";
import { z } from "zod";
import { ValidationError } from "../errors.js";
import { compileSchema, formatZodIssues } from "../schema/compile.js";
import type { JsonSchema } from "../types.js";

/** The outcome of validating a parsed value. */
export type Checked = { ok: true; value: unknown } | { ok: false; errors: readonly string[] };

/** How a structured-output schema validates a parsed value. */
export interface StructuredSchema {
  readonly jsonSchema: JsonSchema;
  readonly validate: (value: unknown) => Checked | Promise<Checked>;
}

/** The schemas `withStructuredOutput` accepts: zod, any Standard (JSON) Schema, or a plain JSON Schema. */
export type StructuredOutputSchema<RunOutput> =
  | z.ZodType<RunOutput>
  | SerializableSchema<RunOutput>
  | JsonSchema;

function isZodSchema(schema: unknown): schema is z.ZodType {
  return typeof schema === "object" && schema !== null && "_zod" in schema;
}

function isSerializable(schema: unknown): schema is SerializableSchema {
  if (typeof schema !== "object" || schema === null || !("~standard" in schema)) return false;
  const standard = (schema as { "~standard": unknown })["~standard"];
  return (
    typeof standard === "object" && standard !== null && "validate" in standard && "jsonSchema" in standard
  );
}

/** The JSON Schema and validator of a schema `withStructuredOutput` accepts. */
export function structuredSchema(schema: unknown): StructuredSchema {
  if (isZodSchema(schema)) {
    return {
      jsonSchema: z.toJSONSchema(schema) as JsonSchema,
      validate: (value) => {
        const result = schema.safeParse(value);
        return result.success
          ? { ok: true, value: result.data }
          : { ok: false, errors: formatZodIssues(result.error.issues) };
      },
    };
  }
  if (isSerializable(schema)) {
    const standard = schema["~standard"];
    return {
      jsonSchema: standard.jsonSchema.output({ target: "draft-2020-12" }) as JsonSchema,
      validate: async (value) => {
        const result = await standard.validate(value);
        if (result.issues === undefined) return { ok: true, value: result.value };
        return {
          ok: false,
          errors: result.issues.map((issue) => {
            const path = (issue.path ?? []).map((part) => String(typeof part === "object" ? part.key : part));
            return `${path.length > 0 ? path.join(".") : "(root)"}: ${issue.message}`;
          }),
        };
      },
    };
  }
  const jsonSchema = schema as JsonSchema;
  const compiled = compileSchema(jsonSchema);
  return { jsonSchema, validate: (value) => compiled.validate(value) };
}

/**
 * The reply's value: JSON-parsed and validated. Throws a ValidationError (OUTPUT_INVALID) for text that is not
 * JSON (telling a cut-off reply apart, from the `stopReason` metadata) or a value the schema rejects.
 */
export async function parseStructured(message: BaseMessage, schema: StructuredSchema): Promise<unknown> {
  const text = message.text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const excerpt = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    const metadata = message.response_metadata as { stopReason?: unknown } | undefined;
    const cutOff = metadata?.stopReason === "maxTokens";
    const errors = [
      cutOff
        ? "(root): the reply was cut off at the token limit before the JSON was complete; answer more briefly"
        : `(root): not valid JSON: ${excerpt}`,
    ];
    throw new ValidationError("the model's reply is not valid JSON", errors, { cause, context: { text } });
  }
  const result = await schema.validate(value);
  if (!result.ok) {
    throw new ValidationError(
      `the model's reply does not match the schema:\n${result.errors.join("\n")}`,
      result.errors,
      {
        context: { text },
      },
    );
  }
  return result.value;
}

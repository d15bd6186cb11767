/**
 * Secret redaction for everything a run writes or reports: the values of the environment variables an agent
 * names under `secrets:`, and anything shaped like a well-known API key or bearer token. Text coming back from a
 * tool or a model can carry a key it read somewhere; it must not end up in the event log or the run directory.
 */
import type { JsonValue } from "../types.js";

/** What replaces a secret. */
export const REDACTED = "[redacted]";

/** Shapes of common credentials: OpenAI/Anthropic-style keys, GitHub, Slack, AWS access keys, Google API keys, bearer tokens. */
const KEY_PATTERNS: readonly RegExp[] = [
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/g,
];

/** Replaces secrets in text and in JSON values (deeply; keys are left alone). */
export interface Redactor {
  text(value: string): string;
  json<T extends JsonValue>(value: T): T;
}

/**
 * A redactor for the given secret values (values shorter than 6 characters are ignored: redacting "1" or "yes"
 * everywhere would destroy the log without protecting anything).
 *
 * @example
 * const redact = createRedactor([process.env.MY_TOKEN ?? ""]);
 * redact.text("token=abc123secret"); // "token=[redacted]"
 */
export function createRedactor(secretValues: readonly string[]): Redactor {
  // Longest first, so a secret that contains another is replaced whole.
  const values = [...new Set(secretValues.filter((v) => v.length >= 6))].sort((a, b) => b.length - a.length);
  const text = (value: string): string => {
    let out = value;
    for (const secret of values) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    for (const pattern of KEY_PATTERNS) out = out.replace(pattern, REDACTED);
    return out;
  };
  const json = <T extends JsonValue>(value: T): T => {
    if (typeof value === "string") return text(value) as T;
    if (Array.isArray(value)) return value.map((item) => json(item)) as T;
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, json(v)])) as T;
    }
    return value;
  };
  return { text, json };
}

/** The values of the named environment variables that are set. */
export function secretValuesFrom(
  names: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  return names.flatMap((name) => {
    const value = env[name];
    return value === undefined || value === "" ? [] : [value];
  });
}

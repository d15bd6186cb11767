/**
 * The rule for the values of an agent's `secrets:`: a secret that is set must have at least
 * {@link MIN_SECRET_LENGTH} characters. A shorter one ("1", "yes", "admin") cannot be redacted without also
 * redacting ordinary text everywhere, and leaving it in clear text would be a silent leak, so it is refused
 * where every other definition problem is: at `validate` (with its line:col), `loadAgent`, `defineAgent` and
 * `createCrew` (whose environment may differ from the one the file was validated in).
 */
import { type PathSegment, type RawIssue, valueIssue } from "./issues.js";

/** The shortest secret value edgecrew accepts. */
export const MIN_SECRET_LENGTH = 6;

/**
 * Why the value of secret `name` cannot be used, or undefined when it can. An empty value is an unset secret:
 * nothing to leak, nothing to refuse.
 *
 * @example
 * shortSecretProblem("API_PIN", "1234"); // "the value of API_PIN has 4 characters; …"
 */
export function shortSecretProblem(name: string, value: string): string | undefined {
  if (value === "" || value.length >= MIN_SECRET_LENGTH) return undefined;
  return (
    `the value of ${name} has ${value.length} character${value.length === 1 ? "" : "s"}; a secret needs at ` +
    `least ${MIN_SECRET_LENGTH} to be redacted reliably (a shorter one matches ordinary text and would stay ` +
    `in clear text): use a longer secret, or take ${name} out of secrets`
  );
}

/**
 * The secrets of `names` (an agent's `secrets:` list, unvalidated) whose values in `env` are too short, one
 * issue each at `secrets[i]`. Entries that are not strings are the schema's business and are skipped.
 */
export function checkSecretValues(
  names: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RawIssue[] {
  if (!Array.isArray(names)) return [];
  return names.flatMap((name, index) => {
    if (typeof name !== "string") return [];
    const problem = shortSecretProblem(name, env[name] ?? "");
    const path: PathSegment[] = ["secrets", index];
    return problem === undefined ? [] : [valueIssue(path, problem)];
  });
}

/**
 * The validator's own issue shape, before it is placed in a file. Validation works on plain values and knows
 * only paths; the YAML loader later turns each path into a line:col, which is why an issue also says whether
 * it is about a key (an unknown key is reported where the key is written) or about the value under it.
 */

/** One step of a path into the definition: a mapping key or a list index. */
export type PathSegment = string | number;

/** A problem found by validation, located by path only. */
export interface RawIssue {
  readonly path: readonly PathSegment[];
  readonly message: string;
  /** Whether the key itself or its value is at fault (an unknown key vs. a wrong value). */
  readonly at: "key" | "value";
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Renders a path the way users read it: `workers[1].model`, `limits.maxParallel`, `tools[2].http.allow[0]`;
 * the empty path is "". Keys that are not plain names are quoted (`output.properties["first name"]`).
 *
 * @example
 * formatIssuePath(["workers", 1, "model"]); // "workers[1].model"
 */
export function formatIssuePath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (!IDENTIFIER.test(segment)) out += `[${JSON.stringify(segment)}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

/** A value issue at `path`: the common case. */
export function valueIssue(path: readonly PathSegment[], message: string): RawIssue {
  return { path, message, at: "value" };
}

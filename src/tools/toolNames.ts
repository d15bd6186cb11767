/**
 * How a granted name maps to tools, and "did you mean" for misspelt ones. Agents grant tools by the name they
 * declare (`fs`, `http`, an MCP server's name), while a built-in may expose a family of tools (`fs.read`,
 * `fs.list`, `fs.write`). The rule: a name grants the tool of exactly that name and every tool whose name
 * starts with that name followed by a dot. So `fs` grants the whole `fs.*` family, and `fs.read` grants only
 * itself; `f` grants nothing, because the match is on whole dot-separated segments.
 */
import { closestMatch, suggestion } from "../suggest.js";

/**
 * Whether `grant` covers the tool called `toolName` (see the module comment for the rule).
 *
 * @example
 * grants("fs", "fs.read"); // true
 * grants("fs.read", "fs.read"); // true
 * grants("fs", "fsx.read"); // false
 */
export function grants(grant: string, toolName: string): boolean {
  return toolName === grant || toolName.startsWith(`${grant}.`);
}

/**
 * The candidate a misspelt name most plausibly meant, if any: case-insensitive, within one edit per three
 * characters (at least one). A name that is a family prefix of a candidate (`fs` for `fs.read`) counts too,
 * because a model asking for `fs` usually meant a member of the family.
 *
 * @example
 * suggestName("fs.raed", ["fs.read", "fs.list"]); // "fs.read"
 * suggestName("weather", ["fs.read"]); // undefined
 */
export function suggestName(name: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const needle = name.toLowerCase();
  const member = list.find((candidate) => {
    const lower = candidate.toLowerCase();
    return lower !== needle && grants(needle, lower);
  });
  return member ?? closestMatch(name, list);
}

/** `; did you mean \`x\`?` when a candidate is close (see {@link suggestName}), else the empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  return suggestion(suggestName(name, candidates));
}

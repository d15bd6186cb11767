/**
 * How a granted name maps to tools, and "did you mean" for misspelt ones. Agents grant tools by the name they
 * declare (`fs`, `http`, an MCP server's name), while a built-in may expose a family of tools (`fs.read`,
 * `fs.list`, `fs.write`). The rule: a name grants the tool of exactly that name and every tool whose name
 * starts with that name followed by a dot. So `fs` grants the whole `fs.*` family, and `fs.read` grants only
 * itself; `f` grants nothing, because the match is on whole dot-separated segments.
 */

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

// Plain Levenshtein distance over two rows; tool names are short, so this is cheap.
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
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
  const needle = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    if (grants(needle, lower) && lower !== needle) return candidate;
    const d = distance(needle, lower);
    const allowed = Math.max(1, Math.floor(Math.max(needle.length, lower.length) / 3));
    if (d <= allowed && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean \`x\`?` when a candidate is close, else the empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const match = suggestName(name, candidates);
  return match === undefined ? "" : `; did you mean \`${match}\`?`;
}

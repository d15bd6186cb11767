/**
 * "Did you mean …?" for misspelt keys and names: YAML keys (`temprature`), worker and tool names. A typo is the
 * most common mistake in a hand-written agent, and naming the intended key turns a puzzling "unknown key" into a
 * one-second fix. Shared by config/ and tools/.
 */

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two adjacent characters (the
 * "optimal string alignment" variant of Damerau–Levenshtein), because transposed letters are a typical typo.
 *
 * @example
 * editDistance("temprature", "temperature"); // 1
 * editDistance("paralel", "parallel"); // 1
 */
export function editDistance(a: string, b: string): number {
  // Three rolling rows are enough: a swap looks two rows back.
  let before: number[] = [];
  let previous: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (before[j - 2] ?? 0) + 1);
      }
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate closest to `word`, when it is close enough to be a plausible typo: at most one edit for short
 * words and one edit per three characters for longer ones. Case is ignored (`MaxTokens` → `maxTokens`).
 *
 * @example
 * closestMatch("temprature", ["temperature", "maxTokens"]); // "temperature"
 * closestMatch("colour", ["temperature"]); // undefined
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const needle = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(needle, candidate.toLowerCase());
    const allowed = Math.max(1, Math.floor(Math.max(needle.length, candidate.length) / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * A sentence to append to an error message: `; did you mean \`x\`?` when a candidate is close, else "".
 *
 * @example
 * `unknown key \`temprature\`${didYouMean("temprature", ["temperature"])}`;
 * // "unknown key `temprature`; did you mean `temperature`?"
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  return suggestion(closestMatch(word, candidates));
}

/** Formats a match as `; did you mean \`x\`?` (empty when there is none), for callers with their own matching. */
export function suggestion(match: string | undefined): string {
  return match === undefined ? "" : `; did you mean \`${match}\`?`;
}

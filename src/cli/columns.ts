/** Plain-text tables for the CLI. */

/** Lays out rows of cells as columns separated by two spaces (the last column is not padded). */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const cells of rows) {
    for (const [i, c] of cells.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows.map((cells) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

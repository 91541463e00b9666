/** The tables that the benchmarks and `hcloud-swarm local` print: each column padded to its widest cell, two spaces between columns, no trailing spaces (pure). */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(width[i]))
      .join("  ")
      .trimEnd(),
  );
}

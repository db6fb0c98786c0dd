// Pure planning of backup generations (csync2's scheme): which old backups to rename or delete so
// a new backup can take the bare name. No I/O; backup/rotate.ts executes the plan.

/** One rename of backup generation `from` to generation `to` (0 = the bare name, n = `name.n`). */
export interface GenerationShift {
  readonly from: number;
  readonly to: number;
}

/**
 * What to do with the existing backups before a new one is written. Execute `remove` first (any
 * order), then `shifts` in the listed order: no shift ever lands on a name that is still taken.
 */
export interface GenerationPlan {
  readonly shifts: readonly GenerationShift[];
  readonly remove: readonly number[];
}

/**
 * Plans the rotation that frees the bare name (generation 0) for a new backup, keeping at most
 * `keep` generations in total counting the new one.
 *
 * The backups of an absolute path P are `${backupDir}${P}` (newest, generation 0) and
 * `${backupDir}${P}.1` … `.${keep-1}` (older). Existing generations, ordered newest first, are
 * renumbered 1, 2, … (gaps left by a crash or a changed `keep` are closed), and the ones that
 * would get a number ≥ `keep` — always the oldest — are removed. So the newest existing backup
 * survives as `.1` whenever `keep` ≥ 2; with `keep` = 1 it is removed, because the new backup
 * replaces it.
 *
 * `keep` = 0 means backups are off: the plan is empty and existing backups are left alone (csync
 * never deletes what an operator may still want). Duplicates in `existingSuffixes` are ignored.
 * Throws a bug Error for a negative or non-integer suffix or `keep`.
 */
export function planGenerations(existingSuffixes: readonly number[], keep: number): GenerationPlan {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new Error(`bug: keep must be an integer ≥ 0, got ${keep}`);
  for (const s of existingSuffixes) {
    if (!Number.isSafeInteger(s) || s < 0) throw new Error(`bug: generation suffix must be an integer ≥ 0, got ${s}`);
  }
  if (keep === 0) return { shifts: [], remove: [] };
  const sorted = [...new Set(existingSuffixes)].sort((a, b) => a - b);

  // The i-th newest existing backup becomes generation i + 1, or is removed past keep - 1.
  const remove = sorted.filter((_, i) => i + 1 >= keep);
  const moves = sorted.slice(0, Math.max(0, keep - 1)).map((from, i) => ({ from, to: i + 1 }));

  // Targets increase with sources, so moves are ordered without any swap: moves to a lower number
  // (closing gaps) go oldest-last ascending, then moves to a higher number go from the oldest down.
  // A move to a lower number never targets a name still held (see the property test).
  const down = moves.filter((m) => m.to < m.from);
  const up = moves.filter((m) => m.to > m.from).reverse();
  return { shifts: [...down, ...up], remove };
}

/** The backup file name of generation `generation` for a bare backup path (`path`, `path.1`, …). */
export function generationPath(barePath: string, generation: number): string {
  return generation === 0 ? barePath : `${barePath}.${generation}`;
}

/**
 * Parses a directory entry name as a generation of the backup named `baseName`: 0 for the bare
 * name, n for `baseName.n` (n ≥ 1, no leading zeros), undefined for anything else.
 */
export function parseGenerationName(baseName: string, entryName: string): number | undefined {
  if (entryName === baseName) return 0;
  if (!entryName.startsWith(`${baseName}.`)) return undefined;
  const rest = entryName.slice(baseName.length + 1);
  if (!/^[1-9][0-9]{0,8}$/.test(rest)) return undefined;
  return Number(rest);
}

// Safety rails as pure predicates (docs/semantics.md, "Safety rails"). The engine halts a group when one trips.
import type { FileState } from './types.ts';

/** Live (non-tombstone) entries among `states`. */
export function countLive(states: Iterable<FileState>): number {
  let n = 0;
  for (const s of states) if (s.meta.kind !== 'deleted') n++;
  return n;
}

/**
 * True when a scan would turn every recorded live entry of a root into a tombstone: the root
 * vanished or was emptied (an unmounted disk looks exactly like this). `liveBefore` counts the
 * recorded live entries below the root, excluding the root itself.
 */
export function rootEmptied(opts: { liveBefore: number; liveNow: number }): boolean {
  return opts.liveBefore > 0 && opts.liveNow === 0;
}

/**
 * True when deleting `deletions` of a peer's `total` live files exceeds `maxDeletePercent`.
 * Tiny trees (fewer than 4 entries) are exempt: deleting 1 of 2 files is normal work.
 */
export function wouldDeleteTooMany(opts: { deletions: number; total: number; maxDeletePercent: number }): boolean {
  if (opts.total < 4 || opts.deletions === 0) return false;
  return (opts.deletions * 100) / opts.total > opts.maxDeletePercent;
}

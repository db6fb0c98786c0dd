// The receiver's decision for one incoming change (docs/semantics.md, "Versions and conflicts"). Pure: data in, Decision out.
import type { FileMeta, FileState, IgnoredAttr } from './types.ts';
import { compareVersions } from './version.ts';

/**
 * What to do with an incoming state:
 * - apply: incoming is newer (or forced): write it;
 * - have: local is equal or newer: acknowledge, nothing to do;
 * - merge: concurrent but identical content and metadata: adopt the merged version silently;
 * - conflict: concurrent and different: resolve by policy or hold for the operator; also the same
 *   version with different content ('diverged'), which csync never produces but must not accept
 *   silently (a restored store, a bug): it is resolved like any conflict, so nodes converge.
 */
export type Decision =
  | { readonly kind: 'apply'; readonly reason: 'newer' | 'new-path' | 'forced' }
  | { readonly kind: 'have'; readonly reason: 'equal' | 'older' }
  | { readonly kind: 'merge'; readonly reason: 'identical' }
  | { readonly kind: 'conflict'; readonly reason: 'concurrent' | 'diverged' };

/** Options of decide(). `force` is set when the sender used `csync -f`. */
export interface DecideOptions {
  readonly ignore: readonly IgnoredAttr[];
  readonly force: boolean;
}

/** Decides what a receiver holding `local` (undefined = never seen) does with `incoming`. */
export function decide(local: FileState | undefined, incoming: FileState, opts: DecideOptions): Decision {
  if (local === undefined) return { kind: 'apply', reason: 'new-path' };
  const order = compareVersions(incoming.version, local.version);
  switch (order) {
    case 'newer':
      return { kind: 'apply', reason: 'newer' };
    case 'equal':
      if (!sameContent(local.meta, incoming.meta)) return opts.force ? { kind: 'apply', reason: 'forced' } : { kind: 'conflict', reason: 'diverged' };
      return { kind: 'have', reason: 'equal' };
    case 'older':
      return { kind: 'have', reason: 'older' };
    case 'concurrent':
      if (sameMeta(local.meta, incoming.meta, opts.ignore)) return { kind: 'merge', reason: 'identical' };
      if (opts.force) return { kind: 'apply', reason: 'forced' };
      return { kind: 'conflict', reason: 'concurrent' };
    default: {
      const never: never = order;
      throw new Error(`bug: unknown version order ${String(never)}`);
    }
  }
}

/**
 * True when two metas describe the same entry as far as csync compares them: kind, content hash,
 * symlink target, and (unless ignored) mode, uid, gid. mtime counts for files only; directory
 * mtimes change whenever their children do and are not compared.
 */
export function sameMeta(a: FileMeta, b: FileMeta, ignore: readonly IgnoredAttr[]): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'deleted') return true;
  if (a.kind === 'file' && (a.hash !== b.hash || a.sizeBytes !== b.sizeBytes || a.mtimeNs !== b.mtimeNs)) return false;
  if (a.kind === 'symlink' && a.target !== b.target) return false;
  if (a.kind !== 'symlink' && !ignore.includes('mode') && a.mode !== b.mode) return false;
  if (!ignore.includes('uid') && a.uid !== b.uid) return false;
  if (!ignore.includes('gid') && a.gid !== b.gid) return false;
  return true;
}

/** True when only metadata differs (same kind and content): the change can be sent without content. */
export function sameContent(a: FileMeta, b: FileMeta): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'file') return a.hash === b.hash && a.sizeBytes === b.sizeBytes;
  if (a.kind === 'symlink') return a.target === b.target;
  return true;
}

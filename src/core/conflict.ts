// Pure conflict resolution (docs/semantics.md, "Resolving conflicts"): two concurrent states and a policy in, a winner and the rule
// that decided out. No I/O, no clock. Every policy is a total order, so resolving three or more
// concurrent versions in any order and on any node picks the same winner (associative, commutative).
import type { AutoPolicy, FileState, NodeName } from './types.ts';
import { mergeVersions } from './version.ts';

/** The group facts a resolution needs. */
export interface ResolveGroup {
  readonly policy: AutoPolicy;
  /** The group's hosts in config order (for left/right). */
  readonly hosts: readonly NodeName[];
  readonly receiveOnly: readonly NodeName[];
}

/** The outcome: which side wins, why, and the version that supersedes both. */
export type Resolution =
  | { readonly kind: 'held'; readonly rule: string }
  | { readonly kind: 'resolved'; readonly winner: 'a' | 'b'; readonly rule: string; readonly state: FileState };

type Key = (s: FileState) => readonly (number | string | bigint)[];

const live = (s: FileState): number => (s.meta.kind === 'deleted' ? 0 : 1);
const mtime = (s: FileState): bigint => s.meta.mtimeNs;
const size = (s: FileState): number => s.meta.sizeBytes;
/** Lower node name wins ties: invert by comparing the negated char codes lexicographically. */
const lowerName = (s: FileState): string => invertString(s.origin);
const content = (s: FileState): string => `${s.meta.kind}:${s.meta.hash ?? s.meta.target ?? ''}:${s.meta.mode}:${s.meta.uid}:${s.meta.gid}`;

/** For each policy: a key where the larger tuple wins. Modification beats deletion where docs/semantics.md says so. */
function keyFor(g: ResolveGroup): Key {
  const idx = (s: FileState): number => g.hosts.indexOf(s.origin);
  switch (g.policy) {
    case 'younger':
      return (s) => [live(s), mtime(s), size(s), lowerName(s)];
    case 'older':
      return (s) => [live(s), -mtime(s), size(s), lowerName(s)];
    case 'bigger':
      return (s) => [live(s), size(s), mtime(s), lowerName(s)];
    case 'smaller':
      return (s) => [live(s), -size(s), mtime(s), lowerName(s)];
    case 'first':
      return (s) => [-s.changedAtMs, lowerName(s)];
    case 'left':
      return (s) => [-idx(s), mtime(s), lowerName(s)];
    case 'right':
      return (s) => [idx(s), mtime(s), lowerName(s)];
    case 'none':
      return () => [];
    default: {
      const never: never = g.policy;
      throw new Error(`bug: unknown policy ${String(never)}`);
    }
  }
}

/**
 * Resolves two concurrent, different states. `receive_only` origins always lose (they never win,
 * even under `none`); otherwise `none` holds the conflict for the operator. The resolved state is
 * the winner's content and metadata with a version that dominates both sides.
 */
export function resolveConflict(a: FileState, b: FileState, g: ResolveGroup): Resolution {
  const aRo = g.receiveOnly.includes(a.origin);
  const bRo = g.receiveOnly.includes(b.origin);
  if (aRo !== bRo) return resolved(aRo ? 'b' : 'a', 'receive_only never wins', a, b);
  // A directory and a file (or symlink) at one path: the directory wins under every policy. The
  // file is kept as a loser by the receiver; replacing a directory would mean deleting every entry
  // below it on every node, and holding the clash leaves its children refused for ever.
  const aDir = a.meta.kind === 'dir';
  const bDir = b.meta.kind === 'dir';
  if (aDir !== bDir && live(a) === 1 && live(b) === 1) return resolved(aDir ? 'a' : 'b', 'a directory wins over a file', a, b);
  if (g.policy === 'none') return { kind: 'held', rule: 'auto = none' };
  const key = keyFor(g);
  const c = compareTuples([...key(a), content(a)], [...key(b), content(b)]);
  if (c === 0) return resolved('a', `${g.policy} (identical)`, a, b);
  return resolved(c > 0 ? 'a' : 'b', `auto = ${g.policy}`, a, b);
}

/**
 * The state two nodes adopt when they hold identical content under concurrent versions: the local
 * entry's metadata (what is on this disk) with the merged version, and the origin and change time
 * of the earlier change (ties: the lower node name). Every node picks the same origin whatever
 * order the merges happen in, so policies keyed on origin (left/right, tie-breaks) agree later.
 */
export function mergeIdentical(local: FileState, incoming: FileState): FileState {
  const earlier = incoming.changedAtMs < local.changedAtMs || (incoming.changedAtMs === local.changedAtMs && incoming.origin < local.origin) ? incoming : local;
  return { ...local, origin: earlier.origin, changedAtMs: earlier.changedAtMs, version: mergeVersions(local.version, incoming.version) };
}

function resolved(winner: 'a' | 'b', rule: string, a: FileState, b: FileState): Resolution {
  const w = winner === 'a' ? a : b;
  return { kind: 'resolved', winner, rule, state: { ...w, path: a.path, version: mergeVersions(a.version, b.version) } };
}

/** Lexicographic comparison of key tuples of the same shape: >0 when `x` is larger. */
export function compareTuples(x: readonly (number | string | bigint)[], y: readonly (number | string | bigint)[]): number {
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === q) continue;
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    return p > q ? 1 : -1;
  }
  return 0;
}

function invertString(s: string): string {
  return Array.from(s, (ch) => String.fromCharCode(0xffff - ch.charCodeAt(0))).join('') + '\uffff';
}

// Domain types shared by every layer. Pure data: no I/O, no behaviour beyond tiny constructors.

/** A node's name as it appears in `[hosts]` (lower-case letters, digits, '-', '_', '.'). */
export type NodeName = string;
/** A group's name as it appears in `[groups.NAME]`. */
export type GroupName = string;

/**
 * A path relative to a group root, '/'-separated, normalised, never containing '..', '.', empty
 * components, NUL or backslash. The empty string is the root itself. Created only by toRelPath().
 */
export type RelPath = string & { readonly __brand: 'RelPath' };

/**
 * A root as written in the config's `include` (e.g. "%www%/htdocs" or "/etc/nginx/sites-enabled"),
 * identical on every node. Each node maps it to its own absolute directory by expanding prefixes.
 */
export type RootId = string;

/**
 * The cluster-wide name of an entry: `${root}` for the root itself, else `${root}/${rel}`.
 * The state store is keyed by it; the wire carries root and rel separately.
 */
export type LogicalPath = string & { readonly __brand: 'LogicalPath' };

/** What kind of entry a path holds; 'deleted' is a tombstone. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'deleted';

/**
 * Metadata of one entry as csync compares and applies it (docs/semantics.md, "What is synced").
 * For 'deleted', only `kind` is meaningful (the others are 0/undefined).
 */
export interface FileMeta {
  readonly kind: EntryKind;
  /** Size in bytes for files; 0 otherwise. */
  readonly sizeBytes: number;
  /** Modification time in nanoseconds since the epoch. */
  readonly mtimeNs: bigint;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Symlink target, for 'symlink' only. */
  readonly target?: string;
  /** xxh64 of the content as 16 lower-case hex digits, for 'file' only. */
  readonly hash?: string;
}

/** A version vector: node name → counter of changes that node made. Missing means 0. */
export type VersionVector = Readonly<Record<NodeName, number>>;

/** The recorded state of one logical path on one node. */
export interface FileState {
  readonly path: LogicalPath;
  readonly meta: FileMeta;
  readonly version: VersionVector;
  /** The node whose change produced this state (for the `first` policy and for logs). */
  readonly origin: NodeName;
  /** When `origin` detected the change, by its own clock, in ms since the epoch. */
  readonly changedAtMs: number;
}

/** Attributes an operator may exclude from comparison and application (`ignore = [...]`). */
export type IgnoredAttr = 'uid' | 'gid' | 'mode';

/** Conflict policies (csync2's names; docs/semantics.md, "Resolving conflicts"). */
export const AUTO_POLICIES = ['none', 'first', 'younger', 'older', 'bigger', 'smaller', 'left', 'right'] as const;
export type AutoPolicy = (typeof AUTO_POLICIES)[number];

/** Joins a root and a RelPath into the LogicalPath the store is keyed by. */
export function logicalPath(root: RootId, rel: RelPath): LogicalPath {
  return (rel === '' ? root : `${root}/${rel}`) as LogicalPath;
}

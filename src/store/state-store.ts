// The StateStore port: what a node remembers between runs. Row types and the interface only.
import type { EntryKind, FileState, LogicalPath, NodeName, VersionVector } from '../core/types.ts';

/** One pending delivery: `path` has a local change that `peer` has not acknowledged yet. */
export interface DirtyRow {
  readonly path: LogicalPath;
  readonly peer: NodeName;
  /** Set by `csync -f`: this node's version wins at the peer even if concurrent. */
  readonly force: boolean;
  /** Why the last attempt failed (undefined while not yet attempted or after success). */
  readonly lastError: string | undefined;
  /** When the row was (re)marked, ms since the epoch. */
  readonly markedAtMs: number;
}

/** A dirty row with the state it is about (undefined when the path has no recorded state). */
export interface DirtyEntry {
  readonly row: DirtyRow;
  readonly state: FileState | undefined;
}

/** An unresolved conflict between this node's version of `path` and `peer`'s. */
export interface ConflictRow {
  readonly path: LogicalPath;
  readonly peer: NodeName;
  /** The peer's state at the time the conflict was detected. */
  readonly remote: FileState;
  readonly detectedAtMs: number;
}

/**
 * The columns a scan compares, for one recorded path, without building a FileState: the scanner
 * reads every row under a root on every check, and most are unchanged. `mtimeNs` is decimal text.
 */
export interface ScanRow {
  readonly kind: EntryKind;
  readonly sizeBytes: number;
  readonly mtimeNs: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly target: string | undefined;
  readonly hash: string | undefined;
  /** The local signature recorded with the row ('' when none): see localSig() in scanner/scan.ts. */
  readonly localSig: string;
}

/**
 * A ScanRow as one string, the form scanIndex() returns (one string per path is a third the cost
 * of a row object to read and hold): kind, size, mtime (ns), mode, uid and gid in decimal, the
 * local signature ("<ino>:<ctime ns>", '' when none), then the hash and the symlink target ('' when
 * absent), separated by single spaces; the target comes last because it may itself contain spaces.
 * Example: "file 42 1700000000123456000 420 0 0 1234:1700000000999999999 0123456789abcdef ".
 */
export type ScanSig = string;

/** The leading part of a ScanSig, up to and including the space before the hash. */
export function scanSigPrefix(kind: EntryKind, sizeBytes: number, mtimeNs: bigint | string, mode: number, uid: number, gid: number): string {
  return `${kind} ${sizeBytes} ${mtimeNs} ${mode} ${uid} ${gid} `;
}

/** Parses a ScanSig. Throws Error('bug: …') on text that is not one. */
export function parseScanSig(sig: ScanSig): ScanRow {
  const f = sig.split(' ');
  if (f.length < 9) throw new Error(`bug: not a scan signature: ${JSON.stringify(sig)}`);
  const target = f.slice(8).join(' ');
  return {
    kind: f[0] as EntryKind,
    sizeBytes: Number(f[1]),
    mtimeNs: f[2] as string,
    mode: Number(f[3]),
    uid: Number(f[4]),
    gid: Number(f[5]),
    localSig: f[6] as string,
    hash: f[7] === '' ? undefined : f[7],
    target: f[0] === 'symlink' ? target : undefined,
  };
}

/** A pinned peer certificate. */
export interface PinRow {
  readonly peer: NodeName;
  /** "sha256:<64 hex>" of the certificate's DER. */
  readonly fingerprint: string;
  readonly pinnedAtMs: number;
}

/**
 * One persisted action run (docs/daemon.md, "Actions"): inserted before the command starts, removed after it
 * ended, so an action interrupted by a crash runs again at the next start.
 */
export interface PendingActionRow {
  /** Assigned by the store; ascending ids are insertion order. */
  readonly id: number;
  readonly groupName: string;
  /** Index into the group's `actions` list in the config that selected it. */
  readonly actionIndex: number;
  /** The matching local absolute paths, de-duplicated and sorted (at least one). */
  readonly paths: readonly string[];
  /** When the batch was enqueued, ms since the epoch. */
  readonly createdAtMs: number;
}

/**
 * Persistent node state. Implementations must make every method atomic and safe to use from
 * several processes at once (the daemon and CLI commands share one database).
 * Methods throw CsyncError('CSYNC_STORE_FAILED') on I/O failure.
 */
export interface StateStore {
  /** The recorded state of `path`, or undefined if never recorded. */
  get(path: LogicalPath): FileState | undefined;
  /**
   * Inserts or replaces the state of `path`, with the local signature of the file on disk it
   * describes. Absent: a state with the same content identity (kind, size, mtime, hash) as the
   * row keeps the row's signature (a version or mode change does not touch the content); any
   * other gets none, so the next check hashes the file once more.
   */
  put(state: FileState, localSig?: string): void;
  /**
   * Records the local signatures of files whose recorded state is unchanged (a check that hashed
   * them found the same content): `[path, signature, the hash that was read]`. A row that no longer
   * exists, or records another content by now (a peer's change applied meanwhile), is skipped: a
   * signature vouches only for the content it was taken with.
   */
  setLocalSigs(sigs: readonly (readonly [LogicalPath, string, string])[]): void;
  /** Forgets `path` entirely (its dirty and conflict rows too). */
  remove(path: LogicalPath): void;
  /**
   * Every state whose path equals `prefix` or starts with `prefix + '/'`, ordered by path
   * (so parents come before children). No prefix: every state.
   */
  list(prefix?: string): FileState[];
  /** Same selection as list(), as ScanSigs keyed by path (cheap: no versions, no bigints). */
  scanIndex(prefix: string): Map<string, ScanSig>;
  /** Marks `path` dirty for each peer (upsert; `force` true is sticky until cleared). Clears lastError. */
  markDirty(path: LogicalPath, peers: readonly NodeName[], opts: { force: boolean; nowMs: number }): void;
  /** Dirty rows, optionally only for one peer, ordered by path. */
  listDirty(peer?: NodeName): DirtyRow[];
  /**
   * Up to `limit` dirty rows of `peer` whose path sorts after `after` ('' for the first page), in
   * path order, each with its recorded state: an update pass pages through them in constant memory.
   */
  dirtyPage(peer: NodeName, after: string, limit: number): DirtyEntry[];
  /** Paths dirty for `peer` whose recorded state is a tombstone, in path order. */
  dirtyDeletions(peer: NodeName): LogicalPath[];
  /** How many live (not deleted) entries lie strictly below `prefix`. */
  countLive(prefix: string): number;
  /**
   * Tombstones strictly below `prefix` whose deletion was detected at or after `sinceMs` (their
   * changedAtMs): the deletions of a recent window, delivered or not (the max_delete rail).
   */
  countDeletedSince(prefix: string, sinceMs: number): number;
  /** True when any entry (a tombstone too) is recorded strictly below `path`. */
  hasChildren(path: string): boolean;
  /** True when any row (or any row for `peer`) is dirty: cheap, reads one row at most. */
  hasDirty(peer?: NodeName): boolean;
  /** The peers `path` is dirty for (its recorded state not yet delivered to them), sorted. */
  dirtyPeers(path: LogicalPath): NodeName[];
  /**
   * Clears the dirty row for (path, peer) only if the stored version of `path` still equals
   * `deliveredVersion` (a newer local change keeps it dirty). Returns true if a row was removed.
   */
  clearDirty(path: LogicalPath, peer: NodeName, deliveredVersion: VersionVector): boolean;
  /** Records why delivering (path, peer) failed; the row stays dirty. */
  setDirtyError(path: LogicalPath, peer: NodeName, reason: string): void;
  /** Records (or replaces) a conflict for (path, peer). */
  putConflict(row: ConflictRow): void;
  /** Conflicts, optionally only for one path. */
  listConflicts(path?: LogicalPath): ConflictRow[];
  /** Removes conflicts for `path` (all peers, or one). */
  clearConflicts(path: LogicalPath, peer?: NodeName): void;
  getPin(peer: NodeName): PinRow | undefined;
  setPin(row: PinRow): void;
  listPins(): PinRow[];
  /** Returns true if a pin was removed. */
  forgetPin(peer: NodeName): boolean;
  /**
   * Persists a pending action run and returns its id: greater than every id stored now, so
   * ascending ids are insertion order (ids of removed rows may be reused).
   */
  addPendingAction(row: Omit<PendingActionRow, 'id'>): number;
  /** Every pending action run, oldest (lowest id) first. */
  listPendingActions(): PendingActionRow[];
  /** Forgets the pending action run `id` (no-op when it is already gone). */
  removePendingAction(id: number): void;
  /** Runs `fn` in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T;
  /** Closes the database. The store is unusable afterwards. */
  close(): void;
}

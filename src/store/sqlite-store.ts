// ⚙ SqliteStateStore: the StateStore port on better-sqlite3 (one file per node, WAL, shared by the
// daemon and CLI commands). Owns SQL and row mapping; the schema lives in schema/*.sql via migrate.ts.
import Database from 'better-sqlite3';
import { CsyncError } from '../core/errors.ts';
import type { EntryKind, FileMeta, FileState, LogicalPath, NodeName, VersionVector } from '../core/types.ts';
import { formatVersion, parseVersion } from '../core/version.ts';
import { assertSchemaNotNewer, migrate, readSchemaVersion, SCHEMA_VERSION } from './migrate.ts';
import type { ConflictRow, DirtyEntry, DirtyRow, PendingActionRow, PinRow, ScanSig, StateStore } from './state-store.ts';

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/** Options of SqliteStateStore.open. */
export interface SqliteStoreOptions {
  /** Open an existing, up-to-date database without write access (no migration, no WAL switch). */
  readonly readonly?: boolean;
}

/** The state columns shared by files and (prefixed remote_) conflicts, as bound and as read. */
const STATE_COLS = ['kind', 'size', 'mtime_us', 'mode', 'uid', 'gid', 'target', 'hash', 'version', 'origin', 'changed_at_ms'];
const FILE_SELECT = `SELECT path, ${STATE_COLS.join(', ')} FROM files`;
const CONFLICT_SELECT = `SELECT path, peer, detected_at_ms, ${STATE_COLS.map((c) => `remote_${c} AS ${c}`).join(', ')} FROM conflicts`;
const STATE_PARAMS = STATE_COLS.map(() => '?').join(', ');
const DIRTY_SELECT = 'SELECT path, peer, force, last_error, marked_at_ms FROM dirty';
/** Rows per page of StateStore.scanIndex. */
const SCAN_INDEX_PAGE = 8192;

/** A files/conflicts row read with safeIntegers: every INTEGER arrives as bigint. */
interface StateSqlRow {
  path: string;
  kind: string;
  size: bigint;
  mtime_us: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  target: string | null;
  hash: string | null;
  version: string;
  origin: string;
  changed_at_ms: bigint;
}
interface ConflictSqlRow extends StateSqlRow {
  peer: string;
  detected_at_ms: bigint;
}
interface DirtySqlRow {
  path: string;
  peer: string;
  force: number;
  last_error: string | null;
  marked_at_ms: number;
}
/** A dirty row joined with its files row (the state columns NULL when the path has no recorded state). */
interface DirtyStateSqlRow extends Omit<StateSqlRow, 'kind'> {
  kind: string | null;
  peer: string;
  force: bigint;
  last_error: string | null;
  marked_at_ms: bigint;
}
interface PendingActionSqlRow {
  id: number;
  group_name: string;
  action_index: number;
  paths: string;
  created_at_ms: number;
}
interface PinSqlRow {
  peer: string;
  fingerprint: string;
  pinned_at_ms: number;
}

/** SQLite result-code prefixes → what the operator should do. First match wins. */
const HINTS: readonly (readonly [string, string])[] = [
  ['SQLITE_BUSY', `another csync process held the database locked for over ${BUSY_TIMEOUT_MS} ms; retry, or look for a stuck csync process`],
  ['SQLITE_READONLY', 'make the state dir and its files writable by the csync user, or point -D at another state dir'],
  ['SQLITE_CANTOPEN', 'check that the state dir exists and is writable by the csync user (-D)'],
  ['SQLITE_CORRUPT', 'the database is damaged: stop csync, move the file aside and restore it from a backup'],
  ['SQLITE_NOTADB', 'the file is not a csync state database: point -D at the right state dir'],
  ['SQLITE_FULL', "free disk space on the state dir's file system"],
  ['SQLITE_IOERR', 'check the disk holding the state dir (kernel log, permissions, free space)'],
];
const DEFAULT_HINT = 'check that the state dir (-D) is on a local, writable disk';

/** Wraps `err` as CSYNC_STORE_FAILED unless it already is a CsyncError or a bug. */
function wrapStoreError(dbName: string, what: string, err: unknown): unknown {
  if (err instanceof CsyncError) return err;
  if (err instanceof Error && err.message.startsWith('bug:')) return err;
  const sqliteCode = err instanceof Database.SqliteError ? err.code : '';
  const hint = HINTS.find(([prefix]) => sqliteCode.startsWith(prefix))?.[1] ?? DEFAULT_HINT;
  const why = err instanceof Error ? err.message : String(err);
  return new CsyncError('CSYNC_STORE_FAILED', `state database ${JSON.stringify(dbName)}: ${what}: ${why}`, { cause: err, hint });
}

/** A value better-sqlite3 binds. */
type SqlValue = string | number | bigint | null;

const INT64_MAX = 2n ** 63n - 1n;

/**
 * The mtime column value of `state`: microseconds (003-mtime-micros.sql). Throws CSYNC_STORE_FAILED
 * naming the path for a time beyond ±292,000 years, so that one entry is refused, not its batch.
 */
function microsOf(state: FileState): bigint {
  const us = state.meta.mtimeNs / 1000n;
  if (us > INT64_MAX || us < -INT64_MAX) {
    throw new CsyncError('CSYNC_STORE_FAILED', `entry ${JSON.stringify(state.path)}: modification time ${state.meta.mtimeNs} ns is beyond what the state database holds`, {
      hint: 'set a realistic modification time on the file (touch it)',
    });
  }
  return us;
}

/** The state columns of `state` in STATE_COLS order (positional binding is the fastest). */
function stateValues(state: FileState): SqlValue[] {
  const m = state.meta;
  return [
    m.kind,
    m.sizeBytes,
    microsOf(state),
    m.mode,
    m.uid,
    m.gid,
    m.target ?? null,
    m.hash ?? null,
    formatVersion(state.version),
    state.origin,
    state.changedAtMs,
  ];
}

/** Inverse of stateValues (plus the path). Optional fields are absent (not undefined) when NULL. */
function stateFromRow(row: StateSqlRow): FileState {
  const meta: FileMeta = {
    kind: row.kind as EntryKind,
    sizeBytes: Number(row.size),
    mtimeNs: row.mtime_us * 1000n,
    mode: Number(row.mode),
    uid: Number(row.uid),
    gid: Number(row.gid),
    ...(row.target === null ? {} : { target: row.target }),
    ...(row.hash === null ? {} : { hash: row.hash }),
  };
  return {
    path: row.path as LogicalPath,
    meta,
    version: parseVersion(row.version),
    origin: row.origin,
    changedAtMs: Number(row.changed_at_ms),
  };
}

function dirtyFromRow(row: DirtySqlRow): DirtyRow {
  return {
    path: row.path as LogicalPath,
    peer: row.peer,
    force: row.force === 1,
    lastError: row.last_error ?? undefined,
    markedAtMs: row.marked_at_ms,
  };
}

function conflictFromRow(row: ConflictSqlRow): ConflictRow {
  return { path: row.path as LogicalPath, peer: row.peer, remote: stateFromRow(row), detectedAtMs: Number(row.detected_at_ms) };
}

function pinFromRow(row: PinSqlRow): PinRow {
  return { peer: row.peer, fingerprint: row.fingerprint, pinnedAtMs: row.pinned_at_ms };
}

/** Maps a pending_actions row. Throws Error('bug: …') unless paths holds a JSON array of strings. */
function pendingActionFromRow(row: PendingActionSqlRow): PendingActionRow {
  const paths: unknown = JSON.parse(row.paths);
  if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) {
    throw new Error(`bug: pending action ${row.id} has paths that are not a string array`);
  }
  return { id: row.id, groupName: row.group_name, actionIndex: row.action_index, paths, createdAtMs: row.created_at_ms };
}

/** Every statement, prepared once per connection. State reads use safeIntegers (mtime_us × 1000 > 2^53). */
function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const wide = (sql: string) => db.prepare(sql).safeIntegers(true);
  return {
    getFile: wide(`${FILE_SELECT} WHERE path = ?`),
    // An upsert, not INSERT OR REPLACE: REPLACE deletes then inserts, ~20% slower for updates.
    putFile: p(`INSERT INTO files (path, ${STATE_COLS.join(', ')}, local_sig) VALUES (?, ${STATE_PARAMS}, ?)
      ON CONFLICT (path) DO UPDATE SET ${STATE_COLS.map((c) => `${c} = excluded.${c}`).join(', ')},
        local_sig = CASE WHEN files.kind = excluded.kind AND files.size = excluded.size AND files.mtime_us = excluded.mtime_us
          AND files.hash IS excluded.hash THEN coalesce(excluded.local_sig, files.local_sig) ELSE excluded.local_sig END`),
    // Only while the row still records the content the signature was taken with (see setLocalSigs).
    setLocalSig: p("UPDATE files SET local_sig = ? WHERE path = ? AND kind = 'file' AND hash = ?"),
    removeFile: p('DELETE FROM files WHERE path = ?'),
    removeDirtyOfPath: p('DELETE FROM dirty WHERE path = ?'),
    removeConflictsOfPath: p('DELETE FROM conflicts WHERE path = ?'),
    listAll: wide(`${FILE_SELECT} ORDER BY path`),
    // P and its subtree [P || '/', P || '0') ('0' is the byte after '/') lie in the one index range
    // [P, P || '0'), which is scanned in order (no sort); the filter drops siblings like "P-old".
    // One ScanSig text per row, built by SQLite (integers print exactly; the mtime in ns as text,
    // µs followed by "000", so that no multiplication can overflow).
    scanIndex: p(`SELECT path, kind || ' ' || size || ' ' || (CASE mtime_us WHEN 0 THEN '0' ELSE mtime_us || '000' END) || ' ' || mode || ' ' || uid || ' ' || gid || ' ' || ifnull(local_sig, '') || ' ' || ifnull(hash, '') || ' ' || ifnull(target, '') FROM files
      WHERE path >= @p AND path < (@p || '0') AND (path = @p OR path >= (@p || '/')) AND path > @after ORDER BY path LIMIT ${SCAN_INDEX_PAGE}`).raw(true),
    listPrefix: wide(`${FILE_SELECT} WHERE path >= @p AND path < (@p || '0') AND (path = @p OR path >= (@p || '/')) ORDER BY path`),
    markDirty: p(`INSERT INTO dirty (path, peer, force, last_error, marked_at_ms) VALUES (@path, @peer, @force, NULL, @nowMs)
      ON CONFLICT (path, peer) DO UPDATE SET force = max(force, excluded.force), last_error = NULL, marked_at_ms = excluded.marked_at_ms`),
    listDirty: p(`${DIRTY_SELECT} ORDER BY path, peer`),
    listDirtyOfPeer: p(`${DIRTY_SELECT} WHERE peer = ? ORDER BY path`),
    // Walks dirty_by_peer (peer, path) in order from @after; each row's state by primary key.
    dirtyPage: wide(`SELECT d.path AS path, d.peer AS peer, d.force AS force, d.last_error AS last_error, d.marked_at_ms AS marked_at_ms,
      ${STATE_COLS.map((c) => `f.${c} AS ${c}`).join(', ')}
      FROM dirty d LEFT JOIN files f ON f.path = d.path WHERE d.peer = @peer AND d.path > @after ORDER BY d.path LIMIT @limit`),
    dirtyDeletions: p(`SELECT d.path FROM dirty d JOIN files f ON f.path = d.path WHERE d.peer = ? AND f.kind = 'deleted' ORDER BY d.path`).pluck(true),
    countLive: p(`SELECT count(*) FROM files WHERE path > @p || '/' AND path < (@p || '0') AND kind != 'deleted'`).pluck(true),
    countDeletedSince: p(`SELECT count(*) FROM files WHERE path > @p || '/' AND path < (@p || '0') AND kind = 'deleted' AND changed_at_ms >= @since`).pluck(true),
    hasChildren: p(`SELECT 1 FROM files WHERE path > @p || '/' AND path < (@p || '0') LIMIT 1`).pluck(true),
    dirtyPeers: p('SELECT peer FROM dirty WHERE path = ? ORDER BY peer').pluck(true),
    anyDirty: p('SELECT 1 FROM dirty LIMIT 1').pluck(true),
    anyDirtyOfPeer: p('SELECT 1 FROM dirty WHERE peer = ? LIMIT 1').pluck(true),
    clearDirty: p(`DELETE FROM dirty WHERE path = @path AND peer = @peer
      AND (SELECT version FROM files WHERE files.path = @path) = @version`),
    setDirtyError: p('UPDATE dirty SET last_error = @reason WHERE path = @path AND peer = @peer'),
    putConflict: p(`INSERT OR REPLACE INTO conflicts (path, peer, detected_at_ms, ${STATE_COLS.map((c) => `remote_${c}`).join(', ')})
      VALUES (?, ?, ?, ${STATE_PARAMS})`),
    listConflicts: wide(`${CONFLICT_SELECT} ORDER BY path, peer`),
    listConflictsOfPath: wide(`${CONFLICT_SELECT} WHERE path = ? ORDER BY peer`),
    clearConflictsOfPeer: p('DELETE FROM conflicts WHERE path = ? AND peer = ?'),
    getPin: p('SELECT peer, fingerprint, pinned_at_ms FROM pins WHERE peer = ?'),
    setPin: p('INSERT OR REPLACE INTO pins (peer, fingerprint, pinned_at_ms) VALUES (@peer, @fingerprint, @pinnedAtMs)'),
    listPins: p('SELECT peer, fingerprint, pinned_at_ms FROM pins ORDER BY peer'),
    forgetPin: p('DELETE FROM pins WHERE peer = ?'),
    addPendingAction: p(`INSERT INTO pending_actions (group_name, action_index, paths, created_at_ms)
      VALUES (@groupName, @actionIndex, @paths, @createdAtMs)`),
    listPendingActions: p('SELECT id, group_name, action_index, paths, created_at_ms FROM pending_actions ORDER BY id'),
    removePendingAction: p('DELETE FROM pending_actions WHERE id = ?'),
  };
}

/** Sets the connection pragmas: lock wait, then (writable only) WAL with full fsync on commit. */
function configureConnection(db: Database.Database, readonly: boolean): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (readonly) return;
  db.pragma('journal_mode = WAL');
  // FULL also fsyncs the WAL on every commit: a commit survives power loss (README, goal 1).
  db.pragma('synchronous = FULL');
}

/** A read-only connection cannot migrate, so its schema must be exactly this binary's. */
function assertSchemaCurrent(db: Database.Database, dbName: string): void {
  const version = readSchemaVersion(db);
  assertSchemaNotNewer(version, dbName);
  if (version === SCHEMA_VERSION) return;
  throw new CsyncError(
    'CSYNC_STORE_FAILED',
    `state database ${JSON.stringify(dbName)}: schema version ${version} is older than this csync writes (${SCHEMA_VERSION})`,
    { hint: 'run csync once with write access to the state dir (e.g. start the daemon) to upgrade it' },
  );
}

/**
 * The StateStore on one SQLite file (or ':memory:'). Every method is atomic; several instances,
 * in one process or several, may share a file: writes wait up to BUSY_TIMEOUT_MS for the lock.
 * Every SQLite failure surfaces as CsyncError('CSYNC_STORE_FAILED') with a hint. Not reentrant
 * across async boundaries: `transaction(fn)` requires a synchronous `fn`.
 */
export class SqliteStateStore implements StateStore {
  readonly #db: Database.Database;
  readonly #name: string;
  readonly #stmt: ReturnType<typeof prepareStatements>;
  readonly #tx: Database.Transaction<(fn: () => unknown) => unknown>;
  readonly #readonly: boolean;

  private constructor(db: Database.Database, name: string, readonly: boolean) {
    this.#db = db;
    this.#name = name;
    this.#readonly = readonly;
    this.#stmt = prepareStatements(db);
    this.#tx = db.transaction((fn: () => unknown) => fn());
  }

  /**
   * Opens (creating and migrating if needed) the database at `path`. With `readonly`, the file
   * must exist and already have this binary's schema. The caller owns the store and must close()
   * it. Throws CSYNC_STORE_SCHEMA_NEWER for a database written by a newer csync, and
   * CSYNC_STORE_FAILED for anything else that prevents opening.
   */
  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStateStore {
    const readonly = opts.readonly ?? false;
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly });
      configureConnection(db, readonly);
      if (readonly) assertSchemaCurrent(db, path);
      else migrate(db, path);
      return new SqliteStateStore(db, path, readonly);
    } catch (err) {
      db?.close();
      throw wrapStoreError(path, 'cannot open', err);
    }
  }

  /** Runs `fn`, turning SQLite failures into CSYNC_STORE_FAILED naming `what()` (built only on failure). */
  #guard<T>(what: () => string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw wrapStoreError(this.#name, what(), err);
    }
  }

  get(path: LogicalPath): FileState | undefined {
    return this.#guard(() => `get ${JSON.stringify(path)}`, () => {
      const row = this.#stmt.getFile.get(path) as StateSqlRow | undefined;
      return row === undefined ? undefined : stateFromRow(row);
    });
  }

  put(state: FileState, localSig?: string): void {
    this.#guard(() => `put ${JSON.stringify(state.path)}`, () => this.#stmt.putFile.run(state.path, ...stateValues(state), localSig ?? null));
  }

  setLocalSigs(sigs: readonly (readonly [LogicalPath, string, string])[]): void {
    if (sigs.length === 0) return;
    this.#guard(() => `record ${sigs.length} local signatures`, () =>
      this.#tx.immediate(() => {
        for (const [path, sig, hash] of sigs) this.#stmt.setLocalSig.run(sig, path, hash);
      }),
    );
  }

  remove(path: LogicalPath): void {
    this.#guard(() => `remove ${JSON.stringify(path)}`, () =>
      this.#tx.immediate(() => {
        this.#stmt.removeDirtyOfPath.run(path);
        this.#stmt.removeConflictsOfPath.run(path);
        this.#stmt.removeFile.run(path);
      }),
    );
  }

  /** See StateStore.list. `list('')` is literal: paths that are '' or start with '/'. */
  list(prefix?: string): FileState[] {
    return this.#guard(() => `list ${JSON.stringify(prefix ?? '')}`, () => {
      const rows = (prefix === undefined ? this.#stmt.listAll.all() : this.#stmt.listPrefix.all({ p: prefix })) as StateSqlRow[];
      return rows.map(stateFromRow);
    });
  }

  /** See StateStore.scanIndex. */
  scanIndex(prefix: string): Map<string, ScanSig> {
    return this.#guard(() => `scan index ${JSON.stringify(prefix)}`, () => {
      const out = new Map<string, ScanSig>();
      // Raw [path, sig] pairs a page at a time: all() is a third cheaper per row than iterate(), and
      // a page bounds the arrays held next to the map.
      let after = '';
      for (;;) {
        const page = this.#stmt.scanIndex.all({ p: prefix, after }) as [string, string][];
        for (const r of page) out.set(r[0], r[1]);
        if (page.length < SCAN_INDEX_PAGE) return out;
        after = (page[page.length - 1] as [string, string])[0];
      }
    });
  }

  markDirty(path: LogicalPath, peers: readonly NodeName[], opts: { force: boolean; nowMs: number }): void {
    this.#guard(() => `mark ${JSON.stringify(path)} dirty`, () =>
      this.#tx.immediate(() => {
        for (const peer of peers) this.#stmt.markDirty.run({ path, peer, force: opts.force ? 1 : 0, nowMs: opts.nowMs });
      }),
    );
  }

  listDirty(peer?: NodeName): DirtyRow[] {
    return this.#guard(() => 'list dirty', () => {
      const rows = (peer === undefined ? this.#stmt.listDirty.all() : this.#stmt.listDirtyOfPeer.all(peer)) as DirtySqlRow[];
      return rows.map(dirtyFromRow);
    });
  }

  dirtyPage(peer: NodeName, after: string, limit: number): DirtyEntry[] {
    return this.#guard(() => `list dirty rows of ${JSON.stringify(peer)}`, () =>
      (this.#stmt.dirtyPage.all({ peer, after, limit }) as DirtyStateSqlRow[]).map((r) => ({
        row: dirtyFromRow({ path: r.path, peer: r.peer, force: Number(r.force), last_error: r.last_error, marked_at_ms: Number(r.marked_at_ms) }),
        state: r.kind === null ? undefined : stateFromRow(r as StateSqlRow),
      })),
    );
  }

  dirtyDeletions(peer: NodeName): LogicalPath[] {
    return this.#guard(() => `list dirty deletions of ${JSON.stringify(peer)}`, () => this.#stmt.dirtyDeletions.all(peer) as LogicalPath[]);
  }

  countLive(prefix: string): number {
    return this.#guard(() => `count entries under ${JSON.stringify(prefix)}`, () => this.#stmt.countLive.get({ p: prefix }) as number);
  }

  countDeletedSince(prefix: string, sinceMs: number): number {
    return this.#guard(() => `count deletions under ${JSON.stringify(prefix)}`, () => this.#stmt.countDeletedSince.get({ p: prefix, since: sinceMs }) as number);
  }

  hasChildren(path: string): boolean {
    return this.#guard(() => `look for entries under ${JSON.stringify(path)}`, () => this.#stmt.hasChildren.get({ p: path }) !== undefined);
  }

  hasDirty(peer?: NodeName): boolean {
    return this.#guard(() => 'look for dirty rows', () => (peer === undefined ? this.#stmt.anyDirty.get() : this.#stmt.anyDirtyOfPeer.get(peer)) !== undefined);
  }

  dirtyPeers(path: LogicalPath): NodeName[] {
    return this.#guard(() => `list dirty peers of ${JSON.stringify(path)}`, () => this.#stmt.dirtyPeers.all(path) as NodeName[]);
  }

  clearDirty(path: LogicalPath, peer: NodeName, deliveredVersion: VersionVector): boolean {
    return this.#guard(() => `clear dirty ${JSON.stringify(path)} for ${JSON.stringify(peer)}`, () => {
      const version = formatVersion(deliveredVersion);
      return this.#stmt.clearDirty.run({ path, peer, version }).changes > 0;
    });
  }

  setDirtyError(path: LogicalPath, peer: NodeName, reason: string): void {
    this.#guard(() => `record error for ${JSON.stringify(path)}`, () => this.#stmt.setDirtyError.run({ path, peer, reason }));
  }

  /** See StateStore.putConflict. Throws Error('bug: …') if `row.remote.path` differs from `row.path`. */
  putConflict(row: ConflictRow): void {
    if (row.remote.path !== row.path) throw new Error(`bug: conflict for ${JSON.stringify(row.path)} carries remote ${JSON.stringify(row.remote.path)}`);
    this.#guard(() => `put conflict ${JSON.stringify(row.path)}`, () =>
      this.#stmt.putConflict.run(row.path, row.peer, row.detectedAtMs, ...stateValues(row.remote)),
    );
  }

  listConflicts(path?: LogicalPath): ConflictRow[] {
    return this.#guard(() => 'list conflicts', () => {
      const rows = (path === undefined ? this.#stmt.listConflicts.all() : this.#stmt.listConflictsOfPath.all(path)) as ConflictSqlRow[];
      return rows.map(conflictFromRow);
    });
  }

  clearConflicts(path: LogicalPath, peer?: NodeName): void {
    this.#guard(() => `clear conflicts ${JSON.stringify(path)}`, () => {
      if (peer === undefined) this.#stmt.removeConflictsOfPath.run(path);
      else this.#stmt.clearConflictsOfPeer.run(path, peer);
    });
  }

  getPin(peer: NodeName): PinRow | undefined {
    return this.#guard(() => `get pin ${JSON.stringify(peer)}`, () => {
      const row = this.#stmt.getPin.get(peer) as PinSqlRow | undefined;
      return row === undefined ? undefined : pinFromRow(row);
    });
  }

  setPin(row: PinRow): void {
    this.#guard(() => `pin ${JSON.stringify(row.peer)}`, () => this.#stmt.setPin.run({ ...row }));
  }

  listPins(): PinRow[] {
    return this.#guard(() => 'list pins', () => (this.#stmt.listPins.all() as PinSqlRow[]).map(pinFromRow));
  }

  forgetPin(peer: NodeName): boolean {
    return this.#guard(() => `forget pin ${JSON.stringify(peer)}`, () => this.#stmt.forgetPin.run(peer).changes > 0);
  }

  /** See StateStore.addPendingAction. */
  addPendingAction(row: Omit<PendingActionRow, 'id'>): number {
    return this.#guard(() => `add pending action for group ${JSON.stringify(row.groupName)}`, () => {
      const params = { groupName: row.groupName, actionIndex: row.actionIndex, paths: JSON.stringify(row.paths), createdAtMs: row.createdAtMs };
      return Number(this.#stmt.addPendingAction.run(params).lastInsertRowid);
    });
  }

  listPendingActions(): PendingActionRow[] {
    return this.#guard(() => 'list pending actions', () =>
      (this.#stmt.listPendingActions.all() as PendingActionSqlRow[]).map(pendingActionFromRow),
    );
  }

  removePendingAction(id: number): void {
    this.#guard(() => `remove pending action ${id}`, () => this.#stmt.removePendingAction.run(id));
  }

  /**
   * Runs synchronous `fn` in one IMMEDIATE transaction (the write lock is taken up front, so a
   * concurrent writer waits instead of failing mid-way); nested calls become savepoints of the
   * outer one. An error thrown by `fn` rolls back and propagates unchanged; SQLite failures of
   * BEGIN/COMMIT become CSYNC_STORE_FAILED. On a read-only store the transaction is DEFERRED
   * (a consistent snapshot for several reads).
   */
  transaction<T>(fn: () => T): T {
    try {
      return (this.#readonly ? this.#tx.deferred(fn) : this.#tx.immediate(fn)) as T;
    } catch (err) {
      throw err instanceof Database.SqliteError ? wrapStoreError(this.#name, 'transaction', err) : err;
    }
  }

  /** Closes the connection; further calls fail with CSYNC_STORE_FAILED. Idempotent. */
  close(): void {
    this.#db.close();
  }
}

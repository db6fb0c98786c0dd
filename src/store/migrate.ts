// Schema migrations for the state database: the numbered list, loading each schema/NNN-name.sql,
// and applying the missing ones under PRAGMA user_version. Knows nothing about rows or queries.
import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { CsyncError } from '../core/errors.ts';

/** One schema step: after applying `file`, PRAGMA user_version is `version`. */
export interface Migration {
  /** 1-based and contiguous: MIGRATIONS[i].version === i + 1. */
  readonly version: number;
  /** File name under src/store/schema/, e.g. "001-initial.sql". */
  readonly file: string;
}

/** Every migration this binary knows, oldest first. Append only; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, file: '001-initial.sql' },
  { version: 2, file: '002-actions.sql' },
  { version: 3, file: '003-local-sig.sql' },
  { version: 4, file: '004-mtime-micros.sql' },
];

/** The schema version this binary writes: the last migration's version. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** The outcome of migrate(): the user_version found and the one left behind. */
export interface MigrationResult {
  readonly fromVersion: number;
  readonly toVersion: number;
}

/**
 * Where a schema file may be. The .sql files are the documented source and tsc does not copy
 * them, so the compiled build/src/store/migrate.js reads them from the source tree; when the .ts
 * runs directly (or someone copies schema/ next to the .js) the sibling path wins.
 */
function schemaUrls(file: string): URL[] {
  return [new URL(`./schema/${file}`, import.meta.url), new URL(`../../../src/store/schema/${file}`, import.meta.url)];
}

/**
 * The SQL text of `migration`. Throws CsyncError('CSYNC_STORE_FAILED') when the file is in
 * neither place (a broken installation).
 */
export function loadMigrationSql(migration: Migration): string {
  let lastError: unknown;
  for (const url of schemaUrls(migration.file)) {
    try {
      return readFileSync(url, 'utf8');
    } catch (err) {
      lastError = err;
    }
  }
  throw new CsyncError('CSYNC_STORE_FAILED', `schema file ${JSON.stringify(migration.file)}: not found`, {
    cause: lastError,
    hint: 'reinstall csync: src/store/schema/*.sql must ship next to build/',
  });
}

/** Reads PRAGMA user_version (0 for a new database). */
export function readSchemaVersion(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

/**
 * Throws CsyncError('CSYNC_STORE_SCHEMA_NEWER') when `version` is newer than this binary knows.
 * `dbName` names the database in the message.
 */
export function assertSchemaNotNewer(version: number, dbName: string, latest: number = SCHEMA_VERSION): void {
  if (version <= latest) return;
  throw new CsyncError(
    'CSYNC_STORE_SCHEMA_NEWER',
    `state database ${JSON.stringify(dbName)}: schema version ${version} is newer than this csync supports (${latest})`,
    { hint: 'upgrade csync on this node, or point -D at another state dir' },
  );
}

/**
 * Applies every migration newer than the database's user_version, each in its own IMMEDIATE
 * transaction that re-reads user_version first, so two processes opening one new database at once
 * apply each step exactly once. Throws CSYNC_STORE_SCHEMA_NEWER for a database from a newer csync;
 * lets SQLite errors through for the caller to wrap (context once per layer).
 */
export function migrate(
  db: Database.Database,
  dbName: string,
  migrations: readonly Migration[] = MIGRATIONS,
  loadSql: (m: Migration) => string = loadMigrationSql,
): MigrationResult {
  const latest = migrations.length;
  const fromVersion = readSchemaVersion(db);
  assertSchemaNotNewer(fromVersion, dbName, latest);
  for (const migration of migrations) {
    if (migration.version <= fromVersion) continue;
    const sql = loadSql(migration);
    const step = db.transaction(() => {
      // Another process may have applied this step while we waited for the write lock.
      const current = readSchemaVersion(db);
      assertSchemaNotNewer(current, dbName, latest);
      if (current >= migration.version) return;
      if (current !== migration.version - 1) throw new Error(`bug: schema gap before migration ${migration.file}`);
      db.exec(sql);
      db.pragma(`user_version = ${migration.version}`);
    });
    step.immediate();
  }
  return { fromVersion, toVersion: readSchemaVersion(db) };
}

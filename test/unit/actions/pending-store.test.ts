// The pending_actions queue of SqliteStateStore (002-actions.sql): ids, JSON paths, removal,
// persistence across reopening, and the upgrade of a version-1 database.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, migrate, readSchemaVersion, SCHEMA_VERSION } from '../../../src/store/migrate.ts';
import { SqliteStateStore } from '../../../src/store/sqlite-store.ts';

const TMP = mkdtempSync(join(tmpdir(), 'csync-pending-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const HOSTILE_PATHS = ['/srv/x; touch pwned', "/srv/it's", '/srv/new\nline', '/srv/"q" \\ ü'];

describe('SqliteStateStore pending actions', () => {
  it('hands out ascending ids, round-trips paths as JSON, and lists in id order', (t) => {
    const store = SqliteStateStore.open(':memory:');
    t.after(() => store.close());
    const a = store.addPendingAction({ groupName: 'web', actionIndex: 2, paths: HOSTILE_PATHS, createdAtMs: 10 });
    const b = store.addPendingAction({ groupName: 'db', actionIndex: 0, paths: ['/b'], createdAtMs: 5 });
    assert.ok(b > a);
    assert.deepEqual(store.listPendingActions(), [
      { id: a, groupName: 'web', actionIndex: 2, paths: HOSTILE_PATHS, createdAtMs: 10 },
      { id: b, groupName: 'db', actionIndex: 0, paths: ['/b'], createdAtMs: 5 },
    ]);
  });

  it('removes one row by id, and removing it again is a no-op', (t) => {
    const store = SqliteStateStore.open(':memory:');
    t.after(() => store.close());
    const a = store.addPendingAction({ groupName: 'web', actionIndex: 0, paths: ['/a'], createdAtMs: 1 });
    const b = store.addPendingAction({ groupName: 'web', actionIndex: 0, paths: ['/b'], createdAtMs: 1 });
    store.removePendingAction(a);
    store.removePendingAction(a);
    assert.deepEqual(store.listPendingActions().map((r) => r.id), [b]);
  });

  it('keeps rows across closing and reopening the file', () => {
    const file = join(TMP, 'reopen.db');
    const first = SqliteStateStore.open(file);
    first.addPendingAction({ groupName: 'web', actionIndex: 1, paths: ['/a', '/b'], createdAtMs: 7 });
    first.close();
    const second = SqliteStateStore.open(file);
    try {
      assert.deepEqual(second.listPendingActions().map((r) => r.paths), [['/a', '/b']]);
    } finally {
      second.close();
    }
  });

  it('upgrades a version-1 database to the current schema, keeping its files rows', () => {
    const file = join(TMP, 'v1.db');
    const raw = new Database(file);
    migrate(raw, file, MIGRATIONS.slice(0, 1));
    raw.exec(`INSERT INTO pins (peer, fingerprint, pinned_at_ms) VALUES ('b', 'sha256:${'0'.repeat(64)}', 1)`);
    assert.equal(readSchemaVersion(raw), 1);
    raw.close();
    const store = SqliteStateStore.open(file);
    try {
      assert.equal(store.listPins().length, 1);
      assert.deepEqual(store.listPendingActions(), []);
      store.addPendingAction({ groupName: 'web', actionIndex: 0, paths: ['/a'], createdAtMs: 1 });
      assert.equal(store.listPendingActions().length, 1);
    } finally {
      store.close();
    }
    const check = new Database(file, { readonly: true });
    assert.equal(readSchemaVersion(check), SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, 4);
    check.close();
  });

  it('refuses a row whose paths are not a JSON array (table CHECK)', (t) => {
    const db = new Database(':memory:');
    t.after(() => db.close());
    migrate(db, ':memory:');
    const insert = db.prepare('INSERT INTO pending_actions (group_name, action_index, paths, created_at_ms) VALUES (?, ?, ?, ?)');
    assert.throws(() => insert.run('web', 0, '"/a"', 1), /CHECK constraint failed/);
    assert.throws(() => insert.run('web', -1, '["/a"]', 1), /CHECK constraint failed/);
    assert.throws(() => insert.run('web', 0, '["/a"]', 1.5), /cannot store REAL value in INTEGER column/);
  });
});

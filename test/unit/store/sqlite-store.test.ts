// Conformance tests for SqliteStateStore: one body run on ':memory:' and on a temp file, plus
// file-only tests (schema version refusal, read-only opening, two connections on one file).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { CsyncError } from '../../../src/core/errors.ts';
import type { FileState, LogicalPath } from '../../../src/core/types.ts';
import { MIGRATIONS, migrate, readSchemaVersion, SCHEMA_VERSION, type Migration } from '../../../src/store/migrate.ts';
import { SqliteStateStore } from '../../../src/store/sqlite-store.ts';
import { parseScanSig, type ConflictRow, type PinRow } from '../../../src/store/state-store.ts';

const TMP = mkdtempSync(join(tmpdir(), 'csync-store-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
let fileCounter = 0;
const freshFile = (): string => join(TMP, `state-${++fileCounter}.db`);

const lp = (s: string): LogicalPath => s as LogicalPath;
// The store keeps mtimes to the µs (004-mtime-micros.sql).
const BIG_MTIME_NS = 2n ** 60n + 24n; // 1152921504606847000: whole µs, above 2^53, no double holds it
/** 2300-01-01T00:00:00Z: past the end of a signed 64-bit count of nanoseconds (issue 11 item 4). */
const YEAR_2300_NS = 10_413_792_000n * 1_000_000_000n;

const F_FILE: FileState = {
  path: lp('/srv/www/index.html'),
  meta: { kind: 'file', sizeBytes: 9_007_199_254_740_991, mtimeNs: BIG_MTIME_NS, mode: 0o644, uid: 1000, gid: 33, hash: '0123456789abcdef' },
  version: { web1: 3, web2: 1 },
  origin: 'web2',
  changedAtMs: 1_700_000_000_123,
};
const F_LINK: FileState = {
  path: lp('/srv/www/current'),
  meta: { kind: 'symlink', sizeBytes: 0, mtimeNs: -1_000_007_000n, mode: 0o777, uid: 0, gid: 0, target: '../releases/42' },
  version: { web1: 1 },
  origin: 'web1',
  changedAtMs: 5,
};
const F_DIR: FileState = {
  path: lp('/srv/www'),
  meta: { kind: 'dir', sizeBytes: 0, mtimeNs: 1000n, mode: 0o2755, uid: 0, gid: 0 },
  version: {},
  origin: 'web1',
  changedAtMs: 0,
};
const F_GONE: FileState = {
  path: lp('/srv/www/old.txt'),
  meta: { kind: 'deleted', sizeBytes: 0, mtimeNs: 0n, mode: 0, uid: 0, gid: 0 },
  version: { web1: 7, web3: 2 },
  origin: 'web3',
  changedAtMs: 99,
};

/** A file state at `path` with version `version`. */
function stateAt(path: string, version: Record<string, number> = { n1: 1 }): FileState {
  return { ...F_FILE, path: lp(path), version };
}

const PIN_A: PinRow = { peer: 'alpha', fingerprint: `sha256:${'a'.repeat(64)}`, pinnedAtMs: 10 };
const PIN_B: PinRow = { peer: 'beta', fingerprint: `sha256:${'b'.repeat(64)}`, pinnedAtMs: 20 };

/** Asserts that `fn` throws a CsyncError with `code` and returns it. */
function expectCode(fn: () => unknown, code: string): CsyncError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CsyncError, `expected CsyncError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

const BACKENDS = [
  { name: "':memory:'", open: () => SqliteStateStore.open(':memory:') },
  { name: 'a temp file', open: () => SqliteStateStore.open(freshFile()) },
] as const;

for (const backend of BACKENDS) {
  describe(`SqliteStateStore on ${backend.name}`, () => {
    let store: SqliteStateStore;
    beforeEach(() => {
      store = backend.open();
    });
    afterEach(() => store.close());

    describe('files', () => {
      it('round-trips every field of every kind, including an mtime above 2^53 ns', () => {
        for (const s of [F_FILE, F_LINK, F_DIR, F_GONE]) store.put(s);
        for (const s of [F_FILE, F_LINK, F_DIR, F_GONE]) assert.deepEqual(store.get(s.path), s);
        assert.equal(store.get(F_FILE.path)?.meta.mtimeNs, BIG_MTIME_NS);
        assert.equal(store.get(lp('/srv/www/missing')), undefined);
      });

      it('stores an mtime past 2262 (year 2300, and the 20-digit wire maximum) and scans it back unchanged', () => {
        for (const mtimeNs of [YEAR_2300_NS, 99_999_999_999_999_999_000n]) {
          const s: FileState = { ...F_FILE, meta: { ...F_FILE.meta, mtimeNs } };
          store.put(s);
          assert.deepEqual(store.get(s.path), s);
          const sig = store.scanIndex(s.path).get(s.path) ?? '';
          assert.equal(parseScanSig(sig).mtimeNs, String(mtimeNs));
        }
      });

      it('records a local signature only while the row still holds the content it was taken with', () => {
        store.put(F_FILE);
        const sigOf = (): string => parseScanSig(store.scanIndex(F_FILE.path).get(F_FILE.path) ?? '').localSig;
        store.setLocalSigs([[F_FILE.path, '7:111', F_FILE.meta.hash as string]]);
        assert.equal(sigOf(), '7:111');
        // A peer's change was recorded between the read and the write of the signature: it is skipped.
        store.put({ ...F_FILE, meta: { ...F_FILE.meta, hash: 'fedcba9876543210' } });
        store.setLocalSigs([[F_FILE.path, '7:222', F_FILE.meta.hash as string]]);
        assert.notEqual(sigOf(), '7:222', 'a signature never vouches for content it was not taken with');
      });

      it('refuses an mtime beyond its range for that entry alone, naming the path', () => {
        const far: FileState = { ...F_FILE, meta: { ...F_FILE.meta, mtimeNs: 2n ** 63n * 1000n } };
        assert.throws(() => store.put(far), (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_STORE_FAILED' && err.message.includes(F_FILE.path));
        assert.equal(store.get(F_FILE.path), undefined);
      });

      it('replaces the previous state of a path on put', () => {
        store.put(F_FILE);
        const newer: FileState = { ...F_FILE, version: { web1: 4, web2: 1 }, meta: { ...F_FILE.meta, sizeBytes: 1 } };
        store.put(newer);
        assert.deepEqual(store.get(F_FILE.path), newer);
        assert.equal(store.list().length, 1);
      });

      it('lists everything in bytewise path order, parents before children', () => {
        for (const p of ['b', 'a/b2', 'a/b/c', 'a', 'a/b', 'a/b-x', 'a/b/c/d', 'a/ba']) store.put(stateAt(p));
        assert.deepEqual(
          store.list().map((s) => s.path),
          ['a', 'a/b', 'a/b-x', 'a/b/c', 'a/b/c/d', 'a/b2', 'a/ba', 'b'],
        );
      });

      it('lists a prefix as the path itself plus its subtree, not its siblings', () => {
        for (const p of ['a/b', 'a/b2', 'a/b/c', 'a/b-x', 'a/b/c/d', 'a/b0', 'a/ba', 'a']) store.put(stateAt(p));
        assert.deepEqual(store.list('a/b').map((s) => s.path), ['a/b', 'a/b/c', 'a/b/c/d']);
        assert.deepEqual(store.list('a/b/c').map((s) => s.path), ['a/b/c', 'a/b/c/d']);
        assert.deepEqual(store.list('a/b2').map((s) => s.path), ['a/b2']);
        assert.deepEqual(store.list('a/').map((s) => s.path), []);
        assert.deepEqual(store.list('zzz'), []);
      });

      it('remove forgets the path and its dirty and conflict rows, and nothing else', () => {
        const sibling = stateAt(`${F_FILE.path}.bak`);
        store.put(F_FILE);
        store.put(sibling);
        store.markDirty(F_FILE.path, ['p1', 'p2'], { force: false, nowMs: 1 });
        store.markDirty(sibling.path, ['p1'], { force: false, nowMs: 1 });
        store.putConflict({ path: F_FILE.path, peer: 'p1', remote: F_FILE, detectedAtMs: 2 });
        store.putConflict({ path: sibling.path, peer: 'p1', remote: sibling, detectedAtMs: 2 });
        store.remove(F_FILE.path);
        assert.equal(store.get(F_FILE.path), undefined);
        assert.deepEqual(store.listDirty().map((d) => d.path), [sibling.path]);
        assert.deepEqual(store.listConflicts().map((c) => c.path), [sibling.path]);
        assert.deepEqual(store.get(sibling.path), sibling);
      });
    });

    describe('dirty rows', () => {
      it('marks a path dirty for each peer, ordered by path, and filters by peer', () => {
        store.markDirty(lp('z'), ['p2'], { force: false, nowMs: 5 });
        store.markDirty(lp('a'), ['p1', 'p2'], { force: false, nowMs: 7 });
        assert.deepEqual(store.listDirty(), [
          { path: 'a', peer: 'p1', force: false, lastError: undefined, markedAtMs: 7 },
          { path: 'a', peer: 'p2', force: false, lastError: undefined, markedAtMs: 7 },
          { path: 'z', peer: 'p2', force: false, lastError: undefined, markedAtMs: 5 },
        ]);
        assert.deepEqual(store.listDirty('p2').map((d) => d.path), ['a', 'z']);
        assert.deepEqual(store.listDirty('nobody'), []);
      });

      it('pages dirty rows of one peer after a path, each with its state (undefined when unrecorded)', () => {
        const paths = ['/r/a', '/r/b', '/r/c', '/r/d', '/r/e'].map(lp);
        for (const p of paths.slice(0, 4)) store.put(stateAt(p));
        store.markDirty(paths[4]!, ['p1'], { force: false, nowMs: 9 });
        for (const p of paths.slice(0, 4)) store.markDirty(p, ['p1', 'p2'], { force: p === '/r/b', nowMs: 3 });
        const first = store.dirtyPage('p1', '', 2);
        assert.deepEqual(first.map((e) => [e.row.path, e.row.peer, e.row.force, e.row.markedAtMs]), [['/r/a', 'p1', false, 3], ['/r/b', 'p1', true, 3]]);
        assert.deepEqual(first[0]?.state, stateAt(lp('/r/a')));
        const rest = store.dirtyPage('p1', '/r/b', 10);
        assert.deepEqual(rest.map((e) => e.row.path), ['/r/c', '/r/d', '/r/e']);
        assert.equal(rest[2]?.state, undefined);
        assert.deepEqual(store.dirtyPage('p1', '/r/e', 10), []);
        assert.deepEqual(store.dirtyPage('p2', '', 10).map((e) => e.row.path), ['/r/a', '/r/b', '/r/c', '/r/d']);
      });

      it('lists dirty deletions, counts live entries below a path and finds children', () => {
        const dead = (p: string): FileState => ({ ...stateAt(lp(p)), meta: { kind: 'deleted', sizeBytes: 0, mtimeNs: 0n, mode: 0, uid: 0, gid: 0 } });
        for (const s of [stateAt(lp('/r')), stateAt(lp('/r/a')), dead('/r/b'), dead('/r/c'), stateAt(lp('/r-x/z')), dead('/r/c/d')]) store.put(s);
        store.markDirty(lp('/r/a'), ['p1'], { force: false, nowMs: 1 });
        store.markDirty(lp('/r/b'), ['p1', 'p2'], { force: false, nowMs: 1 });
        store.markDirty(lp('/r/c/d'), ['p1'], { force: false, nowMs: 1 });
        assert.deepEqual(store.dirtyDeletions('p1'), ['/r/b', '/r/c/d']);
        assert.deepEqual(store.dirtyDeletions('p2'), ['/r/b']);
        assert.equal(store.countLive('/r'), 1, 'only /r/a: not /r itself, tombstones or the sibling /r-x');
        assert.equal(store.hasChildren('/r/c'), true, 'a tombstone below counts');
        assert.equal(store.hasChildren('/r/b'), false);
        assert.equal(store.hasChildren('/r-x/z'), false);
      });

      it('keeps force sticky and resets lastError when re-marked', () => {
        store.markDirty(F_FILE.path, ['p1'], { force: true, nowMs: 1 });
        store.setDirtyError(F_FILE.path, 'p1', 'peer "p1": connection refused');
        assert.equal(store.listDirty()[0]?.lastError, 'peer "p1": connection refused');
        assert.equal(store.listDirty()[0]?.force, true);
        store.markDirty(F_FILE.path, ['p1'], { force: false, nowMs: 2 });
        assert.deepEqual(store.listDirty(), [{ path: F_FILE.path, peer: 'p1', force: true, lastError: undefined, markedAtMs: 2 }]);
      });

      it('clears a row only when the delivered version is still the stored one', () => {
        store.put(F_FILE);
        store.markDirty(F_FILE.path, ['p1', 'p2'], { force: false, nowMs: 1 });
        const delivered = F_FILE.version;
        // A newer local change lands while the delivery to p1 was in flight.
        store.put({ ...F_FILE, version: { web1: 4, web2: 1 } });
        assert.equal(store.clearDirty(F_FILE.path, 'p1', delivered), false);
        assert.equal(store.listDirty('p1').length, 1);
        // Key order of the vector does not matter: versions compare in canonical form.
        assert.equal(store.clearDirty(F_FILE.path, 'p1', { web2: 1, web1: 4 }), true);
        assert.equal(store.clearDirty(F_FILE.path, 'p1', { web2: 1, web1: 4 }), false);
        assert.deepEqual(store.listDirty().map((d) => d.peer), ['p2']);
      });

      it('never clears a row whose path has no recorded state', () => {
        store.markDirty(lp('ghost'), ['p1'], { force: false, nowMs: 1 });
        assert.equal(store.clearDirty(lp('ghost'), 'p1', {}), false);
        assert.equal(store.listDirty().length, 1);
      });

      it('ignores setDirtyError for a row that does not exist', () => {
        store.setDirtyError(lp('nothing'), 'p1', 'boom');
        assert.deepEqual(store.listDirty(), []);
      });
    });

    describe('conflicts', () => {
      const C1: ConflictRow = { path: F_FILE.path, peer: 'p1', remote: F_FILE, detectedAtMs: 11 };
      const C2: ConflictRow = { path: F_FILE.path, peer: 'p2', remote: { ...F_FILE, version: { web9: 1 } }, detectedAtMs: 12 };
      const C3: ConflictRow = { path: F_LINK.path, peer: 'p1', remote: F_LINK, detectedAtMs: 13 };

      it('records, replaces, lists and clears conflicts', () => {
        store.putConflict(C3);
        store.putConflict(C2);
        store.putConflict(C1);
        assert.deepEqual(store.listConflicts(), [C3, C1, C2]);
        assert.deepEqual(store.listConflicts(F_FILE.path), [C1, C2]);
        const replaced: ConflictRow = { ...C1, remote: F_FILE, detectedAtMs: 99 };
        store.putConflict(replaced);
        assert.deepEqual(store.listConflicts(F_FILE.path), [replaced, C2]);
        store.clearConflicts(F_FILE.path, 'p2');
        assert.deepEqual(store.listConflicts(), [C3, replaced]);
        store.clearConflicts(F_FILE.path);
        assert.deepEqual(store.listConflicts(), [C3]);
      });

      it('refuses a conflict whose remote state is for another path as a bug', () => {
        assert.throws(() => store.putConflict({ ...C1, remote: F_LINK }), /^Error: bug:/);
      });
    });

    describe('pins', () => {
      it('sets, replaces, lists in peer order and forgets pins', () => {
        assert.equal(store.getPin('alpha'), undefined);
        store.setPin(PIN_B);
        store.setPin(PIN_A);
        assert.deepEqual(store.listPins(), [PIN_A, PIN_B]);
        const repinned: PinRow = { ...PIN_A, fingerprint: `sha256:${'c'.repeat(64)}`, pinnedAtMs: 30 };
        store.setPin(repinned);
        assert.deepEqual(store.getPin('alpha'), repinned);
        assert.equal(store.forgetPin('alpha'), true);
        assert.equal(store.forgetPin('alpha'), false);
        assert.deepEqual(store.listPins(), [PIN_B]);
      });

      it('rejects a malformed fingerprint with CSYNC_STORE_FAILED', () => {
        const err = expectCode(() => store.setPin({ ...PIN_A, fingerprint: 'md5:abc' }), 'CSYNC_STORE_FAILED');
        assert.match(err.message, /^state database ".*": pin "alpha": CHECK constraint failed/);
        assert.ok(err.hint);
        assert.ok(err.cause instanceof Database.SqliteError);
      });
    });

    describe('transactions', () => {
      it('commits everything fn did and returns its value', () => {
        const n = store.transaction(() => {
          store.put(F_FILE);
          store.markDirty(F_FILE.path, ['p1'], { force: false, nowMs: 1 });
          return 42;
        });
        assert.equal(n, 42);
        assert.deepEqual(store.get(F_FILE.path), F_FILE);
        assert.equal(store.listDirty().length, 1);
      });

      it('rolls back everything and rethrows the error of fn unchanged', () => {
        const boom = new Error('boom');
        assert.throws(
          () =>
            store.transaction(() => {
              store.put(F_FILE);
              store.setPin(PIN_A);
              throw boom;
            }),
          (err) => err === boom,
        );
        assert.equal(store.get(F_FILE.path), undefined);
        assert.deepEqual(store.listPins(), []);
      });

      it('joins nested calls to the outer transaction: an inner failure undoes only the inner part', () => {
        store.transaction(() => {
          store.put(F_FILE);
          assert.throws(() =>
            store.transaction(() => {
              store.put(F_LINK);
              throw new Error('inner');
            }),
          );
          store.remove(F_DIR.path); // a method that itself uses a transaction
        });
        assert.deepEqual(store.get(F_FILE.path), F_FILE);
        assert.equal(store.get(F_LINK.path), undefined);
      });

      it('undoes a nested commit when the outer transaction fails', () => {
        assert.throws(() =>
          store.transaction(() => {
            store.transaction(() => store.put(F_FILE));
            throw new Error('outer');
          }),
        );
        assert.equal(store.get(F_FILE.path), undefined);
      });
    });

    describe('errors', () => {
      it('wraps a constraint violation as CSYNC_STORE_FAILED naming the operation', () => {
        const bad = { ...F_FILE, meta: { ...F_FILE.meta, kind: 'fifo' } } as unknown as FileState;
        const err = expectCode(() => store.put(bad), 'CSYNC_STORE_FAILED');
        assert.match(err.message, /put "\/srv\/www\/index.html": CHECK constraint failed/);
      });

      it('fails with CSYNC_STORE_FAILED once closed', () => {
        store.close();
        expectCode(() => store.get(F_FILE.path), 'CSYNC_STORE_FAILED');
        store = backend.open(); // afterEach closes this one
      });
    });
  });
}

describe('SqliteStateStore on a file', () => {
  it('creates the schema at SCHEMA_VERSION in WAL mode, and keeps data across reopening', () => {
    const path = freshFile();
    const store = SqliteStateStore.open(path);
    store.put(F_FILE);
    store.close();
    const raw = new Database(path, { readonly: true });
    assert.equal(readSchemaVersion(raw), SCHEMA_VERSION);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
    const again = SqliteStateStore.open(path);
    assert.deepEqual(again.get(F_FILE.path), F_FILE);
    again.close();
  });

  it('refuses a database written by a newer csync and leaves it untouched', () => {
    const path = freshFile();
    SqliteStateStore.open(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    for (const opts of [{}, { readonly: true }]) {
      const err = expectCode(() => SqliteStateStore.open(path, opts), 'CSYNC_STORE_SCHEMA_NEWER');
      assert.match(err.message, new RegExp(`schema version ${SCHEMA_VERSION + 1} is newer`));
      assert.match(err.hint ?? '', /upgrade csync/);
      assert.match(err.hint ?? '', /-D/);
    }
    const check = new Database(path, { readonly: true });
    assert.equal(readSchemaVersion(check), SCHEMA_VERSION + 1);
    check.close();
  });

  it('opens read-only: reads work, writes fail with CSYNC_STORE_FAILED', () => {
    const path = freshFile();
    const writer = SqliteStateStore.open(path);
    writer.put(F_FILE);
    const reader = SqliteStateStore.open(path, { readonly: true });
    assert.deepEqual(reader.get(F_FILE.path), F_FILE);
    assert.deepEqual(reader.transaction(() => reader.list()), [F_FILE]);
    const err = expectCode(() => reader.put(F_LINK), 'CSYNC_STORE_FAILED');
    assert.match(err.hint ?? '', /writable/);
    reader.close();
    writer.close();
  });

  it('refuses read-only opening of a missing file or a missing directory with CSYNC_STORE_FAILED', () => {
    expectCode(() => SqliteStateStore.open(freshFile(), { readonly: true }), 'CSYNC_STORE_FAILED');
    const err = expectCode(() => SqliteStateStore.open(join(TMP, 'no-such-dir', 'state.db')), 'CSYNC_STORE_FAILED');
    assert.match(err.message, /no-such-dir/);
  });

  it('lets two connections on one file (daemon and CLI) see each other and interleave transactions', () => {
    const path = freshFile();
    const daemon = SqliteStateStore.open(path);
    const cli = SqliteStateStore.open(path);
    daemon.transaction(() => daemon.put(F_FILE));
    cli.transaction(() => {
      assert.deepEqual(cli.get(F_FILE.path), F_FILE);
      cli.markDirty(F_FILE.path, ['p1'], { force: true, nowMs: 1 });
    });
    assert.equal(daemon.clearDirty(F_FILE.path, 'p1', F_FILE.version), true);
    assert.deepEqual(cli.listDirty(), []);
    cli.close();
    daemon.close();
  });

  it('lets another thread write in transactions while this one does, without "database is locked"', async () => {
    const path = freshFile();
    const store = SqliteStateStore.open(path);
    const moduleUrl = new URL('../../../src/store/sqlite-store.js', import.meta.url).href;
    // A start barrier: the worker opens its connection, says so, then blocks until we start too.
    const start = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.moduleUrl).then(({ SqliteStateStore }) => {
         const s = SqliteStateStore.open(workerData.path);
         parentPort.postMessage('ready');
         Atomics.wait(workerData.start, 0, 0);
         for (let i = 0; i < 150; i++) s.transaction(() => {
           for (let j = 0; j < 5; j++) s.markDirty('w/' + i + '/' + j, ['peer'], { force: false, nowMs: i });
         });
         s.close();
       });`,
      { eval: true, workerData: { moduleUrl, path, start } },
    );
    const exited = new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', resolve);
    });
    await new Promise((resolve) => worker.once('message', resolve));
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    for (let i = 0; i < 150; i++) store.transaction(() => store.put(stateAt(`m/${i}`)));
    assert.equal(await exited, 0);
    assert.equal(store.list('m').length + store.listDirty('peer').length, 150 + 750);
    store.close();
  });
});

describe('migrate', () => {
  const STEPS: readonly Migration[] = [
    { version: 1, file: '001-a.sql' },
    { version: 2, file: '002-b.sql' },
  ];
  const SQL: Record<string, string> = {
    '001-a.sql': 'CREATE TABLE t (x INTEGER) STRICT;',
    '002-b.sql': 'ALTER TABLE t ADD COLUMN y TEXT;',
  };

  it('applies only the missing steps and is a no-op when current', () => {
    const db = new Database(':memory:');
    assert.deepEqual(migrate(db, 'test', STEPS.slice(0, 1), (m) => SQL[m.file] ?? ''), { fromVersion: 0, toVersion: 1 });
    assert.deepEqual(migrate(db, 'test', STEPS, (m) => SQL[m.file] ?? ''), { fromVersion: 1, toVersion: 2 });
    assert.deepEqual(migrate(db, 'test', STEPS, () => assert.fail('must not load')), { fromVersion: 2, toVersion: 2 });
    db.prepare('INSERT INTO t (x, y) VALUES (1, ?)').run('ok');
    db.close();
  });

  it('004-mtime-micros turns recorded nanoseconds into microseconds, files and conflicts alike', () => {
    const path = freshFile();
    const old = new Database(path);
    migrate(old, 'test', MIGRATIONS.slice(0, 2));
    old.prepare(`INSERT INTO files VALUES ('r/f', 'file', 1, 1700000000123456000, 420, 0, 0, NULL, '0123456789abcdef', 'a:1', 'a', 1)`).run();
    old.prepare(`INSERT INTO conflicts (path, peer, detected_at_ms, remote_kind, remote_size, remote_mtime_ns, remote_mode, remote_uid, remote_gid, remote_target, remote_hash, remote_version, remote_origin, remote_changed_at_ms)
      VALUES ('r/f', 'b', 1, 'file', 1, -1500, 420, 0, 0, NULL, '0123456789abcdef', 'b:1', 'b', 1)`).run();
    old.close();
    const store = SqliteStateStore.open(path);
    assert.equal(store.get(lp('r/f'))?.meta.mtimeNs, 1_700_000_000_123_456_000n);
    assert.equal(store.listConflicts(lp('r/f'))[0]?.remote.meta.mtimeNs, -1000n);
    store.close();
  });

  it('rolls back a failing step and leaves user_version at the last good one', () => {
    const db = new Database(':memory:');
    const broken = (m: Migration): string => (m.version === 2 ? 'CREATE TABLE u (x INTEGER) STRICT; SELECT nope FROM nowhere;' : SQL[m.file] ?? '');
    assert.throws(() => migrate(db, 'test', STEPS, broken), Database.SqliteError);
    assert.equal(readSchemaVersion(db), 1);
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'u'").all(), []);
    db.close();
  });
});

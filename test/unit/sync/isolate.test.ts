// transactEach: one entry the store refuses fails alone; a failure of every entry is the batch's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsyncError } from '../../../src/core/errors.ts';
import type { FileState, LogicalPath } from '../../../src/core/types.ts';
import { SqliteStateStore } from '../../../src/store/sqlite-store.ts';
import { transactEach } from '../../../src/sync/isolate.ts';

const stateAt = (path: string, mtimeNs: bigint): FileState => ({
  path: path as LogicalPath,
  meta: { kind: 'file', sizeBytes: 1, mtimeNs, mode: 0o644, uid: 0, gid: 0, hash: '0123456789abcdef' },
  version: { a: 1 },
  origin: 'a',
  changedAtMs: 1,
});
/** A time no state database column holds (beyond ±292,000 years). */
const BEYOND_NS = 2n ** 63n * 1000n;
const NORMAL_NS = 1_700_000_000_000_000_000n;

describe('transactEach', () => {
  it('records the good entries of a batch and returns the one the store refused, by index', () => {
    const store = SqliteStateStore.open(':memory:');
    const states = [stateAt('r/a', NORMAL_NS), stateAt('r/bad', BEYOND_NS), stateAt('r/c', NORMAL_NS)];
    const failed = transactEach(store, states.map((s) => () => store.put(s)));
    assert.deepEqual([...failed.keys()], [1]);
    const err = failed.get(1);
    assert.ok(err instanceof CsyncError && err.code === 'CSYNC_STORE_FAILED' && err.message.includes('r/bad'), String(err));
    assert.deepEqual(store.list('r').map((s) => s.path), ['r/a', 'r/c']);
    store.close();
  });

  it('throws when every entry of a batch fails (a whole-operation failure, not an entry\'s)', () => {
    const store = SqliteStateStore.open(':memory:');
    const jobs = [1, 2].map(() => (): void => {
      throw new CsyncError('CSYNC_STORE_FAILED', 'disk full');
    });
    assert.throws(() => transactEach(store, jobs), /disk full/);
    store.close();
  });

  it('commits everything in one transaction when nothing fails', () => {
    const store = SqliteStateStore.open(':memory:');
    let transactions = 0;
    const counting = { ...store, transaction: <T>(fn: () => T): T => (transactions++, store.transaction(fn)) } as unknown as SqliteStateStore;
    assert.equal(transactEach(counting, [stateAt('r/a', NORMAL_NS), stateAt('r/b', NORMAL_NS)].map((s) => () => store.put(s))).size, 0);
    assert.equal(transactions, 1);
    store.close();
  });
});

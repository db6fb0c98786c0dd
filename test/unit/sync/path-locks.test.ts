// PathLocks (sync/path-locks.ts): one key runs one job at a time, in order; different keys do not wait.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PathLocks } from '../../../src/sync/path-locks.ts';

/** A promise with its resolve and reject exposed. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('PathLocks', () => {
  it('serialises jobs on the same key, in call order', async () => {
    const locks = new PathLocks();
    const log: string[] = [];
    const gate = deferred();
    const first = locks.run('/data/x', async () => {
      log.push('first start');
      await gate.promise;
      log.push('first end');
      return 1;
    });
    const second = locks.run('/data/x', async () => {
      log.push('second start');
      return 2;
    });
    // Let every ready microtask run: the second job must still be waiting for the first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(log, ['first start']);
    gate.resolve();
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
    assert.deepEqual(log, ['first start', 'first end', 'second start']);
  });

  it('runs jobs on different keys concurrently', async () => {
    const locks = new PathLocks();
    const gate = deferred();
    const started = deferred();
    const first = locks.run('/data/x', async () => {
      await gate.promise;
      return 'x';
    });
    // The job on y must run to completion while x is still held: it is what releases x.
    const second = locks.run('/data/y', async () => {
      started.resolve();
      gate.resolve();
      return 'y';
    });
    await started.promise;
    assert.deepEqual(await Promise.all([first, second]), ['x', 'y']);
  });

  it('releases the key when a job rejects, and passes the rejection to its caller', async () => {
    const locks = new PathLocks();
    const failing = locks.run('/data/x', async () => {
      throw new Error('boom');
    });
    const next = locks.run('/data/x', async () => 'after');
    await assert.rejects(failing, /boom/);
    assert.equal(await next, 'after');
  });
});

// One bad entry fails alone (issue 11 item 4): store writes of many entries run in one transaction,
// and when that fails, each entry's writes run again in a transaction of their own.
import type { StateStore } from '../store/state-store.ts';

/**
 * Runs `jobs` (synchronous store writes, one per entry) in one transaction. If it throws, runs each
 * job in its own transaction and returns the error of each job that failed again, by index (the
 * others are committed). When every job of a batch of two or more fails, the cause is not one entry
 * (a full disk, a locked database): the first error is thrown, as a whole-operation failure.
 */
export function transactEach(store: StateStore, jobs: readonly (() => void)[]): Map<number, unknown> {
  const failed = new Map<number, unknown>();
  if (jobs.length === 0) return failed;
  try {
    store.transaction(() => jobs.forEach((j) => j()));
    return failed;
  } catch (batchErr) {
    if (jobs.length === 1) {
      failed.set(0, batchErr);
      return failed;
    }
    jobs.forEach((j, i) => {
      try {
        store.transaction(j);
      } catch (err) {
        failed.set(i, err);
      }
    });
    if (failed.size === jobs.length) throw batchErr;
    return failed;
  }
}

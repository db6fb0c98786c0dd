// Group commit for the receiver: many concurrent applies share one directory fsync per directory and
// one database transaction, so durability costs a few fsyncs per batch instead of several per file.
// A caller's promise resolves only after its directory is fsynced and its state is committed.
import type { FileSystem } from '../fs/filesystem.ts';
import type { StateStore } from '../store/state-store.ts';
import { transactEach } from './isolate.ts';

interface Job {
  readonly dir: string | undefined;
  readonly record: () => void;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Batches (directory fsync, store write) pairs; flushes whenever the previous flush is done. */
export class GroupCommit {
  private readonly fs: FileSystem;
  private readonly store: StateStore;
  private queue: Job[] = [];
  private flushing = false;

  constructor(fs: FileSystem, store: StateStore) {
    this.fs = fs;
    this.store = store;
  }

  /**
   * Queues `record` (a synchronous store mutation) after fsyncing `dir` (when given). Resolves once
   * both are durable; rejects if either fails (then nothing of this job is recorded).
   */
  commit(dir: string | undefined, record: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ dir, record, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Let the jobs that are already on their way join this batch.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const jobs = this.queue;
      this.queue = [];
      const dirs = [...new Set(jobs.map((j) => j.dir).filter((d): d is string => d !== undefined))];
      const failedDirs = new Map<string, unknown>();
      await Promise.all(dirs.map((d) => this.fs.fsyncDir(d).catch((err: unknown) => failedDirs.set(d, err))));
      const ok = jobs.filter((j) => j.dir === undefined || !failedDirs.has(j.dir));
      try {
        // One job the store refuses fails alone; the rest of the batch is committed.
        const failed = transactEach(this.store, ok.map((j) => j.record));
        ok.forEach((j, i) => (failed.has(i) ? j.reject(failed.get(i)) : j.resolve()));
      } catch (err) {
        ok.forEach((j) => j.reject(err));
      }
      jobs.filter((j) => j.dir !== undefined && failedDirs.has(j.dir)).forEach((j) => j.reject(failedDirs.get(j.dir as string)));
    }
    this.flushing = false;
  }
}

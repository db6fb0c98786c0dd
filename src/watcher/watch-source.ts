// The WatchSource port: where file change notifications come from (chokidar in production, a
// pushable fake in tests). It reports absolute paths only; the daemon decides what they mean.

/** One change notification. */
export interface WatchEvent {
  readonly kind: 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir';
  readonly path: string;
}

/** Options of WatchSource.watch(). */
export interface WatchOptions {
  /** True for paths not to watch at all (excluded subtrees are not descended into). */
  readonly isIgnored: (absPath: string) => boolean;
}

/** A source of change events over a set of roots. */
export interface WatchSource {
  /**
   * Starts watching `roots`; resolves once the initial tree is being watched. Errors after that go to
   * `onError` (e.g. CsyncError('CSYNC_IO') when the kernel's inotify watch limit is reached).
   */
  watch(roots: readonly string[], opts: WatchOptions, onEvent: (e: WatchEvent) => void, onError: (err: unknown) => void): Promise<void>;
  /**
   * Drops the watch of `root` (one of the roots given to watch()) and watches it afresh: for a root
   * that appeared or came back after watch() (a watch on a directory dies with it). Resolves once
   * the new watch is in place; changes made before that are not reported (the caller checks the
   * root). Throws what watch() throws.
   */
  rearm(root: string): Promise<void>;
  /** Stops watching. Idempotent. */
  close(): Promise<void>;
}

/** A WatchSource driven by hand, for tests: push() delivers an event to the watcher. */
export class PushableWatchSource implements WatchSource {
  private onEvent: ((e: WatchEvent) => void) | undefined;
  roots: readonly string[] = [];

  watch(roots: readonly string[], _opts: WatchOptions, onEvent: (e: WatchEvent) => void): Promise<void> {
    this.roots = roots;
    this.onEvent = onEvent;
    return Promise.resolve();
  }

  /** Roots re-armed so far, in order. */
  readonly rearmed: string[] = [];

  rearm(root: string): Promise<void> {
    this.rearmed.push(root);
    return Promise.resolve();
  }

  push(e: WatchEvent): void {
    this.onEvent?.(e);
  }

  close(): Promise<void> {
    this.onEvent = undefined;
    return Promise.resolve();
  }
}

// ⚙ WatchSource over chokidar 5 (inotify on Linux), one chokidar watcher per root so a root can be
// re-armed alone. Never follows symlinks; ignores csync's temp files. Besides chokidar's own events
// it passes on the kernel's raw ones: chokidar drops a chmod once the file has been read (it filters
// "atime only" changes by comparing atime with mtime) and a symlink whose target does not resolve.
import { basename, join } from 'node:path';
import type { FSWatcher } from 'chokidar';
import { CsyncError } from '../core/errors.ts';
import type { WatchEvent, WatchOptions, WatchSource } from './watch-source.ts';

const TEMP_NAME = /\/\.[^/]+\.csync-[0-9a-z]+\.tmp$/;

/** Maps a watcher error to a CsyncError; running out of inotify watches names the sysctl. */
export function watchError(err: unknown): CsyncError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EMFILE') {
    return new CsyncError('CSYNC_IO', `watcher: the kernel's inotify ${code === 'ENOSPC' ? 'watch' : 'instance'} limit is reached`, {
      cause: err,
      hint: 'raise it, e.g. `sysctl fs.inotify.max_user_watches=524288` (and fs.inotify.max_user_instances), or set watch = false and rely on check_interval',
    });
  }
  return new CsyncError('CSYNC_IO', `watcher: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * The paths a raw fs.watch event may be about: a directory's watcher names a child, a file's (or a
 * directory's own attribute change) names the watched entry itself. Both are offered when unsure;
 * a check of a path that did not change records nothing.
 */
export function rawEventPaths(watchedPath: string, evPath: string | undefined): string[] {
  if (!evPath) return [watchedPath];
  return basename(watchedPath) === evPath ? [watchedPath, join(watchedPath, evPath)] : [join(watchedPath, evPath)];
}

interface Listeners {
  readonly opts: WatchOptions;
  readonly onEvent: (e: WatchEvent) => void;
  readonly onError: (err: unknown) => void;
}

/** Chokidar-backed watcher. */
export class ChokidarSource implements WatchSource {
  private readonly watchers = new Map<string, FSWatcher>();
  private listeners: Listeners | undefined;

  async watch(roots: readonly string[], opts: WatchOptions, onEvent: (e: WatchEvent) => void, onError: (err: unknown) => void): Promise<void> {
    this.listeners = { opts, onEvent, onError };
    await Promise.all(roots.map((r) => this.watchRoot(r)));
  }

  async rearm(root: string): Promise<void> {
    const old = this.watchers.get(root);
    this.watchers.delete(root);
    await old?.close();
    await this.watchRoot(root);
  }

  private async watchRoot(root: string): Promise<void> {
    const l = this.listeners;
    if (!l) return;
    const { watch } = await import('chokidar');
    const ignored = (p: string): boolean => TEMP_NAME.test(p) || l.opts.isIgnored(p);
    const w = watch(root, { ignoreInitial: true, followSymlinks: false, persistent: true, ignored });
    this.watchers.set(root, w);
    for (const kind of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) w.on(kind, (path: string) => l.onEvent({ kind, path }));
    w.on('raw', (_event: string, evPath: string, details: unknown) => {
      const watchedPath = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof watchedPath !== 'string') return;
      for (const path of rawEventPaths(watchedPath, evPath)) {
        if ((path === root || path.startsWith(`${root}/`)) && !ignored(path)) l.onEvent({ kind: 'change', path });
      }
    });
    await new Promise<void>((resolve, reject) => {
      w.once('ready', () => resolve());
      w.once('error', (err: unknown) => reject(watchError(err)));
    });
    w.on('error', (err: unknown) => l.onError(watchError(err)));
  }

  async close(): Promise<void> {
    const all = [...this.watchers.values()];
    this.watchers.clear();
    this.listeners = undefined;
    await Promise.all(all.map((w) => w.close()));
  }
}

// ⚙ WatchSource over chokidar 5 (inotify on Linux). Never follows symlinks; ignores csync's temp files.
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

/** Chokidar-backed watcher. */
export class ChokidarSource implements WatchSource {
  private watcher: FSWatcher | undefined;

  async watch(roots: readonly string[], opts: WatchOptions, onEvent: (e: WatchEvent) => void, onError: (err: unknown) => void): Promise<void> {
    const { watch } = await import('chokidar');
    const w = watch([...roots], {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      ignored: (p: string) => TEMP_NAME.test(p) || opts.isIgnored(p),
    });
    this.watcher = w;
    for (const kind of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) w.on(kind, (path: string) => onEvent({ kind, path }));
    await new Promise<void>((resolve, reject) => {
      w.once('ready', () => resolve());
      w.once('error', (err: unknown) => reject(watchError(err)));
    });
    w.on('error', (err: unknown) => onError(watchError(err)));
  }

  async close(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }
}

// Keeps the watch of every watched root alive. A watch dies with its directory, so a root missing at
// start, or moved away and back, would never report a change again: the roots are probed every
// `probeMs` (one lstat each) and whenever the watcher reports a root removed; a root that goes missing
// is warned about once, and one that (re)appears is watched afresh and then checked as a whole.
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { RelPath } from '../core/types.ts';
import type { FileSystem } from '../fs/filesystem.ts';
import type { Target } from '../sync/scope.ts';
import { RootGuard } from '../watcher/root-guard.ts';
import type { RootProbe, RootTransition } from '../watcher/root-guard.ts';
import type { WatchSource } from '../watcher/watch-source.ts';

/** How often a watched root is looked at, by default. */
export const ROOT_PROBE_MS = 2000;

/** Inputs of RootWatch. */
export interface RootWatchOptions {
  readonly roots: readonly string[];
  readonly fs: Pick<FileSystem, 'lstat'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly source: WatchSource;
  readonly probeMs: number;
  /** Called once the watch of a root that (re)appeared is in place: check the root now. */
  readonly onBack: (root: string) => void;
}

/** Probes the watched roots and re-arms their watches. close() stops it. */
export class RootWatch {
  private readonly opts: RootWatchOptions;
  private readonly guard = new RootGuard();
  private cancelProbe: (() => void) | undefined;
  /** Re-arms run one after another (a root moved away and back twice must not get two watches). */
  private rearming: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: RootWatchOptions) {
    this.opts = opts;
  }

  /** Probes every root (warning about missing ones) and starts the periodic probe. */
  start(): void {
    const found = new Map(this.opts.roots.map((r) => [r, this.probe(r)] as const));
    for (const t of this.guard.start(found)) this.act(t);
    this.arm();
  }

  /** The watcher reported `path` removed: if it is a root, look at it now. */
  lost(path: string): void {
    if (!this.guard.tracked.includes(path)) return;
    const t = this.guard.observe(path, this.probe(path), { lost: true });
    if (t) this.act(t);
  }

  /** Stops probing and waits for a re-arm in progress. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    await this.rearming;
  }

  private arm(): void {
    this.cancelProbe = this.opts.clock.setTimer(() => {
      for (const root of this.guard.tracked) {
        const t = this.guard.observe(root, this.probe(root));
        if (t) this.act(t);
      }
      if (!this.closed) this.arm();
    }, this.opts.probeMs);
  }

  private probe(root: string): RootProbe {
    try {
      const st = this.opts.fs.lstat(root);
      return st?.kind === 'dir' ? { ino: st.ino } : undefined;
    } catch {
      // Unreadable (EACCES on a parent, an I/O error): as good as missing for a watch; the check
      // that runs on the next cycle reports the error itself.
      return undefined;
    }
  }

  private act(t: RootTransition): void {
    const { log } = this.opts;
    if (t.kind === 'missing') {
      log.warn(
        { root: t.root, hint: 'create (or mount, or move back) the directory; csync watches it again as soon as it is there, no restart or SIGHUP needed' },
        'Watched root is missing or not a directory; changes in it are not seen until it is back',
      );
      return;
    }
    this.rearming = this.rearming.then(async () => {
      if (this.closed) return;
      try {
        await this.opts.source.rearm(t.root);
        log.info({ root: t.root }, 'Watched root is there again; watching it');
        this.opts.onBack(t.root);
      } catch (err) {
        log.error({ root: t.root, reason: err instanceof Error ? err.message : String(err) }, 'Could not watch a root again; relying on the periodic check');
      }
    });
  }
}

/**
 * The targets to check for a set of watcher events. A target below a root that is not a directory
 * now becomes the root itself, whose check halts by the safety rail (docs/semantics.md, "Safety rails"): a root moved away
 * is reported by the watcher as the removal of every entry in it, and those must not become
 * deletions on the peers.
 */
export function railTargets(targets: readonly Target[], fs: Pick<FileSystem, 'lstat'>): Target[] {
  const present = new Map<string, boolean>();
  const isDir = (absRoot: string): boolean => {
    let known = present.get(absRoot);
    if (known === undefined) {
      try {
        known = fs.lstat(absRoot)?.kind === 'dir';
      } catch {
        // Unreadable: treat as missing; the check of the root reports the error.
        known = false;
      }
      present.set(absRoot, known);
    }
    return known;
  };
  const out: Target[] = [];
  const roots = new Set<string>();
  for (const t of targets) {
    if (t.rel === '' || isDir(t.absRoot)) out.push(t);
    else if (!roots.has(`${t.group.config.name}\0${t.root}`)) {
      roots.add(`${t.group.config.name}\0${t.root}`);
      out.push({ group: t.group, root: t.root, absRoot: t.absRoot, rel: '' as RelPath });
    }
  }
  return out;
}

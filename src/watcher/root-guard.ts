// Knows whether each watched root is there and still the directory that was watched, and says when
// its watch must be re-armed (a watch dies with its directory: a root created late, or moved away
// and back, would otherwise never report again). Pure: the caller probes (lstat) and acts.

/** What a probe of a root found: the directory's inode, or undefined when no directory is there. */
export type RootProbe = { readonly ino: number } | undefined;

/** What changed for a root: it went missing, or it is (again) a directory to watch afresh. */
export type RootTransition = { readonly kind: 'missing'; readonly root: string } | { readonly kind: 'back'; readonly root: string };

interface RootState {
  /** The inode watched, or undefined while the root is missing. */
  ino: number | undefined;
}

/** Tracks the watched roots. Every transition is reported once. */
export class RootGuard {
  private readonly roots = new Map<string, RootState>();

  /**
   * Starts tracking `roots` with what a probe found when the watch was set up; returns a 'missing'
   * transition for each root that is not a directory (the caller warns).
   */
  start(roots: ReadonlyMap<string, RootProbe>): RootTransition[] {
    this.roots.clear();
    const out: RootTransition[] = [];
    for (const [root, probe] of roots) {
      this.roots.set(root, { ino: probe?.ino });
      if (probe === undefined) out.push({ kind: 'missing', root });
    }
    return out;
  }

  /** The roots being tracked. */
  get tracked(): string[] {
    return [...this.roots.keys()];
  }

  /**
   * Records a probe of `root`. `lost` says the watcher itself reported the root removed (it may be
   * back already, with the same inode: it still needs a new watch). Returns the transition, if any.
   */
  observe(root: string, probe: RootProbe, opts: { lost: boolean } = { lost: false }): RootTransition | undefined {
    const s = this.roots.get(root);
    if (s === undefined) return undefined;
    if (probe === undefined) {
      if (s.ino === undefined) return undefined;
      s.ino = undefined;
      return { kind: 'missing', root };
    }
    if (s.ino === probe.ino && !opts.lost) return undefined;
    s.ino = probe.ino;
    return { kind: 'back', root };
  }
}

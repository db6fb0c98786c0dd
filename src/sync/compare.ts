// `csync -T`: compares this node's real files with each peer's by per-directory digests, descending
// only where they differ, so an in-sync tree costs one small request per root and peer.
import type { FileMeta, FileState, GroupName, IgnoredAttr, NodeName, RelPath, RootId } from '../core/types.ts';
import { logicalPath } from '../core/types.ts';
import type { Hasher } from '../scanner/hasher.ts';
import { runCheck } from './check.ts';
import type { SyncContext } from './context.ts';
import { relOf } from './scope.ts';
import type { Target } from './scope.ts';

/** One entry of a digest listing: where, what, and the digest of its content identity. */
export interface DigestEntry {
  readonly rel: RelPath;
  readonly state: FileState;
  /** xxh64 of the entry's identity; a directory's also covers every child's name and digest. */
  readonly digest: string;
}

/** The digests of every live entry of one subtree, and each directory's children. */
export interface DigestTree {
  /** The entry at `rel`, if it exists (and is not excluded). */
  get(rel: string): DigestEntry | undefined;
  /** The direct children of `rel`, sorted by name (empty for files, links and unknown paths). */
  children(rel: string): readonly DigestEntry[];
}

/** Lists an entry (depth 0) or an entry and its children (depth 1) on a peer, with digests. */
export interface ListChannel {
  readonly peer: NodeName;
  readonly sharedGroups: ReadonlySet<GroupName>;
  list(req: { group: GroupName; root: RootId; rel: RelPath; depth: 0 | 1 }): Promise<DigestEntry[]>;
  close(): void;
}

/** One difference: X = both have it but it differs, L = only here, R = only on the peer. */
export interface Difference {
  readonly kind: 'X' | 'L' | 'R';
  readonly peer: NodeName;
  readonly path: string;
}

/**
 * What csync compares for an entry, as text: kind, hash or target, size, mode, owner, and a file's
 * mtime (recorded to the µs); attributes the group ignores are left out. Not the version vector (two
 * nodes with the same files but different histories are in sync), not a directory's mtime.
 */
export function identityText(m: FileMeta, ignore: readonly IgnoredAttr[]): string {
  const owner = `${ignore.includes('uid') ? '-' : m.uid}:${ignore.includes('gid') ? '-' : m.gid}`;
  const mode = ignore.includes('mode') ? '-' : m.mode.toString(8);
  if (m.kind === 'file') return `file:${m.hash ?? ''}:${m.sizeBytes}:${mode}:${owner}:${m.mtimeNs}`;
  if (m.kind === 'symlink') return `link:${owner}:${m.target ?? ''}`;
  return `${m.kind}:${mode}:${owner}`;
}

/**
 * The digest of one entry: xxh64 over `identity "\n"` followed, for a directory, by one
 * `<name length>:<name> <digest>"\n"` per child in name order (length-prefixed, so no name can fake
 * a second child).
 */
export function entryDigest(hasher: Hasher, identity: string, children: readonly DigestEntry[]): string {
  let text = `${identity}\n`;
  for (const c of children) {
    const name = c.rel.slice(c.rel.lastIndexOf('/') + 1);
    text += `${name.length}:${name} ${c.digest}\n`;
  }
  return hasher.hashBytes(UTF8.encode(text));
}

const UTF8 = new TextEncoder();

/**
 * Digests of every live entry at and below `t.rel` (default: the whole root), from the recorded
 * states with `pending` (a dry-run check's changes, not recorded) laid over them, in one pass:
 * entries are bucketed by depth and digested deepest first, so each child's digest exists before its
 * parent's. Deleted and excluded entries are left out.
 */
export function digestTree(ctx: SyncContext, t: DigestTarget, hasher: Hasher, pending: readonly FileState[] = []): DigestTree {
  const top = t.rel ?? ('' as RelPath);
  const ignore = t.group.config.ignore;
  const byDepth = bucketByDepth(ctx, t, pending);
  const entries = new Map<string, DigestEntry>();
  const kids = new Map<string, DigestEntry[]>();
  for (let d = byDepth.length - 1; d >= 0; d--) {
    for (const s of byDepth[d] ?? []) {
      const rel = relOf(t.root, s.path) as RelPath;
      const children = s.meta.kind === 'dir' ? (kids.get(rel)?.sort(byRel) ?? []) : [];
      const entry: DigestEntry = { rel, state: s, digest: entryDigest(hasher, identityText(s.meta, ignore), children) };
      entries.set(rel, entry);
      if (rel === top) continue;
      const parent = rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
      const siblings = kids.get(parent);
      if (siblings === undefined) kids.set(parent, [entry]);
      else siblings.push(entry);
    }
  }
  return {
    get: (rel) => entries.get(rel),
    children: (rel) => (entries.get(rel)?.state.meta.kind === 'dir' ? (kids.get(rel) ?? []) : []),
  };
}

/** What digestTree() digests: a root of a group, optionally only below `rel`. */
export type DigestTarget = Pick<Target, 'root' | 'group'> & { readonly rel?: RelPath };

/** The live, included states at and below the target, by depth below the root ('' is depth 0). */
function bucketByDepth(ctx: SyncContext, t: DigestTarget, pending: readonly FileState[]): FileState[][] {
  const top = t.rel ?? '';
  const start = logicalPath(t.root, top as RelPath);
  const over = new Map(pending.filter((s) => s.path === start || s.path.startsWith(`${start}/`)).map((s) => [s.path as string, s]));
  const recorded = ctx.store.list(start).map((s) => over.get(s.path) ?? s);
  const seen = new Set(recorded.map((s) => s.path as string));
  const excluded = ctx.matchers.get(t.group.config.name);
  const byDepth: FileState[][] = [];
  for (const s of [...recorded, ...[...over.values()].filter((p) => !seen.has(p.path))]) {
    if (s.meta.kind === 'deleted' || excluded?.isExcluded(s.path) === true) continue;
    const rel = relOf(t.root, s.path);
    if (rel === undefined) continue;
    const d = rel === '' ? 0 : slashes(rel) + 1;
    const bucket = byDepth[d];
    if (bucket === undefined) byDepth[d] = [s];
    else bucket.push(s);
  }
  return byDepth;
}

function slashes(p: string): number {
  let n = 0;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return n;
}

/** Siblings by name; the store lists them in this order already, so the sort is a linear pass. */
function byRel(a: DigestEntry, b: DigestEntry): number {
  return a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0;
}

/** Options of runCompare(). */
export interface CompareOptions {
  readonly targets: readonly Target[];
  readonly peers: readonly NodeName[];
  readonly connect: (peer: NodeName) => Promise<ListChannel>;
  /** List requests in flight per peer while descending (default 8). */
  readonly concurrency?: number;
}

/** Per peer: the differences found (sorted by path), or the error that stopped the comparison. */
export interface CompareReport {
  readonly peer: NodeName;
  readonly differences: Difference[];
  readonly error?: Error;
}

/**
 * Checks the local targets (a dry-run scan: the real files, nothing recorded or marked dirty), then
 * compares them with every peer concurrently. Throws the check's halt (mass-delete guard: the root
 * vanished or was emptied), which must not be reported as "only on the peer" for every file.
 */
export async function runCompare(ctx: SyncContext, opts: CompareOptions): Promise<CompareReport[]> {
  const pending = await scanForCompare(ctx, opts.targets);
  const trees = new Map(opts.targets.map((t) => [t, digestTree(ctx, t, ctx.hasher, pending)]));
  return Promise.all(opts.peers.map((peer) => comparePeer(opts, trees, peer)));
}

/**
 * The dry-run check both sides of a comparison run first: the states that differ from the recorded
 * ones, for digestTree(). A comparison changes nothing, so it cannot race the syncs it observes.
 */
export async function scanForCompare(ctx: SyncContext, targets: readonly Target[]): Promise<FileState[]> {
  const report = await runCheck(ctx, targets, { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: true, recordLocalSigs: true });
  const [halted] = report.halted;
  if (halted !== undefined) throw halted;
  return report.changed;
}

async function comparePeer(opts: CompareOptions, trees: ReadonlyMap<Target, DigestTree>, peer: NodeName): Promise<CompareReport> {
  let ch: ListChannel | undefined;
  try {
    ch = await opts.connect(peer);
    const walk = new Walk(ch, opts.concurrency ?? 8);
    for (const [t, tree] of trees) {
      if (!t.group.peers.includes(peer) || !ch.sharedGroups.has(t.group.config.name)) continue;
      await walk.target(t, tree);
    }
    return { peer, differences: walk.found.sort(byPath) };
  } catch (err) {
    return { peer, differences: [], error: err instanceof Error ? err : new Error(String(err)) };
  } finally {
    ch?.close();
  }
}

function byPath(a: Difference, b: Difference): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** One peer's top-down descent: compares digests and lists a directory only where they differ. */
class Walk {
  readonly found: Difference[] = [];
  private readonly ch: ListChannel;
  private readonly limit: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(ch: ListChannel, limit: number) {
    this.ch = ch;
    this.limit = Math.max(1, limit);
  }

  /** Compares one target: its entry first (depth 0), then only the directories that differ. */
  async target(t: Target, local: DigestTree): Promise<void> {
    const [remote] = await this.list(t, t.rel, 0);
    await this.entry(t, local, t.rel, local.get(t.rel), remote);
  }

  private async entry(t: Target, local: DigestTree, rel: RelPath, mine: DigestEntry | undefined, theirs: DigestEntry | undefined): Promise<void> {
    if (mine === undefined && theirs === undefined) return;
    if (mine === undefined || theirs === undefined) return this.note(mine ? 'L' : 'R', t, rel);
    if (mine.digest === theirs.digest) return;
    if (mine.state.meta.kind !== 'dir' || theirs.state.meta.kind !== 'dir') return this.note('X', t, rel);
    await this.dir(t, local, rel, mine, theirs);
  }

  private async dir(t: Target, local: DigestTree, rel: RelPath, mine: DigestEntry, theirs: DigestEntry): Promise<void> {
    const ignore = t.group.config.ignore;
    // The directory's own mode or owner may differ as well as (or instead of) its children.
    if (identityText(mine.state.meta, ignore) !== identityText(theirs.state.meta, ignore)) this.note('X', t, rel);
    const remoteKids = new Map((await this.list(t, rel, 1)).filter((e) => e.rel !== rel).map((e) => [e.rel as string, e]));
    const localKids = new Map(local.children(rel).map((e) => [e.rel as string, e]));
    const names = new Set([...localKids.keys(), ...remoteKids.keys()]);
    await Promise.all([...names].map((name) => this.entry(t, local, name as RelPath, localKids.get(name), remoteKids.get(name))));
  }

  private note(kind: Difference['kind'], t: Target, rel: RelPath): void {
    this.found.push({ kind, peer: this.ch.peer, path: logicalPath(t.root, rel) });
  }

  /** One list request, at most `limit` in flight (siblings are descended concurrently). */
  private async list(t: Target, rel: RelPath, depth: 0 | 1): Promise<DigestEntry[]> {
    while (this.inFlight >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      return await this.ch.list({ group: t.group.config.name, root: t.root, rel, depth });
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}

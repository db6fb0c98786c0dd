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
  readonly digest: string;
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

/** What csync compares for an entry, as text (mtime to the µs for files; ignored attributes left out). */
export function identityText(m: FileMeta, ignore: readonly IgnoredAttr[]): string {
  const owner = `${ignore.includes('uid') ? '-' : m.uid}:${ignore.includes('gid') ? '-' : m.gid}`;
  const mode = ignore.includes('mode') ? '-' : m.mode.toString(8);
  if (m.kind === 'file') return `file:${m.hash ?? ''}:${m.sizeBytes}:${mode}:${owner}:${m.mtimeNs}`;
  if (m.kind === 'symlink') return `link:${m.target ?? ''}:${owner}`;
  return `dir:${mode}:${owner}`;
}

/**
 * Digests of every live entry under `root` (keyed by RelPath), from the recorded states: files and
 * links by identity, directories by their own identity plus their children's names and digests.
 * O(n) in the entries; excluded paths are left out.
 */
export function digestTree(ctx: SyncContext, t: Pick<Target, 'root' | 'group'>, hasher: Hasher): Map<string, DigestEntry> {
  const ignore = t.group.config.ignore;
  const excluded = ctx.matchers.get(t.group.config.name);
  const live = ctx.store.list(t.root).filter((s) => s.meta.kind !== 'deleted' && !excluded?.isExcluded(s.path));
  const children = new Map<string, string[]>();
  const out = new Map<string, DigestEntry>();
  // Deepest first, so every child's digest exists before its parent's.
  for (const s of live.sort((a, b) => depth(b.path) - depth(a.path))) {
    const rel = relOf(t.root, s.path);
    if (rel === undefined) continue;
    const own = identityText(s.meta, ignore);
    const kids = s.meta.kind === 'dir' ? (children.get(rel) ?? []).sort().join('') : '';
    const digest = hasher.hashBytes(UTF8.encode(`${own}\n${kids}`));
    out.set(rel, { rel, state: s, digest });
    if (rel !== '') {
      const i = rel.lastIndexOf('/');
      const parent = i < 0 ? '' : rel.slice(0, i);
      const list = children.get(parent) ?? [];
      list.push(`${rel.slice(i + 1)}\t${digest}\n`);
      children.set(parent, list);
    }
  }
  return out;
}

const UTF8 = new TextEncoder();

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}

/** The direct children of `rel` in a digest tree. */
export function childrenOf(tree: ReadonlyMap<string, DigestEntry>, rel: string): DigestEntry[] {
  const prefix = rel === '' ? '' : `${rel}/`;
  return [...tree.values()].filter((e) => e.rel !== rel && e.rel.startsWith(prefix) && !e.rel.slice(prefix.length).includes('/'));
}

/** Options of runCompare(). */
export interface CompareOptions {
  readonly targets: readonly Target[];
  readonly peers: readonly NodeName[];
  readonly connect: (peer: NodeName) => Promise<ListChannel>;
}

/** Per peer: the differences found, or the error that stopped the comparison. */
export interface CompareReport {
  readonly peer: NodeName;
  readonly differences: Difference[];
  readonly error?: Error;
}

/** Checks the local targets, then compares them with every peer concurrently. */
export async function runCompare(ctx: SyncContext, opts: CompareOptions): Promise<CompareReport[]> {
  await runCheck(ctx, opts.targets, { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: false });
  const trees = new Map(opts.targets.map((t) => [t, digestTree(ctx, t, ctx.hasher)]));
  return Promise.all(opts.peers.map(async (peer): Promise<CompareReport> => {
    let ch: ListChannel | undefined;
    try {
      ch = await opts.connect(peer);
      const differences: Difference[] = [];
      for (const t of opts.targets) {
        if (!t.group.peers.includes(peer) || !ch.sharedGroups.has(t.group.config.name)) continue;
        await compareAt(ch, t, trees.get(t) ?? new Map(), t.rel, differences);
      }
      return { peer, differences };
    } catch (err) {
      return { peer, differences: [], error: err instanceof Error ? err : new Error(String(err)) };
    } finally {
      ch?.close();
    }
  }));
}

async function compareAt(ch: ListChannel, t: Target, local: ReadonlyMap<string, DigestEntry>, rel: RelPath, out: Difference[]): Promise<void> {
  const req = { group: t.group.config.name, root: t.root, rel };
  const [remoteSelf] = await ch.list({ ...req, depth: 0 });
  const mine = local.get(rel);
  const path = logicalPath(t.root, rel);
  if (mine === undefined && remoteSelf === undefined) return;
  if (mine === undefined || remoteSelf === undefined) {
    out.push({ kind: mine ? 'L' : 'R', peer: ch.peer, path });
    return;
  }
  if (mine.digest === remoteSelf.digest) return;
  if (mine.state.meta.kind !== 'dir' || remoteSelf.state.meta.kind !== 'dir') {
    out.push({ kind: 'X', peer: ch.peer, path });
    return;
  }
  const remoteKids = new Map((await ch.list({ ...req, depth: 1 })).filter((e) => e.rel !== rel).map((e) => [e.rel as string, e]));
  const localKids = new Map(childrenOf(local, rel).map((e) => [e.rel as string, e]));
  // The directory itself differs (mode, owner) when its children all match.
  if ([...localKids].every(([k, e]) => remoteKids.get(k)?.digest === e.digest) && localKids.size === remoteKids.size) {
    out.push({ kind: 'X', peer: ch.peer, path });
    return;
  }
  for (const name of [...new Set([...localKids.keys(), ...remoteKids.keys()])].sort()) {
    const l = localKids.get(name);
    const r = remoteKids.get(name);
    if (l && r && l.digest === r.digest) continue;
    if (!l || !r) out.push({ kind: l ? 'L' : 'R', peer: ch.peer, path: logicalPath(t.root, name as RelPath) });
    else if (l.state.meta.kind === 'dir' && r.state.meta.kind === 'dir') await compareAt(ch, t, local, name as RelPath, out);
    else out.push({ kind: 'X', peer: ch.peer, path: logicalPath(t.root, name as RelPath) });
  }
}

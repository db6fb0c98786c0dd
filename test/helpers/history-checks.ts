// The checks of the convergence property (test/helpers/history.ts runs them): what must hold after
// every op of a random history, and what must hold once the cluster has quiesced. Reads the
// simulator's trees, stores and audit log; changes nothing.
import assert from 'node:assert/strict';
import { sameContent } from '../../src/core/decide.ts';
import type { AutoPolicy, FileMeta, VersionVector } from '../../src/core/types.ts';
import { compareVersions } from '../../src/core/version.ts';
import { ROOT } from './sim.ts';
import type { SimCluster } from './sim.ts';

/** The group's exclude patterns in histories with excludes, and the paths they exclude. */
export const EXCLUDED = ['*.tmp'] as const;
const isExcluded = (rel: string): boolean => rel.split('/').some((c) => c.endsWith('.tmp'));

const TEXT = new TextDecoder();

/**
 * What users wrote and what they themselves replaced or deleted. A content no user replaced or
 * deleted (a leaf of the edit history) must survive somewhere: in a tree, a backup or conflicts/.
 */
export class Lineage {
  readonly written = new Set<string>();
  readonly superseded = new Set<string>();
  /** The user on `node` replaces or deletes whatever `path` holds there. */
  supersede(sim: SimCluster, node: string, path: string): void {
    const fs = sim.node(node).fs;
    const st = fs.lstat(path);
    if (st?.kind === 'file') this.superseded.add(TEXT.decode(fs.readFileSync(path)));
    if (st?.kind === 'dir') for (const name of fs.readdir(path)) this.supersede(sim, node, `${path}/${name}`);
  }

  /** True when a user wrote `content` and no user replaced or deleted it. */
  isLeaf(content: string): boolean {
    return this.written.has(content) && !this.superseded.has(content);
  }
}

/** A short name for a content in messages (big contents are 300 KiB). */
function short(content: string): string {
  return JSON.stringify(content.length > 40 ? `${content.slice(0, 32)}…(${content.length} bytes)` : content);
}

/**
 * One version of a path names one content (kind, hash, target) on every node and at every moment
 * of a history: csync never names two contents by one version (a resolution is a new version of
 * its resolver, so two nodes resolving different pairs never meet under one vector). Versions a
 * receive_only node originated are left out: they never leave it, and it forgets them when it
 * yields its own entries to a peer's deletion.
 */
export class VersionLedger {
  private readonly named = new Map<string, { node: string; when: string; meta: FileMeta }>();
  private readonly receiveOnly: readonly string[];
  constructor(receiveOnly: readonly string[]) {
    this.receiveOnly = receiveOnly;
  }

  /** Records every node's versions now; throws when one names another content than before. */
  observe(sim: SimCluster, when: string): void {
    for (const n of sim.nodes.values()) {
      for (const st of n.rt.store.list()) {
        if (this.receiveOnly.includes(st.origin)) continue;
        const key = `${st.path} ${JSON.stringify(st.version)}`;
        const other = this.named.get(key);
        if (other === undefined) this.named.set(key, { node: n.name, when, meta: st.meta });
        else assert.ok(sameContent(other.meta, st.meta), `${when}: ${st.path} version ${JSON.stringify(st.version)} names ${describeMeta(st.meta)} on ${n.name} but named ${describeMeta(other.meta)} on ${other.node} ${other.when}`);
      }
    }
  }
}

function describeMeta(m: FileMeta): string {
  return `${m.kind} ${m.hash ?? m.target ?? ''}`.trim();
}

/** What the end-state checks need to know about the history. */
export interface EndContext {
  readonly policy: AutoPolicy;
  readonly names: readonly string[];
  readonly receiveOnly: readonly string[];
  readonly backups: boolean;
  readonly exclude: boolean;
  readonly ignoreMode: boolean;
  readonly lineage: Lineage;
  /** Paths left dirty by a known failure (history.ts isKindClash): not compared across nodes. */
  readonly stuck: ReadonlySet<string>;
  /** Paths some node ran `csync -f` on. */
  readonly forced: ReadonlySet<string>;
}

/** Everything that must hold once the cluster has quiesced. */
export function assertEndState(sim: SimCluster, c: EndContext): void {
  const conflicts = conflicted(sim);
  if (c.policy !== 'none') assert.deepEqual(conflicts, new Set(), 'no conflict rows remain under an auto policy');
  const held = new Set([...conflicts, ...c.stuck]);
  assertTreesEqual(sim, c, held);
  assertVersionsEqual(sim, c, held);
  assertExcludedUntouched(sim, c);
  assertReplacedKept(sim, c, new Set());
  assertNothingLost(sim, c, new Set());
  if (c.policy === 'none') assertConflictsHeldOnBothSides(sim);
  assertReceiveOnlyNeverOriginates(sim, c);
}

/** A node's tree as compared across nodes: excluded paths left out, modes too when ignored. */
function comparable(sim: SimCluster, n: string, c: EndContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, d] of Object.entries(sim.tree(n))) {
    if (c.exclude && isExcluded(p)) continue;
    // A symlink's mtime is neither compared nor kept when identical links merge (docs/semantics.md syncs
    // target and owner), like a directory's: left out.
    const desc = d.startsWith('symlink ') ? d.replace(/ mtime=\d+/, '') : d;
    out[p] = c.ignoreMode ? desc.replace(/^(\w+) \d{4} /, '$1 mode? ') : desc;
  }
  return out;
}

function assertTreesEqual(sim: SimCluster, c: EndContext, held: Set<string>): void {
  const first = c.names[0] as string;
  const base = without(comparable(sim, first, c), held);
  for (const n of c.names.slice(1)) {
    // A receive_only node may keep its own local drift (it never sends it; `csync -T` reports it):
    // paths it changed itself are left out, everything else must match.
    const own = c.receiveOnly.includes(n) ? ownPaths(sim, n) : new Set<string>();
    assert.deepEqual(without(without(comparable(sim, n, c), held), own), without(base, own), `tree of ${n} differs from ${first}`);
  }
}

/**
 * Every node that shares a path holds the same version of it: no later edit can meet a spurious
 * conflict. A receive_only node (but for the paths it changed itself) holds that version or an
 * older one: a version two peers merged for identical states is not pushed to it, and harmlessly
 * so (any later change dominates both), but it never holds a version the others do not dominate.
 */
function assertVersionsEqual(sim: SimCluster, c: EndContext, held: Set<string>): void {
  const versions = new Map<string, { v: VersionVector; node: string }>();
  for (const n of c.names.filter((x) => !c.receiveOnly.includes(x))) {
    for (const st of sim.node(n).rt.store.list()) {
      if (within(st.path.slice(ROOT.length + 1), held)) continue;
      const seen = versions.get(st.path);
      if (seen === undefined) versions.set(st.path, { v: st.version, node: n });
      else assert.equal(JSON.stringify(st.version), JSON.stringify(seen.v), `${st.path}: version ${JSON.stringify(st.version)} on ${n} but ${JSON.stringify(seen.v)} on ${seen.node}`);
    }
  }
  for (const ro of c.receiveOnly) {
    const own = ownPaths(sim, ro);
    for (const st of sim.node(ro).rt.store.list()) {
      const rel = st.path.slice(ROOT.length + 1);
      const seen = versions.get(st.path);
      if (within(rel, held) || within(rel, own) || seen === undefined) continue;
      const order = compareVersions(seen.v, st.version);
      assert.ok(order === 'equal' || order === 'newer', `${st.path}: receive_only ${ro} holds version ${JSON.stringify(st.version)}, not dominated by ${JSON.stringify(seen.v)} on ${seen.node}`);
    }
  }
}

/** Excluded paths are never recorded, sent or touched: each node's x.tmp is its own users' content. */
function assertExcludedUntouched(sim: SimCluster, c: EndContext): void {
  if (!c.exclude) return;
  for (const n of c.names) {
    for (const st of sim.node(n).rt.store.list()) assert.ok(!isExcluded(st.path), `${n} recorded excluded ${st.path}`);
    const fs = sim.node(n).fs;
    for (const [p, d] of Object.entries(sim.tree(n))) {
      if (!isExcluded(p) || !d.startsWith('file ')) continue;
      const k = TEXT.decode(fs.readFileSync(`${ROOT}/${p}`));
      assert.ok(k.startsWith(`${n}#`) || k.startsWith('same '), `${n}:${p} holds content from another node: ${short(k)}`);
    }
  }
  for (const r of sim.replaced) assert.ok(!isExcluded(r.path.slice(ROOT.length + 1)), `${r.node} replaced excluded ${r.path}`);
}

/**
 * Whatever csync replaced or deleted was kept first: with backups, in that node's backup dir.
 * Without, a content no user replaced (the loser of a conflict, never a superseded version) is in
 * some node's conflicts/: losers are never discarded (docs/semantics.md).
 */
function assertReplacedKept(sim: SimCluster, c: EndContext, exempt: ReadonlySet<string>): void {
  const keptAnywhere = new Set<string>();
  for (const n of c.names) for (const k of sim.kept(n)) keptAnywhere.add(k);
  for (const r of sim.replaced) {
    if (c.backups) assert.ok(sim.kept(r.node).has(r.content), `${r.node} replaced ${r.path} (${short(r.content)}) without keeping a backup`);
    else if (c.lineage.isLeaf(r.content) && !exempt.has(r.content)) assert.ok(keptAnywhere.has(r.content), `${r.node} replaced ${r.path} (${short(r.content)}), which no user replaced, and no node kept it in conflicts/`);
  }
}

/** No content a user wrote and no user replaced is gone: it is in a tree or kept somewhere. */
function assertNothingLost(sim: SimCluster, c: EndContext, exempt: ReadonlySet<string>): void {
  const everywhere = new Set<string>();
  for (const n of c.names) {
    for (const k of sim.kept(n)) everywhere.add(k);
    for (const k of contents(sim, n)) everywhere.add(k);
  }
  for (const k of c.lineage.written) {
    if (!c.lineage.superseded.has(k) && !exempt.has(k)) assert.ok(everywhere.has(k), `content ${short(k)} was lost (no tree holds it, no backup or conflict copy)`);
  }
}

function assertReceiveOnlyNeverOriginates(sim: SimCluster, c: EndContext): void {
  for (const ro of c.receiveOnly) {
    for (const n of c.names.filter((x) => x !== ro)) {
      for (const [p, desc] of Object.entries(sim.tree(n))) assert.ok(!desc.includes(`"${ro}#`), `${n}:${p} holds content that receive_only ${ro} originated`);
      for (const k of contents(sim, n)) assert.ok(!k.startsWith(`${ro}#`), `${n} holds content that receive_only ${ro} originated`);
    }
  }
}

/** Paths any node holds as an unresolved conflict. */
function conflicted(sim: SimCluster): Set<string> {
  const out = new Set<string>();
  for (const n of sim.nodes.values()) for (const x of n.rt.store.listConflicts()) out.add(x.path.slice(ROOT.length + 1));
  return out;
}

/** True when `rel` is one of `paths`, below one, or above one. */
function within(rel: string, paths: ReadonlySet<string>): boolean {
  for (const p of paths) if (rel === p || rel.startsWith(`${p}/`) || p.startsWith(`${rel}/`)) return true;
  return false;
}

function without(tree: Record<string, string>, paths: Set<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).filter(([p]) => !within(p, paths)));
}

/** Every file content in a node's tree. */
function contents(sim: SimCluster, n: string): string[] {
  const fs = sim.node(n).fs;
  return Object.entries(fs.snapshot(ROOT)).filter(([, d]) => d.startsWith('file ')).map(([rel]) => TEXT.decode(fs.readFileSync(`${ROOT}/${rel}`)));
}

/** Paths (relative to ROOT) whose recorded state on `n` is `n`'s own change. */
function ownPaths(sim: SimCluster, n: string): Set<string> {
  const out = new Set<string>();
  for (const st of sim.node(n).rt.store.list()) if (st.origin === n && st.path !== ROOT) out.add(st.path.slice(ROOT.length + 1));
  return out;
}

/**
 * Under auto = none, an unresolved conflict is known to both sides (a conflict row, or a row held
 * dirty as a conflict), and each side still holds the version it recorded.
 */
function assertConflictsHeldOnBothSides(sim: SimCluster): void {
  for (const x of sim.nodes.values()) {
    for (const cf of x.rt.store.listConflicts()) {
      const y = sim.node(cf.peer).rt.store;
      const known = y.listConflicts(cf.path).length > 0 || y.listDirty(x.name).some((d) => d.path === cf.path && (d.lastError ?? '').startsWith('conflict'));
      assert.ok(known, `${x.name} holds a conflict on ${cf.path} with ${cf.peer}, which does not know it`);
      const mine = x.rt.store.get(cf.path);
      const st = x.fs.lstat(cf.path);
      if (mine?.meta.kind === 'file') assert.equal(st?.sizeBytes, mine.meta.sizeBytes, `${x.name} no longer holds its version of ${cf.path}`);
      if (mine?.meta.kind === 'deleted') assert.equal(st, undefined, `${x.name} recreated ${cf.path}`);
    }
  }
}

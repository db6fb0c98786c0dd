// Random cluster histories for the convergence property (test/property/cluster.property.test.ts):
// the generator, the interpreter and the checks, kept apart so a failing history can be replayed
// from a script (node -e "import('./build/test/helpers/history.js').then(h => h.runHistory(…))").
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AutoPolicy } from '../../src/core/types.ts';
import { ROOT, SimCluster } from './sim.ts';
import type { Fault } from './sim.ts';

const FILES = ['f0', 'f1', 'd/f2', 'd/e/f3'] as const;

export type Op =
  | { readonly k: 'edit'; readonly node: number; readonly file: number; readonly same: boolean }
  | { readonly k: 'remove'; readonly node: number; readonly file: number }
  | { readonly k: 'rename'; readonly node: number; readonly from: number; readonly to: number }
  | { readonly k: 'rmdir'; readonly node: number }
  | { readonly k: 'chmod'; readonly node: number; readonly file: number; readonly mode: number }
  | { readonly k: 'check'; readonly node: number }
  | { readonly k: 'update'; readonly node: number; readonly peers: readonly number[]; readonly fault: Fault | undefined }
  | { readonly k: 'partition'; readonly a: number; readonly b: number }
  | { readonly k: 'heal' };

const node = fc.nat(4);
const file = fc.nat(FILES.length - 1);
export const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('edit' as const), node, file, same: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), node, file }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), node, from: file, to: file }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rmdir' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('chmod' as const), node, file, mode: fc.constantFrom(0o644, 0o600) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('check' as const), node }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('update' as const),
      node,
      peers: fc.subarray([0, 1, 2, 3, 4]),
      fault: fc.option(fc.record({ kind: fc.constantFrom('lose-reply' as const, 'drop' as const, 'duplicate' as const), after: fc.nat(3) }), { nil: undefined, freq: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('partition' as const), a: node, b: node }) },
  { weight: 1, arbitrary: fc.constant({ k: 'heal' as const }) },
);

export interface History {
  readonly size: number;
  readonly receiveOnly: boolean;
  /** Backup generations on (losers in the backup dir) or off (losers in the state dir's conflicts/). */
  readonly backups: boolean;
  readonly ops: readonly Op[];
}

export const history: fc.Arbitrary<History> = fc.record({
  size: fc.integer({ min: 2, max: 5 }),
  receiveOnly: fc.boolean(),
  backups: fc.boolean(),
  ops: fc.array(op, { minLength: 1, maxLength: 24 }),
});

const enc = new TextEncoder();

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
    if (st?.kind === 'file') this.superseded.add(new TextDecoder().decode(fs.readFileSync(path)));
    if (st?.kind === 'dir') for (const name of fs.readdir(path)) this.supersede(sim, node, `${path}/${name}`);
  }
}

/** Applies one op; user-level file operations go straight to the memory filesystem. */
async function apply(sim: SimCluster, names: readonly string[], o: Op, step: number, lineage: Lineage): Promise<void> {
  const n = (i: number): string => names[i % names.length] as string;
  sim.clock.advance(1000);
  const fs = (i: number) => sim.node(n(i)).fs;
  const path = (f: number): string => `${ROOT}/${FILES[f] as string}`;
  const exists = (i: number, f: number): boolean => fs(i).lstat(path(f))?.kind === 'file';
  switch (o.k) {
    case 'edit': {
      const f = FILES[o.file] as string;
      if (f.includes('/')) fs(o.node).mkdirpSync(`${ROOT}/${f.slice(0, f.lastIndexOf('/'))}`);
      // Unique content and mtime per edit (a same-size, same-mtime edit is invisible to any scanner
      // that trusts mtimes, csync2's included); `same` makes nodes write identical content.
      const content = o.same ? `same ${f}` : `${n(o.node)}#${step}`;
      lineage.supersede(sim, n(o.node), path(o.file));
      if (!o.same) lineage.written.add(content);
      fs(o.node).writeFileSync(path(o.file), enc.encode(content), { mtimeNs: BigInt(sim.clock.nowMs()) * 1_000_000n + BigInt(step) * 1000n, mode: 0o644 });
      return;
    }
    case 'remove':
      lineage.supersede(sim, n(o.node), path(o.file));
      if (exists(o.node, o.file)) fs(o.node).removeSync(path(o.file));
      return;
    case 'rename':
      if (o.from !== o.to && exists(o.node, o.from) && !FILES[o.to]?.includes('/')) {
        lineage.supersede(sim, n(o.node), path(o.to));
        lineage.supersede(sim, n(o.node), path(o.from));
        fs(o.node).writeFileSync(path(o.to), fs(o.node).readFileSync(path(o.from)), { mtimeNs: BigInt(sim.clock.nowMs()) * 1_000_000n + BigInt(step) * 1000n, mode: 0o644 });
        fs(o.node).removeSync(path(o.from));
      }
      return;
    case 'rmdir':
      lineage.supersede(sim, n(o.node), `${ROOT}/d`);
      if (fs(o.node).lstat(`${ROOT}/d`) !== undefined) fs(o.node).removeSync(`${ROOT}/d`);
      return;
    case 'chmod':
      if (exists(o.node, o.file)) fs(o.node).setMetaSync(path(o.file), { mode: o.mode });
      return;
    case 'check':
      return sim.check(n(o.node));
    case 'update':
      await sim.update(n(o.node), o.peers.map(n), o.fault === undefined ? {} : { fault: o.fault });
      return;
    case 'partition':
      if (n(o.a) !== n(o.b)) sim.partition(n(o.a), n(o.b));
      return;
    case 'heal':
      sim.heal();
      return;
    default: {
      const never: never = o;
      throw new Error(`bug: ${JSON.stringify(never)}`);
    }
  }
}

/** Paths any node holds as an unresolved conflict. */
function conflicted(sim: SimCluster): Set<string> {
  const out = new Set<string>();
  for (const n of sim.nodes.values()) for (const c of n.rt.store.listConflicts()) out.add(c.path.slice(ROOT.length + 1));
  return out;
}

function without(tree: Record<string, string>, paths: Set<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).filter(([p]) => ![...paths].some((c) => p === c || p.startsWith(`${c}/`) || c.startsWith(`${p}/`))));
}

export async function runHistory(policy: AutoPolicy, h: History): Promise<void> {
  const names = ['n1', 'n2', 'n3', 'n4', 'n5'].slice(0, h.size);
  const receiveOnly = h.receiveOnly && h.size > 2 ? [names[h.size - 1] as string] : [];
  const sim = await SimCluster.create({ nodes: names, policy, receiveOnly, backups: h.backups });
  const lineage = new Lineage();
  try {
    for (const [i, o] of h.ops.entries()) await apply(sim, names, o, i, lineage);
    await sim.quiesce(16, { heldConflicts: policy === 'none' });
    const held = policy === 'none' ? conflicted(sim) : new Set<string>();
    if (policy !== 'none') assert.deepEqual(held, conflicted(sim), 'no conflict rows remain under an auto policy');
    const first = without(sim.tree(names[0] as string), held);
    for (const n of names.slice(1)) {
      // A receive_only node may keep its own local drift (it never sends it; `csync -T` reports it):
      // paths it changed itself are left out, everything else must match.
      const own = receiveOnly.includes(n) ? ownPaths(sim, n) : new Set<string>();
      assert.deepEqual(without(without(sim.tree(n), held), own), without(first, own), `tree of ${n} differs from ${names[0] as string}`);
    }
    // Every node that shares a path holds the same version of it: no later edit can meet a
    // spurious conflict.
    const versions = new Map<string, string>();
    for (const n of names.filter((x) => !receiveOnly.includes(x))) {
      for (const st of sim.node(n).rt.store.list()) {
        const rel = st.path.slice(ROOT.length + 1);
        if (held.has(rel) || [...held].some((c) => rel.startsWith(`${c}/`) || c.startsWith(`${rel}/`))) continue;
        const v = JSON.stringify(st.version);
        const seen = versions.get(st.path);
        if (seen === undefined) versions.set(st.path, `${v} on ${n}`);
        else assert.equal(v, seen.slice(0, seen.lastIndexOf(' on ')), `${st.path}: version ${v} on ${n} but ${seen}`);
      }
    }
    if (h.backups) {
      for (const r of sim.replaced) {
        const present = sim.kept(r.node).has(r.content);
        assert.ok(present, `${r.node} replaced ${r.path} (${JSON.stringify(r.content)}) without keeping a backup`);
      }
    }
    // No content a user wrote and no user replaced is gone: it is in a tree or kept somewhere.
    const everywhere = new Set<string>();
    for (const n of names) {
      for (const c of sim.kept(n)) everywhere.add(c);
      for (const c of contents(sim, n)) everywhere.add(c);
    }
    for (const c of lineage.written) {
      if (!lineage.superseded.has(c)) assert.ok(everywhere.has(c), `content ${JSON.stringify(c)} was lost (no tree holds it, no backup or conflict copy)`);
    }
    if (policy === 'none') assertConflictsHeldOnBothSides(sim);
    for (const ro of receiveOnly) {
      for (const n of names.filter((x) => x !== ro)) {
        for (const [p, desc] of Object.entries(sim.tree(n))) assert.ok(!desc.includes(`"${ro}#`), `${n}:${p} holds content that receive_only ${ro} originated`);
        for (const c of contents(sim, n)) assert.ok(!c.startsWith(`${ro}#`), `${n} holds content that receive_only ${ro} originated`);
      }
    }
  } finally {
    sim.close();
  }
}

/** Every file content in a node's tree. */
function contents(sim: SimCluster, n: string): string[] {
  const fs = sim.node(n).fs;
  return Object.entries(fs.snapshot(ROOT)).filter(([, d]) => d.startsWith('file ')).map(([rel]) => new TextDecoder().decode(fs.readFileSync(`${ROOT}/${rel}`)));
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
    for (const c of x.rt.store.listConflicts()) {
      const y = sim.node(c.peer).rt.store;
      const known = y.listConflicts(c.path).length > 0 || y.listDirty(x.name).some((d) => d.path === c.path && (d.lastError ?? '').startsWith('conflict'));
      assert.ok(known, `${x.name} holds a conflict on ${c.path} with ${c.peer}, which does not know it`);
      const mine = x.rt.store.get(c.path);
      const st = x.fs.lstat(c.path);
      if (mine?.meta.kind === 'file') assert.equal(st?.sizeBytes, mine.meta.sizeBytes, `${x.name} no longer holds its version of ${c.path}`);
      if (mine?.meta.kind === 'deleted') assert.equal(st, undefined, `${x.name} recreated ${c.path}`);
    }
  }
}


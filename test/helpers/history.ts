// Random cluster histories for the convergence property (test/property/cluster.property.test.ts):
// the generator, the interpreter and the checks, kept apart so a failing history can be replayed
// from a script (node -e "import('./build/test/helpers/history.js').then(h => h.runHistory(…))").
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AutoPolicy } from '../../src/core/types.ts';
import { ROOT, SimCluster } from './sim.ts';

const FILES = ['f0', 'f1', 'd/f2', 'd/e/f3'] as const;

export type Op =
  | { readonly k: 'edit'; readonly node: number; readonly file: number; readonly same: boolean }
  | { readonly k: 'remove'; readonly node: number; readonly file: number }
  | { readonly k: 'rename'; readonly node: number; readonly from: number; readonly to: number }
  | { readonly k: 'rmdir'; readonly node: number }
  | { readonly k: 'chmod'; readonly node: number; readonly file: number; readonly mode: number }
  | { readonly k: 'check'; readonly node: number }
  | { readonly k: 'update'; readonly node: number; readonly peers: readonly number[]; readonly lose: number | undefined }
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
    arbitrary: fc.record({ k: fc.constant('update' as const), node, peers: fc.subarray([0, 1, 2, 3, 4]), lose: fc.option(fc.nat(3), { nil: undefined }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('partition' as const), a: node, b: node }) },
  { weight: 1, arbitrary: fc.constant({ k: 'heal' as const }) },
);

export interface History {
  readonly size: number;
  readonly receiveOnly: boolean;
  readonly ops: readonly Op[];
}

export const history: fc.Arbitrary<History> = fc.record({
  size: fc.integer({ min: 2, max: 5 }),
  receiveOnly: fc.boolean(),
  ops: fc.array(op, { minLength: 1, maxLength: 24 }),
});

const enc = new TextEncoder();

/** Applies one op; user-level file operations go straight to the memory filesystem. */
async function apply(sim: SimCluster, names: readonly string[], o: Op, step: number): Promise<void> {
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
      fs(o.node).writeFileSync(path(o.file), enc.encode(content), { mtimeNs: BigInt(sim.clock.nowMs()) * 1_000_000n + BigInt(step) * 1000n, mode: 0o644 });
      return;
    }
    case 'remove':
      if (exists(o.node, o.file)) fs(o.node).removeSync(path(o.file));
      return;
    case 'rename':
      if (o.from !== o.to && exists(o.node, o.from) && !FILES[o.to]?.includes('/')) {
        fs(o.node).writeFileSync(path(o.to), fs(o.node).readFileSync(path(o.from)), { mtimeNs: BigInt(sim.clock.nowMs()) * 1_000_000n + BigInt(step) * 1000n, mode: 0o644 });
        fs(o.node).removeSync(path(o.from));
      }
      return;
    case 'rmdir':
      if (fs(o.node).lstat(`${ROOT}/d`) !== undefined) fs(o.node).removeSync(`${ROOT}/d`);
      return;
    case 'chmod':
      if (exists(o.node, o.file)) fs(o.node).setMetaSync(path(o.file), { mode: o.mode });
      return;
    case 'check':
      return sim.check(n(o.node));
    case 'update':
      await sim.update(n(o.node), o.peers.map(n), o.lose === undefined ? {} : { loseRepliesAfter: o.lose });
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
  const sim = await SimCluster.create({ nodes: names, policy, receiveOnly });
  try {
    for (const [i, o] of h.ops.entries()) await apply(sim, names, o, i);
    await sim.quiesce(16, { heldConflicts: policy === 'none' || receiveOnly.length > 0 });
    const held = policy === 'none' ? conflicted(sim) : new Set<string>();
    // receive_only nodes may keep local drift (they never originate; `csync -T` reports it).
    const first = without(sim.tree(names[0] as string), held);
    for (const n of names.slice(1).filter((x) => !receiveOnly.includes(x))) {
      assert.deepEqual(without(sim.tree(n), held), first, `tree of ${n} differs from ${names[0] as string}`);
    }
    for (const r of sim.replaced) {
      const present = sim.kept(r.node).has(r.content);
      assert.ok(present, `${r.node} replaced ${r.path} (${JSON.stringify(r.content)}) without keeping a backup`);
    }
    if (policy === 'none') assertConflictsHeldOnBothSides(sim);
    for (const ro of receiveOnly) {
      for (const n of names.filter((x) => x !== ro)) {
        for (const [p, desc] of Object.entries(sim.tree(n))) assert.ok(!desc.includes(`"${ro}#`), `${n}:${p} holds content that receive_only ${ro} originated`);
      }
    }
  } finally {
    sim.close();
  }
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


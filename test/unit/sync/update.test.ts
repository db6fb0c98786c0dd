// runUpdate (sync/update.ts) on node "a" of MEMORY_TOML with a fake OfferChannel that records offers
// and answers from a script: concurrency across peers, failures per peer, outcomes, dry run, order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import type { LogicalPath, NodeName } from '../../../src/core/types.ts';
import { runCheck } from '../../../src/sync/check.ts';
import type { OfferOutcome } from '../../../src/sync/receive.ts';
import { allRootTargets } from '../../../src/sync/scope.ts';
import { runUpdate } from '../../../src/sync/update.ts';
import type { Connect, OfferChannel, OutgoingOffer } from '../../../src/sync/update.ts';
import { memoryNode } from '../../helpers/fixtures.ts';
import type { MemoryNode } from '../../helpers/fixtures.ts';

const ROOT = '/data';
const lp = (rel: string): LogicalPath => `${ROOT}/${rel}` as LogicalPath;

interface Sent {
  readonly peer: NodeName;
  readonly offer: OutgoingOffer;
}

/** Scripted answers: by default every offer is applied. */
type Script = (peer: NodeName, o: OutgoingOffer) => OfferOutcome | Promise<OfferOutcome>;
const APPLY_ALL: Script = () => ({ result: 'applied' });

/** A connect() whose channels record every offer into `sent` and answer with `script`. */
function fakeConnect(sent: Sent[], script: Script = APPLY_ALL, connected: NodeName[] = []): Connect {
  return async (peer) => {
    connected.push(peer);
    const ch: OfferChannel = {
      peer,
      sharedGroups: new Set(['g', 'other']),
      offer: async (offer) => {
        sent.push({ peer, offer });
        return script(peer, offer);
      },
      close: () => undefined,
    };
    return ch;
  };
}

async function check(n: MemoryNode): Promise<void> {
  await runCheck(n.ctx, allRootTargets(n.ctx.view, new Set(['g'])), { recursive: true, markAll: false, force: false, allowMassDelete: true, dryRun: false });
}

/** Node a with /data/{one.txt, two.txt} checked (group g only): three rows dirty for b and for c. */
async function setup(t: { after(fn: () => void): void }): Promise<MemoryNode> {
  const n = await memoryNode('a');
  t.after(() => n.close());
  n.mem.writeFileSync(`${ROOT}/one.txt`, 'one');
  n.mem.writeFileSync(`${ROOT}/two.txt`, 'two');
  await check(n);
  return n;
}

const dirtyPaths = (n: MemoryNode, peer: string): string[] => n.store.listDirty(peer).map((d) => d.path);

describe('runUpdate', () => {
  it('serves every peer concurrently', { timeout: 10_000 }, async (t) => {
    const n = await setup(t);
    // b's first offer waits until c has received one: a sequential update would never finish.
    let cStarted!: () => void;
    const cSeen = new Promise<void>((resolve) => {
      cStarted = resolve;
    });
    const sent: Sent[] = [];
    const reports = await runUpdate(n.ctx, {
      dryRun: false,
      connect: fakeConnect(sent, async (peer) => {
        if (peer === 'c') cStarted();
        else await cSeen;
        return { result: 'applied' };
      }),
    });
    assert.deepEqual(reports.map((r) => [r.peer, r.status, r.sent]), [['b', 'ok', 3], ['c', 'ok', 3]]);
  });

  it('keeps the offers in flight over all peers within one budget (memory follows it, not the number of peers)', async (t) => {
    const peak = async (totalInFlight: number): Promise<number> => {
      const n = await setup(t);
      let now = 0;
      let max = 0;
      await runUpdate(n.ctx, {
        dryRun: false,
        window: 8,
        totalInFlight,
        connect: fakeConnect([], async () => {
          max = Math.max(max, ++now);
          await new Promise((r) => setImmediate(r));
          now--;
          return { result: 'applied' };
        }),
      });
      return max;
    };
    assert.equal(await peak(2), 2, 'never more than the budget at once');
    assert.equal(await peak(8), 6, 'control: with room, both peers\' three offers are in flight together');
  });

  it('offers each dirty entry with inline content and clears it when applied', async (t) => {
    const n = await setup(t);
    const sent: Sent[] = [];
    const [b] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect(sent) });
    assert.deepEqual(sent.map((s) => s.offer.rel).sort(), ['', 'one.txt', 'two.txt']);
    const one = sent.find((s) => s.offer.rel === 'one.txt')?.offer;
    assert.equal(one?.group, 'g');
    assert.equal(one?.root, ROOT);
    assert.equal(new TextDecoder().decode(one?.content), 'one');
    assert.equal(b?.status, 'ok');
    assert.deepEqual(b?.delivered.slice().sort(), [ROOT, lp('one.txt'), lp('two.txt')]);
    assert.deepEqual(dirtyPaths(n, 'b'), []);
    assert.equal(dirtyPaths(n, 'c').length, 3, 'another peer\'s rows are untouched');
  });

  it('keeps the rows of a peer whose connect throws, with lastError, and still serves the others', async (t) => {
    const n = await setup(t);
    const sent: Sent[] = [];
    const ok = fakeConnect(sent);
    const reports = await runUpdate(n.ctx, {
      dryRun: false,
      connect: async (peer) => {
        if (peer === 'b') throw new CsyncError('CSYNC_PEER_UNREACHABLE', 'peer "b": connection refused');
        return ok(peer);
      },
    });
    const b = reports.find((r) => r.peer === 'b');
    assert.equal(b?.status, 'failed');
    assert.equal(b?.error?.code, 'CSYNC_PEER_UNREACHABLE');
    const rows = n.store.listDirty('b');
    assert.equal(rows.length, 3);
    for (const r of rows) assert.equal(r.lastError, 'peer "b": connection refused');
    assert.equal(reports.find((r) => r.peer === 'c')?.status, 'ok');
    assert.deepEqual(dirtyPaths(n, 'c'), []);
  });

  it("keeps a row dirty and records a conflict when the peer answers 'conflict'", async (t) => {
    const n = await setup(t);
    const sent: Sent[] = [];
    const theirs = { ...n.store.get(lp('one.txt'))!, version: { b: 1 }, origin: 'b' };
    const [b] = await runUpdate(n.ctx, {
      dryRun: false,
      peers: new Set(['b']),
      connect: fakeConnect(sent, (_peer, o) => (o.rel === 'one.txt' ? { result: 'conflict', state: theirs } : { result: 'applied' })),
    });
    assert.deepEqual(b?.conflicts, [lp('one.txt')]);
    const rows = n.store.listDirty('b');
    assert.deepEqual(rows.map((r) => r.path), [lp('one.txt')]);
    assert.match(rows[0]?.lastError ?? '', /^conflict/);
    const conflicts = n.store.listConflicts(lp('one.txt'));
    assert.deepEqual(conflicts.map((c) => [c.peer, c.remote.version]), [['b', { b: 1 }]]);
  });

  it("keeps a row dirty with the reason when the peer answers 'rejected'", async (t) => {
    const n = await setup(t);
    const [b] = await runUpdate(n.ctx, {
      dryRun: false,
      peers: new Set(['b']),
      connect: fakeConnect([], (_p, o) => (o.rel === 'two.txt' ? { result: 'rejected', reason: 'disk full' } : { result: 'applied' })),
    });
    assert.deepEqual(b?.failed, [{ path: lp('two.txt'), reason: 'disk full' }]);
    assert.deepEqual(n.store.listDirty('b').map((r) => [r.path, r.lastError]), [[lp('two.txt'), 'disk full']]);
  });

  it('sends nothing in a dry run and plans every dirty row', async (t) => {
    const n = await setup(t);
    const connected: NodeName[] = [];
    const reports = await runUpdate(n.ctx, { dryRun: true, connect: fakeConnect([], APPLY_ALL, connected) });
    assert.deepEqual(connected, []);
    assert.deepEqual(reports.map((r) => [r.peer, r.status, r.planned.slice().sort()]), [
      ['b', 'dry-run', [ROOT, lp('one.txt'), lp('two.txt')]],
      ['c', 'dry-run', [ROOT, lp('one.txt'), lp('two.txt')]],
    ]);
    assert.equal(n.store.listDirty().length, 6);
  });

  it('sends directory deletions after file deletions, deepest first', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    n.mem.mkdirpSync(`${ROOT}/d1/d2`);
    n.mem.writeFileSync(`${ROOT}/d1/d2/f.txt`, 'f');
    n.mem.writeFileSync(`${ROOT}/d1/g.txt`, 'g');
    n.mem.writeFileSync(`${ROOT}/keep.txt`, 'k');
    n.mem.writeFileSync(`${ROOT}/top.txt`, 't');
    await check(n);
    await runUpdate(n.ctx, { dryRun: false, connect: fakeConnect([]) });
    assert.deepEqual(n.store.listDirty(), []);
    n.mem.removeSync(`${ROOT}/d1`);
    n.mem.removeSync(`${ROOT}/top.txt`);
    await check(n);
    const sent: Sent[] = [];
    await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), allowMassDelete: true, connect: fakeConnect(sent) });
    const order = sent.map((s) => s.offer.rel);
    assert.deepEqual(order.slice(-2), ['d1/d2', 'd1'], JSON.stringify(order));
    assert.deepEqual(order.slice(0, -2).sort(), ['d1/d2/f.txt', 'd1/g.txt', 'top.txt']);
    assert.ok(sent.every((s) => s.offer.state.meta.kind === 'deleted'));
  });

  it('holds back a mass deletion unless allowMassDelete', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    for (const name of ['1', '2', '3', '4', '5']) n.mem.writeFileSync(`${ROOT}/${name}`, name);
    await check(n);
    await runUpdate(n.ctx, { dryRun: false, connect: fakeConnect([]) });
    for (const name of ['1', '2', '3', '4']) n.mem.removeSync(`${ROOT}/${name}`);
    await check(n);
    const sent: Sent[] = [];
    const [b] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect(sent) });
    assert.equal(b?.halted[0]?.code, 'CSYNC_SYNC_HALTED_FOR_SAFETY');
    assert.ok(!sent.some((s) => s.offer.state.meta.kind === 'deleted'));
    assert.equal(n.store.listDirty('b').filter((r) => n.store.get(r.path)?.meta.kind === 'deleted').length, 4);
  });

  it('fails alone an entry whose mtime the wire cannot carry, and delivers the rest (issue 11 item 4)', async (t) => {
    const n = await setup(t);
    const one = n.store.get(lp('one.txt'));
    assert.ok(one);
    // Year ~33,000: the state database holds it (µs), the protocol's 20 digits of ns do not.
    n.store.put({ ...one, meta: { ...one.meta, mtimeNs: 10n ** 21n } });
    const sent: Sent[] = [];
    const [b] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect(sent) });
    assert.deepEqual(b?.failed.map((f) => f.path), [lp('one.txt')]);
    assert.match(b?.failed[0]?.reason ?? '', /cannot be sent \(protocol limit: 20 digits/);
    assert.ok(!sent.some((s) => s.offer.rel === 'one.txt'));
    assert.ok(sent.some((s) => s.offer.rel === 'two.txt'), 'the other entries are delivered');
    assert.deepEqual(dirtyPaths(n, 'b'), [lp('one.txt')]);
  });

  it('holds back deletions that, with those of the last hour, exceed max_delete, though each pass is under it (issue 11 item 6)', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    const names = Array.from({ length: 100 }, (_, i) => `f${i}`);
    for (const name of names) n.mem.writeFileSync(`${ROOT}/${name}`, name);
    await check(n);
    await runUpdate(n.ctx, { dryRun: false, connect: fakeConnect([]) });
    const isDeletion = (s: Sent): boolean => s.offer.state.meta.kind === 'deleted';
    // Pass 1: 45 of 100 (under max_delete 50%): delivered.
    for (const name of names.slice(0, 45)) n.mem.removeSync(`${ROOT}/${name}`);
    await check(n);
    const first: Sent[] = [];
    const [b1] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect(first) });
    assert.deepEqual(b1?.halted, []);
    assert.equal(first.filter(isDeletion).length, 45);
    // Pass 2, 12 s later: 25 of the 55 left (45%, under max_delete alone) — 70 of 100 within the hour.
    n.clock.advance(12_000);
    for (const name of names.slice(45, 70)) n.mem.removeSync(`${ROOT}/${name}`);
    await check(n);
    const second: Sent[] = [];
    const [b2] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect(second) });
    assert.equal(b2?.halted[0]?.code, 'CSYNC_SYNC_HALTED_FOR_SAFETY');
    assert.match(b2?.halted[0]?.message ?? '', /deletions within an hour to 70 of 100 entries/);
    assert.equal(second.filter(isDeletion).length, 0, 'held back, still dirty');
    // Waiting does not release them: the window reaches back from the oldest pending deletion.
    n.clock.advance(2 * 3_600_000);
    const [b3] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect([]) });
    assert.equal(b3?.halted.length, 1);
    // The operator's override delivers them.
    const forced: Sent[] = [];
    await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), allowMassDelete: true, connect: fakeConnect(forced) });
    assert.equal(forced.filter(isDeletion).length, 25);
  });

  it('pages through more dirty rows than fit one page: each once, parents first, directory deletions last', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    const dirs = Array.from({ length: 6 }, (_, i) => `d${i}`);
    for (const d of dirs) {
      n.mem.mkdirpSync(`${ROOT}/${d}/sub`);
      for (let i = 0; i < 250; i++) n.mem.writeFileSync(`${ROOT}/${d}/${i % 2 === 0 ? 'sub/' : ''}f${i}`, `${d}${i}`);
    }
    await check(n);
    const created: Sent[] = [];
    const [first] = await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), connect: fakeConnect(created) });
    const offered = created.map((s) => s.offer.state.path as string);
    assert.equal(offered.length, 1 + 6 * 2 + 6 * 250, 'the root, 12 directories and 1,500 files');
    assert.equal(new Set(offered).size, offered.length, 'no entry offered twice');
    assert.equal(first?.sent, offered.length);
    const seen = new Set<string>();
    for (const p of offered) {
      const parent = p.slice(0, p.lastIndexOf('/'));
      if (p !== ROOT) assert.ok(seen.has(parent), `${p} offered before its parent`);
      seen.add(p);
    }
    assert.deepEqual(dirtyPaths(n, 'b'), []);

    for (const d of dirs) n.mem.removeSync(`${ROOT}/${d}`);
    await check(n);
    const deleted: Sent[] = [];
    await runUpdate(n.ctx, { dryRun: false, peers: new Set(['b']), allowMassDelete: true, connect: fakeConnect(deleted) });
    const order = deleted.map((s) => s.offer.state.path as string);
    assert.equal(order.length, 6 * 2 + 6 * 250);
    for (const [i, p] of order.entries()) {
      const later = order.slice(i + 1);
      assert.ok(!later.some((q) => q.startsWith(`${p}/`)), `${p} deleted before something inside it`);
    }
    assert.deepEqual(dirtyPaths(n, 'b'), []);
  });
});

// Issue 11 item 4: one bad entry never poisons the rest. A file dated 2300 (past the end of a signed
// 64-bit count of nanoseconds) syncs like any other, checks keep passing, and an authenticated peer's
// offer with the largest mtime the protocol carries (20 digits) is stored, not a poison pill.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.ts';
import { dialPeer } from '../../src/daemon/peers.ts';
import { openRuntime } from '../../src/daemon/runtime.ts';
import { loadTlsMaterial } from '../../src/daemon/server.ts';
import { toWireState } from '../../src/protocol/messages.ts';
import type { LogicalPath } from '../../src/core/types.ts';
import { digest, FaultCluster, treeOf } from '../helpers/fault-cluster.ts';

/** 2300-01-01T00:00:00Z in ns: above 2^63 − 1. */
const YEAR_2300_NS = 10_413_792_000n * 1_000_000_000n;

describe('a far-future modification time', { timeout: 60_000 }, () => {
  const clusters: FaultCluster[] = [];
  after(async () => {
    for (const c of clusters) await c.close();
  });

  it('syncs a file touched to 2300 next to a normal file, and later checks still pass', async () => {
    const c = await FaultCluster.create({ nodes: ['a', 'b'] });
    clusters.push(c);
    await c.spawn('a');
    await c.spawn('b');
    c.write('a', 'future.txt', 'from the future\n');
    execFileSync('touch', ['-d', '2300-01-01T00:00:00Z', join(c.root('a'), 'future.txt')]);
    c.write('a', 'normal.txt', 'normal\n');
    assert.equal(statSync(join(c.root('a'), 'future.txt'), { bigint: true }).mtimeNs, YEAR_2300_NS);

    const first = await c.launch('a', '-x');
    assert.equal(first.status, 0, first.out + first.err);
    assert.deepEqual(treeOf(c.root('b')), treeOf(c.root('a')));
    assert.equal(statSync(join(c.root('b'), 'future.txt'), { bigint: true }).mtimeNs, YEAR_2300_NS, 'the mtime travelled');

    // Later checks do not fail for ever, on either node, and other changes keep flowing.
    c.write('a', 'later.txt', 'later\n');
    const second = await c.launch('a', '-x');
    assert.equal(second.status, 0, second.out + second.err);
    assert.equal((await c.launch('b', '-x')).status, 0);
    assert.deepEqual(treeOf(c.root('b')), treeOf(c.root('a')));
    assert.equal((await c.launch('a', '-M')).status, 2, 'nothing left dirty');
    assert.ok(c.alive('a') && c.alive('b'), c.describe('a') + c.describe('b'));
  });

  it('stores an authenticated peer\'s offer with a 20-digit mtime, and keeps syncing everything else', async () => {
    const c = await FaultCluster.create({ nodes: ['a', 'b'] });
    clusters.push(c);
    await c.spawn('b');
    // Node a's identity, without its daemon: an authenticated peer that sends a crafted offer.
    const rt = await openRuntime({ configPath: c.config('a'), nodeName: 'a', checkKeys: true, log: silentLogger });
    const { link } = await dialPeer(rt, loadTlsMaterial(rt), 'b');
    try {
      const bytes = new TextEncoder().encode('crafted\n');
      const root = [...(rt.view.groups.get('g')?.roots.keys() ?? [])][0] ?? '';
      const state = toWireState({
        path: '' as LogicalPath,
        meta: { kind: 'file', sizeBytes: bytes.length, mtimeNs: 99_999_999_999_999_999_999n, mode: 0o644, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, hash: rt.ctx.hasher.hashBytes(bytes) },
        version: { a: 1 },
        origin: 'a',
        changedAtMs: Date.now(),
      });
      const reply = await link.request({ type: 'offer', group: 'g', root, rel: 'crafted.txt', state, force: false, content: bytes });
      assert.equal(reply.type, 'offer-reply');
      assert.ok(reply.type === 'offer-reply' && reply.result === 'applied', JSON.stringify(reply));
    } finally {
      link.close();
      rt.close();
    }
    // b recorded it (its checks pass) and still takes other changes from a.
    assert.equal((await c.launch('b', '-c')).status, 0);
    await c.spawn('a');
    c.write('a', 'normal.txt', 'normal\n');
    const pushed = await c.launch('a', '-x');
    assert.equal(pushed.status, 0, pushed.out + pushed.err);
    assert.equal(treeOf(c.root('b')).get('/normal.txt'), digest(new TextEncoder().encode('normal\n')));
    assert.ok(c.alive('a') && c.alive('b'), c.describe('a') + c.describe('b'));
  });
});

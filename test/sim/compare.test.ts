// `csync -T` on the simulator: differences are found as X / L / R, and an in-sync tree of 20,000
// files costs a few kilobytes on the wire (digests compared top-down).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { memoryTransportPair } from '../../src/net/memory-transport.ts';
import type { Transport } from '../../src/net/transport.ts';
import { openListChannel } from '../../src/daemon/compare-link.ts';
import { servePeer } from '../../src/daemon/peers.ts';
import { runCompare } from '../../src/sync/compare.ts';
import { allRootTargets } from '../../src/sync/scope.ts';
import { ROOT, SimCluster } from '../helpers/sim.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Wraps a transport to count the bytes of every frame body in both directions. */
function counting(t: Transport, count: { bytes: number }): Transport {
  return {
    remoteLabel: t.remoteLabel,
    send: (f) => {
      count.bytes += f.length;
      return t.send(f);
    },
    frames: async function* () {
      for await (const f of t.frames()) {
        count.bytes += f.length;
        yield f;
      }
    },
    keyingMaterial: () => t.keyingMaterial(),
    peerFingerprint: () => t.peerFingerprint(),
    close: () => t.close(),
  };
}

async function compare(sim: SimCluster, from: string, to: string, count = { bytes: 0 }) {
  const a = sim.node(from);
  const b = sim.node(to);
  return runCompare(a.rt.ctx, {
    targets: allRootTargets(a.rt.view),
    peers: [to],
    connect: async (peer) => {
      const [ta, tb] = memoryTransportPair();
      void servePeer(b.rt, tb, b.locks);
      return openListChannel(a.rt, counting(ta, count), peer);
    },
  });
}

describe('csync -T (compare with peers)', () => {
  it('reports X for a file that differs, L for one only here, R for one only there', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    sim.node('a').fs.mkdirpSync(`${ROOT}/d`);
    sim.node('a').fs.writeFileSync(`${ROOT}/d/same`, enc('same'), { mtimeNs: 1_700_000_000_000_000_000n });
    sim.node('a').fs.writeFileSync(`${ROOT}/d/edit`, enc('v1'), { mtimeNs: 1_700_000_000_000_000_000n });
    await sim.quiesce();
    const [clean] = await compare(sim, 'a', 'b');
    assert.deepEqual(clean?.differences, []);
    sim.node('b').fs.writeFileSync(`${ROOT}/d/edit`, enc('v2 behind csync\'s back'), { mtimeNs: 1_700_000_100_000_000_000n });
    sim.node('a').fs.writeFileSync(`${ROOT}/d/mine`, enc('only on a'));
    sim.node('b').fs.writeFileSync(`${ROOT}/theirs`, enc('only on b'));
    const [r] = await compare(sim, 'a', 'b');
    assert.deepEqual(r?.differences.map((d) => `${d.kind} ${d.path}`).sort(), ['L /data/d/mine', 'R /data/theirs', 'X /data/d/edit']);
  });

  it('costs a few kilobytes for an in-sync tree of 20,000 files', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    for (const n of ['a', 'b']) {
      const fs = sim.node(n).fs;
      for (let d = 0; d < 200; d++) {
        fs.mkdirpSync(`${ROOT}/d${d}`);
        for (let f = 0; f < 100; f++) fs.writeFileSync(`${ROOT}/d${d}/f${f}`, enc(`file ${d}/${f}`), { mtimeNs: 1_700_000_000_000_000_000n, mode: 0o644 });
      }
      fs.setMetaSync(ROOT, { mode: 0o755 });
      for (let d = 0; d < 200; d++) fs.setMetaSync(`${ROOT}/d${d}`, { mode: 0o755 });
    }
    const count = { bytes: 0 };
    const [r] = await compare(sim, 'a', 'b', count);
    assert.deepEqual(r?.differences, []);
    assert.ok(count.bytes < 8 * 1024, `${count.bytes} bytes on the wire`);
    t.diagnostic(`in-sync 20,000-file tree: ${count.bytes} bytes on the wire`);
  });
});

// Issue 11 item 5: an authenticated peer's resources are bounded. A transfer that streams past its
// declared size is refused as the bytes arrive (not after hashing the lot), and a link with more
// offers in flight than protocol/README.md allows is closed — that link only; the daemon lives on.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/logger.ts';
import type { LogicalPath } from '../../src/core/types.ts';
import { dialPeer } from '../../src/daemon/peers.ts';
import { openRuntime } from '../../src/daemon/runtime.ts';
import type { Runtime } from '../../src/daemon/runtime.ts';
import { loadTlsMaterial } from '../../src/daemon/server.ts';
import type { PeerLink } from '../../src/net/peer-link.ts';
import { toWireState } from '../../src/protocol/messages.ts';
import type { WireState } from '../../src/protocol/messages.ts';
import { MAX_OFFERS_PER_LINK } from '../../src/sync/receive.ts';
import { FaultCluster, tempFiles, until } from '../helpers/fault-cluster.ts';

const MIB = 1024 * 1024;

/** A file state as node `a` would offer it. */
function fileState(sizeBytes: number): WireState {
  return toWireState({
    path: '' as LogicalPath,
    meta: { kind: 'file', sizeBytes, mtimeNs: 1_700_000_000_000_000_000n, mode: 0o644, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, hash: '0123456789abcdef' },
    version: { a: 1 },
    origin: 'a',
    changedAtMs: Date.now(),
  });
}

describe('an authenticated but hostile peer', { timeout: 120_000 }, () => {
  let c: FaultCluster;
  let rt: Runtime;
  const links: PeerLink[] = [];
  after(async () => {
    for (const l of links) l.close();
    rt.close();
    await c.close();
  });

  async function dial(): Promise<{ link: PeerLink; root: string }> {
    const { link } = await dialPeer(rt, loadTlsMaterial(rt), 'b');
    links.push(link);
    return { link, root: [...(rt.view.groups.get('g')?.roots.keys() ?? [])][0] ?? '' };
  }

  it('cannot stream more than it declared: the transfer is refused as the bytes arrive', async () => {
    c = await FaultCluster.create({ nodes: ['a', 'b'] });
    await c.spawn('b');
    // Node a's identity, without its daemon: it authenticates, then misbehaves.
    rt = await openRuntime({ configPath: c.config('a'), nodeName: 'a', checkKeys: true, log: silentLogger });
    const { link, root } = await dial();
    const first = await link.request({ type: 'offer', group: 'g', root, rel: 'liar.bin', state: fileState(1000), force: false });
    assert.ok(first.type === 'offer-reply' && first.result === 'need', JSON.stringify(first));
    const final = link.awaitReply(first.id);
    let answered = false;
    void final.then(() => (answered = true), () => (answered = true));
    const chunk = new Uint8Array(MIB);
    let sentMiB = 0;
    // Up to 64 MiB, stopping as soon as the refusal arrives (before the fix: after the last byte).
    for (; sentMiB < 64 && !answered; sentMiB++) await link.send({ type: 'data', id: first.id, offset: sentMiB * MIB, last: false, bytes: chunk });
    assert.ok(answered, `no refusal after ${sentMiB} MiB of a 1000-byte file`);
    const reply = await final;
    assert.ok(reply.type === 'offer-reply' && reply.result === 'rejected', JSON.stringify(reply));
    assert.match(reply.reason ?? '', /exceeds the offered size of 1000 bytes/);
    await until(c.root('b'), () => tempFiles(c.root('b')).length === 0);
    assert.ok(c.alive('b'), c.describe('b'));
  });

  it(`closes a link with more than ${MAX_OFFERS_PER_LINK} offers in flight, removes their temp files, and serves other links`, async () => {
    const { link, root } = await dial();
    const OFFERS = MAX_OFFERS_PER_LINK + 50;
    // Every offer is answered 'need' and then left waiting for data that never comes.
    const replies = Array.from({ length: OFFERS }, (_, i) =>
      link.request({ type: 'offer', group: 'g', root, rel: `flood/f${i}.bin`, state: fileState(2 * MIB), force: false }).catch((err: unknown) => err),
    );
    let closed = false;
    void link.closed.then(() => (closed = true));
    const settled = await Promise.all(replies);
    await Promise.resolve();
    assert.ok(closed, `the link is still open with ${OFFERS} offers in flight`);
    const needs = settled.filter((r) => typeof r === 'object' && r !== null && 'result' in r && r.result === 'need').length;
    assert.ok(needs <= MAX_OFFERS_PER_LINK, `${needs} transfers were started`);
    assert.ok(c.alive('b'), c.describe('b'));
    await c.logged('b', 'Too many offers in flight; closing link');
    await until(c.root('b'), () => tempFiles(c.root('b')).length === 0);

    // Another link of the same peer is served normally.
    const { link: fresh } = await dial();
    assert.equal((await fresh.request({ type: 'ping' })).type, 'pong');
  });
});

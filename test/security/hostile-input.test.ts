// Hostile-input tier, paths and content (issue 10 "the hostile-input tier"): an authenticated peer
// (the raw client completes the real handshake as b, with b's certificate) sends what no honest
// csync sends. Each attack asserts: nothing outside a's roots changed (snapshot of the surrounding
// tree), a still serves a well-behaved peer afterwards, and a's log names the peer and the reason.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LogicalPath } from '../../src/core/types.ts';
import type { Message, WireState } from '../../src/protocol/messages.ts';
import { connectRaw, startHostileCluster, type HostileCluster, type RawOffer, type RawPeer } from '../helpers/raw-peer.ts';

const h: HostileCluster = await startHostileCluster(after);
const c = h.cluster;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const G = (): Map<string, Uint8Array> => new Map([['g', h.key('g')]]);

async function asB(): Promise<RawPeer> {
  return connectRaw({ port: h.port('a'), claimName: 'b', keys: G(), cert: h.cert('b') });
}

/** The offer's reply, or undefined when a dropped the connection (a malformed message closes it). */
async function offerOrClose(p: RawPeer, offer: RawOffer): Promise<Message | undefined> {
  return p.sendOffer(offer).then((r) => r, () => undefined);
}

/** Warn-level records of a since index `from` that name peer b. */
function warnsAboutB(from: number): string[] {
  return c.logs('a').slice(from).filter((r) => (r.level === 'warn' || r.level === 'error') && JSON.stringify(r.fields).includes('"b"'))
    .map((r) => `${r.msg} ${JSON.stringify(r.fields)}`);
}

/**
 * Runs `attack` as b against a and checks the three properties. `reason` must appear in a warn
 * record about b (the log names the peer and why).
 */
async function attackA(attack: (p: RawPeer) => Promise<void>, reason: RegExp | undefined, opts: { rootUnchanged?: boolean } = {}): Promise<void> {
  const outside = h.snapshotOutside('a');
  const root = c.snapshot('a');
  const logFrom = c.logs('a').length;
  const p = await asB();
  try {
    await attack(p);
  } finally {
    p.close();
  }
  assert.deepEqual(h.snapshotOutside('a'), outside, 'nothing outside a\'s roots changed');
  if (opts.rootUnchanged === true) assert.deepEqual(c.snapshot('a'), root, 'nothing changed in the root either');
  const warns = warnsAboutB(logFrom);
  if (reason !== undefined) assert.ok(warns.some((w) => reason.test(w)), `no warning about b matching ${reason}; got:\n${warns.join('\n')}`);
  await h.assertStillServes('b', 'a');
}

const rejected = (r: Message | undefined): void => {
  if (r === undefined) return; // the connection was closed: refused as well
  assert.ok(r.type === 'offer-reply' && r.result === 'rejected', JSON.stringify(r));
};

describe('hostile paths from an authenticated peer', () => {
  const rows: readonly { description: string; rel: string; reason: RegExp }[] = [
    { description: "'..' climbing out of the root", rel: '../escape.txt', reason: /\.\./ },
    { description: 'an absolute path', rel: '/etc/cron.d/evil', reason: /absolute/ },
    { description: 'a NUL byte', rel: 'a\u0000b', reason: /NUL|\\u0000/ },
    { description: 'a backslash', rel: 'dir\\..\\..\\x', reason: /backslash/ },
    { description: 'a name over 255 bytes', rel: `${'n'.repeat(300)}.txt`, reason: /255|long/ },
    { description: 'a path over 4,096 bytes', rel: Array.from({ length: 50 }, () => 'd'.repeat(99)).join('/'), reason: /4096|4,096|long/ },
  ];
  for (const row of rows) {
    it(`refuses ${row.description}`, async () => {
      await attackA(async (p) => {
        rejected(await offerOrClose(p, { group: 'g', root: '%data%', rel: row.rel, content: enc('pwned\n') }));
      }, row.reason, { rootUnchanged: true });
    });
  }
});

describe('hostile kinds and content from an authenticated peer', () => {
  it('a symlink whose target leaves the root is kept as a link; a file offered beneath it is refused', async () => {
    await attackA(async (p) => {
      const link = await p.sendOffer({ group: 'g', root: '%data%', rel: 'up', state: { kind: 'symlink', target: h.outside, mode: 0o777 } });
      assert.ok(link.type === 'offer-reply' && link.result === 'applied', JSON.stringify(link));
      rejected(await offerOrClose(p, { group: 'g', root: '%data%', rel: 'up/planted.txt', content: enc('pwned\n') }));
    }, /symlink/);
  });

  it('a symlink followed by a deletion beneath it neither deletes outside nor takes the outside file for its own', async () => {
    await attackA(async (p) => {
      const link = await p.sendOffer({ group: 'g', root: '%data%', rel: 'exfil', state: { kind: 'symlink', target: h.outside, mode: 0o777 } });
      assert.ok(link.type === 'offer-reply' && link.result === 'applied', JSON.stringify(link));
      const del: Partial<WireState> = { kind: 'deleted', size: 0, mode: 0, mtimeNs: '0' };
      rejected(await offerOrClose(p, { group: 'g', root: '%data%', rel: 'exfil/sentinel.txt', state: del, force: true }));
    }, /symlink/);
    assert.equal(c.runtime('a').store.get('%data%/exfil/sentinel.txt' as LogicalPath), undefined, 'the outside file was never recorded');
    assert.deepEqual(c.runtime('a').store.dirtyPeers('%data%/exfil/sentinel.txt' as LogicalPath), []);
  });

  it('refuses the root offered as a symlink (forced) and a deletion of the root', async () => {
    await attackA(async (p) => {
      rejected(await offerOrClose(p, { group: 'g', root: '%data%', rel: '', state: { kind: 'symlink', target: h.outside, mode: 0o777 }, force: true }));
      rejected(await offerOrClose(p, { group: 'g', root: '%data%', rel: '', state: { kind: 'deleted', size: 0, mode: 0, mtimeNs: '0' }, force: true }));
    }, /root is never replaced/);
  });

  it('refuses content that does not match its hash, and writes nothing', async () => {
    await attackA(async (p) => {
      rejected(await offerOrClose(p, { group: 'g', root: '%data%', rel: 'forged.txt', content: enc('real'), state: { hash: '0000000000000000' } }));
    }, /hash mismatch/, { rootUnchanged: true });
  });

  it('closes the connection on an unknown message type and on a truncated frame, and nothing else', async () => {
    await attackA(async (p) => {
      await p.sendFrame(enc(JSON.stringify({ type: 'format-disk', id: 1 })));
      await p.closed;
    }, /unknown|invalid|type/i);
    await attackA(async (p) => {
      await p.sendBytes(new Uint8Array([0, 0, 1, 0, 1, 2, 3])); // declares 256 bytes, sends 3, then goes away
      p.close();
      await p.closed;
    }, undefined, { rootUnchanged: true });
  });
});

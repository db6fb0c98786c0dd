// Hostile-input tier, identity (issue 10 item 4): a raw client completes the real TLS + group-key
// handshake with a chosen name and certificate against real nodes on 127.0.0.1. Each attack asserts
// that nothing outside the victim's root changed, that the victim still serves a well-behaved peer
// afterwards, and that its log names the peer and the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CsyncError } from '../../src/core/errors.ts';
import type { LogicalPath } from '../../src/core/types.ts';
import { admitPeer, enforcePin, openLink } from '../../src/daemon/peers.ts';
import { fingerprintOfDer } from '../../src/net/cert.ts';
import { memoryTransportPair } from '../../src/net/memory-transport.ts';
import { REFUSED_MAC } from '../../src/protocol/handshake.ts';
import { decodeMessage, encodeMessage, PROTOCOL_VERSION } from '../../src/protocol/messages.ts';
import { connectRaw, findLog, RawHandshakeRefused, startHostileCluster, type HostileCluster } from '../helpers/raw-peer.ts';

const h: HostileCluster = await startHostileCluster(after, { groupExtra: 'receive_only = ["c"]' });
const c = h.cluster;
const G = (): Map<string, Uint8Array> => new Map([['g', h.key('g')]]);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Asserts `p` rejects with a RawHandshakeRefused at `stage` whose message matches `re`. */
async function assertRefused(p: Promise<unknown>, stage: RawHandshakeRefused['stage'], code: string, re: RegExp): Promise<RawHandshakeRefused> {
  const err = await p.then(
    () => assert.fail('the handshake succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RawHandshakeRefused, String(err));
  assert.equal(err.stage, stage, err.message);
  assert.equal(err.code, code, err.message);
  assert.match(err.serverMessage ?? '', re);
  assert.equal(err.sawServerMac, false, 'the server sent a valid MAC to a refused client');
  return err;
}

/** Asserts node `n` logged the refusal of `peer` with a reason matching `reason`. */
function assertLogged(n: string, msg: string, fields: Record<string, unknown>): void {
  const hit = findLog(c.logs(n), msg, fields);
  assert.ok(hit, `no "${msg}" log with ${JSON.stringify(fields, (_, v: unknown) => (v instanceof RegExp ? String(v) : v))} on ${n}; got:\n${c.logs(n).filter((r) => r.level === 'warn').map((r) => `${r.msg} ${JSON.stringify(r.fields)}`).join('\n')}`);
}

function fingerprintOfPem(pem: string): string {
  return fingerprintOfDer(new X509Certificate(pem).raw);
}

before(async () => {
  // a learns (pins) b and c by dialling them; b dials a too. Every later attack meets pinned peers.
  await h.assertStillServes('a', 'b');
  await h.assertStillServes('b', 'a');
  assert.equal(c.runtime('a').store.getPin('b')?.fingerprint, fingerprintOfPem(h.cert('b').certPem));
});

describe('identity: a claimed name is admitted only when it is a pinned host of a shared group', () => {
  it('refuses a claimed name not in [hosts] before any MAC, and stores nothing for it', async () => {
    const outside = h.snapshotOutside('a');
    const root = c.snapshot('a');
    await assertRefused(connectRaw({ port: h.port('a'), claimName: 'mallory', keys: G() }), 'admit', 'CSYNC_AUTH_FAILED', /"mallory": is not a host of any group/);
    assert.equal(c.runtime('a').store.getPin('mallory'), undefined);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    assert.deepEqual(c.snapshot('a'), root);
    assertLogged('a', 'Inbound connection refused', { peer: 'mallory', code: 'CSYNC_AUTH_FAILED', reason: /not a host of any group/ });
    await h.assertStillServes('b', 'a');
  });

  it('refuses c claiming to be b (pin mismatch) before any MAC; b keeps its pin and still connects', async () => {
    const outside = h.snapshotOutside('a');
    const pinBefore = c.runtime('a').store.getPin('b');
    await assertRefused(connectRaw({ port: h.port('a'), claimName: 'b', keys: G(), cert: h.cert('c') }), 'admit', 'CSYNC_CERT_CHANGED', /"b": certificate changed/);
    assert.deepEqual(c.runtime('a').store.getPin('b'), pinBefore);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    assertLogged('a', 'Inbound connection refused', { peer: 'b', code: 'CSYNC_CERT_CHANGED', reason: /certificate changed/ });
    await h.assertStillServes('b', 'a');
  });

  it("refuses a peer claiming the victim's own name, whatever its certificate", async () => {
    const outside = h.snapshotOutside('a');
    const root = c.snapshot('a');
    await assertRefused(connectRaw({ port: h.port('a'), claimName: 'a', keys: G() }), 'admit', 'CSYNC_AUTH_FAILED', /"a": claims this node's own name/);
    await assertRefused(connectRaw({ port: h.port('a'), claimName: 'a', keys: G(), cert: h.cert('a') }), 'admit', 'CSYNC_AUTH_FAILED', /own name/);
    assert.equal(c.runtime('a').store.getPin('a'), undefined);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    assert.deepEqual(c.snapshot('a'), root);
    assertLogged('a', 'Inbound connection refused', { peer: 'a', code: 'CSYNC_AUTH_FAILED', reason: /own name/ });
    await h.assertStillServes('b', 'a');
  });

  it('gives a client without the key no MAC to test guesses against (only REFUSED_MAC)', async () => {
    const wrong = new Map([['g', enc('not-the-key-not-the-key-not-the-key-00')]]);
    const err = await connectRaw({ port: h.port('a'), claimName: 'c', keys: wrong, cert: h.cert('c') }).then(() => assert.fail('accepted'), (e: unknown) => e);
    assert.ok(err instanceof RawHandshakeRefused, String(err));
    assert.equal(err.stage, 'auth-result');
    const hex = (m: Uint8Array): string => Buffer.from(m).toString('hex');
    assert.deepEqual(err.serverMacs.map(hex), [hex(REFUSED_MAC)], 'the server sent a real MAC before the client proved the key');
    assertLogged('a', 'Peer did not prove the group key', { peer: 'c', group: 'g', code: 'CSYNC_AUTH_FAILED' });
    await h.assertStillServes('b', 'a');
  });

  it('pins a first-seen certificate only after the group key is proven (no pin for a failed handshake)', async () => {
    const rt = c.runtime('a');
    assert.ok(rt.store.forgetPin('c'));
    const wrong = new Map([['g', enc('not-the-key-not-the-key-not-the-key-00')]]);
    await connectRaw({ port: h.port('a'), claimName: 'c', keys: wrong }).then(() => assert.fail('accepted'), (e: unknown) => assert.ok(e instanceof RawHandshakeRefused, String(e)));
    assert.equal(rt.store.getPin('c'), undefined, 'a certificate was pinned for c although the key was not proven');
    // The real c is pinned again on a's next dial.
    await h.assertStillServes('a', 'c');
    assert.equal(rt.store.getPin('c')?.fingerprint, fingerprintOfPem(h.cert('c').certPem));
  });

  it('client: refuses a server whose certificate differs from its pin before sending any proof', async () => {
    const rt = c.runtime('a');
    const [mine, raw] = memoryTransportPair({ fingerprints: [fingerprintOfPem(h.cert('c').certPem), undefined] });
    const frames: string[] = [];
    // A fake b: answers hello, and hangs up once it has received an auth (a MAC to guess against).
    const reading = (async () => {
      for await (const f of raw.frames()) {
        const type = decodeMessage(f).type;
        frames.push(type);
        if (type === 'hello') await raw.send(encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, node: 'b', groups: ['g'] }));
        if (type === 'auth') raw.close();
      }
    })();
    await assert.rejects(openLink(rt, mine, 'b'), (e: unknown) => e instanceof CsyncError && e.code === 'CSYNC_CERT_CHANGED');
    raw.close();
    await reading;
    assert.ok(!frames.includes('auth'), `the client sent ${JSON.stringify(frames)} to a server with the wrong certificate`);
  });

  it('refuses an offer sent before the handshake is complete, applying nothing', async () => {
    const outside = h.snapshotOutside('a');
    const p = await connectRaw({ port: h.port('a'), claimName: 'b', keys: G(), cert: h.cert('b'), stopAfter: 'hello' });
    await p.send({ type: 'offer', id: 1, group: 'g', root: '%data%', rel: 'early.txt', force: true, state: { kind: 'file', size: 1, mtimeNs: '1', mode: 0o644, uid: 0, gid: 0, hash: '0000000000000000', version: { b: 1 }, origin: 'b', changedAtMs: 1 }, content: enc('x') });
    await p.closed;
    assert.equal(existsSync(join(c.root('a'), 'early.txt')), false);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    assertLogged('a', 'Inbound connection refused', { peer: 'b', reason: /expected "auth" during the handshake, got "offer"/ });
    await h.assertStillServes('b', 'a');
  });
});

describe('identity: an authenticated peer acts only within its rights', () => {
  it("never applies a receive_only peer's change", async () => {
    const outside = h.snapshotOutside('a');
    const root = c.snapshot('a');
    const p = await connectRaw({ port: h.port('a'), claimName: 'c', keys: G(), cert: h.cert('c') });
    assert.deepEqual(p.groups, ['g']);
    const reply = await p.sendOffer({ group: 'g', root: '%data%', rel: 'from-c.txt', content: enc('c was here\n'), force: true });
    p.close();
    assert.ok(reply.type === 'offer-reply' && reply.result === 'rejected', JSON.stringify(reply));
    assert.match(reply.reason ?? '', /receive_only/);
    assert.deepEqual(c.snapshot('a'), root);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    assertLogged('a', 'Rejected offer', { peer: 'c', reason: /"c" is receive_only in group "g"/ });
    await h.assertStillServes('b', 'a');
  });

  it('never proves nor applies a group the peer is not a host of, even with its key', async () => {
    const outside = h.snapshotOutside('a');
    const before = JSON.stringify(c.snapshot('a'));
    const keys = new Map([['g', h.key('g')], ['h', h.key('h')]]);
    const p = await connectRaw({ port: h.port('a'), claimName: 'c', keys, cert: h.cert('c') });
    assert.deepEqual(p.groups, ['g'], 'c proved the key of h, a group it is not a host of');
    const reply = await p.sendOffer({ group: 'h', root: '%other%', rel: 'planted.txt', content: enc('x\n') });
    p.close();
    assert.ok(reply.type === 'offer-reply' && reply.result === 'rejected', JSON.stringify(reply));
    assert.equal(existsSync(join(h.rootH('a'), 'planted.txt')), false);
    assert.equal(JSON.stringify(c.snapshot('a')), before);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    assertLogged('a', 'Rejected offer', { peer: 'c', group: 'h', reason: /not shared with this peer/ });
    await h.assertStillServes('b', 'a');
  });

  it('strips setuid/setgid from a setuid-root file a peer sends, records what is on disk, and sees no local change after', async () => {
    const outside = h.snapshotOutside('a');
    const p = await connectRaw({ port: h.port('a'), claimName: 'b', keys: G(), cert: h.cert('b') });
    const reply = await p.sendOffer({ group: 'g', root: '%data%', rel: 'suid.bin', content: enc('#!/bin/sh\nid\n'), state: { mode: 0o6755, uid: 0, gid: 0 } });
    p.close();
    assert.ok(reply.type === 'offer-reply' && reply.result === 'applied', JSON.stringify(reply));
    const st = lstatSync(join(c.root('a'), 'suid.bin'));
    assert.equal(st.mode & 0o7777, 0o755, `mode ${(st.mode & 0o7777).toString(8)}`);
    assert.equal(c.runtime('a').store.get('%data%/suid.bin' as LogicalPath)?.meta.mode, 0o755);
    assert.deepEqual(h.snapshotOutside('a'), outside);
    const check = await c.run('a', '-c');
    assert.equal(check.status, 0, check.err);
    assert.match(check.err, /: 0 changed/);
    assertLogged('a', 'Peer authenticated', { peer: 'b' });
    await h.assertStillServes('b', 'a');
  });

  it('keeps the setuid bit when the group sets allow_setid', async () => {
    const cfg = c.writeConfig('allow-setid', (t) => t.replace('include = ["%data%"]', 'include = ["%data%"]\nallow_setid = true'));
    await c.restart('a', { configPath: cfg });
    try {
      const p = await connectRaw({ port: h.port('a'), claimName: 'b', keys: G(), cert: h.cert('b') });
      const reply = await p.sendOffer({ group: 'g', root: '%data%', rel: 'suid2.bin', content: enc('#!/bin/sh\n'), state: { mode: 0o4755, uid: 0, gid: 0 } });
      p.close();
      assert.ok(reply.type === 'offer-reply' && reply.result === 'applied', JSON.stringify(reply));
      assert.equal(lstatSync(join(c.root('a'), 'suid2.bin')).mode & 0o7777, 0o4755);
    } finally {
      await c.restart('a', { configPath: c.cfg });
    }
  });
});

describe('identity: strict pinning (tls.require_pins)', () => {
  it('refuses an unpinned peer both ways; pinned peers still sync', async () => {
    const pinB = fingerprintOfPem(h.cert('b').certPem);
    const cfg = c.writeConfig('strict', (t) => t.replace('[hosts]', `require_pins = true\n[tls.pins]\nb = "${pinB}"\n[hosts]`));
    await c.restart('a', { configPath: cfg });
    try {
      const outside = h.snapshotOutside('a');
      // Inbound: c is pinned in a's store (trust on first use) but not in tls.pins.
      await assertRefused(connectRaw({ port: h.port('a'), claimName: 'c', keys: G(), cert: h.cert('c') }), 'admit', 'CSYNC_AUTH_FAILED', /"c": has no pin in tls.pins and tls.require_pins is on/);
      assertLogged('a', 'Inbound connection refused', { peer: 'c', code: 'CSYNC_AUTH_FAILED', reason: /has no pin in tls.pins/ });
      assert.deepEqual(h.snapshotOutside('a'), outside);
      // Outbound: a refuses to talk to c, and says how to fix it; b gets the file.
      writeFileSync(join(c.root('a'), 'strict.txt'), 'strict\n');
      const r = await c.run('a', '-x');
      assert.equal(r.status, 77, r.out + r.err);
      assert.match(r.out + r.err, /"c": has no pin in tls.pins/);
      assert.match(r.out + r.err, /csync tls pin/);
      assert.equal(readFileSync(join(c.root('b'), 'strict.txt'), 'utf8'), 'strict\n');
      assert.equal(existsSync(join(c.root('c'), 'strict.txt')), false);
      await h.assertStillServes('b', 'a');
    } finally {
      await c.restart('a', { configPath: c.cfg });
    }
  });

  it('enforcePin and admitPeer fail closed when the transport reports no fingerprint', () => {
    const rt = c.runtime('a');
    const pinBefore = rt.store.getPin('b');
    const [noCert] = memoryTransportPair();
    const isAuthFailed = (e: unknown): boolean => e instanceof CsyncError && e.code === 'CSYNC_AUTH_FAILED' && /presented no certificate fingerprint/.test(e.message);
    assert.throws(() => enforcePin(rt, 'b', noCert, { store: true }), isAuthFailed);
    assert.throws(() => enforcePin(rt, 'newcomer', noCert, { store: true }), isAuthFailed);
    assert.throws(() => admitPeer(rt, 'b', noCert), isAuthFailed);
    assert.deepEqual(rt.store.getPin('b'), pinBefore);
    assert.equal(rt.store.getPin('newcomer'), undefined);
    noCert.close();
  });
});

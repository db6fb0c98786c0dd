// Tests of PeerLink over memoryTransportPair(): handshake outcomes, concurrent requests, timeouts on a
// manual clock, and that invalid input closes the link without echoing it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { manualClock, type ManualClock } from '../../../src/core/clock.ts';
import { CsyncError } from '../../../src/core/errors.ts';
import { memoryLogger, type LogRecord } from '../../../src/core/logger.ts';
import { memoryTransportPair, type MemoryTransportOptions } from '../../../src/net/memory-transport.ts';
import { MAX_INBOUND_BACKLOG, PeerLink, type HandshakeResult } from '../../../src/net/peer-link.ts';
import type { Transport } from '../../../src/net/transport.ts';
import { authMac, REFUSED_MAC } from '../../../src/protocol/handshake.ts';
import { decodeMessage, encodeMessage, type Message, type WireState } from '../../../src/protocol/messages.ts';

const WEB_KEY = new Uint8Array(32).fill(7);
const WRONG_KEY = new Uint8Array(32).fill(8);
const DB_KEY = new Uint8Array(32).fill(9);
const REQUEST_TIMEOUT_MS = 1000;
const STATE: WireState = { kind: 'file', size: 1, mtimeNs: '1', mode: 0o644, uid: 0, gid: 0, hash: '0000000000000000', version: { a: 1 }, origin: 'a', changedAtMs: 1 };

const links: PeerLink[] = [];
after(() => {
  for (const link of links) link.close();
});

interface Pair {
  client: PeerLink;
  server: PeerLink;
  clock: ManualClock;
  records: LogRecord[];
  transports: [Transport, Transport];
}

function makePair(transportOpts: MemoryTransportOptions = {}): Pair {
  const clock = manualClock();
  const records: LogRecord[] = [];
  const transports = memoryTransportPair(transportOpts);
  const opts = { clock, logger: memoryLogger(records), requestTimeoutMs: REQUEST_TIMEOUT_MS };
  const client = new PeerLink(transports[0], opts);
  const server = new PeerLink(transports[1], opts);
  links.push(client, server);
  return { client, server, clock, records, transports };
}

function shake(p: Pair, clientKeys: Map<string, Uint8Array>, serverKeys: Map<string, Uint8Array>): Promise<[HandshakeResult, HandshakeResult]> {
  return Promise.all([
    p.client.handshake({ self: 'a', groups: clientKeys, role: 'client', expectedPeer: 'b' }),
    p.server.handshake({ self: 'b', groups: serverKeys, role: 'server' }),
  ]);
}

async function connected(transportOpts: MemoryTransportOptions = {}): Promise<Pair> {
  const p = makePair(transportOpts);
  await shake(p, new Map([['web', WEB_KEY]]), new Map([['web', WEB_KEY]]));
  return p;
}

/** Reads the next message a raw transport end received. */
async function readRaw(frames: AsyncIterator<Uint8Array>): Promise<Message> {
  const next = await frames.next();
  assert.equal(next.done, false, 'expected a frame');
  return decodeMessage(next.value);
}

/** Lets every pending microtask and I/O callback run (the memory transport delivers in microtasks). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const isCode = (code: string) => (err: unknown) => err instanceof CsyncError && err.code === code;

describe('PeerLink handshake', () => {
  it('establishes the groups both sides hold the same key for', async () => {
    const p = makePair({ chunkBytes: 3 });
    const [c, s] = await shake(p, new Map([['web', WEB_KEY], ['db', DB_KEY]]), new Map([['web', WEB_KEY], ['etc', DB_KEY]]));
    assert.deepEqual(c, { peer: 'b', groups: ['web'] });
    assert.deepEqual(s, { peer: 'a', groups: ['web'] });
    assert.equal(p.client.peer, 'b');
    assert.deepEqual(p.server.groups, ['web']);
  });

  it('fails with CSYNC_AUTH_FAILED on both sides when the key differs, and closes both', async () => {
    const p = makePair();
    await assert.rejects(shake(p, new Map([['web', WEB_KEY]]), new Map([['web', WRONG_KEY]])), isCode('CSYNC_AUTH_FAILED'));
    await Promise.all([p.client.closed, p.server.closed]);
    for (const link of [p.client, p.server]) {
      assert.ok(isCode('CSYNC_AUTH_FAILED')(link.closeReason), `closeReason is ${String(link.closeReason)}`);
      assert.match((link.closeReason as CsyncError).hint ?? '', /identical on every host/);
    }
  });

  it('rejects each handshake promise with CSYNC_AUTH_FAILED on a key mismatch', async () => {
    const p = makePair();
    const [c, s] = await Promise.allSettled([
      p.client.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client' }),
      p.server.handshake({ self: 'b', groups: new Map([['web', WRONG_KEY]]), role: 'server' }),
    ]);
    assert.ok(c.status === 'rejected' && isCode('CSYNC_AUTH_FAILED')(c.reason));
    assert.ok(s.status === 'rejected' && isCode('CSYNC_AUTH_FAILED')(s.reason));
    assert.ok(p.records.some((r) => r.msg === 'Peer did not prove the group key' && r.fields['group'] === 'web'));
  });

  it('shares only the groups whose key matches when one of two differs', async () => {
    const p = makePair();
    const [c, s] = await shake(p, new Map([['web', WEB_KEY], ['db', DB_KEY]]), new Map([['web', WRONG_KEY], ['db', DB_KEY]]));
    assert.deepEqual(c.groups, ['db']);
    assert.deepEqual(s.groups, ['db']);
  });

  it('fails with CSYNC_AUTH_FAILED when the peer is not the expected node', async () => {
    const p = makePair();
    const [c] = await Promise.allSettled([
      p.client.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client', expectedPeer: 'c' }),
      p.server.handshake({ self: 'b', groups: new Map([['web', WEB_KEY]]), role: 'server' }),
    ]);
    assert.ok(c.status === 'rejected' && isCode('CSYNC_AUTH_FAILED')(c.reason));
  });

  it('fails with CSYNC_PROTO_VERSION when the peer speaks another protocol version', async () => {
    const [mine, raw] = memoryTransportPair();
    const link = new PeerLink(mine, { clock: manualClock() });
    links.push(link);
    const shaking = link.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client' });
    await raw.send(encodeMessage({ type: 'hello', protocol: 99, node: 'b', groups: ['web'] }));
    await assert.rejects(shaking, isCode('CSYNC_PROTO_VERSION'));
  });

  it('refuses a reflected MAC (the peer echoes our own auth back)', async () => {
    const [mine, raw] = memoryTransportPair();
    const link = new PeerLink(mine, { clock: manualClock() });
    links.push(link);
    const shaking = link.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client' });
    const frames = raw.frames()[Symbol.asyncIterator]();
    await readRaw(frames); // hello
    await raw.send(encodeMessage({ type: 'hello', protocol: 1, node: 'b', groups: ['web'] }));
    const auth = await readRaw(frames);
    assert.equal(auth.type, 'auth');
    await raw.send(encodeMessage(auth));
    await raw.send(encodeMessage({ type: 'auth-result', accepted: ['web'], rejected: [] }));
    await assert.rejects(shaking, isCode('CSYNC_AUTH_FAILED'));
    assert.deepEqual(await readRaw(frames), { type: 'auth-result', accepted: [], rejected: ['web'] });
  });

  it('server: sends no MAC before the client proved the key, and only REFUSED_MAC to a client that did not', async () => {
    const [mine, raw] = memoryTransportPair();
    const link = new PeerLink(mine, { clock: manualClock() });
    links.push(link);
    const shaking = link.handshake({ self: 'b', groups: new Map([['web', WEB_KEY]]), role: 'server' });
    shaking.catch(() => undefined);
    const frames = raw.frames()[Symbol.asyncIterator]();
    await raw.send(encodeMessage({ type: 'hello', protocol: 1, node: 'a', groups: ['web'] }));
    assert.equal((await readRaw(frames)).type, 'hello');
    // Nothing more until the client's auth arrives: the next frame must answer it.
    let early: Message | undefined;
    const nextFrame = readRaw(frames).then((m) => (early = m));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    assert.equal(early, undefined, 'the server sent something before the client proved the key');
    const guess = authMac({ key: WRONG_KEY, keyingMaterial: mine.keyingMaterial(), role: 'client', clientNode: 'a', serverNode: 'b', group: 'web' });
    await raw.send(encodeMessage({ type: 'auth', group: 'web', mac: guess }));
    const auth = await nextFrame;
    assert.ok(auth.type === 'auth');
    assert.deepEqual([...auth.mac], [...REFUSED_MAC]);
    assert.deepEqual(await readRaw(frames), { type: 'auth-result', accepted: [], rejected: ['web'] });
    await raw.send(encodeMessage({ type: 'auth-result', accepted: [], rejected: ['web'] }));
    await assert.rejects(shaking, isCode('CSYNC_AUTH_FAILED'));
  });

  it('server: admit() refusing the claimed name ends the handshake before any MAC, telling the client why', async () => {
    const p = makePair();
    const [c, s] = await Promise.allSettled([
      p.client.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client' }),
      p.server.handshake({
        self: 'b', groups: new Map([['web', WEB_KEY]]), role: 'server',
        admit: (peer) => {
          throw new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(peer)}: is not a host`);
        },
      }),
    ]);
    assert.ok(s.status === 'rejected' && isCode('CSYNC_AUTH_FAILED')(s.reason));
    assert.ok(c.status === 'rejected' && isCode('CSYNC_AUTH_FAILED')(c.reason), String(c.status === 'rejected' ? c.reason : ''));
    assert.match((c.reason as CsyncError).message, /refused the handshake: peer "a": is not a host/);
    assert.equal(p.server.claimedPeer, 'a');
  });

  it('server: admit() limits the groups the client may prove', async () => {
    const p = makePair();
    const keys = new Map([['web', WEB_KEY], ['db', DB_KEY]]);
    const [c, s] = await Promise.all([
      p.client.handshake({ self: 'a', groups: keys, role: 'client' }),
      p.server.handshake({ self: 'b', groups: keys, role: 'server', admit: () => new Set(['db']) }),
    ]);
    assert.deepEqual(s.groups, ['db']);
    assert.deepEqual(c.groups, ['db'], 'the client got no valid server MAC for web');
  });

  it('times out with CSYNC_PROTO_TIMEOUT when the peer never answers', async () => {
    const clock = manualClock();
    const [mine] = memoryTransportPair();
    const link = new PeerLink(mine, { clock, handshakeTimeoutMs: 500 });
    links.push(link);
    const shaking = link.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client' });
    await Promise.resolve();
    clock.advance(499);
    clock.advance(1);
    await assert.rejects(shaking, isCode('CSYNC_PROTO_TIMEOUT'));
    await link.closed;
  });
});

describe('PeerLink requests', () => {
  it('resolves many concurrent requests answered out of order, each with its own reply', async () => {
    const p = await connected();
    const seen: Extract<Message, { type: 'list' }>[] = [];
    p.server.onRequest(async (msg, link) => {
      if (msg.type !== 'list') return;
      seen.push(msg);
      if (seen.length < 20) return;
      for (const m of [...seen].reverse()) await link.send({ type: 'list-reply', id: m.id, entries: [{ rel: m.rel, state: STATE }], done: true });
    });
    const rels = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const replies = await Promise.all(rels.map((rel) => p.client.request({ type: 'list', group: 'web', root: '/r', rel })));
    assert.deepEqual(replies.map((r) => (r.type === 'list-reply' ? r.entries[0]?.rel : r.type)), rels);
    assert.equal(new Set(seen.map((m) => m.id)).size, 20, 'ids are distinct');
  });

  it('merges partial list-replies into one reply, or hands them to onPartial', async () => {
    const p = await connected();
    p.server.onRequest(async (msg, link) => {
      if (msg.type !== 'list') return;
      await link.send({ type: 'list-reply', id: msg.id, entries: [{ rel: 'a', state: STATE }], done: false });
      await link.send({ type: 'list-reply', id: msg.id, entries: [{ rel: 'b', state: STATE }], done: true });
    });
    const merged = await p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' });
    assert.ok(merged.type === 'list-reply');
    assert.deepEqual(merged.entries.map((e) => e.rel), ['a', 'b']);
    const partials: string[] = [];
    const last = await p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' }, { onPartial: (r) => partials.push(...r.entries.map((e) => e.rel)) });
    assert.deepEqual(partials, ['a']);
    assert.ok(last.type === 'list-reply' && last.entries.length === 1);
  });

  it('answers ping without a handler', async () => {
    const p = await connected();
    const reply = await p.client.request({ type: 'ping' });
    assert.equal(reply.type, 'pong');
  });

  it('rejects a request with CSYNC_PROTO_TIMEOUT after requestTimeoutMs of silence, and the link stays usable', async () => {
    const p = await connected();
    p.server.onRequest(() => undefined); // never replies
    const pending = p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' });
    // The idle window starts once the request has left (the transport accepted it).
    await flush();
    let settled = false;
    pending.catch(() => undefined).finally(() => (settled = true));
    p.clock.advance(REQUEST_TIMEOUT_MS - 1);
    await Promise.resolve();
    assert.equal(settled, false, 'not before the timeout');
    p.clock.advance(1);
    await assert.rejects(pending, isCode('CSYNC_PROTO_TIMEOUT'));
    assert.equal((await p.client.request({ type: 'ping' })).type, 'pong');
  });

  it('runs the offer → need → data → final reply flow with ordered handling per id', async () => {
    const p = await connected();
    const received: number[] = [];
    p.server.onRequest(async (msg, link) => {
      if (msg.type === 'offer') return link.send({ type: 'offer-reply', id: msg.id, result: 'need' });
      if (msg.type !== 'data') return;
      await Promise.resolve();
      received.push(...msg.bytes);
      if (msg.last) await link.send({ type: 'offer-reply', id: msg.id, result: 'applied', state: STATE });
    });
    const first = await p.client.request({ type: 'offer', group: 'web', root: '/r', rel: 'f', state: STATE, force: false });
    assert.ok(first.type === 'offer-reply' && first.result === 'need');
    const final = p.client.awaitReply(first.id);
    await p.client.send({ type: 'data', id: first.id, offset: 0, last: false, bytes: new Uint8Array([1, 2]) });
    await p.client.send({ type: 'data', id: first.id, offset: 2, last: true, bytes: new Uint8Array([3]) });
    const done = await final;
    assert.ok(done.type === 'offer-reply' && done.result === 'applied');
    assert.deepEqual(received, [1, 2, 3]);
  });

  it('keeps a reply pending while bytes keep moving, however long the transfer takes', async () => {
    const p = await connected();
    p.server.onRequest(async (msg, link) => {
      if (msg.type === 'offer') return link.send({ type: 'offer-reply', id: msg.id, result: 'need' });
      if (msg.type === 'data' && msg.last) await link.send({ type: 'offer-reply', id: msg.id, result: 'applied', state: STATE });
    });
    const first = await p.client.request({ type: 'offer', group: 'web', root: '/r', rel: 'f', state: STATE, force: false });
    assert.ok(first.type === 'offer-reply' && first.result === 'need');
    const final = p.client.awaitReply(first.id);
    // Ten times the idle timeout of streaming, a frame every half timeout: never idle.
    for (let i = 0; i < 20; i++) {
      await p.client.send({ type: 'data', id: first.id, offset: i, last: false, bytes: new Uint8Array([i]) });
      await flush();
      p.clock.advance(REQUEST_TIMEOUT_MS / 2);
    }
    await p.client.send({ type: 'data', id: first.id, offset: 20, last: true, bytes: new Uint8Array(0) });
    const done = await final;
    assert.ok(done.type === 'offer-reply' && done.result === 'applied');
  });

  it('sends keepalive pings while the peer streams to it, so the sender sees bytes move its way', async () => {
    const p = await connected();
    const pings: number[] = [];
    p.server.onRequest(() => undefined);
    // The client streams data frames; the server, silent otherwise, pings within a third of the timeout.
    const before = p.records.length;
    for (let i = 0; i < 4; i++) {
      await p.client.send({ type: 'data', id: 99, offset: i, last: false, bytes: new Uint8Array([i]) });
      await flush();
      p.clock.advance(REQUEST_TIMEOUT_MS / 3);
      await flush();
    }
    for (const r of p.records.slice(before)) if (r.msg.startsWith('Dropped a reply nobody waits for') && r.fields['peer'] === 'a') pings.push(Number(r.fields['id']));
    assert.ok(pings.length >= 1, 'the server pinged the client, which answered with a pong the server dropped');
  });

  it('never leaves an unhandled rejection when the link dies before an awaited reply is awaited (issue 11)', async () => {
    const p = await connected();
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => {
      unhandled.push(err);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // A sender registers the final reply, then reads its file (not awaiting the reply yet)...
      const final = p.client.awaitReply(42);
      // ...while the peer dies.
      p.transports[1].close();
      await p.client.closed;
      await flush();
      await flush();
      assert.deepEqual(unhandled, []);
      await assert.rejects(final, isCode('CSYNC_PEER_UNREACHABLE'));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('answers with an error reply when the handler throws', async () => {
    const p = await connected();
    p.server.onRequest(() => {
      throw new CsyncError('CSYNC_IO', 'disk full');
    });
    const reply = await p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' });
    assert.deepEqual(reply, { type: 'error', id: 1, code: 'CSYNC_IO', message: 'disk full' });
  });

  it('rejects pending requests with CSYNC_PEER_UNREACHABLE when the link closes', async () => {
    const p = await connected();
    p.server.onRequest(() => undefined);
    const pending = p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' });
    p.client.close();
    await assert.rejects(pending, isCode('CSYNC_PEER_UNREACHABLE'));
    await p.server.closed;
    assert.throws(() => p.client.request({ type: 'ping' }), isCode('CSYNC_PEER_UNREACHABLE'));
  });
});

describe('PeerLink backpressure (issue 11 item 5)', () => {
  it('stops reading a flood of tiny frames once MAX_INBOUND_BACKLOG wait for a busy handler, and loses none', async () => {
    const clock = manualClock();
    const [mine, theirs] = memoryTransportPair();
    let pulled = 0;
    // Counts the frames the server's link has taken from its transport.
    const counting: Transport = {
      remoteLabel: theirs.remoteLabel,
      send: (f) => theirs.send(f),
      close: () => theirs.close(),
      peerAuthenticated: () => theirs.peerAuthenticated(),
      keyingMaterial: () => theirs.keyingMaterial(),
      peerFingerprint: () => theirs.peerFingerprint(),
      frames: () => ({
        [Symbol.asyncIterator]: () => {
          const inner = theirs.frames()[Symbol.asyncIterator]();
          return { next: async () => { const n = await inner.next(); pulled++; return n; } };
        },
      }),
    };
    const client = new PeerLink(mine, { clock });
    const server = new PeerLink(counting, { clock });
    links.push(client, server);
    await Promise.all([
      client.handshake({ self: 'a', groups: new Map([['web', WEB_KEY]]), role: 'client' }),
      server.handshake({ self: 'b', groups: new Map([['web', WEB_KEY]]), role: 'server' }),
    ]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let handled = 0;
    server.onRequest(async () => {
      await gate;
      handled++;
    });
    const before = pulled;
    const FLOOD = MAX_INBOUND_BACKLOG * 2;
    for (let i = 0; i < FLOOD; i++) void client.send({ type: 'data', id: 7, offset: i, last: false, bytes: new Uint8Array(0) });
    for (let i = 0; i < 20; i++) await flush();
    assert.ok(pulled - before <= MAX_INBOUND_BACKLOG + 2, `read ${pulled - before} frames while the handler was stuck`);
    release();
    for (let i = 0; i < 50 && handled < FLOOD; i++) await flush();
    assert.equal(handled, FLOOD, 'every frame is handled once the handler catches up');
  });
});

describe('PeerLink on invalid input', () => {
  it('closes the link on a garbage frame and logs the peer and code without the bytes', async () => {
    const p = await connected();
    const pending = p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' });
    const garbage = new TextEncoder().encode('\u0000\u0000\u0000\u0009{"x":"EVIL-PAYLOAD"}');
    await p.transports[1].send(garbage);
    await p.client.closed;
    await assert.rejects(pending, isCode('CSYNC_PEER_UNREACHABLE'));
    assert.ok(isCode('CSYNC_PROTO_INVALID_MESSAGE')(p.client.closeReason));
    const record = p.records.find((r) => r.msg === 'Closing link' && r.fields['peer'] === 'b');
    assert.equal(record?.fields['code'], 'CSYNC_PROTO_INVALID_MESSAGE');
    assert.ok(!JSON.stringify(p.records).includes('EVIL-PAYLOAD'), 'raw bytes are never logged');
    await p.server.closed;
  });

  it('closes the link on a frame over the size limit', async () => {
    const p = await connected({ maxFrameBytes: 200 });
    await p.transports[1].send(new Uint8Array(201));
    await p.client.closed;
    assert.ok(isCode('CSYNC_PROTO_INVALID_FRAME')(p.client.closeReason));
  });

  it('closes the link on a handshake message after the handshake', async () => {
    const p = await connected();
    await p.transports[1].send(encodeMessage({ type: 'hello', protocol: 1, node: 'b', groups: [] }));
    await p.client.closed;
    assert.ok(isCode('CSYNC_PROTO_INVALID_MESSAGE')(p.client.closeReason));
  });

  it('closes the link when a reply does not match the request type', async () => {
    const p = await connected();
    p.server.onRequest(async (msg, link) => {
      await link.send({ type: 'pong', id: msg.id });
    });
    const pending = p.client.request({ type: 'list', group: 'web', root: '/r', rel: '' });
    await assert.rejects(pending, isCode('CSYNC_PEER_UNREACHABLE'));
    assert.ok(isCode('CSYNC_PROTO_INVALID_MESSAGE')(p.client.closeReason));
  });
});

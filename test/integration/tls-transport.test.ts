// Real TLS 1.3 on 127.0.0.1 port 0 with per-run certificates: framing, exporter, fingerprints, refusals.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { CsyncError } from '../../src/core/errors.ts';
import { writeNodeCertificate, type NodeCertificate } from '../../src/net/cert.ts';
import { connectTls, listenTls, type TlsListener, type TlsTransport } from '../../src/net/tls-transport.ts';

const HOST = '127.0.0.1';
const TIMEOUT_MS = 5_000;
const BIG_FRAME_BYTES = 3 * 1024 * 1024;

/** A pattern that a misplaced or truncated chunk would break. */
function patterned(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Reads frames one at a time from a transport whose frames() may be iterated only once. */
function reader(t: TlsTransport): () => Promise<Uint8Array | undefined> {
  const it = t.frames()[Symbol.asyncIterator]();
  return async () => {
    const r = await it.next();
    return r.done === true ? undefined : r.value;
  };
}

describe('TlsTransport over 127.0.0.1', () => {
  let dir: string;
  let serverCert: NodeCertificate;
  let clientCert: NodeCertificate;
  let listener: TlsListener;
  const transports: TlsTransport[] = [];
  const rawSockets: tls.TLSSocket[] = [];
  const waiting: ((t: TlsTransport) => void)[] = [];
  const accepted: TlsTransport[] = [];
  const rejects: { remote: string; reason: string }[] = [];
  let onRejectSeen: (() => void) | undefined;

  function nextAccepted(): Promise<TlsTransport> {
    const ready = accepted.shift();
    return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
  }

  async function connectPair(): Promise<{ client: TlsTransport; server: TlsTransport }> {
    const client = await connectTls({ host: HOST, port: listener.port, certPem: clientCert.certPem, keyPem: clientCert.keyPem, timeoutMs: TIMEOUT_MS });
    transports.push(client);
    const server = await nextAccepted();
    // These tests carry frames below the protocol: lift the pre-authentication frame limit by hand.
    client.peerAuthenticated();
    server.peerAuthenticated();
    return { client, server };
  }

  /** A TLS client with a certificate that writes raw bytes, bypassing the framing. */
  async function rawClient(): Promise<tls.TLSSocket> {
    const socket = tls.connect({
      host: HOST, port: listener.port, minVersion: 'TLSv1.3', rejectUnauthorized: false,
      cert: clientCert.certPem, key: clientCert.keyPem,
    });
    socket.on('error', () => {
      // Expected when the server drops the connection; tests await 'close' or the server side instead.
    });
    await once(socket, 'secureConnect');
    rawSockets.push(socket);
    return socket;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csync-tls-'));
    serverCert = await writeNodeCertificate({ certPath: join(dir, 'web1.crt'), keyPath: join(dir, 'web1.key'), nodeName: 'web1', overwrite: false });
    clientCert = await writeNodeCertificate({ certPath: join(dir, 'web2.crt'), keyPath: join(dir, 'web2.key'), nodeName: 'web2', overwrite: false });
    listener = await listenTls({
      host: HOST,
      port: 0,
      certPem: await readFile(join(dir, 'web1.crt'), 'utf8'),
      keyPem: await readFile(join(dir, 'web1.key'), 'utf8'),
      onConnection: (t) => {
        transports.push(t);
        const waiter = waiting.shift();
        if (waiter !== undefined) waiter(t);
        else accepted.push(t);
      },
      onReject: (info) => {
        rejects.push(info);
        onRejectSeen?.();
      },
    });
  });

  after(async () => {
    for (const t of transports) t.close();
    for (const socket of rawSockets) socket.destroy();
    await listener.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('carries frames both ways, including a 3 MiB frame, in order', async () => {
    const { client, server } = await connectPair();
    const readServer = reader(server);
    const readClient = reader(client);
    const big = patterned(BIG_FRAME_BYTES, 7);
    await client.send(Uint8Array.of(1, 2, 3));
    await client.send(big);
    await client.send(new Uint8Array(0));
    assert.deepEqual(await readServer(), Uint8Array.of(1, 2, 3));
    assert.deepEqual(await readServer(), big);
    assert.deepEqual(await readServer(), new Uint8Array(0));
    const reply = patterned(BIG_FRAME_BYTES, 99);
    await server.send(reply);
    await server.send(Uint8Array.of(42));
    assert.deepEqual(await readClient(), reply);
    assert.deepEqual(await readClient(), Uint8Array.of(42));
  });

  it('exports keying material equal on both ends and different for another session', async () => {
    const first = await connectPair();
    const second = await connectPair();
    assert.equal(first.client.keyingMaterial().length, 32);
    assert.deepEqual(first.client.keyingMaterial(), first.server.keyingMaterial());
    assert.deepEqual(second.client.keyingMaterial(), second.server.keyingMaterial());
    assert.notDeepEqual(first.client.keyingMaterial(), second.client.keyingMaterial());
  });

  it("reports each side's peer fingerprint as the other's certificate fingerprint", async () => {
    const { client, server } = await connectPair();
    assert.equal(client.peerFingerprint(), serverCert.fingerprint);
    assert.equal(server.peerFingerprint(), clientCert.fingerprint);
    assert.match(server.remoteLabel, /^127\.0\.0\.1:\d+$/);
  });

  it('ends frames() on the other side and rejects later sends after close()', async () => {
    const { client, server } = await connectPair();
    const readServer = reader(server);
    client.close();
    client.close(); // idempotent
    assert.equal(await readServer(), undefined);
    await assert.rejects(client.send(Uint8Array.of(1)), (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_PEER_UNREACHABLE');
  });

  it('fails frames() with CSYNC_PROTO_INVALID_FRAME on an oversized frame header, after the good frames', async () => {
    const socket = await rawClient();
    const server = await nextAccepted();
    const readServer = reader(server);
    socket.write(Uint8Array.of(0, 0, 0, 2, 0xaa, 0xbb, 0xff, 0xff, 0xff, 0xff));
    assert.deepEqual(await readServer(), Uint8Array.of(0xaa, 0xbb));
    await assert.rejects(readServer(), (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_PROTO_INVALID_FRAME');
    await once(socket, 'close');
  });

  it('fails frames() with CSYNC_PROTO_INVALID_FRAME when the peer ends mid-frame', async () => {
    const socket = await rawClient();
    const server = await nextAccepted();
    const readServer = reader(server);
    socket.end(Uint8Array.of(0, 0, 0, 10, 1, 2, 3));
    await assert.rejects(readServer(), (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_PROTO_INVALID_FRAME');
  });

  it('drops a client that presents no certificate before handing it over', async () => {
    const rejected = new Promise<'rejected'>((resolve) => (onRejectSeen = () => resolve('rejected')));
    const socket = tls.connect({ host: HOST, port: listener.port, minVersion: 'TLSv1.3', rejectUnauthorized: false });
    rawSockets.push(socket);
    socket.on('error', () => {
      // Expected: the server drops the connection; the outcome race below is what the test checks.
    });
    const outcome = await Promise.race([rejected, nextAccepted().then(() => 'accepted' as const)]);
    onRejectSeen = undefined;
    waiting.splice(0); // the losing nextAccepted() waiter must not steal a later test's connection
    assert.equal(outcome, 'rejected');
    assert.equal(rejects.at(-1)?.reason, 'client presented no certificate');
    await once(socket, 'close');
  });

  it('refuses a TLS 1.2-only client', async () => {
    const socket = tls.connect({
      host: HOST, port: listener.port, maxVersion: 'TLSv1.2', rejectUnauthorized: false,
      cert: clientCert.certPem, key: clientCert.keyPem,
    });
    rawSockets.push(socket);
    const outcome = await new Promise<NodeJS.ErrnoException | 'connected'>((resolve) => {
      socket.once('error', resolve);
      socket.once('secureConnect', () => resolve('connected'));
    });
    assert.notEqual(outcome, 'connected');
    assert.match(String((outcome as NodeJS.ErrnoException).code), /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|ALERT/);
  });

  it('maps a refused connection to CSYNC_PEER_UNREACHABLE with a hint', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(
      connectTls({ host: HOST, port, certPem: clientCert.certPem, keyPem: clientCert.keyPem, timeoutMs: TIMEOUT_MS }),
      (err: unknown) => {
        assert.ok(err instanceof CsyncError);
        assert.equal(err.code, 'CSYNC_PEER_UNREACHABLE');
        assert.equal(err.message, `peer ${HOST}:${port}: ECONNREFUSED`);
        assert.ok(err.hint?.includes('csync daemon'));
        return true;
      },
    );
  });

  it('times out a connect to a port that never completes a TLS handshake', async () => {
    const held = new Set<net.Socket>();
    // Accepts TCP and says nothing, like a wedged peer.
    const silent = net.createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, HOST, resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        connectTls({ host: HOST, port, certPem: clientCert.certPem, keyPem: clientCert.keyPem, timeoutMs: 100 }),
        (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_PEER_UNREACHABLE' && /after 100 ms/.test(err.message),
      );
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('close() on a listener stops it and ends the connections it accepted', async () => {
    let markAccepted: (() => void) | undefined;
    const acceptedOnce = new Promise<void>((resolve) => (markAccepted = resolve));
    const own = await listenTls({
      host: HOST, port: 0, certPem: serverCert.certPem, keyPem: serverCert.keyPem,
      onConnection: () => markAccepted?.(), // the listener, not the test, owns and closes it
    });
    const client = await connectTls({ host: HOST, port: own.port, certPem: clientCert.certPem, keyPem: clientCert.keyPem, timeoutMs: TIMEOUT_MS });
    transports.push(client);
    const readClient = reader(client);
    await acceptedOnce;
    await own.close();
    assert.equal(await readClient(), undefined);
    await assert.rejects(
      connectTls({ host: HOST, port: own.port, certPem: clientCert.certPem, keyPem: clientCert.keyPem, timeoutMs: TIMEOUT_MS }),
      (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_PEER_UNREACHABLE',
    );
  });
});

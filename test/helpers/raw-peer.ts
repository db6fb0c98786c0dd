// Hostile-input harness (test/security): a cluster of real nodes on 127.0.0.1 with captured logs and an
// "outside" directory to snapshot, and a raw client that completes the real TLS + group-key handshake
// under any claimed name and certificate (or stops short of it), then sends arbitrary messages, frames
// or bytes. The raw client is built on node:tls and the protocol's own encoders, not on PeerLink, so a
// test can send what PeerLink never would. Every socket it opens is closed by close() or by the
// after() hook registered with the cluster.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { LogRecord } from '../../src/core/logger.ts';
import { readKey } from '../../src/daemon/runtime.ts';
import { fingerprintOfDer, generateNodeCertificate } from '../../src/net/cert.ts';
import { KEYING_MATERIAL_LABEL } from '../../src/net/tls-transport.ts';
import { FrameDecoder } from '../../src/protocol/frame.ts';
import { authMac, candidateGroups, verifyAuthMac } from '../../src/protocol/handshake.ts';
import { decodeMessage, encodeMessage, PROTOCOL_VERSION, type Message, type WireState } from '../../src/protocol/messages.ts';
import { loadHasher } from '../../src/scanner/hasher.ts';
import { snapshotTree, startCluster, type AfterRegistrar, type Cluster, type ClusterOptions } from './tls-cluster.ts';

/** PEM certificate and key a raw client presents. */
export interface RawCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options of connectRaw(). */
export interface ConnectRawOptions {
  readonly port: number;
  /** The node name sent in `hello`: anything, including names not in [hosts]. */
  readonly claimName: string;
  /** Group name → key bytes to prove (hello lists exactly these groups). */
  readonly keys: ReadonlyMap<string, Uint8Array>;
  /** Certificate to present; default: a fresh self-signed one for `claimName`. */
  readonly cert?: RawCert;
  /** Stop after TLS (`'tls'`) or after sending hello (`'hello'`); default: the whole handshake. */
  readonly stopAfter?: 'tls' | 'hello';
  /** Per-step timeout for the server's answers, default 5000 ms. */
  readonly timeoutMs?: number;
}

/** How a raw handshake ended when the server refused it. */
export class RawHandshakeRefused extends Error {
  /**
   * The step at which the server stopped us: 'admit' (an error or close right after hello, before
   * the server sent any auth), 'auth' (after our auths), or 'auth-result'.
   */
  readonly stage: 'admit' | 'auth' | 'auth-result';
  /** The `error` message's code when the server sent one. */
  readonly code: string | undefined;
  readonly serverMessage: string | undefined;
  /** True when the server sent an auth whose MAC verified under our key. */
  readonly sawServerMac: boolean;
  /** The MACs the server sent (each 32 bytes), whatever they verify against. */
  serverMacs: Uint8Array[] = [];

  constructor(stage: RawHandshakeRefused['stage'], code: string | undefined, serverMessage: string | undefined, sawServerMac: boolean) {
    super(`raw handshake refused at ${stage}: ${code ?? 'closed'} ${serverMessage ?? ''}`);
    this.name = 'RawHandshakeRefused';
    this.stage = stage;
    this.code = code;
    this.serverMessage = serverMessage;
    this.sawServerMac = sawServerMac;
  }
}

/** An offer as a test writes it; the helper fills in a consistent WireState. */
export interface RawOffer {
  readonly group: string;
  readonly root: string;
  readonly rel: string;
  /** File content (inline); omit for dir/symlink/deleted. */
  readonly content?: Uint8Array;
  /** Overrides of the generated state (kind, mode, uid, gid, target, version, origin…). */
  readonly state?: Partial<WireState>;
  readonly force?: boolean;
}

/** A raw, authenticated (or deliberately not) connection to one node. */
export interface RawPeer {
  /** Groups both sides accepted (empty when stopped before the handshake's end). */
  readonly groups: readonly string[];
  /** The server certificate's fingerprint. */
  readonly serverFingerprint: string;
  /** Sends one message, encoded but not validated. */
  send(msg: Message): Promise<void>;
  /** Sends `body` as one frame (length prefix added). */
  sendFrame(body: Uint8Array): Promise<void>;
  /** Writes raw bytes to the TLS stream (a forged length prefix, a truncated frame…). */
  sendBytes(bytes: Uint8Array): Promise<void>;
  /** The next message from the server, or undefined once the connection closed. */
  next(timeoutMs?: number): Promise<Message | undefined>;
  /** The next message carrying `id` (others are kept for later next() calls). */
  awaitReply(id: number, timeoutMs?: number): Promise<Message>;
  /** Sends an offer (fresh id) and resolves with the final reply (data frames sent after 'need'). */
  sendOffer(offer: RawOffer): Promise<Message>;
  /** Resolves once the server closed the connection (or close() was called). */
  readonly closed: Promise<void>;
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 5000;
const open = new Set<RawPeer>();

/**
 * Connects to 127.0.0.1:`port` over TLS 1.3 with `cert`, and runs the client side of the csync
 * handshake claiming `claimName` (protocol/README.md §4). Resolves with the peer once both sides
 * accepted at least one group; rejects with RawHandshakeRefused when the server refuses, saying at
 * which step. The caller closes the peer (or lets closeAllRawPeers() do it).
 */
export async function connectRaw(opts: ConnectRawOptions): Promise<RawPeer> {
  const cert = opts.cert ?? (await generateNodeCertificate(opts.claimName));
  const socket = await tlsConnect(opts.port, cert);
  const peer = new RawConnection(socket, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  open.add(peer);
  void peer.closed.then(() => open.delete(peer));
  try {
    if (opts.stopAfter !== 'tls') await peer.handshake(opts);
    return peer;
  } catch (err) {
    peer.close();
    throw err;
  }
}

/** Closes every raw peer still open (registered by startHostileCluster's teardown). */
export function closeAllRawPeers(): void {
  for (const p of open) p.close();
}

function tlsConnect(port: number, cert: RawCert): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', rejectUnauthorized: false });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

class RawConnection implements RawPeer {
  groups: string[] = [];
  readonly serverFingerprint: string;
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  private readonly inbox: Message[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private lastId = 0;
  private claimName = 'raw';

  private readonly socket: tls.TLSSocket;
  private readonly timeoutMs: number;

  constructor(socket: tls.TLSSocket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.serverFingerprint = fingerprintOfDer(socket.getPeerCertificate(true).raw);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(new Uint8Array(chunk));
      for (let f = this.decoder.next(); f !== undefined; f = this.decoder.next()) this.inbox.push(decodeMessage(f));
      this.wake();
    });
    // A reset by the server is an end like any other for a hostile client.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  async handshake(opts: ConnectRawOptions): Promise<void> {
    this.claimName = opts.claimName;
    const groups = [...opts.keys.keys()].sort();
    await this.send({ type: 'hello', protocol: PROTOCOL_VERSION, node: opts.claimName, groups });
    const hello = await this.next();
    if (hello?.type !== 'hello') throw refused('admit', hello, false);
    if (opts.stopAfter === 'hello') return;
    const km = new Uint8Array(this.socket.exportKeyingMaterial(32, KEYING_MATERIAL_LABEL, Buffer.alloc(0)));
    const candidates = candidateGroups(opts.keys.keys(), hello.groups);
    const mac = (group: string, role: 'client' | 'server'): Uint8Array =>
      authMac({ key: opts.keys.get(group) as Uint8Array, keyingMaterial: km, role, clientNode: opts.claimName, serverNode: hello.node, group });
    for (const group of candidates) await this.send({ type: 'auth', group, mac: mac(group, 'client') });
    const accepted: string[] = [];
    const serverMacs: Uint8Array[] = [];
    const fail = (e: RawHandshakeRefused): RawHandshakeRefused => Object.assign(e, { serverMacs });
    let sawServerMac = false;
    for (let i = 0; i < candidates.length; i++) {
      const auth = await this.next();
      if (auth?.type !== 'auth') throw fail(refused(i === 0 ? 'admit' : 'auth', auth, sawServerMac));
      serverMacs.push(auth.mac);
      if (verifyAuthMac(mac(auth.group, 'server'), auth.mac)) {
        sawServerMac = true;
        accepted.push(auth.group);
      }
    }
    await this.send({ type: 'auth-result', accepted, rejected: candidates.filter((g) => !accepted.includes(g)) });
    const result = await this.next();
    if (result?.type !== 'auth-result') throw fail(refused('auth-result', result, sawServerMac));
    this.groups = accepted.filter((g) => result.accepted.includes(g));
    if (this.groups.length === 0) throw fail(refused('auth-result', result, sawServerMac));
  }

  async send(msg: Message): Promise<void> {
    await this.sendFrame(encodeMessage(msg));
  }

  async sendFrame(body: Uint8Array): Promise<void> {
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length, false);
    frame.set(body, 4);
    await this.sendBytes(frame);
  }

  sendBytes(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ended || this.socket.destroyed) return reject(new Error('raw peer: connection closed'));
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  async next(timeoutMs = this.timeoutMs): Promise<Message | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.inbox.shift();
      if (m !== undefined) return m;
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`raw peer: no message within ${timeoutMs} ms`);
      await this.wait(left);
    }
  }

  async awaitReply(id: number, timeoutMs = this.timeoutMs): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.inbox.findIndex((m) => 'id' in m && m.id === id);
      if (at >= 0) return this.inbox.splice(at, 1)[0] as Message;
      if (this.ended) throw new Error(`raw peer: connection closed before the reply to ${id}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`raw peer: no reply to ${id} within ${timeoutMs} ms`);
      await this.wait(left);
    }
  }

  async sendOffer(offer: RawOffer): Promise<Message> {
    const id = ++this.lastId;
    const content = offer.content;
    const hasher = await loadHasher();
    const state: WireState = {
      kind: content === undefined ? 'dir' : 'file',
      size: content?.length ?? 0,
      mtimeNs: '1700000000000000000',
      mode: content === undefined ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      ...(content === undefined ? {} : { hash: hasher.hashBytes(content) }),
      version: { [this.claimedOrigin(offer)]: Date.now() },
      origin: this.claimedOrigin(offer),
      changedAtMs: Date.now(),
      ...offer.state,
    };
    await this.send({ type: 'offer', id, group: offer.group, root: offer.root, rel: offer.rel, state, force: offer.force ?? false, ...(content === undefined ? {} : { content }) });
    const reply = await this.awaitReply(id);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }

  private claimedOrigin(offer: RawOffer): string {
    return offer.state?.origin ?? this.claimName;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve();
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function refused(stage: RawHandshakeRefused['stage'], got: Message | undefined, sawServerMac: boolean): RawHandshakeRefused {
  if (got?.type === 'error') return new RawHandshakeRefused(stage, got.code, got.message, sawServerMac);
  return new RawHandshakeRefused(stage, undefined, got === undefined ? 'connection closed' : `unexpected ${got.type}`, sawServerMac);
}

// ---- the victim cluster ---------------------------------------------------------------------------

/** A cluster under attack: real nodes, captured logs, an outside directory, a second group `h`. */
export interface HostileCluster {
  readonly cluster: Cluster;
  /** A directory beside the nodes (holds a sentinel file): attacks aim here. */
  readonly outside: string;
  /** Listening port of node `n`. */
  port(n: string): number;
  /** The key of group `g` (every node) or `h` (hosts a and b only). */
  key(group: 'g' | 'h'): Uint8Array;
  /** Node `n`'s real certificate and key (to impersonate it, or to be it). */
  cert(n: string): RawCert;
  /** Log records of node `n` since it last started (see ClusterOptions.captureLogs). */
  logs(n: string): readonly LogRecord[];
  /** Node `n`'s root of group `h`. */
  rootH(n: string): string;
  /**
   * Everything in the cluster's temp dir except `victim`'s roots and the state databases: what no
   * attack on `victim` may change. Compare two calls with assert.deepEqual.
   */
  snapshotOutside(victim: string): Record<string, string>;
  /**
   * A well-behaved sync: writes a fresh file on `from`, runs `csync -x` there, and asserts it reached
   * `to` (exit status 0). Proves the daemon still serves a real peer after an attack.
   */
  assertStillServes(from: string, to: string): Promise<void>;
}

/**
 * Starts nodes a, b, c (group `g`, root `%data%`, all three hosts; `groupExtra` is added to it) plus
 * group `h` (hosts a and b, root `%other%`), with logs captured. Teardown (servers, raw peers, temp
 * dir) is registered with `t`.
 */
export async function startHostileCluster(t: AfterRegistrar, opts: { groupExtra?: string; nodes?: readonly string[] } = {}): Promise<HostileCluster> {
  const nodes = opts.nodes ?? ['a', 'b', 'c'];
  const register = typeof t === 'function' ? t : t.after.bind(t);
  register(() => Promise.resolve(closeAllRawPeers()));
  let base = '';
  const hKey = (): string => join(base, 'h.key');
  const clusterOpts: ClusterOptions = {
    nodes,
    captureLogs: true,
    groupExtra: (dir) => [
      opts.groupExtra ?? '',
      '[prefix.other]',
      ...nodes.map((n) => `${n} = ${JSON.stringify(join(dir, n, 'other'))}`),
      '[groups.h]',
      'hosts = ["a", "b"]',
      `key = ${JSON.stringify(join(dir, 'h.key'))}`,
      'include = ["%other%"]',
    ].join('\n'),
    beforeStart: (dir) => {
      base = dir;
      writeFileSync(hKey(), 'h-key-h-key-h-key-h-key-h-key-h-key-h-key-h-key\n', { mode: 0o600 });
      mkdirSync(join(dir, 'outside'), { recursive: true });
      writeFileSync(join(dir, 'outside', 'sentinel.txt'), 'outside\n');
      for (const n of nodes) mkdirSync(join(dir, n, 'other'), { recursive: true });
    },
  };
  const cluster = await startCluster(t, clusterOpts);
  let serial = 0;
  return {
    cluster,
    outside: join(cluster.dir, 'outside'),
    port: (n) => cluster.runtime(n).view.listen.port,
    key: (group) => readKey(group === 'g' ? cluster.keyFile : hKey()),
    cert: (n) => ({ certPem: readFileSync(cluster.tlsFiles(n).cert, 'utf8'), keyPem: readFileSync(cluster.tlsFiles(n).key, 'utf8') }),
    logs: (n) => cluster.logs(n),
    rootH: (n) => join(cluster.dir, n, 'other'),
    snapshotOutside: (victim) => {
      const all = snapshotTree(cluster.dir);
      const skip = [`${victim}/root`, `${victim}/other`];
      return Object.fromEntries(Object.entries(all).filter(([rel]) =>
        !skip.some((s) => rel === s || rel.startsWith(`${s}/`)) && !/^[^/]+\/state\/(csync\.db|daemon\.json|control\.sock)/.test(rel)));
    },
    assertStillServes: async (from, to) => {
      const name = `well-behaved-${++serial}-${Date.now()}.txt`;
      writeFileSync(join(cluster.root(from), name), `from ${from}\n`);
      const r = await cluster.run(from, '-x');
      assert.equal(r.status, 0, `well-behaved sync ${from} -> ${to} failed: ${r.out}${r.err}`);
      assert.equal(readFileSync(join(cluster.root(to), name), 'utf8'), `from ${from}\n`, `${to} did not receive ${name}`);
    },
  };
}

/** Finds a log record of `records` with message `msg` whose fields include `fields` (reason as a RegExp). */
export function findLog(records: readonly LogRecord[], msg: string, fields: Record<string, unknown>): LogRecord | undefined {
  return records.find((r) => r.msg === msg && Object.entries(fields).every(([k, v]) => (v instanceof RegExp ? v.test(String(r.fields[k])) : r.fields[k] === v)));
}

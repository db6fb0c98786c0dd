// ⚙ The TLS 1.3 adapter of the Transport port: node:tls client and server, frames via protocol/frame.ts.
// It authenticates nothing beyond "the peer has a certificate"; pinning and the group-key HMAC live above.

import * as tls from 'node:tls';
import type { Socket } from 'node:net';
import { CsyncError } from '../core/errors.ts';
import { encodeFrame, FrameDecoder, PRE_AUTH_MAX_FRAME_BYTES } from '../protocol/frame.ts';
import { MAX_FRAME_BYTES } from '../protocol/messages.ts';
import type { Transport } from './transport.ts';
import { fingerprintOfDer } from './cert.ts';
import { DEFAULT_PRE_AUTH_LIMITS, PendingConnections, sourceKeyOf } from './admission.ts';
import type { PreAuthLimits } from './admission.ts';

/** RFC 8446 exporter label for the keying material the group-key handshake binds to (src/protocol/README.md §4). */
export const KEYING_MATERIAL_LABEL = 'EXPORTER-csync-auth';
const KEYING_MATERIAL_BYTES = 32;
/** TLS 1.3 treats an absent and an empty exporter context alike (RFC 8446 §7.5); @types/node wants one. */
const EMPTY_CONTEXT = Buffer.alloc(0);
/** Received frames queued before the socket is paused (receive-side backpressure). */
const HIGH_WATER_FRAMES = 4;
/** How long close() waits for buffered writes to flush before destroying the socket. */
const CLOSE_FLUSH_MS = 5_000;
const UNREACHABLE_HINT = 'is `csync daemon` running there, and is the port open?';

/**
 * TLS settings shared by both sides. TLS 1.3 only. Both sides present a certificate (server:
 * requestCert). `rejectUnauthorized: false` is deliberate: certificates are self-signed per node, and
 * trust comes from pinning the fingerprint plus the group-key HMAC over the exported keying material
 * (net/pinning.ts, protocol/handshake.ts). Because the TLS layer then accepts anything, the server
 * MUST drop a connection that presented no certificate at all (see hasPeerCertificate below).
 */
const TLS_BASE = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  rejectUnauthorized: false,
} as const;

type Waiter = { resolve: () => void; reject: (err: Error) => void };

/** Options of the TlsTransport constructor. */
export interface TlsTransportOptions {
  /** Called once, when peerAuthenticated() is (the listener stops counting the connection). */
  readonly onAuthenticated?: () => void;
}

/**
 * A Transport over one established tls.TLSSocket. The constructor takes ownership of the socket:
 * close() ends and destroys it. Construct only after the TLS handshake has completed. Until
 * peerAuthenticated(), frame bodies over PRE_AUTH_MAX_FRAME_BYTES fail the transport.
 */
export class TlsTransport implements Transport {
  readonly remoteLabel: string;
  private readonly socket: tls.TLSSocket;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: PRE_AUTH_MAX_FRAME_BYTES });
  private onAuthenticated: (() => void) | undefined;
  private readonly queue: Uint8Array[] = [];
  private readonly drainWaiters: Waiter[] = [];
  private readonly exported: Uint8Array;
  private readonly fingerprint: string | undefined;
  private wakeReader: (() => void) | undefined;
  private failure: CsyncError | undefined;
  private ended = false;
  private closed = false;
  private iterated = false;

  /** Wraps `socket` (handshake done). Sets TCP_NODELAY: Nagle costs ~40 ms per request/response. */
  constructor(socket: tls.TLSSocket, opts: TlsTransportOptions = {}) {
    this.socket = socket;
    this.onAuthenticated = opts.onAuthenticated;
    this.remoteLabel = labelOf(socket.remoteAddress, socket.remotePort);
    this.exported = new Uint8Array(socket.exportKeyingMaterial(KEYING_MATERIAL_BYTES, KEYING_MATERIAL_LABEL, EMPTY_CONTEXT));
    this.fingerprint = peerFingerprintOf(socket);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.settleDrainWaiters());
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    socket.on('end', () => this.onPeerEnd());
    socket.on('close', () => this.onEnd());
  }

  /**
   * Frames `frame` and writes it. Resolves at once when the socket buffer has room, else after
   * 'drain'. Rejects with CSYNC_PEER_UNREACHABLE when the transport is or becomes closed; a body
   * over MAX_FRAME_BYTES is a caller bug (encodeFrame throws `Error('bug: …')`).
   */
  async send(frame: Uint8Array): Promise<void> {
    if (this.closed || this.socket.destroyed) throw this.closedError();
    const bytes = encodeFrame(frame);
    if (this.socket.write(bytes)) return;
    await new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /**
   * The received frame bodies in order. Ends when the peer or close() ends the connection; after
   * delivering the frames decoded before a failure, throws CSYNC_PROTO_INVALID_FRAME (bad framing)
   * or CSYNC_PEER_UNREACHABLE (socket error). Iterate only once.
   */
  async *frames(): AsyncIterable<Uint8Array> {
    if (this.iterated) throw new Error('bug: TlsTransport.frames() iterated twice');
    this.iterated = true;
    for (;;) {
      const frame = this.queue.shift();
      if (frame !== undefined) {
        if (this.queue.length === 0 && this.socket.isPaused()) this.socket.resume();
        yield frame;
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }

  /** 32 bytes exported with label "EXPORTER-csync-auth"; equal on both ends of one session only. */
  keyingMaterial(): Uint8Array {
    return this.exported;
  }

  /** Raises the frame limit to MAX_FRAME_BYTES and tells the listener (see Transport). Idempotent. */
  peerAuthenticated(): void {
    this.decoder.setFrameLimit(MAX_FRAME_BYTES);
    const notify = this.onAuthenticated;
    this.onAuthenticated = undefined;
    notify?.();
  }

  /** "sha256:<hex>" of the peer certificate DER (undefined only if the peer sent none). */
  peerFingerprint(): string | undefined {
    return this.fingerprint;
  }

  /**
   * Closes both directions; idempotent. Pending send() calls reject with CSYNC_PEER_UNREACHABLE.
   * Bytes already accepted by send() get up to CLOSE_FLUSH_MS to flush before the socket is destroyed.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onEnd();
    const socket = this.socket;
    const timer = setTimeout(() => socket.destroy(), CLOSE_FLUSH_MS);
    timer.unref();
    socket.end(() => {
      clearTimeout(timer);
      socket.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    try {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) {
        this.queue.push(frame);
      }
    } catch (err) {
      // Malformed input closes this connection only (docs/security.md); the reader sees the error after the good frames.
      this.failure = err instanceof CsyncError ? err
        : new CsyncError('CSYNC_PROTO_INVALID_FRAME', `peer ${this.remoteLabel}: invalid frame`, { cause: err });
      this.socket.destroy();
    }
    if (this.queue.length >= HIGH_WATER_FRAMES) this.socket.pause();
    this.wake();
  }

  /** The peer ended its side cleanly: a partial frame left in the decoder is a protocol error. */
  private onPeerEnd(): void {
    if (this.failure === undefined && !this.closed) {
      try {
        this.decoder.finish();
      } catch (err) {
        this.failure = err instanceof CsyncError ? err : new CsyncError('CSYNC_PROTO_INVALID_FRAME', `peer ${this.remoteLabel}: invalid frame`, { cause: err });
      }
    }
    this.onEnd();
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.failure === undefined && !this.closed) {
      this.failure = new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${this.remoteLabel}: connection lost: ${err.code ?? err.message}`, {
        cause: err,
        hint: UNREACHABLE_HINT,
      });
    }
    this.onEnd();
  }

  private onEnd(): void {
    this.ended = true;
    const waiters = this.drainWaiters.splice(0);
    for (const waiter of waiters) waiter.reject(this.closedError());
    this.wake();
  }

  private settleDrainWaiters(): void {
    for (const waiter of this.drainWaiters.splice(0)) waiter.resolve();
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  private closedError(): CsyncError {
    return new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${this.remoteLabel}: connection closed`, { hint: UNREACHABLE_HINT });
  }
}

/** Options for connectTls. `timeoutMs` bounds TCP connect plus TLS handshake. */
export interface ConnectTlsOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  timeoutMs: number;
  servername?: string;
}

/**
 * Connects to a peer over TLS 1.3, presenting this node's certificate. Resolves once the handshake
 * is done; the caller owns the returned transport and must close() it. Rejects with
 * CSYNC_PEER_UNREACHABLE on refusal, DNS/TLS failure, a server without certificate, or timeout.
 */
export function connectTls(opts: ConnectTlsOptions): Promise<TlsTransport> {
  const where = `${opts.host}:${opts.port}`;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...TLS_BASE,
      host: opts.host,
      port: opts.port,
      cert: opts.certPem,
      key: opts.keyPem,
      ...(opts.servername === undefined ? {} : { servername: opts.servername }),
    });
    const fail = (err: CsyncError): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const onError = (err: NodeJS.ErrnoException): void => fail(unreachable(where, err.code ?? err.message, err));
    const timer = setTimeout(() => fail(unreachable(where, `no TLS session after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      if (!hasPeerCertificate(socket)) return fail(unreachable(where, 'server presented no certificate'));
      clearTimeout(timer);
      const transport = new TlsTransport(socket);
      socket.off('error', onError);
      resolve(transport);
    });
  });
}

/** Why a connection was dropped before authentication: a limit, the deadline, TLS, or no certificate. */
export type RejectKind = 'limit' | 'timeout' | 'tls' | 'no-certificate';

/** A connection dropped before authentication, for the log. */
export interface RejectInfo {
  readonly remote: string;
  readonly kind: RejectKind;
  readonly reason: string;
}

/** Options for listenTls. `port` 0 picks a free port. `onReject` is told about dropped connections (for logs). */
export interface ListenTlsOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  onConnection: (transport: TlsTransport) => void;
  onReject?: (info: RejectInfo) => void;
  /** Limits on connections that have not authenticated yet; DEFAULT_PRE_AUTH_LIMITS when absent. */
  preAuth?: PreAuthLimits;
}

/** A listening TLS server. close() stops listening and destroys every open connection. */
export interface TlsListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens for peers over TLS 1.3, requiring a client certificate (connections without one are
 * destroyed before onConnection). Each accepted connection is handed over as a TlsTransport that
 * the callback owns. Rejects with CSYNC_IO when the address cannot be bound.
 *
 * Until its transport's peerAuthenticated() is called, a connection is "pending": at most
 * `preAuth.maxPending` of them are held (and `maxPendingPerSource` per source address), a newer one
 * beyond either limit is closed at once, and one still pending `timeoutMs` after its TCP accept is
 * closed (whether it is stuck in TLS or in the csync handshake). Authenticated connections are never
 * counted nor closed here. Every such close is reported to onReject.
 */
export function listenTls(opts: ListenTlsOptions): Promise<TlsListener> {
  const limits = opts.preAuth ?? DEFAULT_PRE_AUTH_LIMITS;
  const sockets = new Set<Socket>();
  const pending = new PendingConnections(limits);
  /** Release functions of pending connections, by "address|port" (the TLS socket's and the raw socket's agree). */
  const releases = new Map<string, () => void>();
  const server = tls.createServer({
    ...TLS_BASE,
    requestCert: true,
    cert: opts.certPem,
    key: opts.keyPem,
    // Node's own timer restarts on every byte; the absolute deadline below fires first.
    handshakeTimeout: limits.timeoutMs + 1000,
    noDelay: true,
  });
  const reject = (socket: Socket, kind: RejectKind, reason: string): void => {
    opts.onReject?.({ remote: labelOf(socket.remoteAddress, socket.remotePort), kind, reason });
    socket.destroy();
  };
  server.on('connection', (raw: Socket) => {
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    const source = sourceKeyOf(raw.remoteAddress);
    const verdict = pending.admit(source);
    if (!verdict.ok) return reject(raw, 'limit', verdict.reason);
    const key = connectionKey(raw);
    const timer = setTimeout(() => reject(raw, 'timeout', `not authenticated within ${limits.timeoutMs} ms`), limits.timeoutMs);
    const release = (): void => {
      if (releases.get(key) !== release) return;
      releases.delete(key);
      clearTimeout(timer);
      pending.release(source);
    };
    releases.set(key, release);
    raw.once('close', release);
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    // Node leaves the socket open after some of these (ERR_TLS_HANDSHAKE_TIMEOUT): close it here.
    reject(socket, 'tls', `TLS handshake failed: ${err.code ?? err.message}`);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => acceptSecure(socket, opts, releases.get(connectionKey(socket))));
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new CsyncError('CSYNC_IO', `listen on ${opts.host}:${opts.port}: ${err.code ?? err.message}`, {
        cause: err,
        hint: 'is another csync daemon running, or is `port` in use by something else?',
      }));
    });
    server.listen(opts.port, opts.host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('bug: TLS server has no TCP address');
      resolve({ port: address.port, close: () => closeServer(server, sockets) });
    });
  });
}

/** Drops a client without a certificate (required because rejectUnauthorized is false), else hands it over. */
function acceptSecure(socket: tls.TLSSocket, opts: ListenTlsOptions, release: (() => void) | undefined): void {
  if (!hasPeerCertificate(socket)) {
    opts.onReject?.({ remote: labelOf(socket.remoteAddress, socket.remotePort), kind: 'no-certificate', reason: 'client presented no certificate' });
    socket.destroy();
    return;
  }
  if (release === undefined) {
    // Its raw socket already closed (and was released): nothing left to serve.
    socket.destroy();
    return;
  }
  opts.onConnection(new TlsTransport(socket, { onAuthenticated: release }));
}

function connectionKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
}

function closeServer(server: tls.Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
}

function hasPeerCertificate(socket: tls.TLSSocket): boolean {
  const cert = socket.getPeerCertificate(true) as Partial<tls.DetailedPeerCertificate> | null;
  return cert !== null && cert.raw !== undefined && cert.raw.length > 0;
}

function peerFingerprintOf(socket: tls.TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate(true) as Partial<tls.DetailedPeerCertificate> | null;
  return cert?.raw === undefined ? undefined : fingerprintOfDer(cert.raw);
}

function unreachable(where: string, why: string, cause?: unknown): CsyncError {
  return new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${where}: ${why}`, {
    hint: UNREACHABLE_HINT,
    ...(cause === undefined ? {} : { cause }),
  });
}

function labelOf(address: string | undefined, port: number | undefined): string {
  const host = address === undefined ? 'unknown' : address.includes(':') ? `[${address}]` : address;
  return `${host}:${port ?? 0}`;
}

// One authenticated conversation with a peer over any Transport: the group-key handshake, then
// request/response with ids and timeouts. Every inbound frame is decoded and validated here, in
// decode(), and nowhere else; invalid input closes this link only. Owns no sockets and no timers.
import type { Clock } from '../core/clock.ts';
import { CsyncError, ERROR_CATALOGUE, type ErrorCode } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import { PRE_AUTH_MAX_FRAME_BYTES } from '../protocol/frame.ts';
import { authMac, candidateGroups, REFUSED_MAC, verifyAuthMac } from '../protocol/handshake.ts';
import {
  decodeMessage,
  encodeMessage,
  MAX_FRAME_BYTES,
  MAX_TEXT_LENGTH,
  PROTOCOL_VERSION,
  type Message,
  type ReplyMessage,
  type RequestMessage,
} from '../protocol/messages.ts';
import type { Transport } from './transport.ts';

type WithoutId<M> = M extends unknown ? Omit<M, 'id'> : never;
type ListReply = Extract<Message, { type: 'list-reply' }>;

/** A request as the caller writes it: PeerLink assigns the id. */
export type RequestBody = WithoutId<RequestMessage>;
/** Inbound messages handed to the request handler (ping is answered by PeerLink itself). */
export type InboundRequest = Extract<Message, { readonly type: 'offer' | 'list' | 'data' | 'status' }>;
/**
 * Serves one inbound request. Reply with `link.send({ type: 'offer-reply', id: msg.id, … })`.
 * Messages with the same id (an offer and its data frames) are handled one after another, in arrival
 * order; different ids run concurrently. A throw is logged and answered with an `error` reply.
 */
export type RequestHandler = (msg: InboundRequest, link: PeerLink) => Promise<void> | void;

/** Options of PeerLink. */
export interface PeerLinkOptions {
  readonly clock: Clock;
  readonly logger?: Logger;
  /**
   * Idle timeout of a pending request: it fails with CSYNC_PROTO_TIMEOUT once no bytes have moved on
   * the link, in either direction, for this long (a frame received, or a send accepted by the
   * transport). A transfer that keeps moving never times out, however long it takes. Default 30 s.
   */
  readonly requestTimeoutMs?: number;
  /** Time allowed for the whole handshake. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** Options of PeerLink.handshake(). */
export interface HandshakeOptions {
  /** This node's name. */
  readonly self: string;
  /** Keys of the groups this node would share with the peer (group name → key bytes). */
  readonly groups: ReadonlyMap<string, Uint8Array>;
  /** 'client' on the dialling side, 'server' on the accepting side. */
  readonly role: 'client' | 'server';
  /** When set, a peer announcing another name is refused (CSYNC_AUTH_FAILED). */
  readonly expectedPeer?: string;
  /**
   * Called with the peer's claimed name right after its hello, before any MAC is sent or checked.
   * Returns the groups this peer may prove (others are refused like a wrong MAC); throws a
   * CsyncError to refuse the peer outright: the error's code and message are sent to the peer and
   * the handshake rejects with it. Without it, every candidate group may be proven.
   */
  readonly admit?: (peer: string) => ReadonlySet<string>;
}

/** What a successful handshake established. */
export interface HandshakeResult {
  readonly peer: string;
  /** Groups whose key both sides proved, sorted. */
  readonly groups: string[];
}

/** Options of PeerLink.request() and awaitReply(). */
export interface RequestOptions {
  /**
   * Called for each list-reply with done=false. Without it, partial list-replies are merged and the
   * request resolves with one list-reply holding every entry.
   */
  readonly onPartial?: (reply: ListReply) => void;
  readonly timeoutMs?: number;
}

interface Pending {
  readonly resolve: (m: ReplyMessage) => void;
  readonly reject: (err: unknown) => void;
  readonly requestType: RequestMessage['type'] | undefined;
  readonly opts: RequestOptions;
  readonly entries: ListReply['entries'][number][];
  cancelTimer: () => void;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Payload bytes inbound handlers may hold before the link stops reading (backpressure). */
export const MAX_INBOUND_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Inbound messages queued for handlers, and replies not yet accepted by the transport, before the
 * link stops reading (backpressure): a flood of tiny frames or pings holds bounded memory.
 */
export const MAX_INBOUND_BACKLOG = 4096;
/** Inbound requests one link may have in flight at once (see dispatch()). */
export const MAX_INBOUND_IN_FLIGHT = 1024;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const REPLY_TYPES: Readonly<Record<RequestMessage['type'], ReplyMessage['type']>> = { offer: 'offer-reply', list: 'list-reply', ping: 'pong', status: 'status-reply' };
const AUTH_HINT = "check that the group's key file is byte-for-byte identical on every host (copy the file `csync -k` wrote)";

/**
 * A link to one peer. Construct over a fresh Transport, call handshake(), then request()/send().
 * Closing the link closes the transport; a transport that ends closes the link. The link never
 * throws from its receive loop: failures close it, are logged with (peer, code) and reject pending
 * requests with CSYNC_PEER_UNREACHABLE.
 */
export class PeerLink {
  /** Resolves (never rejects) once the link is closed, for whatever reason. */
  readonly closed: Promise<void>;
  private readonly clock: Clock;
  private log: Logger;
  private readonly requestTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly frames: AsyncIterator<Uint8Array>;
  private state: 'new' | 'handshaking' | 'ready' | 'closed' = 'new';
  private peerName: string | undefined;
  private claimed: string | undefined;
  private shared: string[] = [];
  private lastId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly inbound = new Map<number, Promise<void>>();
  private handler: RequestHandler | undefined;
  private markClosed: () => void = () => undefined;
  private reason: unknown;
  /** When bytes last moved on the link, either way (see touch()). */
  private lastActivityMs: number;
  /** When this side last handed a frame to the transport (keepalive pings, see scheduleKeepalive()). */
  private lastSentMs: number;
  private lastReceivedMs = 0;
  private cancelKeepalive: () => void = () => undefined;

  private readonly transport: Transport;

  constructor(transport: Transport, opts: PeerLinkOptions) {
    this.transport = transport;
    this.clock = opts.clock;
    this.log = (opts.logger ?? silentLogger).child({ remote: transport.remoteLabel });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.frames = transport.frames()[Symbol.asyncIterator]();
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.lastActivityMs = this.clock.nowMs();
    this.lastSentMs = this.lastActivityMs;
  }

  /** The peer's node name once the handshake succeeded. */
  get peer(): string | undefined {
    return this.peerName;
  }

  /** The name the peer claimed in its hello (set mid-handshake, unverified until it completes). */
  get claimedPeer(): string | undefined {
    return this.claimed;
  }

  /** Groups both sides proved the key of (empty before the handshake). */
  get groups(): readonly string[] {
    return this.shared;
  }

  /** Why the link closed (a CsyncError, or undefined for an orderly close). */
  get closeReason(): unknown {
    return this.reason;
  }

  /**
   * Runs the handshake (protocol/README.md): hello both ways, an auth per candidate group both ways,
   * auth-result both ways. Resolves with the peer and the shared groups, then starts serving requests.
   * Rejects, after closing the link, with CSYNC_PROTO_VERSION (version mismatch), CSYNC_AUTH_FAILED
   * (no shared group proved, or not the expected peer), CSYNC_PROTO_TIMEOUT, CSYNC_PEER_UNREACHABLE
   * (closed mid-handshake) or CSYNC_PROTO_INVALID_MESSAGE/FRAME.
   */
  async handshake(opts: HandshakeOptions): Promise<HandshakeResult> {
    if (this.state !== 'new') throw new Error(`bug: handshake() on a link in state ${this.state}`);
    this.state = 'handshaking';
    let timedOut = false;
    let cancelTimer: () => void = () => undefined;
    const deadline = new Promise<never>((_, reject) => {
      cancelTimer = this.clock.setTimer(() => {
        timedOut = true;
        reject(this.timeoutError(`handshake timed out after ${this.handshakeTimeoutMs} ms`));
      }, this.handshakeTimeoutMs);
    });
    // Observed through the races in expect(); this handler only covers a timer firing between them.
    deadline.catch(() => undefined);
    try {
      const result = await this.runHandshake(opts, deadline);
      // close() may have been called while the last message was in flight.
      if (this.isClosed()) throw this.closedError(this.reason);
      this.becomeReady(result);
      return result;
    } catch (err) {
      const failure = timedOut ? this.timeoutError(`handshake timed out after ${this.handshakeTimeoutMs} ms`) : err;
      this.shutdown(failure, { sayBye: false });
      throw failure;
    } finally {
      cancelTimer();
    }
  }

  /**
   * Registers the handler for inbound offer, list and data messages (replaces any previous one).
   * Without a handler, requests are answered with an `error` reply and data frames are dropped.
   */
  onRequest(handler: RequestHandler): void {
    this.handler = handler;
  }

  /**
   * Sends a request with a fresh id and resolves with its reply (offer-reply, list-reply, pong or an
   * `error` reply, which is not turned into a rejection). Many requests may be in flight at once.
   * Rejects with CSYNC_PROTO_TIMEOUT after `requestTimeoutMs`, or CSYNC_PEER_UNREACHABLE when the
   * link closes first. For a 'need' answer, send the data frames, then awaitReply(id) for the result.
   */
  request(body: RequestBody, opts: RequestOptions = {}): Promise<ReplyMessage> {
    this.assertReady();
    this.lastId = this.lastId >= Number.MAX_SAFE_INTEGER ? 1 : this.lastId + 1;
    const msg = { ...body, id: this.lastId } as RequestMessage;
    const reply = this.waitFor(msg.id, msg.type, opts);
    this.send(msg).catch((err: unknown) => this.settleWithError(msg.id, err));
    return reply;
  }

  /**
   * Waits for the next reply carrying `id` (e.g. the final offer-reply after data frames). Register
   * it before sending whatever provokes the reply. Same timeout and close behaviour as request().
   */
  awaitReply(id: number, opts: RequestOptions = {}): Promise<ReplyMessage> {
    this.assertReady();
    return this.waitFor(id, undefined, opts);
  }

  /**
   * Sends one message without waiting for a reply (data frames, replies to inbound requests).
   * Rejects with CSYNC_PEER_UNREACHABLE when the link is closed. Does not validate `msg`.
   */
  async send(msg: Message): Promise<void> {
    if (this.state === 'closed') throw this.closedError();
    const body = encodeMessage(msg);
    if (this.state !== 'ready' && body.length > PRE_AUTH_MAX_FRAME_BYTES) throw handshakeTooBig(msg.type, body.length);
    if (body.length > MAX_FRAME_BYTES) throw new Error(`bug: ${msg.type} message of ${body.length} bytes exceeds MAX_FRAME_BYTES`);
    this.lastSentMs = this.clock.nowMs();
    await this.transport.send(body);
    this.touch();
  }

  /** Closes the link and its transport (sending `bye` first when established). Idempotent. */
  close(): void {
    this.shutdown(undefined, { sayBye: true });
  }

  // ---- handshake ----------------------------------------------------------------------------------

  private async runHandshake(opts: HandshakeOptions, deadline: Promise<never>): Promise<HandshakeResult> {
    await this.send({ type: 'hello', protocol: PROTOCOL_VERSION, node: opts.self, groups: [...opts.groups.keys()].sort() });
    const hello = await this.expect('hello', deadline);
    const peer = checkHello(hello, opts);
    this.claimed = peer;
    this.log = this.log.child({ peer });
    const admitted = opts.admit === undefined ? undefined : await this.admitOrRefuse(opts.admit, peer);
    const candidates = candidateGroups(opts.groups.keys(), hello.groups);
    const macFor = (group: string, role: 'client' | 'server'): Uint8Array => {
      const key = opts.groups.get(group);
      if (key === undefined) throw new Error(`bug: no key for candidate group ${group}`);
      const [clientNode, serverNode] = opts.role === 'client' ? [opts.self, peer] : [peer, opts.self];
      return authMac({ key, keyingMaterial: this.transport.keyingMaterial(), role, clientNode, serverNode, group });
    };
    const peerRole = opts.role === 'client' ? 'server' : 'client';
    const verify = (group: string, mac: Uint8Array): boolean => (admitted?.has(group) ?? true) && verifyAuthMac(macFor(group, peerRole), mac);
    // The client proves first. The server sends a real MAC only for a group whose key the client
    // proved (else REFUSED_MAC), so a client without the key gets nothing to test guesses against.
    let accepted: string[];
    if (opts.role === 'client') {
      for (const group of candidates) await this.send({ type: 'auth', group, mac: macFor(group, 'client') });
      accepted = await this.receiveAuths(candidates, verify, deadline);
      this.liftPreAuthLimits(accepted);
    } else {
      accepted = await this.receiveAuths(candidates, verify, deadline);
      this.liftPreAuthLimits(accepted);
      for (const group of candidates) await this.send({ type: 'auth', group, mac: accepted.includes(group) ? macFor(group, 'server') : REFUSED_MAC });
    }
    const rejected = candidates.filter((g) => !accepted.includes(g));
    for (const group of rejected) this.log.warn({ peer, group, code: 'CSYNC_AUTH_FAILED' }, 'Peer did not prove the group key');
    await this.send({ type: 'auth-result', accepted, rejected });
    const theirs = await this.expect('auth-result', deadline);
    const groups = accepted.filter((g) => theirs.accepted.includes(g));
    if (groups.length === 0) {
      throw new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(peer)}: handshake failed: no group key was proven by both sides (candidates: ${JSON.stringify(candidates)})`, { hint: AUTH_HINT });
    }
    return { peer, groups };
  }

  /** Runs the admit check; a refusal is told to the peer (code and message, best effort) and rethrown. */
  private async admitOrRefuse(admit: (peer: string) => ReadonlySet<string>, peer: string): Promise<ReadonlySet<string>> {
    try {
      return admit(peer);
    } catch (err) {
      if (err instanceof CsyncError) {
        // Best effort: the handshake fails with `err` whether or not the peer hears why.
        await this.send({ type: 'error', code: err.code, message: err.message.slice(0, MAX_TEXT_LENGTH) }).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * The peer proved a key bound to this session: it may send full-size frames once it has our
   * auth-result, so the pre-authentication limits are lifted before that is sent (protocol/README.md §6).
   */
  private liftPreAuthLimits(accepted: readonly string[]): void {
    if (accepted.length > 0) this.transport.peerAuthenticated();
  }

  /** Reads one auth per candidate group; returns the groups whose MAC verified, sorted. */
  private async receiveAuths(candidates: readonly string[], verify: (group: string, mac: Uint8Array) => boolean, deadline: Promise<never>): Promise<string[]> {
    const seen = new Set<string>();
    const accepted: string[] = [];
    while (seen.size < candidates.length) {
      const auth = await this.expect('auth', deadline);
      if (!candidates.includes(auth.group) || seen.has(auth.group)) {
        throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer ${JSON.stringify(this.peerLabel())}: auth for a group that is not a candidate or was already proven`);
      }
      seen.add(auth.group);
      if (verify(auth.group, auth.mac)) accepted.push(auth.group);
    }
    return accepted.sort();
  }

  /** Next inbound message, which must be of `type` (a peer `error` becomes a rejection). */
  private async expect<T extends Message['type']>(type: T, deadline: Promise<never>): Promise<Extract<Message, { type: T }>> {
    const next = await Promise.race([this.frames.next(), deadline]);
    if (next.done === true) {
      throw new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${JSON.stringify(this.peerLabel())}: connection closed during the handshake`, {
        hint: 'the peer may have refused our key or protocol version; check its log',
      });
    }
    const msg = this.decode(next.value);
    if (msg.type === type) return msg as Extract<Message, { type: T }>;
    if (msg.type === 'error') {
      const code = Object.hasOwn(ERROR_CATALOGUE, msg.code) ? (msg.code as ErrorCode) : 'CSYNC_PROTO_INVALID_MESSAGE';
      throw new CsyncError(code, `peer ${JSON.stringify(this.peerLabel())}: refused the handshake: ${msg.message}`);
    }
    throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer ${JSON.stringify(this.peerLabel())}: expected "${type}" during the handshake, got "${msg.type}"`);
  }

  private becomeReady(result: HandshakeResult): void {
    this.peerName = result.peer;
    this.shared = result.groups;
    this.state = 'ready';
    this.log.info({ peer: result.peer, groups: result.groups }, 'Peer authenticated');
    this.touch();
    this.scheduleKeepalive();
    void this.receiveLoop();
  }

  // ---- receiving ----------------------------------------------------------------------------------

  /** The one place inbound bytes become a Message: decodeMessage() runs validateMessage(). */
  private decode(frame: Uint8Array): Message {
    return decodeMessage(frame);
  }

  /** Reads frames until the transport ends or a frame is invalid. Never rejects. */
  private async receiveLoop(): Promise<void> {
    try {
      while (this.state === 'ready') {
        const next = await this.frames.next();
        if (next.done === true) break;
        this.touch();
        this.lastReceivedMs = this.lastActivityMs;
        this.route(this.decode(next.value));
        // Backpressure: stop reading while handlers hold too many bytes or messages, or replies wait
        // for the socket; TCP then slows the peer.
        if (this.backlogged(1)) await this.drained();
      }
      this.shutdown(undefined, { sayBye: false });
    } catch (err) {
      this.shutdown(err, { sayBye: false });
    }
  }

  private route(msg: Message): void {
    switch (msg.type) {
      case 'offer-reply':
      case 'list-reply':
      case 'pong':
      case 'status-reply':
        return this.settle(msg);
      case 'error':
        if (msg.id !== undefined) return this.settle(msg);
        throw new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${JSON.stringify(this.peerLabel())}: reported a fatal error (${msg.code})`);
      case 'offer':
      case 'list':
      case 'data':
      case 'status':
        return this.dispatch(msg);
      case 'ping':
        return this.reply({ type: 'pong', id: msg.id });
      case 'bye':
        return this.shutdown(undefined, { sayBye: false });
      case 'hello':
      case 'auth':
      case 'auth-result':
        throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer ${JSON.stringify(this.peerLabel())}: unexpected "${msg.type}" after the handshake`);
      default:
        return unreachable(msg);
    }
  }

  /** Hands a reply to the request waiting for its id; partial list-replies keep it waiting. */
  private settle(reply: ReplyMessage): void {
    const p = this.pending.get(reply.id ?? -1);
    if (p === undefined) {
      this.log.debug({ peer: this.peerName, id: reply.id }, 'Dropped a reply nobody waits for (late or unknown id)');
      return;
    }
    if (p.requestType !== undefined && reply.type !== 'error' && REPLY_TYPES[p.requestType] !== reply.type) {
      throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer ${JSON.stringify(this.peerLabel())}: answered a "${p.requestType}" with "${reply.type}"`);
    }
    if (reply.type === 'list-reply' && !reply.done) {
      if (p.opts.onPartial) p.opts.onPartial(reply);
      else p.entries.push(...reply.entries);
      p.cancelTimer();
      p.cancelTimer = this.startTimer(reply.id, p.opts);
      return;
    }
    this.pending.delete(reply.id ?? -1);
    p.cancelTimer();
    if (reply.type === 'list-reply' && p.entries.length > 0) p.resolve({ ...reply, entries: [...p.entries, ...reply.entries] });
    else p.resolve(reply);
  }

  /** Runs the handler, chained after earlier messages with the same id. */
  private inboundBytes = 0;
  private inboundMessages = 0;
  private unsentReplies = 0;
  private onDrained: (() => void) | undefined;

  /** Resolves once the bytes held by inbound handlers fall to half the limit (or the link closes). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  /** True while more than `share` of a backlog limit is in use (1: over the limit; 0.5: not yet drained). */
  private backlogged(share: number): boolean {
    return this.inboundBytes > MAX_INBOUND_BUFFER_BYTES * share || this.inboundMessages > MAX_INBOUND_BACKLOG * share || this.unsentReplies > MAX_INBOUND_BACKLOG * share;
  }

  private releaseInbound(bytes: number, messages: number): void {
    this.inboundBytes -= bytes;
    this.inboundMessages -= messages;
    this.wakeIfDrained();
  }

  private wakeIfDrained(): void {
    if (this.onDrained && (!this.backlogged(0.5) || this.state !== 'ready')) {
      const wake = this.onDrained;
      this.onDrained = undefined;
      wake();
    }
  }

  private dispatch(msg: InboundRequest): void {
    // A peer may pipeline, but not without bound: past MAX_INBOUND_IN_FLIGHT distinct requests the
    // link is closed (a well-behaved sender keeps a window of 64).
    if (!this.inbound.has(msg.id) && this.inbound.size >= MAX_INBOUND_IN_FLIGHT) {
      this.log.warn({ peer: this.peerName, code: 'CSYNC_PROTO_INVALID_MESSAGE', inFlight: this.inbound.size }, 'Too many requests in flight; closing link');
      this.shutdown(new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `more than ${MAX_INBOUND_IN_FLIGHT} requests in flight`), { sayBye: false });
      return;
    }
    const previous = this.inbound.get(msg.id) ?? Promise.resolve();
    const bytes = msg.type === 'data' ? msg.bytes.length : msg.type === 'offer' ? (msg.content?.length ?? 0) : 0;
    this.inboundBytes += bytes;
    this.inboundMessages++;
    const current = previous.then(() => this.serve(msg)).finally(() => this.releaseInbound(bytes, 1));
    this.inbound.set(msg.id, current);
    void current.then(() => {
      if (this.inbound.get(msg.id) === current) this.inbound.delete(msg.id);
    });
  }

  /** Calls the handler for one message; never rejects (failures become `error` replies). */
  private async serve(msg: InboundRequest): Promise<void> {
    if (this.state !== 'ready') return;
    try {
      if (this.handler === undefined) throw new CsyncError('CSYNC_USAGE', `no handler for "${msg.type}" on this node`);
      await this.handler(msg, this);
    } catch (err) {
      const known = err instanceof CsyncError;
      this.log.warn({ peer: this.peerName, id: msg.id, type: msg.type, code: known ? err.code : 'bug', err }, 'Request handler failed');
      const message = (known ? err.message : 'internal error').slice(0, MAX_TEXT_LENGTH);
      this.reply({ type: 'error', id: msg.id, code: known ? err.code : 'CSYNC_INTERNAL', message });
    }
  }

  /** Best-effort send of a reply: a closed link has nobody left to answer. */
  private reply(msg: Message): void {
    this.unsentReplies++;
    this.send(msg)
      .catch((err: unknown) => this.log.debug({ peer: this.peerName, err }, 'Reply not sent: link closed'))
      .finally(() => {
        this.unsentReplies--;
        this.wakeIfDrained();
      });
  }

  // ---- pending requests and closing ---------------------------------------------------------------

  /**
   * Restarts the reply timeout of an awaited id (e.g. after the last data frame of a transfer: the
   * time spent streaming does not count against the reply).
   */
  restartTimer(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    p.cancelTimer();
    p.cancelTimer = this.startTimer(id, p.opts);
  }

  private waitFor(id: number, requestType: RequestMessage['type'] | undefined, opts: RequestOptions): Promise<ReplyMessage> {
    if (this.pending.has(id)) throw new Error(`bug: a reply to request ${id} is already awaited`);
    const reply = new Promise<ReplyMessage>((resolve, reject) => {
      const cancelTimer = this.startTimer(id, opts);
      this.pending.set(id, { resolve, reject, requestType, opts, entries: [], cancelTimer });
    });
    // The link may fail (peer killed, idle timeout) before the caller awaits this promise (e.g. while
    // it streams data frames): that must never be an unhandled rejection, which would end the
    // process. Marking it handled here does not hide the rejection from whoever awaits it.
    reply.catch(() => undefined);
    return reply;
  }

  /**
   * Arms the idle timer of pending request `id`: when it fires, the request fails only if no bytes
   * moved on the link for `timeoutMs`; otherwise it re-arms for the rest of the idle window.
   */
  private startTimer(id: number, opts: RequestOptions): () => void {
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    let cancel: () => void = () => undefined;
    const arm = (delayMs: number): void => {
      cancel = this.clock.setTimer(() => {
        const idleMs = this.clock.nowMs() - this.lastActivityMs;
        if (idleMs < timeoutMs) return arm(timeoutMs - idleMs);
        this.settleWithError(id, this.timeoutError(`request ${id} got no reply, and no bytes moved on the link, for ${timeoutMs} ms`));
      }, delayMs);
    };
    arm(timeoutMs);
    return () => cancel();
  }

  /** Bytes moved on the link (a frame arrived, or the transport accepted one): pending requests live on. */
  private touch(): void {
    this.lastActivityMs = this.clock.nowMs();
  }

  /**
   * While the peer streams to us, or inbound requests are being served (a file being hashed and
   * fsynced), the peer awaits our reply and sees nothing move in its direction: send it a `ping`
   * every third of the idle timeout so it does not time out a transfer that is progressing. The
   * `pong` is dropped as a reply nobody waits for (protocol/README.md §3).
   */
  private scheduleKeepalive(): void {
    if (this.state !== 'ready') return;
    const everyMs = Math.max(1, Math.floor(this.requestTimeoutMs / 3));
    this.cancelKeepalive = this.clock.setTimer(() => {
      if (this.state !== 'ready') return;
      const busy = this.inbound.size > 0 || this.lastReceivedMs > this.lastSentMs;
      if (busy && this.clock.nowMs() - this.lastSentMs >= everyMs) {
        this.lastId = this.lastId >= Number.MAX_SAFE_INTEGER ? 1 : this.lastId + 1;
        this.reply({ type: 'ping', id: this.lastId });
      }
      this.scheduleKeepalive();
    }, everyMs);
  }

  private settleWithError(id: number, err: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    p.cancelTimer();
    p.reject(err);
  }

  private shutdown(reason: unknown, opts: { sayBye: boolean }): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    this.reason = reason;
    if (reason instanceof CsyncError) this.log.warn({ peer: this.peerName, code: reason.code, reason: reason.message }, 'Closing link');
    else if (reason !== undefined) this.log.error({ peer: this.peerName, err: reason }, 'bug: closing link after an unexpected error');
    if (opts.sayBye && wasReady) {
      // Best effort: the transport may already be gone, and the close below happens either way.
      this.transport.send(encodeMessage({ type: 'bye' })).catch(() => undefined);
    }
    this.cancelKeepalive();
    this.wakeIfDrained();
    this.transport.close();
    for (const id of [...this.pending.keys()]) this.settleWithError(id, this.closedError(reason));
    this.markClosed();
  }

  private assertReady(): void {
    if (this.state === 'new' || this.state === 'handshaking') throw new Error('bug: request on a link before its handshake completed');
    if (this.state === 'closed') throw this.closedError(this.reason);
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private peerLabel(): string {
    return this.peerName ?? this.transport.remoteLabel;
  }

  private closedError(cause?: unknown): CsyncError {
    return new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${JSON.stringify(this.peerLabel())}: link closed`, {
      cause,
      hint: 'the connection was lost or closed; the entries stay dirty and are retried',
    });
  }

  private timeoutError(what: string): CsyncError {
    return new CsyncError('CSYNC_PROTO_TIMEOUT', `peer ${JSON.stringify(this.peerLabel())}: ${what}`, {
      hint: 'the peer is overloaded or the network is slow; it will be retried',
    });
  }
}

/** Checks the peer's hello: protocol version, and its name when one is expected. Returns its name. */
function checkHello(hello: Extract<Message, { type: 'hello' }>, opts: HandshakeOptions): string {
  if (hello.protocol !== PROTOCOL_VERSION) {
    throw new CsyncError('CSYNC_PROTO_VERSION', `peer ${JSON.stringify(hello.node)}: speaks protocol ${hello.protocol}, this node speaks ${PROTOCOL_VERSION}`, {
      hint: 'run the same csync version on every node of the cluster',
    });
  }
  if (opts.expectedPeer !== undefined && hello.node !== opts.expectedPeer) {
    throw new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(opts.expectedPeer)}: answered as ${JSON.stringify(hello.node)}`, {
      hint: 'check the [hosts] addresses in the config: this address belongs to another node',
    });
  }
  return hello.node;
}

/** Our own handshake message would exceed what the peer accepts before authentication. */
function handshakeTooBig(type: string, bytes: number): CsyncError {
  return new CsyncError('CSYNC_CONFIG_INVALID', `handshake: the ${JSON.stringify(type)} message of ${bytes} bytes exceeds the pre-authentication limit of ${PRE_AUTH_MAX_FRAME_BYTES}`, {
    hint: 'the hello lists the groups shared with the peer: use fewer or shorter group names',
  });
}

function unreachable(x: never): never {
  throw new Error(`bug: unhandled message ${JSON.stringify(x)}`);
}

// Keeps one authenticated channel per peer open between update passes, with heartbeats, so a
// change reaches a peer without a new TLS handshake. Failed peers are retried with backoff.
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { NodeName } from '../core/types.ts';
import type { Connect, OfferChannel } from '../sync/update.ts';

/** Per-peer connection facts for `csync status`. */
export interface PeerState {
  connected: boolean;
  lastOkMs: number | undefined;
  lastError: string | undefined;
  /** Earliest time the next connection attempt may be made. */
  retryAtMs: number;
  failures: number;
}

const HEARTBEAT_MS = 15_000;
const MAX_BACKOFF_MS = 60_000;

/** A pool of channels keyed by peer name. */
export class PeerPool {
  readonly states = new Map<NodeName, PeerState>();
  private readonly channels = new Map<NodeName, Promise<OfferChannel>>();
  private readonly connect: Connect;
  private readonly clock: Clock;
  private readonly log: Logger;
  private cancelHeartbeat: (() => void) | undefined;
  private closed = false;

  constructor(connect: Connect, clock: Clock, log: Logger) {
    this.connect = connect;
    this.clock = clock;
    this.log = log;
    this.scheduleHeartbeat();
  }

  /** The state of `peer` (created on first use). */
  state(peer: NodeName): PeerState {
    let s = this.states.get(peer);
    if (!s) {
      s = { connected: false, lastOkMs: undefined, lastError: undefined, retryAtMs: 0, failures: 0 };
      this.states.set(peer, s);
    }
    return s;
  }

  /** A Connect for runUpdate: reuses the open channel; its close() only releases it. */
  readonly get: Connect = async (peer) => {
    if (this.closed) throw new Error('bug: peer pool used after close');
    let p = this.channels.get(peer);
    if (p) {
      const ch = await p.catch(() => undefined);
      if (ch?.isOpen?.() !== false && ch !== undefined) return released(ch);
      this.channels.delete(peer);
    }
    p = this.connect(peer);
    this.channels.set(peer, p);
    try {
      const ch = await p;
      if (this.closed) {
        // Connected after close(): nobody will release this link, so close it now.
        ch.close();
        throw new Error('peer pool closed while connecting');
      }
      this.markOk(peer);
      return released(ch);
    } catch (err) {
      this.channels.delete(peer);
      this.markFailed(peer, err);
      throw err;
    }
  };

  /** Records a successful exchange with `peer`. */
  markOk(peer: NodeName): void {
    const s = this.state(peer);
    s.connected = true;
    s.lastOkMs = this.clock.nowMs();
    s.lastError = undefined;
    s.failures = 0;
    s.retryAtMs = 0;
  }

  /** The peer showed it is up (it connected to us): retry it at once. */
  resetBackoff(peer: NodeName): void {
    const s = this.state(peer);
    s.retryAtMs = 0;
    s.failures = 0;
  }

  /** True when the pooled channel to `peer` has finished connecting and is still open. */
  isOpen(peer: NodeName): boolean {
    return this.state(peer).connected && this.channels.has(peer);
  }

  /** True when a channel to `peer` is open or being opened. */
  has(peer: NodeName): boolean {
    return this.channels.has(peer);
  }

  /** Records a failure: exponential backoff from 1 s up to 60 s. */
  markFailed(peer: NodeName, err: unknown): void {
    const s = this.state(peer);
    s.connected = false;
    s.failures++;
    s.lastError = err instanceof Error ? err.message : String(err);
    s.retryAtMs = this.clock.nowMs() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (s.failures - 1));
  }

  /** Milliseconds until the earliest retry of a failed peer, or undefined when none failed. */
  nextRetryInMs(): number | undefined {
    const times = [...this.states.values()].filter((s) => s.failures > 0).map((s) => s.retryAtMs - this.clock.nowMs());
    return times.length ? Math.max(0, Math.min(...times)) : undefined;
  }

  private scheduleHeartbeat(): void {
    // A heartbeat still in flight when close() ran must not arm another timer (it would keep a
    // stopped daemon's process alive).
    if (this.closed) return;
    this.cancelHeartbeat = this.clock.setTimer(() => {
      void this.heartbeat().finally(() => this.scheduleHeartbeat());
    }, HEARTBEAT_MS);
  }

  private async heartbeat(): Promise<void> {
    await Promise.all([...this.channels.entries()].map(async ([peer, p]) => {
      try {
        const ch = await p;
        await ch.ping?.();
        this.markOk(peer);
      } catch (err) {
        this.log.info({ peer, reason: err instanceof Error ? err.message : String(err) }, 'Peer link lost');
        this.drop(peer);
        this.markFailed(peer, err);
      }
    }));
  }

  /** Closes and forgets the channel to `peer`. */
  drop(peer: NodeName): void {
    const p = this.channels.get(peer);
    this.channels.delete(peer);
    void p?.then((ch) => ch.close(), () => undefined);
    this.state(peer).connected = false;
  }

  /** Closes every channel and stops heartbeats. */
  close(): void {
    this.closed = true;
    this.cancelHeartbeat?.();
    for (const peer of [...this.channels.keys()]) this.drop(peer);
  }
}

function released(ch: OfferChannel): OfferChannel {
  return { ...ch, close: () => undefined, offer: ch.offer.bind(ch) };
}

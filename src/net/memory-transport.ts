// An in-process Transport pair for unit and simulation tests (syncthing io.Pipe, mutagen net.Pipe).
// Frames go through the real codec (encodeFrame + FrameDecoder), optionally cut into tiny chunks.
import { CsyncError } from '../core/errors.ts';
import { encodeFrame, FrameDecoder, PRE_AUTH_MAX_FRAME_BYTES } from '../protocol/frame.ts';
import { MAX_FRAME_BYTES } from '../protocol/messages.ts';
import type { Transport } from './transport.ts';

/** Options of memoryTransportPair(). */
export interface MemoryTransportOptions {
  /** Cut each encoded frame into chunks of this many bytes (default: one chunk per frame). */
  readonly chunkBytes?: number;
  /** Shared keying material (default: 32 random bytes, distinct for every pair). */
  readonly keyingMaterial?: Uint8Array;
  /** What each end reports as peerFingerprint(): [seen by a, seen by b]. Default undefined. */
  readonly fingerprints?: readonly [string | undefined, string | undefined];
  /**
   * Receiver-side frame limit once the peer authenticated (default MAX_FRAME_BYTES), for
   * oversized-frame tests; before, the smaller of it and PRE_AUTH_MAX_FRAME_BYTES applies.
   */
  readonly maxFrameBytes?: number;
}

/**
 * Two linked Transports: what one sends, the other's frames() yields, in order. close() on either end
 * ends the local iteration at once, lets the other end drain what was already sent, then ends it, and
 * makes every later send() on both ends reject with CSYNC_PEER_UNREACHABLE. send() resolves at once
 * (unbounded buffer; no backpressure is simulated).
 */
export function memoryTransportPair(opts: MemoryTransportOptions = {}): [Transport, Transport] {
  const material = opts.keyingMaterial ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  const a = new MemoryTransportEnd('memory:b', opts.fingerprints?.[0], material, opts);
  const b = new MemoryTransportEnd('memory:a', opts.fingerprints?.[1], material, opts);
  a.link(b);
  b.link(a);
  return [a, b];
}

/** One end of a memory pair. Exported only through memoryTransportPair(). */
class MemoryTransportEnd implements Transport {
  private other: MemoryTransportEnd | undefined;
  private inbox: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private localClosed = false;
  private remoteEnded = false;
  private iterated = false;
  private authenticated = false;

  readonly remoteLabel: string;
  private readonly fingerprint: string | undefined;
  private readonly material: Uint8Array;
  private readonly opts: MemoryTransportOptions;

  constructor(remoteLabel: string, fingerprint: string | undefined, material: Uint8Array, opts: MemoryTransportOptions) {
    this.remoteLabel = remoteLabel;
    this.fingerprint = fingerprint;
    this.material = material;
    this.opts = opts;
  }

  link(other: MemoryTransportEnd): void {
    this.other = other;
  }

  send(frame: Uint8Array): Promise<void> {
    const other = this.other;
    if (!other || this.localClosed || other.localClosed) {
      return Promise.reject(new CsyncError('CSYNC_PEER_UNREACHABLE', `transport ${this.remoteLabel}: closed`));
    }
    const wire = encodeFrame(frame);
    const step = this.opts.chunkBytes ?? wire.length;
    for (let at = 0; at < wire.length; at += step) other.deliver(wire.slice(at, at + step));
    return Promise.resolve();
  }

  async *frames(): AsyncIterable<Uint8Array> {
    if (this.iterated) throw new Error('bug: Transport.frames() iterated twice');
    this.iterated = true;
    const fullLimit = this.opts.maxFrameBytes ?? MAX_FRAME_BYTES;
    const decoder = new FrameDecoder({ maxFrameBytes: Math.min(fullLimit, PRE_AUTH_MAX_FRAME_BYTES) });
    for (;;) {
      if (this.localClosed) return;
      if (this.authenticated) decoder.setFrameLimit(fullLimit);
      const chunk = this.inbox.shift();
      if (chunk !== undefined) {
        decoder.push(chunk);
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) yield f;
      } else if (this.remoteEnded) {
        decoder.finish();
        return;
      } else {
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    }
  }

  keyingMaterial(): Uint8Array {
    return this.material;
  }

  peerAuthenticated(): void {
    this.authenticated = true;
  }

  peerFingerprint(): string | undefined {
    return this.fingerprint;
  }

  close(): void {
    if (this.localClosed) return;
    this.localClosed = true;
    this.inbox = [];
    this.notify();
    this.other?.endFromRemote();
  }

  private deliver(chunk: Uint8Array): void {
    this.inbox.push(chunk);
    this.notify();
  }

  private endFromRemote(): void {
    this.remoteEnded = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

// Framing of the byte stream: u32 big-endian body length, then the body. Pure (Uint8Array only).
// Owns the incremental decoder that rejects oversized frames before buffering them; knows nothing of messages.
import { CsyncError } from '../core/errors.ts';
import { MAX_FRAME_BYTES } from './messages.ts';

/** Bytes in the length prefix of every frame. */
export const FRAME_HEADER_BYTES = 4;

/**
 * Largest body accepted before the peer has proven a group key (hello, auth, auth-result). 16 KiB
 * holds a hello naming 256 groups of up to 60 characters; a peer without the key cannot make the
 * receiver buffer more than this per connection (protocol/README.md §6).
 */
export const PRE_AUTH_MAX_FRAME_BYTES = 16 * 1024;

/**
 * Prefixes `body` with its length as a u32 big-endian. Returns a new array (4 + body.length bytes).
 * Throws `Error('bug: …')` when the body exceeds MAX_FRAME_BYTES: the peer would reject it, so the
 * caller built a message it must have split (a bug here, not a peer problem).
 */
export function encodeFrame(body: Uint8Array): Uint8Array {
  if (body.length > MAX_FRAME_BYTES) {
    throw new Error(`bug: frame of ${body.length} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/** Options of FrameDecoder. */
export interface FrameDecoderOptions {
  /** Largest body accepted, in bytes; defaults to MAX_FRAME_BYTES. */
  readonly maxFrameBytes?: number;
}

/**
 * Reassembles frames from arbitrarily chunked input (vscode-jsonrpc MessageBuffer style).
 * `push()` each chunk as it arrives, then call `next()` until it returns undefined.
 *
 * - A declared length over the limit throws CsyncError('CSYNC_PROTO_INVALID_FRAME') as soon as the
 *   4-byte header is seen, before any of that body is buffered; the decoder then stays failed and
 *   every later call rethrows the same error (the stream cannot be resynchronised).
 * - Chunks are kept by reference until consumed (do not modify a pushed chunk); each body byte is
 *   copied exactly once into the returned frame, so total work is linear in the input.
 */
export class FrameDecoder {
  private maxFrameBytes: number;
  private chunks: Uint8Array[] = [];
  /** Index of the first unconsumed chunk in `chunks`. */
  private head = 0;
  /** Offset of the first unconsumed byte in `chunks[head]`. */
  private offset = 0;
  private buffered = 0;
  /** Length of the frame whose header was read and whose body is awaited. */
  private bodyLength: number | undefined;
  private failure: CsyncError | undefined;

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? MAX_FRAME_BYTES;
  }

  /** The largest body currently accepted, in bytes. */
  get frameLimit(): number {
    return this.maxFrameBytes;
  }

  /**
   * Changes the largest body accepted for every header parsed from now on (e.g. raised from
   * PRE_AUTH_MAX_FRAME_BYTES to MAX_FRAME_BYTES once the peer authenticated). A header already
   * parsed keeps the verdict it got; a decoder that failed stays failed.
   */
  setFrameLimit(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned as frames (header bytes already parsed are not counted). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Appends one chunk. Throws CSYNC_PROTO_INVALID_FRAME if it completes an oversized header. */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.readHeader();
  }

  /** The next complete frame body, or undefined when more input is needed. Throws as push() does. */
  next(): Uint8Array | undefined {
    if (this.failure) throw this.failure;
    this.readHeader();
    if (this.bodyLength === undefined || this.buffered < this.bodyLength) return undefined;
    const body = this.take(this.bodyLength);
    this.bodyLength = undefined;
    return body;
  }

  /**
   * Declares the end of the stream. Throws CSYNC_PROTO_INVALID_FRAME when it ended inside a frame
   * (a truncated header or body); returns normally when every byte was consumed.
   */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.bodyLength === undefined && this.buffered === 0) return;
    const pending = this.bodyLength === undefined ? `${this.buffered} header bytes` : `${this.buffered} of ${this.bodyLength} bytes`;
    throw new CsyncError('CSYNC_PROTO_INVALID_FRAME', `stream ended inside a frame (${pending} received)`, {
      hint: 'the peer closed the connection mid-frame; it will be retried',
    });
  }

  /** Parses the next header when none is pending and 4 bytes are available; enforces the limit. */
  private readHeader(): void {
    if (this.bodyLength !== undefined || this.buffered < FRAME_HEADER_BYTES) return;
    const header = this.take(FRAME_HEADER_BYTES);
    const length = new DataView(header.buffer).getUint32(0, false);
    if (length > this.maxFrameBytes) {
      this.failure = new CsyncError(
        'CSYNC_PROTO_INVALID_FRAME',
        `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
        { hint: 'the peer is misbehaving or runs an incompatible csync version; the connection was closed' },
      );
      throw this.failure;
    }
    this.bodyLength = length;
  }

  /** Removes and returns the first `n` buffered bytes (caller checked that they are there). */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head];
      if (chunk === undefined) throw new Error('bug: FrameDecoder.take past the buffered bytes');
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.offset += count;
      if (this.offset === chunk.length) this.dropHeadChunk();
    }
    this.buffered -= n;
    return out;
  }

  /** Advances past a fully consumed chunk; compacts the array now and then (amortised O(1)). */
  private dropHeadChunk(): void {
    this.head += 1;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

// Tests of the frame codec: exact error messages, partial reads, several frames per chunk.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsyncError } from '../../../src/core/errors.ts';
import { encodeFrame, FrameDecoder, PRE_AUTH_MAX_FRAME_BYTES } from '../../../src/protocol/frame.ts';
import { MAX_FRAME_BYTES } from '../../../src/protocol/messages.ts';

const BODY_A = new Uint8Array([1, 2, 3]);
const BODY_B = new Uint8Array([]);
const BODY_C = new Uint8Array(1000).map((_, i) => i % 251);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function header(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length, false);
  return h;
}

function drain(decoder: FrameDecoder): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
  return out;
}

describe('encodeFrame', () => {
  it('prefixes the body with its length as a big-endian u32', () => {
    assert.deepEqual(encodeFrame(BODY_A), new Uint8Array([0, 0, 0, 3, 1, 2, 3]));
    assert.deepEqual(encodeFrame(new Uint8Array(258)).subarray(0, 4), new Uint8Array([0, 0, 1, 2]));
  });

  it('refuses a body over MAX_FRAME_BYTES as a bug, not as a peer error', () => {
    assert.throws(
      () => encodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1)),
      (err: unknown) => err instanceof Error && !(err instanceof CsyncError) && err.message.startsWith('bug: frame of'),
    );
  });
});

describe('FrameDecoder', () => {
  it('returns several frames that arrive in one chunk, in order', () => {
    const d = new FrameDecoder();
    d.push(concat(encodeFrame(BODY_A), encodeFrame(BODY_B), encodeFrame(BODY_C)));
    assert.deepEqual(drain(d), [BODY_A, BODY_B, BODY_C]);
    assert.equal(d.bufferedBytes, 0);
  });

  it('reads partial input one byte at a time', () => {
    const wire = concat(encodeFrame(BODY_C), encodeFrame(BODY_A));
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) {
      d.push(wire.subarray(i, i + 1));
      got.push(...drain(d));
      if (i < 4 + BODY_C.length - 1) assert.equal(got.length, 0, `no frame before byte ${i} completes it`);
    }
    assert.deepEqual(got, [BODY_C, BODY_A]);
  });

  it('returns undefined until the body is complete, then the frame', () => {
    const d = new FrameDecoder();
    d.push(header(3));
    d.push(new Uint8Array([9, 9]));
    assert.equal(d.next(), undefined);
    d.push(new Uint8Array([9]));
    assert.deepEqual(d.next(), new Uint8Array([9, 9, 9]));
    assert.equal(d.next(), undefined);
  });

  it('returns copies that do not alias the pushed chunks', () => {
    const wire = encodeFrame(BODY_A);
    const d = new FrameDecoder();
    d.push(wire);
    const frame = d.next();
    wire.fill(0);
    assert.deepEqual(frame, BODY_A);
  });

  it('rejects a frame over MAX_FRAME_BYTES as soon as its header arrives, before buffering its body', () => {
    const d = new FrameDecoder();
    assert.throws(
      () => d.push(header(MAX_FRAME_BYTES + 1)),
      (err: unknown) =>
        err instanceof CsyncError &&
        err.code === 'CSYNC_PROTO_INVALID_FRAME' &&
        err.message === `frame of ${MAX_FRAME_BYTES + 1} bytes exceeds the limit of ${MAX_FRAME_BYTES}`,
    );
    assert.equal(d.bufferedBytes, 0);
  });

  it('stays failed after an oversized header: every later call rethrows', () => {
    const d = new FrameDecoder({ maxFrameBytes: 10 });
    assert.throws(() => d.push(concat(header(11), new Uint8Array(11))), { message: 'frame of 11 bytes exceeds the limit of 10' });
    assert.throws(() => d.next(), { code: 'CSYNC_PROTO_INVALID_FRAME' });
    assert.throws(() => d.push(encodeFrame(BODY_A)), { code: 'CSYNC_PROTO_INVALID_FRAME' });
  });

  it('accepts a frame of exactly the limit', () => {
    const d = new FrameDecoder({ maxFrameBytes: 3 });
    d.push(encodeFrame(BODY_A));
    assert.deepEqual(d.next(), BODY_A);
  });

  it('returns a good frame that precedes an oversized header, then throws', () => {
    const d = new FrameDecoder({ maxFrameBytes: 10 });
    d.push(concat(encodeFrame(BODY_A), header(0xffffffff)));
    assert.deepEqual(d.next(), BODY_A);
    assert.throws(() => d.next(), { message: 'frame of 4294967295 bytes exceeds the limit of 10' });
  });

  it('applies a raised limit to the next header, not to one already refused', () => {
    const d = new FrameDecoder({ maxFrameBytes: PRE_AUTH_MAX_FRAME_BYTES });
    assert.equal(d.frameLimit, PRE_AUTH_MAX_FRAME_BYTES);
    d.push(encodeFrame(BODY_A));
    assert.deepEqual(d.next(), BODY_A);
    d.setFrameLimit(MAX_FRAME_BYTES);
    const big = new Uint8Array(64 * 1024);
    d.push(encodeFrame(big));
    assert.deepEqual(d.next(), big);
    const small = new FrameDecoder({ maxFrameBytes: PRE_AUTH_MAX_FRAME_BYTES });
    assert.throws(() => small.push(encodeFrame(big)), { message: `frame of 65536 bytes exceeds the limit of ${PRE_AUTH_MAX_FRAME_BYTES}` });
    small.setFrameLimit(MAX_FRAME_BYTES);
    assert.throws(() => small.next(), { code: 'CSYNC_PROTO_INVALID_FRAME' });
  });

  it('finish() throws when the stream ended inside a frame', () => {
    const d = new FrameDecoder();
    d.push(concat(header(5), new Uint8Array(2)));
    assert.equal(d.next(), undefined);
    assert.throws(() => d.finish(), { code: 'CSYNC_PROTO_INVALID_FRAME', message: 'stream ended inside a frame (2 of 5 bytes received)' });
    const e = new FrameDecoder();
    e.push(new Uint8Array([0, 0]));
    assert.throws(() => e.finish(), { message: 'stream ended inside a frame (2 header bytes received)' });
  });

  it('finish() returns normally when every byte was consumed', () => {
    const d = new FrameDecoder();
    d.push(encodeFrame(BODY_A));
    drain(d);
    assert.doesNotThrow(() => d.finish());
  });

  it('handles many small chunks without keeping consumed ones', () => {
    const d = new FrameDecoder();
    const wire = encodeFrame(new Uint8Array(5000).fill(7));
    for (let i = 0; i < wire.length; i += 3) d.push(wire.subarray(i, i + 3));
    const frame = d.next();
    assert.equal(frame?.length, 5000);
    assert.ok(frame?.every((b) => b === 7));
    assert.equal(d.bufferedBytes, 0);
  });
});

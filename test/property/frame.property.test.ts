// Properties of the wire codec: any chunking of encoded frames decodes to the same messages, and
// decoding arbitrary bytes or validating arbitrary values throws nothing but CsyncError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CsyncError } from '../../src/core/errors.ts';
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.ts';
import { decodeMessage, encodeMessage, validateMessage, type Message, type WireState } from '../../src/protocol/messages.ts';
import { MAX_VERSION_COUNTER } from '../../src/core/version.ts';

const NUM_RUNS = 200;

const nameArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,15}$/);
const idArb = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const pathArb = fc.string({ maxLength: 40 });
const bytesArb = fc.uint8Array({ maxLength: 300 });
const wireStateArb: fc.Arbitrary<WireState> = fc.record(
  {
    kind: fc.constantFrom('file', 'dir', 'symlink', 'deleted'),
    size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    mtimeNs: fc.bigInt({ min: -(10n ** 18n), max: 10n ** 19n }).map((n) => n.toString()),
    mode: fc.nat({ max: 0o7777 }),
    uid: fc.nat({ max: 0xffffffff }),
    gid: fc.nat({ max: 0xffffffff }),
    target: pathArb,
    hash: fc.stringMatching(/^[0-9a-f]{16}$/),
    version: fc.dictionary(nameArb, fc.integer({ min: 1, max: MAX_VERSION_COUNTER }), { maxKeys: 4 }).map((v) =>
      Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    ),
    origin: nameArb,
    changedAtMs: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  },
  { requiredKeys: ['kind', 'size', 'mtimeNs', 'mode', 'uid', 'gid', 'version', 'origin', 'changedAtMs'] },
);

const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), protocol: fc.integer({ min: 1, max: 5 }), node: nameArb, groups: fc.array(nameArb, { maxLength: 4 }) }),
  fc.record({ type: fc.constant('auth' as const), group: nameArb, mac: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  fc.record({ type: fc.constant('auth-result' as const), accepted: fc.array(nameArb, { maxLength: 3 }), rejected: fc.array(nameArb, { maxLength: 3 }) }),
  fc.record(
    { type: fc.constant('offer' as const), id: idArb, group: nameArb, root: pathArb, rel: pathArb, state: wireStateArb, force: fc.boolean(), content: bytesArb },
    { requiredKeys: ['type', 'id', 'group', 'root', 'rel', 'state', 'force'] },
  ),
  fc.record(
    { type: fc.constant('offer-reply' as const), id: idArb, result: fc.constantFrom('applied', 'have', 'merged', 'need', 'conflict', 'rejected'), state: wireStateArb, reason: fc.string({ maxLength: 50 }) },
    { requiredKeys: ['type', 'id', 'result'] },
  ),
  fc.record({ type: fc.constant('data' as const), id: idArb, offset: idArb, last: fc.boolean(), bytes: bytesArb }),
  fc.record({ type: fc.constant('list' as const), id: idArb, group: nameArb, root: pathArb, rel: pathArb }),
  fc.record({ type: fc.constant('list-reply' as const), id: idArb, entries: fc.array(fc.record({ rel: pathArb, state: wireStateArb }), { maxLength: 3 }), done: fc.boolean() }),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), id: idArb }),
  fc.record({ type: fc.constant('error' as const), id: idArb, code: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/), message: fc.string({ maxLength: 50 }) }, { requiredKeys: ['type', 'code', 'message'] }),
  fc.constant({ type: 'bye' as const }),
);

/** A deep copy with ordinary prototypes (fast-check builds records with a null prototype). */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** Cuts `wire` at the given (sorted, deduplicated) offsets. */
function cut(wire: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (wire.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, wire.length]) {
    chunks.push(wire.subarray(from, p));
    from = p;
  }
  return chunks;
}

function onlyCsyncErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CsyncError, `threw a non-CsyncError: ${String(err)}`);
  }
}

describe('wire codec properties', () => {
  it('FrameDecoder over any chunking of encoded messages yields the same messages', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, offsets) => {
        const frames = messages.map((m) => encodeFrame(encodeMessage(m)));
        const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
        frames.reduce((at, f) => (wire.set(f, at), at + f.length), 0);
        const decoder = new FrameDecoder();
        const got: Message[] = [];
        for (const chunk of cut(wire, offsets)) {
          decoder.push(chunk);
          for (let f = decoder.next(); f !== undefined; f = decoder.next()) got.push(decodeMessage(f));
        }
        decoder.finish();
        assert.deepEqual(got, plain(messages));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('decodeMessage of arbitrary bytes throws only CsyncError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyCsyncErrors(() => decodeMessage(bytes))),
      { numRuns: NUM_RUNS },
    );
  });

  it('decodeMessage of a valid message with corrupted bytes throws only CsyncError', () => {
    fc.assert(
      fc.property(messageArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (m, flips) => {
        const body = encodeMessage(m);
        for (const [at, value] of flips) body[at % body.length] = value;
        onlyCsyncErrors(() => decodeMessage(body));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('validateMessage of arbitrary values, typed or not, throws only CsyncError', () => {
    const typed = fc.record({ type: fc.constantFrom('hello', 'offer', 'offer-reply', 'list-reply', 'data', 'error', 'auth') }).chain((t) =>
      fc.dictionary(fc.constantFrom('id', 'state', 'entries', 'groups', 'mac', 'bytes', 'code', 'rel', 'node', 'protocol'), fc.anything()).map((d) => ({ ...d, ...t })),
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), typed), (raw) => onlyCsyncErrors(() => validateMessage(raw))),
      { numRuns: NUM_RUNS },
    );
  });

  it('FrameDecoder over arbitrary bytes and chunking throws only CsyncError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), (wire, offsets) => {
        const decoder = new FrameDecoder({ maxFrameBytes: 100 });
        onlyCsyncErrors(() => {
          for (const chunk of cut(wire, offsets)) {
            decoder.push(chunk);
            for (let f = decoder.next(); f !== undefined; f = decoder.next()) onlyCsyncErrors(() => decodeMessage(f));
          }
          decoder.finish();
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// Tests of the message codec and validateMessage(): every type round-trips, every bad field is refused
// with CSYNC_PROTO_INVALID_MESSAGE (never another error type).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsyncError } from '../../../src/core/errors.ts';
import type { FileState, LogicalPath } from '../../../src/core/types.ts';
import {
  decodeMessage,
  encodeMessage,
  fromWireState,
  MAX_CHUNK_BYTES,
  MAX_LIST_ENTRIES,
  toWireState,
  validateMessage,
  type Message,
  type WireState,
} from '../../../src/protocol/messages.ts';

const FILE_STATE: WireState = {
  kind: 'file',
  size: 12,
  mtimeNs: '1700000000123456789',
  mode: 0o644,
  uid: 1000,
  gid: 1000,
  hash: '0123456789abcdef',
  version: { web1: 3, web2: 1 },
  origin: 'web1',
  changedAtMs: 1_700_000_000_123,
};
const LINK_STATE: WireState = { kind: 'symlink', size: 0, mtimeNs: '-5', mode: 0o777, uid: 0, gid: 0, target: '../x', version: { a: 1 }, origin: 'a', changedAtMs: 0 };
const MAC = new Uint8Array(32).fill(0xab);

/** One fixture per message type (and per optional-field variant). */
const MESSAGES: readonly { description: string; message: Message }[] = [
  { description: 'hello', message: { type: 'hello', protocol: 1, node: 'web1', groups: ['web', 'etc-nginx'] } },
  { description: 'auth', message: { type: 'auth', group: 'web', mac: MAC } },
  { description: 'auth-result', message: { type: 'auth-result', accepted: ['web'], rejected: ['db'] } },
  { description: 'offer without content', message: { type: 'offer', id: 7, group: 'web', root: '%www%/htdocs', rel: 'a/b.txt', state: FILE_STATE, force: false } },
  { description: 'offer with content', message: { type: 'offer', id: 8, group: 'web', root: '/etc', rel: 'x', state: FILE_STATE, force: true, content: new Uint8Array([0, 255, 10, 13]) } },
  { description: 'offer with empty content', message: { type: 'offer', id: 9, group: 'web', root: '/etc', rel: 'x', state: FILE_STATE, force: false, content: new Uint8Array(0) } },
  { description: 'offer-reply minimal', message: { type: 'offer-reply', id: 7, result: 'need' } },
  { description: 'offer-reply full', message: { type: 'offer-reply', id: 7, result: 'rejected', state: LINK_STATE, reason: 'path is excluded' } },
  { description: 'data', message: { type: 'data', id: 7, offset: 1024, last: true, bytes: new Uint8Array([1, 2, 3]) } },
  { description: 'list', message: { type: 'list', id: 1, group: 'web', root: '/etc', rel: '' } },
  { description: 'list-reply', message: { type: 'list-reply', id: 1, entries: [{ rel: 'a', state: FILE_STATE }, { rel: 'b', state: LINK_STATE }], done: true } },
  { description: 'ping', message: { type: 'ping', id: 0 } },
  { description: 'pong', message: { type: 'pong', id: 0 } },
  { description: 'error with id', message: { type: 'error', id: 3, code: 'CSYNC_IO', message: 'disk full' } },
  { description: 'error without id', message: { type: 'error', code: 'CSYNC_AUTH_FAILED', message: 'no' } },
  { description: 'bye', message: { type: 'bye' } },
];

function assertInvalid(fn: () => unknown, description: string): void {
  assert.throws(fn, (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_PROTO_INVALID_MESSAGE', description);
}

describe('encodeMessage / decodeMessage', () => {
  for (const { description, message } of MESSAGES) {
    it(`round-trips ${description}`, () => {
      assert.deepEqual(decodeMessage(encodeMessage(message)), message);
    });
  }

  it('carries binary fields as raw bytes after the JSON header, not base64', () => {
    const body = encodeMessage({ type: 'data', id: 1, offset: 0, last: true, bytes: new Uint8Array(1000).fill(0x5a) });
    const jsonLength = new DataView(body.buffer).getUint32(0, false);
    assert.equal(body.length, 4 + jsonLength + 1000);
    const header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + jsonLength))) as Record<string, unknown>;
    assert.equal(header['bytes'], null);
  });

  const header = (json: string, extra: Uint8Array = new Uint8Array(0)): Uint8Array => {
    const j = new TextEncoder().encode(json);
    const out = new Uint8Array(4 + j.length + extra.length);
    new DataView(out.buffer).setUint32(0, j.length, false);
    out.set(j, 4);
    out.set(extra, 4 + j.length);
    return out;
  };
  const BAD_BODIES: readonly { description: string; body: Uint8Array }[] = [
    { description: 'an empty body', body: new Uint8Array(0) },
    { description: 'a body shorter than its length field', body: new Uint8Array([0, 0]) },
    { description: 'a header length beyond the body', body: new Uint8Array([0, 0, 0, 9, 123]) },
    { description: 'invalid UTF-8', body: header('"\xff"').map((b, i) => (i === 5 ? 0xff : b)) },
    { description: 'a header that is not JSON', body: header('{type:') },
    { description: 'a JSON array', body: header('[1,2]') },
    { description: 'JSON null', body: header('null') },
    { description: 'binary bytes after a ping', body: header('{"type":"ping","id":1}', new Uint8Array([1])) },
    { description: 'binary bytes after an offer that does not mark content', body: header('{"type":"offer","id":1,"group":"g","root":"/","rel":"a","state":' + JSON.stringify(FILE_STATE) + ',"force":false}', new Uint8Array([1])) },
    { description: 'an auth whose mac is not marked', body: header('{"type":"auth","group":"g"}', MAC) },
    { description: 'an auth mac of the wrong length', body: header('{"type":"auth","group":"g","mac":null}', new Uint8Array(31)) },
    { description: 'a __proto__ key', body: header('{"type":"ping","id":1,"__proto__":{"x":1}}') },
  ];
  for (const { description, body } of BAD_BODIES) {
    it(`rejects ${description}`, () => assertInvalid(() => decodeMessage(body), description));
  }
});

const OFFER = MESSAGES[3]!.message as Extract<Message, { type: 'offer' }>;
const withState = (patch: Record<string, unknown>): unknown => ({ ...OFFER, state: { ...FILE_STATE, ...patch } });

/** Each row breaks one field of an otherwise valid message. */
const BAD_FIELDS: readonly { description: string; raw: unknown }[] = [
  { description: 'a non-object', raw: 'hello' },
  { description: 'a missing type', raw: { id: 1 } },
  { description: 'an unknown type', raw: { type: 'shutdown' } },
  { description: 'an unknown field', raw: { type: 'ping', id: 1, extra: true } },
  { description: 'a negative id', raw: { type: 'ping', id: -1 } },
  { description: 'a fractional id', raw: { type: 'ping', id: 1.5 } },
  { description: 'an unsafe id', raw: { type: 'ping', id: 2 ** 53 } },
  { description: 'a string id', raw: { type: 'ping', id: '1' } },
  { description: 'protocol 0', raw: { type: 'hello', protocol: 0, node: 'a', groups: [] } },
  { description: 'an upper-case node name', raw: { type: 'hello', protocol: 1, node: 'Web1', groups: [] } },
  { description: 'a node name starting with a dot', raw: { type: 'hello', protocol: 1, node: '.a', groups: [] } },
  { description: 'a node name of 129 characters', raw: { type: 'hello', protocol: 1, node: 'a'.repeat(129), groups: [] } },
  { description: 'groups not an array', raw: { type: 'hello', protocol: 1, node: 'a', groups: 'web' } },
  { description: 'a group name with a slash', raw: { type: 'hello', protocol: 1, node: 'a', groups: ['w/b'] } },
  { description: 'too many groups', raw: { type: 'hello', protocol: 1, node: 'a', groups: Array.from({ length: 257 }, (_, i) => `g${i}`) } },
  { description: 'a mac that is an array', raw: { type: 'auth', group: 'g', mac: [...MAC] } },
  { description: 'a rel path over 4096 characters', raw: { ...OFFER, rel: 'a'.repeat(4097) } },
  { description: 'a root that is a number', raw: { ...OFFER, root: 1 } },
  { description: 'force as a string', raw: { ...OFFER, force: 'yes' } },
  { description: 'content over MAX_CHUNK_BYTES', raw: { ...OFFER, content: new Uint8Array(MAX_CHUNK_BYTES + 1) } },
  { description: 'content as a string', raw: { ...OFFER, content: 'abc' } },
  { description: 'a missing state', raw: { ...OFFER, state: undefined } },
  { description: 'an unknown kind', raw: withState({ kind: 'fifo' }) },
  { description: 'a negative size', raw: withState({ size: -1 }) },
  { description: 'mtimeNs as a number', raw: withState({ mtimeNs: 5 }) },
  { description: 'mtimeNs with a fraction', raw: withState({ mtimeNs: '1.5' }) },
  { description: 'mtimeNs with a leading zero', raw: withState({ mtimeNs: '01' }) },
  { description: 'a mode above 0o7777', raw: withState({ mode: 0o10000 }) },
  { description: 'a uid above 2^32-1', raw: withState({ uid: 2 ** 32 }) },
  { description: 'an upper-case hash', raw: withState({ hash: '0123456789ABCDEF' }) },
  { description: 'a 15-digit hash', raw: withState({ hash: '0123456789abcde' }) },
  { description: 'a zero version counter', raw: withState({ version: { a: 0 } }) },
  { description: 'a version with a bad node name', raw: withState({ version: { 'A B': 1 } }) },
  { description: 'a version that is an array', raw: withState({ version: [1] }) },
  { description: 'an unknown state field', raw: withState({ inode: 5 }) },
  { description: 'an unknown offer result', raw: { type: 'offer-reply', id: 1, result: 'maybe' } },
  { description: 'a reason over 1024 characters', raw: { type: 'offer-reply', id: 1, result: 'rejected', reason: 'x'.repeat(1025) } },
  { description: 'data without bytes', raw: { type: 'data', id: 1, offset: 0, last: true } },
  { description: 'a negative data offset', raw: { type: 'data', id: 1, offset: -1, last: true, bytes: new Uint8Array(0) } },
  { description: 'too many list entries', raw: { type: 'list-reply', id: 1, done: true, entries: Array.from({ length: MAX_LIST_ENTRIES + 1 }, () => ({ rel: 'a', state: FILE_STATE })) } },
  { description: 'a list entry without state', raw: { type: 'list-reply', id: 1, done: true, entries: [{ rel: 'a' }] } },
  { description: 'a lower-case error code', raw: { type: 'error', code: 'oops', message: 'x' } },
  { description: 'binary on a message that carries none', raw: { type: 'bye', bytes: new Uint8Array(1) } },
  { description: 'a Proxy whose getters throw', raw: new Proxy({}, { get: () => { throw new TypeError('boom'); } }) },
];

describe('validateMessage', () => {
  for (const { description, raw } of BAD_FIELDS) {
    it(`rejects ${description} with CSYNC_PROTO_INVALID_MESSAGE`, () => assertInvalid(() => validateMessage(raw), description));
  }

  it('names the field without echoing the value', () => {
    const secret = 'S3CRET-VALUE';
    assert.throws(
      () => validateMessage({ type: 'hello', protocol: 1, node: secret, groups: [] }),
      (err: unknown) => err instanceof CsyncError && err.message.includes('"hello".node') && !err.message.includes(secret),
    );
  });

  it('returns a fresh object and sorts version counters', () => {
    const raw = { type: 'offer-reply', id: 1, result: 'have', state: { ...FILE_STATE, version: { z: 1, a: 2 } } };
    const m = validateMessage(raw);
    assert.notEqual(m, raw);
    assert.ok(m.type === 'offer-reply' && m.state !== undefined);
    assert.deepEqual(Object.keys(m.state.version), ['a', 'z']);
  });
});

describe('toWireState / fromWireState', () => {
  const STATE: FileState = {
    path: '/etc/a' as LogicalPath,
    meta: { kind: 'file', sizeBytes: 3, mtimeNs: 1_700_000_000_123_456_789n, mode: 0o600, uid: 1, gid: 2, hash: 'ffffffffffffffff' },
    version: { a: 1 },
    origin: 'a',
    changedAtMs: 99,
  };

  it('round-trips a FileState, keeping nanosecond precision beyond 2^53', () => {
    const wire = toWireState(STATE);
    assert.equal(wire.mtimeNs, '1700000000123456789');
    assert.deepEqual(fromWireState(STATE.path, wire), STATE);
  });

  it('produces a WireState that validateMessage accepts', () => {
    const m = validateMessage({ type: 'offer-reply', id: 1, result: 'have', state: toWireState(STATE) });
    assert.ok(m.type === 'offer-reply');
    assert.deepEqual(m.state, toWireState(STATE));
  });
});

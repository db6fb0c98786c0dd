// Wire messages: the discriminated union every peer exchange uses, its wire form, and validation.
// Pure (Uint8Array only). Every inbound frame passes validateMessage() in PeerLink before anything else.
import { CsyncError } from '../core/errors.ts';
import type { EntryKind, FileState, LogicalPath } from '../core/types.ts';
import { MAX_VERSION_COUNTER } from '../core/version.ts';

/** Bumped on any incompatible change to frames or messages (see protocol/README.md). */
export const PROTOCOL_VERSION = 1;

/** The wire form of a FileState: bigint as decimal string, version as an object. */
export interface WireState {
  readonly kind: EntryKind;
  readonly size: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  readonly mtimeNs: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly target?: string;
  readonly hash?: string;
  readonly version: Readonly<Record<string, number>>;
  readonly origin: string;
  readonly changedAtMs: number;
}

/** Outcome of an offer at the receiver. */
export type OfferResult =
  | 'applied' // written (content, metadata or deletion); `version` is the receiver's new version
  | 'have' // the receiver's version is equal or newer; nothing written
  | 'merged' // concurrent but identical: versions merged, nothing written
  | 'need' // send the content (data frames follow from the sender with the same id)
  | 'conflict' // concurrent and different; held (auto=none) or lost by the sender under a policy
  | 'superseded' // concurrent; the receiver's version won under the group's auto policy (state = resolved version)
  | 'rejected'; // refused (path unsafe, excluded, receive_only, safety rail, I/O error): see `reason`

/** All messages. `id` pairs a request with its reply within one link. */
export type Message =
  | { readonly type: 'hello'; readonly protocol: number; readonly node: string; readonly groups: readonly string[] }
  | { readonly type: 'auth'; readonly group: string; readonly mac: Uint8Array }
  | { readonly type: 'auth-result'; readonly accepted: readonly string[]; readonly rejected: readonly string[] }
  | {
      readonly type: 'offer';
      readonly id: number;
      readonly group: string;
      readonly root: string;
      readonly rel: string;
      readonly state: WireState;
      readonly force: boolean;
      /** Whole content inline (small files only); otherwise the receiver answers 'need'. */
      readonly content?: Uint8Array;
    }
  | {
      readonly type: 'offer-reply';
      readonly id: number;
      readonly result: OfferResult;
      /** The receiver's state after handling the offer (absent if it has none). */
      readonly state?: WireState;
      readonly reason?: string;
      /**
       * Only with result 'need', and always together with `blockHashes`: the receiver has an older
       * version of the file and asks for a block delta (protocol/README.md §3.1).
       */
      readonly blocks?: { readonly blockBytes: number; readonly count: number };
      /** xxh64 of each of the receiver's `blocks.count` blocks, BLOCK_HASH_BYTES big-endian bytes each. */
      readonly blockHashes?: Uint8Array;
    }
  | { readonly type: 'data'; readonly id: number; readonly offset: number; readonly last: boolean; readonly bytes: Uint8Array }
  | {
      readonly type: 'list';
      readonly id: number;
      readonly group: string;
      readonly root: string;
      readonly rel: string;
      /** 0: the entry at `rel` only; 1 (default): the entry and its direct children. */
      readonly depth?: number;
    }
  | {
      readonly type: 'list-reply';
      readonly id: number;
      /** Each with the xxh64 digest of its content identity (a directory: of its whole subtree). */
      readonly entries: readonly { readonly rel: string; readonly state: WireState; readonly digest?: string }[];
      readonly done: boolean;
    }
  | { readonly type: 'ping'; readonly id: number }
  | { readonly type: 'pong'; readonly id: number }
  /** Asks for the answering node's summary (`csync status --cluster`), limited to the shared groups. */
  | { readonly type: 'status'; readonly id: number }
  /** The summary as JSON text (at most MAX_SUMMARY_LENGTH); the asking side validates it (daemon/cluster-status.ts). */
  | { readonly type: 'status-reply'; readonly id: number; readonly summary: string }
  | { readonly type: 'error'; readonly id?: number; readonly code: string; readonly message: string }
  | { readonly type: 'bye' };

/** Largest frame body accepted, in bytes (checked before buffering). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Largest content carried inline in an offer or in one data frame. */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** Smallest block size of a delta (`offer-reply.blocks.blockBytes`; a power of two). */
export const MIN_BLOCK_BYTES = 4 * 1024;
/** Largest block size of a delta: one block always fits one data frame. */
export const MAX_BLOCK_BYTES = MAX_CHUNK_BYTES;
/** Most blocks in one delta request: 2 MiB of hashes, half a frame (256 GiB at 1 MiB blocks). */
export const MAX_BLOCK_COUNT = 256 * 1024;
/** Bytes of one block hash (xxh64, big-endian). */
export const BLOCK_HASH_BYTES = 8;

/** Longest node or group name on the wire. */
export const MAX_NAME_LENGTH = 128;
/** Longest root, rel path or symlink target on the wire, in UTF-16 code units. */
export const MAX_PATH_LENGTH = 4096;
/** Longest free-text field (offer-reply reason, error message). */
export const MAX_TEXT_LENGTH = 1024;
/** Most entries in one list-reply; a longer listing is split over several replies (done=false). */
export const MAX_LIST_ENTRIES = 1000;
/** Longest summary text in a status-reply, in UTF-16 code units (a quarter of a frame). */
export const MAX_SUMMARY_LENGTH = 1024 * 1024;
/** Most groups in a hello or auth-result list. */
export const MAX_GROUPS = 256;
/** Most node counters in one version vector. */
export const MAX_VERSION_ENTRIES = 1024;
/** Bytes of an auth MAC (HMAC-SHA256). */
export const AUTH_MAC_BYTES = 32;

/** Message types that are requests (they carry a fresh id and expect a reply). */
export type RequestMessage = Extract<Message, { readonly type: 'offer' | 'list' | 'ping' | 'status' }>;
/** Message types that answer a request (same id as the request). */
export type ReplyMessage = Extract<Message, { readonly type: 'offer-reply' | 'list-reply' | 'pong' | 'status-reply' | 'error' }>;

const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const HASH_RE = /^[0-9a-f]{16}$/;
const MTIME_RE = /^-?(?:0|[1-9][0-9]{0,19})$/;

/** True when `mtimeNs` fits a WireState (at most 20 digits: up to year 5138). Senders check first. */
export function wireMtimeFits(mtimeNs: bigint): boolean {
  return MTIME_RE.test(mtimeNs.toString(10));
}
const CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
const ENTRY_KINDS: readonly string[] = ['file', 'dir', 'symlink', 'deleted'] satisfies readonly EntryKind[];
const OFFER_RESULTS: readonly string[] = ['applied', 'have', 'merged', 'need', 'conflict', 'superseded', 'rejected'] satisfies readonly OfferResult[];
const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true });

/** The field of each message type that travels as raw bytes after the JSON header. */
const BINARY_FIELD: Readonly<Partial<Record<string, string>>> = { auth: 'mac', offer: 'content', 'offer-reply': 'blockHashes', data: 'bytes' };

type Raw = Readonly<Record<string, unknown>>;

function invalid(what: string, cause?: unknown): CsyncError {
  return new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `invalid message: ${what}`, {
    cause,
    hint: 'the peer sent a malformed message; check that every node runs the same csync version',
  });
}

/**
 * Encodes a message as a frame body: u32 big-endian JSON length, the UTF-8 JSON header (the message
 * with its binary field, if any, replaced by `null`), then the binary field's raw bytes. Does not
 * validate: PeerLink only sends messages it built from validated data.
 */
export function encodeMessage(m: Message): Uint8Array {
  const field = BINARY_FIELD[m.type];
  const value = field === undefined ? undefined : (m as Raw)[field];
  const bin = value instanceof Uint8Array ? value : undefined;
  const header = bin !== undefined && field !== undefined ? { ...m, [field]: null } : m;
  const json = UTF8_ENCODER.encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + (bin?.length ?? 0));
  new DataView(out.buffer).setUint32(0, json.length, false);
  out.set(json, 4);
  if (bin !== undefined) out.set(bin, 4 + json.length);
  return out;
}

/**
 * Decodes and validates one frame body (see encodeMessage). The binary field of the result is a view
 * into `body` (no copy). Throws only CsyncError('CSYNC_PROTO_INVALID_MESSAGE'), whatever the bytes.
 */
export function decodeMessage(body: Uint8Array): Message {
  if (body.length < 4) throw invalid('body is shorter than its 4-byte header length');
  const jsonLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, false);
  if (jsonLength > body.length - 4) throw invalid('header length exceeds the body');
  let raw: unknown;
  try {
    raw = JSON.parse(UTF8_DECODER.decode(body.subarray(4, 4 + jsonLength)));
  } catch (cause) {
    throw invalid('header is not UTF-8 JSON', cause);
  }
  return validateMessage(attachBinary(raw, body.subarray(4 + jsonLength)));
}

/** Puts the trailing bytes into the binary field the header marks with `null`; refuses stray bytes. */
function attachBinary(raw: unknown, rest: Uint8Array): unknown {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const type: unknown = (raw as Raw)['type'];
    const field = typeof type === 'string' && Object.hasOwn(BINARY_FIELD, type) ? BINARY_FIELD[type] : undefined;
    if (field !== undefined && Object.hasOwn(raw, field) && (raw as Raw)[field] === null) {
      return { ...raw, [field]: rest };
    }
  }
  if (rest.length > 0) throw invalid('binary payload on a message that carries none');
  return raw;
}

/**
 * The single validation point for peer input (README.md §3 here): checks the type, that no unknown field is
 * present, and every field's type and bounds; returns a fresh Message built from the checked fields.
 * Paths are only length-checked here; the receiver still passes them through toRelPath().
 * Throws only CsyncError('CSYNC_PROTO_INVALID_MESSAGE'); messages name the field, never echo values.
 */
export function validateMessage(raw: unknown): Message {
  try {
    return validateAny(raw);
  } catch (err) {
    if (err instanceof CsyncError) throw err;
    // Exotic input (a Proxy or a throwing getter) must not escape as a TypeError: still bad input.
    throw invalid('unreadable value', err);
  }
}

const FIELDS: Readonly<Record<Message['type'], readonly string[]>> = {
  hello: ['protocol', 'node', 'groups'],
  auth: ['group', 'mac'],
  'auth-result': ['accepted', 'rejected'],
  offer: ['id', 'group', 'root', 'rel', 'state', 'force', 'content'],
  'offer-reply': ['id', 'result', 'state', 'reason', 'blocks', 'blockHashes'],
  data: ['id', 'offset', 'last', 'bytes'],
  list: ['id', 'group', 'root', 'rel', 'depth'],
  'list-reply': ['id', 'entries', 'done'],
  ping: ['id'],
  pong: ['id'],
  status: ['id'],
  'status-reply': ['id', 'summary'],
  error: ['id', 'code', 'message'],
  bye: [],
};

function validateAny(raw: unknown): Message {
  const typeValue = record(raw, 'message', undefined)['type'];
  if (typeof typeValue !== 'string' || !Object.hasOwn(FIELDS, typeValue)) throw invalid('unknown type');
  const type = typeValue as Message['type'];
  const m = record(raw, `"${type}"`, ['type', ...FIELDS[type]]);
  const at = (field: string): string => `"${type}".${field}`;
  const id = (): number => integer(m['id'], at('id'), 0, Number.MAX_SAFE_INTEGER);
  switch (type) {
    case 'hello':
      return { type, protocol: integer(m['protocol'], at('protocol'), 1, Number.MAX_SAFE_INTEGER), node: name(m['node'], at('node')), groups: names(m['groups'], at('groups')) };
    case 'auth':
      return { type, group: name(m['group'], at('group')), mac: bytes(m['mac'], at('mac'), AUTH_MAC_BYTES, AUTH_MAC_BYTES) };
    case 'auth-result':
      return { type, accepted: names(m['accepted'], at('accepted')), rejected: names(m['rejected'], at('rejected')) };
    case 'offer':
      return validateOffer(m, id());
    case 'offer-reply':
      return validateOfferReply(m, id());
    case 'data':
      return { type, id: id(), offset: integer(m['offset'], at('offset'), 0, Number.MAX_SAFE_INTEGER), last: bool(m['last'], at('last')), bytes: bytes(m['bytes'], at('bytes'), 0, MAX_CHUNK_BYTES) };
    case 'list': {
      const depth = m['depth'] === undefined ? {} : { depth: integer(m['depth'], at('depth'), 0, 1) };
      return { type, id: id(), group: name(m['group'], at('group')), root: text(m['root'], at('root'), MAX_PATH_LENGTH), rel: text(m['rel'], at('rel'), MAX_PATH_LENGTH), ...depth };
    }
    case 'list-reply':
      return validateListReply(m, id());
    case 'ping':
    case 'pong':
    case 'status':
      return { type, id: id() };
    case 'status-reply':
      return { type, id: id(), summary: text(m['summary'], at('summary'), MAX_SUMMARY_LENGTH) };
    case 'error':
      return validateError(m);
    case 'bye':
      return { type };
    default:
      return unreachable(type);
  }
}

function unreachable(x: never): never {
  throw new Error(`bug: unhandled message type ${String(x)}`);
}

function validateOffer(m: Raw, id: number): Message {
  const content = m['content'] === undefined ? {} : { content: bytes(m['content'], '"offer".content', 0, MAX_CHUNK_BYTES) };
  return {
    type: 'offer',
    id,
    group: name(m['group'], '"offer".group'),
    root: text(m['root'], '"offer".root', MAX_PATH_LENGTH),
    rel: text(m['rel'], '"offer".rel', MAX_PATH_LENGTH),
    state: validateWireState(m['state'], '"offer".state'),
    force: bool(m['force'], '"offer".force'),
    ...content,
  };
}

function validateOfferReply(m: Raw, id: number): Message {
  const result = m['result'];
  if (typeof result !== 'string' || !OFFER_RESULTS.includes(result)) throw invalid('"offer-reply".result is not a known result');
  return {
    type: 'offer-reply',
    id,
    result: result as OfferResult,
    ...(m['state'] === undefined ? {} : { state: validateWireState(m['state'], '"offer-reply".state') }),
    ...(m['reason'] === undefined ? {} : { reason: text(m['reason'], '"offer-reply".reason', MAX_TEXT_LENGTH) }),
    ...validateBlocks(m, result),
  };
}

/** `blocks` and `blockHashes` of an offer-reply: both or neither, only on 'need', hashes matching the count. */
function validateBlocks(m: Raw, result: string): { blocks?: { blockBytes: number; count: number }; blockHashes?: Uint8Array } {
  if (m['blocks'] === undefined && m['blockHashes'] === undefined) return {};
  if (m['blocks'] === undefined || m['blockHashes'] === undefined) throw invalid('"offer-reply".blocks and .blockHashes must come together');
  if (result !== 'need') throw invalid('"offer-reply".blocks is only allowed with result "need"');
  const b = record(m['blocks'], '"offer-reply".blocks', ['blockBytes', 'count']);
  const blockBytes = integer(b['blockBytes'], '"offer-reply".blocks.blockBytes', MIN_BLOCK_BYTES, MAX_BLOCK_BYTES);
  if ((blockBytes & (blockBytes - 1)) !== 0) throw invalid('"offer-reply".blocks.blockBytes must be a power of two');
  const count = integer(b['count'], '"offer-reply".blocks.count', 1, MAX_BLOCK_COUNT);
  const hashBytes = count * BLOCK_HASH_BYTES;
  return { blocks: { blockBytes, count }, blockHashes: bytes(m['blockHashes'], '"offer-reply".blockHashes', hashBytes, hashBytes) };
}

function validateListReply(m: Raw, id: number): Message {
  const raw = m['entries'];
  if (!Array.isArray(raw) || raw.length > MAX_LIST_ENTRIES) throw invalid(`"list-reply".entries must be an array of at most ${MAX_LIST_ENTRIES}`);
  const entries = raw.map((e: unknown, i) => {
    const entry = record(e, `"list-reply".entries[${i}]`, ['rel', 'state', 'digest']);
    const digest = entry['digest'];
    if (digest !== undefined && (typeof digest !== 'string' || !HASH_RE.test(digest))) throw invalid(`"list-reply".entries[${i}].digest is not 16 hex digits`);
    return {
      rel: text(entry['rel'], `"list-reply".entries[${i}].rel`, MAX_PATH_LENGTH),
      state: validateWireState(entry['state'], `"list-reply".entries[${i}].state`),
      ...(digest === undefined ? {} : { digest }),
    };
  });
  return { type: 'list-reply', id, entries, done: bool(m['done'], '"list-reply".done') };
}

function validateError(m: Raw): Message {
  const code = text(m['code'], '"error".code', 64);
  if (!CODE_RE.test(code)) throw invalid('"error".code is not an error code');
  const id = m['id'] === undefined ? {} : { id: integer(m['id'], '"error".id', 0, Number.MAX_SAFE_INTEGER) };
  return { type: 'error', ...id, code, message: text(m['message'], '"error".message', MAX_TEXT_LENGTH) };
}

const WIRE_STATE_FIELDS = ['kind', 'size', 'mtimeNs', 'mode', 'uid', 'gid', 'target', 'hash', 'version', 'origin', 'changedAtMs'];

function validateWireState(raw: unknown, where: string): WireState {
  const s = record(raw, where, WIRE_STATE_FIELDS);
  const kind = s['kind'];
  if (typeof kind !== 'string' || !ENTRY_KINDS.includes(kind)) throw invalid(`${where}.kind is not an entry kind`);
  const mtimeNs = text(s['mtimeNs'], `${where}.mtimeNs`, 21);
  if (!MTIME_RE.test(mtimeNs)) throw invalid(`${where}.mtimeNs is not a decimal integer`);
  const hash = s['hash'] === undefined ? {} : { hash: text(s['hash'], `${where}.hash`, 16) };
  if (hash.hash !== undefined && !HASH_RE.test(hash.hash)) throw invalid(`${where}.hash is not 16 lower-case hex digits`);
  return {
    kind: kind as EntryKind,
    size: integer(s['size'], `${where}.size`, 0, Number.MAX_SAFE_INTEGER),
    mtimeNs,
    mode: integer(s['mode'], `${where}.mode`, 0, 0o7777),
    uid: integer(s['uid'], `${where}.uid`, 0, 0xffffffff),
    gid: integer(s['gid'], `${where}.gid`, 0, 0xffffffff),
    ...(s['target'] === undefined ? {} : { target: text(s['target'], `${where}.target`, MAX_PATH_LENGTH) }),
    ...hash,
    version: validateVersion(s['version'], `${where}.version`),
    origin: name(s['origin'], `${where}.origin`),
    changedAtMs: integer(s['changedAtMs'], `${where}.changedAtMs`, 0, Number.MAX_SAFE_INTEGER),
  };
}

function validateVersion(raw: unknown, where: string): Record<string, number> {
  const v = record(raw, where, undefined);
  const nodes = Object.keys(v);
  if (nodes.length > MAX_VERSION_ENTRIES) throw invalid(`${where} has more than ${MAX_VERSION_ENTRIES} counters`);
  const out: Record<string, number> = {};
  for (const node of nodes.sort()) {
    out[name(node, `${where} key`)] = integer(v[node], `${where} counter`, 1, MAX_VERSION_COUNTER);
  }
  return out;
}

/** A plain object (not an array or byte array) whose keys are all in `allowed` (any keys if undefined). */
function record(raw: unknown, where: string, allowed: readonly string[] | undefined): Raw {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw invalid(`${where} is not an object`);
  }
  if (allowed !== undefined) {
    for (const key of Object.keys(raw)) if (!allowed.includes(key)) throw invalid(`${where} has an unexpected field`);
  }
  return raw as Raw;
}

function integer(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`${where} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function text(v: unknown, where: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length > maxLength) throw invalid(`${where} must be a string of at most ${maxLength} characters`);
  return v;
}

function name(v: unknown, where: string): string {
  const s = text(v, where, MAX_NAME_LENGTH);
  if (!NAME_RE.test(s)) throw invalid(`${where} is not a valid name`);
  return s;
}

function names(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_GROUPS) throw invalid(`${where} must be an array of at most ${MAX_GROUPS} names`);
  return v.map((x: unknown) => name(x, `${where}[]`));
}

function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw invalid(`${where} must be a boolean`);
  return v;
}

function bytes(v: unknown, where: string, minLength: number, maxLength: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length < minLength || v.length > maxLength) {
    throw invalid(`${where} must be ${minLength}..${maxLength} bytes`);
  }
  return v;
}

/** The wire form of a FileState (the path travels separately as root + rel). */
export function toWireState(state: FileState): WireState {
  const m = state.meta;
  return {
    kind: m.kind,
    size: m.sizeBytes,
    mtimeNs: m.mtimeNs.toString(10),
    mode: m.mode,
    uid: m.uid,
    gid: m.gid,
    ...(m.target === undefined ? {} : { target: m.target }),
    ...(m.hash === undefined ? {} : { hash: m.hash }),
    version: state.version,
    origin: state.origin,
    changedAtMs: state.changedAtMs,
  };
}

/** The FileState a validated WireState describes, at `path`. Inverse of toWireState. */
export function fromWireState(path: LogicalPath, w: WireState): FileState {
  return {
    path,
    meta: {
      kind: w.kind,
      sizeBytes: w.size,
      mtimeNs: BigInt(w.mtimeNs),
      mode: w.mode,
      uid: w.uid,
      gid: w.gid,
      ...(w.target === undefined ? {} : { target: w.target }),
      ...(w.hash === undefined ? {} : { hash: w.hash }),
    },
    version: { ...w.version },
    origin: w.origin,
    changedAtMs: w.changedAtMs,
  };
}

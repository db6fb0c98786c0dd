// Group-key proof for the handshake (README.md §4 here, docs/security.md): an HMAC bound to the TLS session, both node names,
// the sender's role and the group. The key never crosses the wire. node:crypto is allowed here only.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AUTH_MAC_BYTES } from './messages.ts';

/** Domain-separation label; bump the suffix when the MAC input changes (and PROTOCOL_VERSION too). */
export const AUTH_CONTEXT_LABEL = 'csync-auth-v1';

/** Inputs of one auth MAC. `role` is the role of the side that *sends* the MAC. */
export interface AuthMacInput {
  /** The group's pre-shared key (the key file's bytes). Must not be empty. */
  readonly key: Uint8Array;
  /** The TLS session's exported keying material (Transport.keyingMaterial()). */
  readonly keyingMaterial: Uint8Array;
  readonly role: 'client' | 'server';
  readonly clientNode: string;
  readonly serverNode: string;
  readonly group: string;
}

const UTF8 = new TextEncoder();

/**
 * HMAC-SHA256 under the group key over a length-prefixed encoding (u32 big-endian length + bytes per
 * field) of: the label "csync-auth-v1", role, client node, server node, group and the keying material.
 * Binding the role makes a reflected MAC fail; binding the keying material makes a relayed or replayed
 * handshake fail (another session has other material). Returns AUTH_MAC_BYTES bytes.
 * Throws `Error('bug: …')` for an empty key (config validation must have refused it).
 */
export function authMac(opts: AuthMacInput): Uint8Array {
  if (opts.key.length === 0) throw new Error('bug: authMac with an empty group key');
  const fields: Uint8Array[] = [AUTH_CONTEXT_LABEL, opts.role, opts.clientNode, opts.serverNode, opts.group].map((s) => UTF8.encode(s));
  fields.push(opts.keyingMaterial);
  const digest = createHmac('sha256', opts.key).update(lengthPrefixed(fields)).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/**
 * What a server sends in place of its MAC for a group whose key the client did not prove: 32 zero
 * bytes, which carry no information about the key and never verify (an HMAC is all zeros with
 * probability 2^-256). Keeps one auth per candidate on the wire.
 */
export const REFUSED_MAC: Uint8Array = new Uint8Array(AUTH_MAC_BYTES);

/**
 * True when `got` equals `expected`. Compares in constant time (crypto.timingSafeEqual) when the
 * lengths match; a length mismatch returns false at once (the length is public: always 32 bytes).
 */
export function verifyAuthMac(expected: Uint8Array, got: Uint8Array): boolean {
  if (expected.length !== AUTH_MAC_BYTES || got.length !== expected.length) return false;
  return timingSafeEqual(expected, got);
}

/**
 * The groups both sides announced in their hellos, sorted: the groups an auth is exchanged for.
 * Both sides compute the same list from the same two hellos.
 */
export function candidateGroups(mine: Iterable<string>, theirs: readonly string[]): string[] {
  const offered = new Set(theirs);
  return [...new Set(mine)].filter((g) => offered.has(g)).sort();
}

function lengthPrefixed(fields: readonly Uint8Array[]): Uint8Array {
  const total = fields.reduce((n, f) => n + 4 + f.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of fields) {
    view.setUint32(at, f.length, false);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

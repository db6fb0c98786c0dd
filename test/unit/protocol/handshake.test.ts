// Tests of the group-key proof: every bound input changes the MAC; verification is length-checked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authMac, candidateGroups, verifyAuthMac, type AuthMacInput } from '../../../src/protocol/handshake.ts';

const KEY = new Uint8Array(64).fill(1);
const OTHER_KEY = new Uint8Array(64).fill(2);
const MATERIAL = new Uint8Array(32).fill(3);
const OTHER_MATERIAL = new Uint8Array(32).fill(4);
const BASE: AuthMacInput = { key: KEY, keyingMaterial: MATERIAL, role: 'client', clientNode: 'web1', serverNode: 'web2', group: 'web' };

const VARIANTS: readonly { description: string; input: AuthMacInput }[] = [
  { description: 'the other role (a reflected MAC)', input: { ...BASE, role: 'server' } },
  { description: 'other keying material (a relayed or replayed session)', input: { ...BASE, keyingMaterial: OTHER_MATERIAL } },
  { description: 'another key', input: { ...BASE, key: OTHER_KEY } },
  { description: 'another group', input: { ...BASE, group: 'db' } },
  { description: 'swapped node names', input: { ...BASE, clientNode: 'web2', serverNode: 'web1' } },
  { description: 'names split differently (length prefixes)', input: { ...BASE, clientNode: 'web1w', serverNode: 'eb2' } },
];

describe('authMac', () => {
  it('is 32 bytes and deterministic', () => {
    const mac = authMac(BASE);
    assert.equal(mac.length, 32);
    assert.deepEqual(authMac({ ...BASE }), mac);
  });

  for (const { description, input } of VARIANTS) {
    it(`differs for ${description}`, () => {
      assert.equal(verifyAuthMac(authMac(BASE), authMac(input)), false);
    });
  }

  it('refuses an empty key as a bug', () => {
    assert.throws(() => authMac({ ...BASE, key: new Uint8Array(0) }), /^Error: bug:/);
  });
});

describe('verifyAuthMac', () => {
  it('accepts an equal MAC held in a different buffer', () => {
    assert.equal(verifyAuthMac(authMac(BASE), Uint8Array.from(authMac(BASE))), true);
  });

  it('rejects a MAC differing in its last byte only', () => {
    const got = Uint8Array.from(authMac(BASE));
    got[31] = (got[31] ?? 0) ^ 1;
    assert.equal(verifyAuthMac(authMac(BASE), got), false);
  });

  it('returns false instead of throwing on a length mismatch', () => {
    assert.equal(verifyAuthMac(authMac(BASE), authMac(BASE).subarray(0, 31)), false);
    assert.equal(verifyAuthMac(authMac(BASE), new Uint8Array(0)), false);
    assert.equal(verifyAuthMac(new Uint8Array(5), new Uint8Array(5)), false);
  });
});

describe('candidateGroups', () => {
  it('is the sorted intersection of both hellos', () => {
    assert.deepEqual(candidateGroups(['web', 'db', 'etc'], ['etc', 'other', 'web']), ['etc', 'web']);
    assert.deepEqual(candidateGroups(['a'], []), []);
  });
});

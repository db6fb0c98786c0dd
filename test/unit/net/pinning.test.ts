// Table test for the pure pin decision and the CSYNC_CERT_CHANGED error it leads to.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkPin, pinMismatchError, type PinCheck } from '../../../src/net/pinning.ts';

const FP_A = `sha256:${'a'.repeat(64)}`;
const FP_B = `sha256:${'b'.repeat(64)}`;
const FP_C = `sha256:${'c'.repeat(64)}`;

interface Row {
  description: string;
  fingerprint: string;
  configured?: string;
  stored?: string;
  expected: PinCheck;
}

const ROWS: readonly Row[] = [
  { description: 'no pin at all means a new pin (trust on first use)', fingerprint: FP_A, expected: { kind: 'pin-new' } },
  { description: 'a matching stored pin is ok', fingerprint: FP_A, stored: FP_A, expected: { kind: 'ok' } },
  { description: 'a different stored pin is a mismatch', fingerprint: FP_B, stored: FP_A, expected: { kind: 'mismatch', expected: FP_A } },
  { description: 'a matching configured pin is ok', fingerprint: FP_A, configured: FP_A, expected: { kind: 'ok' } },
  { description: 'a different configured pin is a mismatch', fingerprint: FP_B, configured: FP_A, expected: { kind: 'mismatch', expected: FP_A } },
  {
    description: 'a configured pin wins over a stale stored pin',
    fingerprint: FP_A, configured: FP_A, stored: FP_C, expected: { kind: 'ok' },
  },
  {
    description: 'a configured pin wins over a matching stored pin',
    fingerprint: FP_C, configured: FP_A, stored: FP_C, expected: { kind: 'mismatch', expected: FP_A },
  },
  {
    description: 'comparison ignores hex letter case',
    fingerprint: FP_A, configured: FP_A.toUpperCase().replace('SHA256', 'sha256'), expected: { kind: 'ok' },
  },
];

describe('checkPin', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      const got = checkPin({
        peer: 'web2',
        fingerprint: row.fingerprint,
        ...(row.configured === undefined ? {} : { configured: row.configured }),
        ...(row.stored === undefined ? {} : { stored: row.stored }),
      });
      assert.deepEqual(got, row.expected);
    });
  }
});

describe('pinMismatchError', () => {
  it('has code CSYNC_CERT_CHANGED, names both fingerprints and hints at csync trust forget', () => {
    const err = pinMismatchError('web2', FP_A, FP_B);
    assert.equal(err.code, 'CSYNC_CERT_CHANGED');
    assert.match(err.message, /^peer "web2": certificate changed/);
    assert.ok(err.message.includes(FP_A) && err.message.includes(FP_B));
    assert.ok(err.hint?.includes('csync trust forget web2'));
  });
});

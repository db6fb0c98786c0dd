import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REFUSED_KEPT, mergeRefused } from '../../../src/daemon/refused-paths.ts';

const T0 = 1_000;
const T1 = 2_000;
const BAD = { path: '%data%/a\nb', message: 'contains a control character' };
const KNOWN_BAD = { path: BAD.path, reason: BAD.message, firstSeenMs: T0 };
const ELSEWHERE = { path: '%other%/x\ty', reason: 'contains a control character', firstSeenMs: T0 };

describe('mergeRefused', () => {
  const rows = [
    { description: 'a path found for the first time is fresh', known: [], found: [BAD], scopes: ['%data%'], next: [{ ...KNOWN_BAD, firstSeenMs: T1 }], fresh: 1 },
    { description: 'a path found again is kept, not fresh', known: [KNOWN_BAD], found: [BAD], scopes: ['%data%'], next: [KNOWN_BAD], fresh: 0 },
    { description: 'a path not found again in a scope that covers it is forgotten', known: [KNOWN_BAD], found: [], scopes: ['%data%'], next: [], fresh: 0 },
    { description: 'a path outside every scope is kept', known: [KNOWN_BAD, ELSEWHERE], found: [], scopes: ['%data%'], next: [ELSEWHERE], fresh: 0 },
    { description: 'a scope that is a prefix of a name but not a parent covers nothing', known: [KNOWN_BAD], found: [], scopes: ['%data%/a'], next: [KNOWN_BAD], fresh: 0 },
  ] as const;
  for (const row of rows) {
    it(row.description, () => {
      const { next, fresh } = mergeRefused(row.known, row.found, row.scopes, T1);
      assert.deepEqual(next, row.next);
      assert.equal(fresh.length, row.fresh);
    });
  }

  it(`keeps at most ${MAX_REFUSED_KEPT} paths`, () => {
    const found = Array.from({ length: MAX_REFUSED_KEPT + 5 }, (_, i) => ({ path: `%data%/n\n${i}`, message: 'm' }));
    assert.equal(mergeRefused([], found, ['%data%'], T1).next.length, MAX_REFUSED_KEPT);
  });
});

// Table tests of version vectors (core/version.ts): compare, merge, bump, and the text form.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { VersionVector } from '../../../src/core/types.ts';
import type { VersionOrder } from '../../../src/core/version.ts';
import { bumpVersion, compareVersions, formatVersion, mergeVersions, normaliseVersion, parseVersion } from '../../../src/core/version.ts';

const EMPTY: VersionVector = {};
const A1: VersionVector = { a: 1 };
const A2: VersionVector = { a: 2 };
const B1: VersionVector = { b: 1 };
const A1B1: VersionVector = { a: 1, b: 1 };
const A2B1: VersionVector = { a: 2, b: 1 };
const A1_ZERO_B: VersionVector = { a: 1, b: 0 };

describe('compareVersions', () => {
  const rows: readonly { description: string; a: VersionVector; b: VersionVector; expected: VersionOrder }[] = [
    { description: 'two empty vectors are equal', a: EMPTY, b: EMPTY, expected: 'equal' },
    { description: 'identical vectors are equal', a: A1B1, b: { b: 1, a: 1 }, expected: 'equal' },
    { description: 'a zero counter equals a missing one', a: A1_ZERO_B, b: A1, expected: 'equal' },
    { description: 'any change is newer than nothing', a: A1, b: EMPTY, expected: 'newer' },
    { description: 'nothing is older than any change', a: EMPTY, b: A1, expected: 'older' },
    { description: 'a higher counter of the same node is newer', a: A2, b: A1, expected: 'newer' },
    { description: 'a superset of nodes is newer', a: A1B1, b: A1, expected: 'newer' },
    { description: 'a dominated vector is older', a: A1B1, b: A2B1, expected: 'older' },
    { description: 'changes by different nodes are concurrent', a: A1, b: B1, expected: 'concurrent' },
    { description: 'each ahead on one node is concurrent', a: { a: 2, b: 1 }, b: { a: 1, b: 2 }, expected: 'concurrent' },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.equal(compareVersions(row.a, row.b), row.expected);
    });
  }
});

describe('mergeVersions', () => {
  const rows: readonly { description: string; a: VersionVector; b: VersionVector; expected: VersionVector }[] = [
    { description: 'merging with empty changes nothing', a: A1B1, b: EMPTY, expected: A1B1 },
    { description: 'takes the pointwise maximum', a: { a: 3, b: 1 }, b: { a: 1, b: 4, c: 2 }, expected: { a: 3, b: 4, c: 2 } },
    { description: 'drops zero counters', a: A1_ZERO_B, b: EMPTY, expected: A1 },
    { description: 'two concurrent vectors merge to their union', a: A1, b: B1, expected: A1B1 },
  ];
  for (const row of rows) {
    it(row.description, () => {
      const merged = mergeVersions(row.a, row.b);
      assert.deepEqual(merged, row.expected);
      assert.notEqual(compareVersions(merged, row.a), 'older');
      assert.notEqual(compareVersions(merged, row.b), 'older');
    });
  }

  it('sorts the keys of the result so equal vectors serialise identically', () => {
    assert.deepEqual(Object.keys(mergeVersions({ z: 1 }, { a: 1, m: 1 })), ['a', 'm', 'z']);
  });
});

describe('bumpVersion', () => {
  const rows: readonly { description: string; v: VersionVector; node: string; expected: VersionVector }[] = [
    { description: 'starts a missing node at 1', v: EMPTY, node: 'a', expected: A1 },
    { description: 'increments an existing counter', v: A1B1, node: 'a', expected: A2B1 },
    { description: 'leaves other nodes alone', v: B1, node: 'a', expected: A1B1 },
  ];
  for (const row of rows) {
    it(row.description, () => {
      const bumped = bumpVersion(row.v, row.node);
      assert.deepEqual(bumped, row.expected);
      assert.equal(compareVersions(bumped, row.v), 'newer');
    });
  }

  it('does not modify its input', () => {
    const v = { a: 1 };
    bumpVersion(v, 'a');
    assert.deepEqual(v, { a: 1 });
  });
});

describe('formatVersion and parseVersion', () => {
  const rows: readonly { description: string; v: VersionVector; text: string }[] = [
    { description: 'the empty vector is the empty string', v: EMPTY, text: '' },
    { description: 'one node', v: A2, text: 'a:2' },
    { description: 'nodes are sorted by name', v: { web2: 1, web1: 3 }, text: 'web1:3,web2:1' },
    { description: 'node names may contain dots, dashes and underscores', v: { 'db-1.example_x': 7 }, text: 'db-1.example_x:7' },
  ];
  for (const row of rows) {
    it(`round-trips: ${row.description}`, () => {
      assert.equal(formatVersion(row.v), row.text);
      assert.deepEqual(parseVersion(row.text), normaliseVersion(row.v));
    });
  }

  it('formats without zero counters', () => {
    assert.equal(formatVersion(A1_ZERO_B), 'a:1');
  });

  const malformed: readonly { description: string; text: string }[] = [
    { description: 'no colon', text: 'a' },
    { description: 'no node name', text: ':1' },
    { description: 'a zero counter', text: 'a:0' },
    { description: 'a negative counter', text: 'a:-1' },
    { description: 'a fractional counter', text: 'a:1.5' },
    { description: 'a non-numeric counter', text: 'a:x' },
    { description: 'an empty part', text: 'a:1,' },
  ];
  for (const row of malformed) {
    it(`parseVersion throws a bug error on ${row.description}`, () => {
      assert.throws(() => parseVersion(row.text), (err: unknown) => err instanceof Error && err.message.startsWith('bug: malformed version text'));
    });
  }
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generationPath, parseGenerationName, planGenerations } from '../../../src/core/generations.ts';
import type { GenerationPlan } from '../../../src/core/generations.ts';

interface Row {
  readonly description: string;
  readonly existing: readonly number[];
  readonly keep: number;
  readonly expected: GenerationPlan;
}

const NONE: readonly number[] = [];
const FULL_SET_OF_3: readonly number[] = [0, 1, 2];

const ROWS: readonly Row[] = [
  { description: 'keep 0 disables backups and leaves old ones alone', existing: FULL_SET_OF_3, keep: 0, expected: { shifts: [], remove: [] } },
  { description: 'no existing backups: nothing to do', existing: NONE, keep: 3, expected: { shifts: [], remove: [] } },
  { description: 'keep 1 replaces the only backup', existing: [0], keep: 1, expected: { shifts: [], remove: [0] } },
  { description: 'one backup moves to .1', existing: [0], keep: 3, expected: { shifts: [{ from: 0, to: 1 }], remove: [] } },
  {
    description: 'a full set shifts oldest first and drops the oldest',
    existing: FULL_SET_OF_3,
    keep: 3,
    expected: { shifts: [{ from: 1, to: 2 }, { from: 0, to: 1 }], remove: [2] },
  },
  {
    description: 'a lowered keep removes every generation past the new limit',
    existing: [0, 1, 2, 3, 4],
    keep: 2,
    expected: { shifts: [{ from: 0, to: 1 }], remove: [1, 2, 3, 4] },
  },
  {
    description: 'gaps are closed: moves down go first, ascending',
    existing: [2, 3],
    keep: 5,
    expected: { shifts: [{ from: 2, to: 1 }, { from: 3, to: 2 }], remove: [] },
  },
  {
    description: 'mixed: the bare name moves up after .5 moves down to .2',
    existing: [5, 0],
    keep: 4,
    expected: { shifts: [{ from: 5, to: 2 }, { from: 0, to: 1 }], remove: [] },
  },
  {
    description: 'a generation already in place stays put',
    existing: [1],
    keep: 3,
    expected: { shifts: [], remove: [] },
  },
  { description: 'duplicates are ignored', existing: [0, 0], keep: 3, expected: { shifts: [{ from: 0, to: 1 }], remove: [] } },
];

describe('planGenerations', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      assert.deepEqual(planGenerations(row.existing, row.keep), row.expected);
    });
  }

  it('throws a bug error for a negative keep or a fractional suffix', () => {
    assert.throws(() => planGenerations([], -1), /^Error: bug: /);
    assert.throws(() => planGenerations([1.5], 3), /^Error: bug: /);
  });
});

describe('generation names', () => {
  const NAME_ROWS = [
    { description: 'bare name is generation 0', entry: 'passwd', expected: 0 },
    { description: 'numbered suffix', entry: 'passwd.2', expected: 2 },
    { description: 'leading zero is not a generation', entry: 'passwd.02', expected: undefined },
    { description: '.0 is not a generation', entry: 'passwd.0', expected: undefined },
    { description: 'another file sharing the prefix', entry: 'passwd-', expected: undefined },
    { description: 'a non-numeric suffix', entry: 'passwd.bak', expected: undefined },
  ] as const;
  for (const row of NAME_ROWS) {
    it(`parses: ${row.description}`, () => {
      assert.equal(parseGenerationName('passwd', row.entry), row.expected);
    });
  }

  it('builds the bare name for generation 0 and name.n otherwise', () => {
    assert.equal(generationPath('/b/etc/passwd', 0), '/b/etc/passwd');
    assert.equal(generationPath('/b/etc/passwd', 3), '/b/etc/passwd.3');
  });
});

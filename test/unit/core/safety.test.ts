// Table tests of the safety rails (core/safety.ts): root emptied, too many deletions, live counting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countLive, rootEmptied, wouldDeleteTooMany } from '../../../src/core/safety.ts';
import { DIR, F1, GONE, LINK, state } from '../../helpers/fixtures.ts';

describe('rootEmptied', () => {
  const rows: readonly { description: string; liveBefore: number; liveNow: number; expected: boolean }[] = [
    { description: 'trips when recorded entries all vanished', liveBefore: 3, liveNow: 0, expected: true },
    { description: 'trips for a single recorded entry that vanished', liveBefore: 1, liveNow: 0, expected: true },
    { description: 'does not trip when something is left', liveBefore: 3, liveNow: 1, expected: false },
    { description: 'does not trip for a root that never had entries', liveBefore: 0, liveNow: 0, expected: false },
    { description: 'does not trip when the root grew', liveBefore: 0, liveNow: 5, expected: false },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.equal(rootEmptied({ liveBefore: row.liveBefore, liveNow: row.liveNow }), row.expected);
    });
  }
});

describe('wouldDeleteTooMany', () => {
  const rows: readonly { description: string; deletions: number; total: number; max: number; expected: boolean }[] = [
    { description: 'exempts tiny trees (fewer than 4 entries)', deletions: 3, total: 3, max: 50, expected: false },
    { description: 'allows no deletions at all', deletions: 0, total: 100, max: 0, expected: false },
    { description: 'allows exactly the limit', deletions: 50, total: 100, max: 50, expected: false },
    { description: 'trips just over the limit', deletions: 51, total: 100, max: 50, expected: true },
    { description: 'trips on any deletion with max 0', deletions: 1, total: 4, max: 0, expected: true },
    { description: 'never trips with max 100', deletions: 10, total: 10, max: 100, expected: false },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.equal(wouldDeleteTooMany({ deletions: row.deletions, total: row.total, maxDeletePercent: row.max }), row.expected);
    });
  }
});

describe('countLive', () => {
  it('counts files, directories and symlinks but not tombstones', () => {
    const states = [state(F1, { a: 1 }), state(DIR, { a: 1 }), state(LINK, { a: 1 }), state(GONE, { a: 2 }), state(GONE, { a: 3 })];
    assert.equal(countLive(states), 3);
  });

  it('is 0 for nothing', () => {
    assert.equal(countLive([]), 0);
  });
});

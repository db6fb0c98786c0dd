import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planGenerations } from '../../src/core/generations.ts';

const NUM_RUNS = 500;

/** Any set of existing suffixes (with duplicates) and any keep, including 0. */
const arbInput = fc.record({
  existing: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 10 }),
  keep: fc.integer({ min: 0, max: 8 }),
});

/**
 * Executes a plan on a set of names the way backup/rotate.ts does (removes, then shifts in order)
 * and fails if a shift would overwrite a name that is still taken or move a missing one.
 */
function execute(existing: readonly number[], keep: number): { after: Set<number>; origin: Map<number, number> } {
  const plan = planGenerations(existing, keep);
  const origin = new Map([...new Set(existing)].map((g) => [g, g]));
  for (const g of plan.remove) {
    assert.ok(origin.delete(g), `removes existing generation ${g}`);
  }
  for (const s of plan.shifts) {
    const src = origin.get(s.from);
    assert.ok(src !== undefined, `shift source ${s.from} exists`);
    assert.ok(!origin.has(s.to), `shift ${s.from}→${s.to} does not overwrite`);
    origin.delete(s.from);
    origin.set(s.to, src);
  }
  return { after: new Set(origin.keys()), origin };
}

describe('planGenerations (property)', () => {
  it('never overwrites while shifting and frees the bare name whenever keep > 0', () => {
    fc.assert(
      fc.property(arbInput, ({ existing, keep }) => {
        const { after } = execute(existing, keep);
        if (keep > 0) assert.ok(!after.has(0), 'bare name is free');
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('keeps at most keep generations counting the new backup', () => {
    fc.assert(
      fc.property(arbInput.filter((i) => i.keep > 0), ({ existing, keep }) => {
        const { after } = execute(existing, keep);
        assert.ok(after.size + 1 <= keep);
        for (const g of after) assert.ok(g >= 1 && g < keep, `generation ${g} in 1..${keep - 1}`);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never removes the newest backup when keep ≥ 2, and keeps the newest ones in age order', () => {
    fc.assert(
      fc.property(arbInput.filter((i) => i.keep >= 2 && i.existing.length > 0), ({ existing, keep }) => {
        const { origin } = execute(existing, keep);
        const newestFirst = [...new Set(existing)].sort((a, b) => a - b);
        const kept = [...origin.entries()].sort((a, b) => a[0] - b[0]).map(([, src]) => src);
        assert.deepEqual(kept, newestFirst.slice(0, keep - 1));
        assert.equal(origin.get(1), newestFirst[0]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('removes nothing when keep is 0', () => {
    fc.assert(
      fc.property(arbInput, ({ existing }) => {
        assert.deepEqual(planGenerations(existing, 0), { shifts: [], remove: [] });
      }),
      { numRuns: 100 },
    );
  });
});

// Properties of decide() (core/decide.ts): deterministic, and swapping local/incoming mirrors it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Decision, DecideOptions } from '../../src/core/decide.ts';
import { decide, sameContent } from '../../src/core/decide.ts';
import { compareVersions } from '../../src/core/version.ts';
import type { FileState, IgnoredAttr, VersionVector } from '../../src/core/types.ts';
import { DIR, DIR_CHMOD, DIR_LATER, F1, F1_CHGRP, F1_CHMOD, F1_CHOWN, F1_TOUCHED, F2, GONE, LINK, LINK2, state } from '../helpers/fixtures.ts';

const NUM_RUNS = 2000;
const SEED = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);

const arbMeta = fc.constantFrom(F1, F2, F1_CHMOD, F1_CHOWN, F1_CHGRP, F1_TOUCHED, DIR, DIR_LATER, DIR_CHMOD, LINK, LINK2, GONE);
const arbVersion: fc.Arbitrary<VersionVector> = fc.record(
  { a: fc.nat({ max: 3 }), b: fc.nat({ max: 3 }), c: fc.nat({ max: 3 }) },
  { requiredKeys: [] },
);
const arbState: fc.Arbitrary<FileState> = fc.tuple(arbMeta, arbVersion).map(([meta, v]) => state(meta, v));
const arbOpts: fc.Arbitrary<DecideOptions> = fc.record({
  ignore: fc.subarray<IgnoredAttr>(['mode', 'uid', 'gid']),
  force: fc.boolean(),
});

/** What the other side decides when the roles are swapped. */
function mirror(d: Decision): Decision['kind'] {
  if (d.kind === 'apply' && d.reason === 'newer') return 'have';
  if (d.kind === 'have' && d.reason === 'older') return 'apply';
  return d.kind;
}

describe('decide (property)', () => {
  it(`is deterministic: the same inputs give the same decision (seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.option(arbState, { nil: undefined }), arbState, arbOpts, (local, incoming, opts) => {
        const first = decide(local, incoming, opts);
        assert.deepEqual(decide(local && { ...local }, { ...incoming }, { ...opts }), first);
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });

  it(`mirrors newer↔older and keeps equal, merge, conflict and forced symmetric when swapped (seed ${SEED})`, () => {
    fc.assert(
      fc.property(arbState, arbState, arbOpts, (x, y, opts) => {
        const xy = decide(x, y, opts);
        const yx = decide(y, x, opts);
        assert.equal(yx.kind, mirror(xy), `${JSON.stringify(xy)} vs ${JSON.stringify(yx)}`);
        if (xy.kind === 'have' && xy.reason === 'older') assert.deepEqual(yx, { kind: 'apply', reason: 'newer' });
        if (xy.kind === 'have' && xy.reason === 'equal') assert.deepEqual(yx, xy);
        if (xy.kind === 'apply') assert.ok(xy.reason !== 'new-path', 'a known local is never a new path');
        if (xy.kind === 'apply' && xy.reason === 'forced') assert.deepEqual(yx, xy);
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });

  it(`never applies an older version; the same version only when its content differs and it is forced (seed ${SEED})`, () => {
    fc.assert(
      fc.property(arbState, arbMeta, arbOpts, (local, meta, opts) => {
        const older = state(meta, Object.fromEntries(Object.entries(local.version).map(([k, n]) => [k, Math.max(0, n - 1)])));
        const d = decide(local, older, opts);
        const equal = compareVersions(older.version, local.version) === 'equal';
        if (!equal) assert.equal(d.kind, 'have');
        else if (!sameContent(local.meta, meta)) assert.deepEqual(d, opts.force ? { kind: 'apply', reason: 'forced' } : { kind: 'conflict', reason: 'diverged' });
        else assert.deepEqual(d, { kind: 'have', reason: 'equal' });
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });
});

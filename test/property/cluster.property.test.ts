// Property: any interleaving of edits, deletes, renames, mode changes, checks, update passes (to any
// subset of peers, with lost replies and partitions) on 2–5 nodes converges once the network heals,
// for every auto policy; csync never replaces or deletes content without keeping it; receive_only
// nodes never originate. Runs CSYNC_PROPERTY_RUNS histories (default 2,400) over the policies.
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AUTO_POLICIES } from '../../src/core/types.ts';
import { history, runHistory } from '../helpers/history.ts';

const TOTAL_RUNS = Number(process.env.CSYNC_PROPERTY_RUNS ?? 2400);

describe('cluster convergence (property, fast-check)', () => {
  let total = 0;
  for (const policy of AUTO_POLICIES) {
    it(`converges and loses nothing under auto = ${policy}`, async () => {
      const numRuns = Math.max(1, Math.round(TOTAL_RUNS / AUTO_POLICIES.length));
      const started = Date.now();
      await fc.assert(fc.asyncProperty(history, (h) => runHistory(policy, h)), { numRuns, endOnFailure: false, includeErrorInReport: true });
      total += numRuns;
      process.stdout.write(`${policy}: ${numRuns} histories in ${Date.now() - started} ms (${total} so far)\n`);
    });
  }
});

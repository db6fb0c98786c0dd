// Property: any interleaving of edits (small, streamed and delta-sized files), symlinks, files and
// directories taking each other's place, deletes, renames, mode changes, checks, `csync -f`, update
// passes (to any subset of peers, with lost replies and partitions, two at once with a user edit in
// flight), with or without excludes and ignored modes, on 2–5 nodes converges once the network
// heals, for every auto policy; one version never names two contents; csync never replaces or
// deletes content without keeping it; receive_only nodes never originate and otherwise agree.
// Runs CSYNC_PROPERTY_RUNS histories (default 2,400) over the policies.
//
// Replay a failure: the report prints `{ seed, path }`; run
//   CSYNC_PROPERTY_SEED=<seed> CSYNC_PROPERTY_PATH=<path> node --test \
//     --test-name-pattern='auto = <policy>$' build/test/property/cluster.property.test.js
// (add CSYNC_SIM_DEBUG=1 for every node's log), or call runHistory() on the printed counterexample.
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AUTO_POLICIES } from '../../src/core/types.ts';
import { history, runHistory } from '../helpers/history.ts';

const TOTAL_RUNS = Number(process.env['CSYNC_PROPERTY_RUNS'] ?? 2400);
const SEED = process.env['CSYNC_PROPERTY_SEED'];
const PATH = process.env['CSYNC_PROPERTY_PATH'];
const replay = SEED === undefined ? {} : { seed: Number(SEED), ...(PATH === undefined ? {} : { path: PATH }) };

describe('cluster convergence (property, fast-check)', () => {
  let total = 0;
  for (const policy of AUTO_POLICIES) {
    it(`converges and loses nothing under auto = ${policy}`, async () => {
      const numRuns = Math.max(1, Math.round(TOTAL_RUNS / AUTO_POLICIES.length));
      const started = Date.now();
      await fc.assert(fc.asyncProperty(history, (h) => runHistory(policy, h)), { numRuns, endOnFailure: false, includeErrorInReport: true, ...replay });
      total += numRuns;
      process.stdout.write(`${policy}: ${numRuns} histories in ${Date.now() - started} ms (${total} so far)\n`);
    });
  }
});

// A node's summary (daemon/summary.ts) as a peer asks for it: limited to the groups the two share,
// so `csync status --cluster` never tells a host of one group about another group's paths, peers,
// conflicts or halts (the trust boundary: a group member learns only about its groups).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogicalPath } from '../../../src/core/types.ts';
import { buildSummary } from '../../../src/daemon/summary.ts';
import { memoryNode, state } from '../../helpers/fixtures.ts';

describe('a summary for a peer', () => {
  it('holds only the groups it shares with the asker: nothing of another group leaks', async (t) => {
    const n = await memoryNode('a');
    const stateDir = mkdtempSync(join(tmpdir(), 'csync-summary-'));
    t.after(() => {
      n.close();
      rmSync(stateDir, { recursive: true, force: true });
    });
    const secret = '/other/payroll-secret.txt' as LogicalPath;
    const shared = '/data/index.html' as LogicalPath;
    const file = (hash: string) => ({ kind: 'file' as const, sizeBytes: 1, mtimeNs: 1000n, mode: 0o644, uid: 0, gid: 0, hash });
    n.store.put(state(file('aaaaaaaaaaaaaaaa'), { a: 1 }, { path: secret }));
    n.store.put(state(file('bbbbbbbbbbbbbbbb'), { a: 1 }, { path: shared }));
    n.store.markDirty(secret, ['b'], { force: false, nowMs: 1 });
    n.store.markDirty(shared, ['b', 'c'], { force: false, nowMs: 1 });
    n.store.putConflict({ path: secret, peer: 'b', remote: state(file('cccccccccccccccc'), { b: 1 }, { path: secret }), detectedAtMs: 2 });
    writeFileSync(join(stateDir, 'halted.json'), JSON.stringify({ halts: [{ kind: 'update', group: 'other', where: 'b', message: 'group "other" to "b": update would delete 9 of 10 entries', hint: 'x', sinceMs: 3 }] }));

    const all = buildSummary({ view: n.ctx.view, store: n.store, stateDir, daemon: undefined });
    assert.ok(JSON.stringify(all).includes('payroll-secret'), 'the node itself sees everything (control: the data is there)');
    assert.deepEqual(all.groups.map((g) => g.group).sort(), ['g', 'other']);

    const forC = buildSummary({ view: n.ctx.view, store: n.store, stateDir, daemon: undefined, groups: new Set(['g']) });
    const text = JSON.stringify(forC);
    assert.doesNotMatch(text, /payroll-secret|\/other|"other"/, text);
    assert.deepEqual(forC.groups.map((g) => g.group), ['g']);
    assert.deepEqual(forC.conflicts, []);
    assert.equal(forC.groups[0]?.peers.find((p) => p.peer === 'b')?.dirty, 1, 'b lacks only the shared file, as far as c may know');
  });
});

// Issue 3 over real TLS: younger and left converge on three nodes, the mass-delete rail trips and
// --allow-mass-delete passes it, and `csync restore` brings a generation back as a local change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

for (const [policy, winner] of [['younger', 'c'], ['left', 'a']] as const) {
  describe(`auto = ${policy} on three nodes`, () => {
    let c: DaemonCluster;
    before(async () => {
      c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false, groupExtra: `auto = "${policy}"\nbackup_dir = "%data%/../backup"\nbackup_generations = 3` });
    });
    after(async () => {
      await c.close();
    });

    it(`converges every node to ${winner}'s version and keeps the losers`, async () => {
      c.write('a', 'page.html', 'base\n');
      assert.equal((await c.run('a', '-x')).status, 0);
      c.write('a', 'page.html', 'from a\n');
      utimesSync(join(c.root('a'), 'page.html'), 1_800_000_000, 1_800_000_000);
      c.write('c', 'page.html', 'from c\n');
      utimesSync(join(c.root('c'), 'page.html'), 1_900_000_000, 1_900_000_000);
      await c.run('c', '-x');
      await c.run('a', '-x');
      // Whoever won pushes the resolved version; a second round reaches everyone.
      for (const n of ['a', 'b', 'c']) await c.run(n, '-x');
      for (const n of ['a', 'b', 'c']) assert.equal(c.read(n, 'page.html'), `from ${winner}\n`, n);
      for (const n of ['a', 'b', 'c']) assert.equal((await c.run(n, '-M')).status, 2, `${n} has nothing left to send`);
      const loser = winner === 'a' ? 'c' : 'a';
      const kept = readdirSync(join(c.dir, loser, 'backup'), { recursive: true }).map(String).filter((p) => p.includes('page.html'));
      assert.ok(kept.length > 0, `${loser}'s own version is in its backups`);
    });
  });
}

describe('safety rails and restore', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: false, groupExtra: 'backup_dir = "%data%/../backup"\nbackup_generations = 3' });
  });
  after(async () => {
    await c.close();
  });

  it('halts an update that would delete most files on a peer, and --allow-mass-delete passes it', async () => {
    for (let i = 0; i < 10; i++) c.write('a', `bulk/f${i}`, `${i}\n`);
    c.write('a', 'keep.txt', 'keep\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    rmSync(join(c.root('a'), 'bulk'), { recursive: true });
    const halted = await c.run('a', '-x');
    assert.equal(halted.status, 1, halted.out);
    assert.match(halted.out, /halted: .*would delete/);
    assert.match(halted.out, /--allow-mass-delete/);
    assert.equal(c.read('b', 'bulk/f3'), '3\n', 'nothing was deleted on b');
    const passed = await c.run('a', '-u', '--allow-mass-delete');
    assert.equal(passed.status, 0, passed.out);
    assert.equal(c.read('b', 'bulk/f3'), undefined);
    assert.equal(c.read('b', 'keep.txt'), 'keep\n');
  });

  it('halts a check that finds a root emptied (an unmounted disk) instead of deleting everywhere', async () => {
    for (const name of readdirSync(c.root('a'))) rmSync(join(c.root('a'), name), { recursive: true });
    const r = await c.run('a', '-x');
    assert.equal(r.status, 1);
    assert.match(r.err, /has become empty/);
    assert.match(r.err, /--allow-mass-delete/);
    assert.equal(c.read('b', 'keep.txt'), 'keep\n');
    c.write('a', 'keep.txt', 'keep\n');
  });

  it('restores a backup generation as a local change that then syncs', async () => {
    c.write('a', 'doc.txt', 'v1\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    c.write('a', 'doc.txt', 'v2\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    const r = await c.run('b', 'restore', join(c.root('b'), 'doc.txt'));
    assert.equal(r.status, 0, r.err);
    assert.equal(c.read('b', 'doc.txt'), 'v1\n');
    assert.equal((await c.run('b', '-u')).status, 0);
    assert.equal(c.read('a', 'doc.txt'), 'v1\n');
  });
});

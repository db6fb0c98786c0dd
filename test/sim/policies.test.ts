// Deterministic cluster scenarios on the in-process simulator: conflicts held and settled, each auto
// policy, edit vs delete, receive_only, partitions, and the three-node lost update of docs/semantics.md.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, readAt, simCluster, writeAt } from '../helpers/sim.ts';

const cluster = simCluster;
const write = writeAt;
const read = readAt;

describe('conflicts between two nodes', () => {
  it('holds a concurrent edit under auto = none on both sides, each keeping its own, until -f settles it', async (t) => {
    const sim = await cluster(t, { nodes: ['n1', 'n2'], policy: 'none' });
    write(sim, 'n1', 'f', 'base', 1);
    await sim.quiesce();
    write(sim, 'n1', 'f', 'one', 2);
    write(sim, 'n2', 'f', 'two', 3);
    await sim.check('n1');
    await sim.check('n2');
    const [r1] = await sim.update('n1');
    const [r2] = await sim.update('n2');
    assert.deepEqual(r1?.conflicts, ['/data/f']);
    assert.deepEqual(r2?.conflicts, ['/data/f']);
    assert.equal(read(sim, 'n1', 'f'), 'one');
    assert.equal(read(sim, 'n2', 'f'), 'two');
    assert.ok(sim.node('n1').rt.store.listConflicts().length > 0);
    assert.ok(sim.node('n2').rt.store.listConflicts().length > 0);
    await sim.force('n2', 'f');
    await sim.quiesce();
    assert.equal(read(sim, 'n1', 'f'), 'two');
    assert.deepEqual(sim.tree('n1'), sim.tree('n2'));
    assert.ok(sim.kept('n1').has('one'), 'the losing content is in n1\'s backups');
  });

  for (const [policy, winner] of [['younger', 'young'], ['older', 'old but bigger'], ['bigger', 'old but bigger'], ['smaller', 'young']] as const) {
    it(`resolves under auto = ${policy} to the same winner on both nodes and keeps the loser`, async (t) => {
      const sim = await cluster(t, { nodes: ['n1', 'n2'], policy });
      write(sim, 'n1', 'f', 'base', 1);
      await sim.quiesce();
      write(sim, 'n1', 'f', 'old but bigger', 10);
      write(sim, 'n2', 'f', 'young', 20);
      await sim.quiesce();
      assert.equal(read(sim, 'n1', 'f'), winner);
      assert.equal(read(sim, 'n2', 'f'), winner);
      const loser = winner === 'young' ? 'old but bigger' : 'young';
      assert.ok(sim.kept('n1').has(loser) || sim.kept('n2').has(loser), 'loser kept in a backup');
    });
  }

  it('lets a modification beat a concurrent deletion under younger, even when the deletion is newer', async (t) => {
    const sim = await cluster(t, { nodes: ['n1', 'n2'], policy: 'younger' });
    write(sim, 'n1', 'f', 'base', 1);
    await sim.quiesce();
    write(sim, 'n1', 'f', 'edited', 2);
    sim.clock.advance(60_000);
    sim.node('n2').fs.removeSync(`${ROOT}/f`);
    await sim.quiesce();
    assert.equal(read(sim, 'n1', 'f'), 'edited');
    assert.equal(read(sim, 'n2', 'f'), 'edited');
  });

  it('resolves under left / right by the position of the origin in hosts', async (t) => {
    for (const [policy, want] of [['left', 'from n1'], ['right', 'from n2']] as const) {
      const sim = await cluster(t, { nodes: ['n1', 'n2'], policy });
      write(sim, 'n1', 'f', 'base', 1);
      await sim.quiesce();
      write(sim, 'n2', 'f', 'from n2', 5);
      write(sim, 'n1', 'f', 'from n1', 6);
      await sim.quiesce();
      assert.equal(read(sim, 'n1', 'f'), want, policy);
      assert.equal(read(sim, 'n2', 'f'), want, policy);
    }
  });
});

describe('three or more nodes', () => {
  it('reports the three-node lost-update case as a conflict at C instead of a silent overwrite', async (t) => {
    const sim = await cluster(t, { nodes: ['a', 'b', 'c'], policy: 'none' });
    write(sim, 'a', 'f', 'base', 1);
    await sim.quiesce();
    write(sim, 'a', 'f', 'from a', 2);
    write(sim, 'b', 'f', 'from b', 3);
    await sim.check('a');
    await sim.check('b');
    await sim.update('b', ['c']);
    const [toC] = await sim.update('a', ['c']);
    assert.deepEqual(toC?.conflicts, ['/data/f']);
    assert.equal(read(sim, 'c', 'f'), 'from b');
  });

  it('converges after a partition heals, and deletes whole directories everywhere', async (t) => {
    const sim = await cluster(t, { nodes: ['a', 'b', 'c'], policy: 'younger' });
    sim.node('a').fs.mkdirpSync(`${ROOT}/dir/sub`);
    write(sim, 'a', 'dir/sub/x', 'x', 1);
    write(sim, 'a', 'dir/y', 'y', 1);
    await sim.quiesce();
    sim.partition('a', 'c');
    sim.partition('b', 'c');
    sim.node('a').fs.removeSync(`${ROOT}/dir`);
    await sim.check('a');
    await sim.update('a');
    assert.equal(read(sim, 'b', 'dir/y'), undefined);
    assert.equal(read(sim, 'c', 'dir/y'), 'y', 'c is cut off');
    await sim.quiesce();
    assert.deepEqual(sim.tree('c'), sim.tree('a'));
    assert.equal(sim.node('c').fs.lstat(`${ROOT}/dir`), undefined);
  });

  it('never lets a receive_only node originate a change, and lets incoming changes win there', async (t) => {
    const sim = await cluster(t, { nodes: ['a', 'b', 'r'], policy: 'none', receiveOnly: ['r'] });
    write(sim, 'a', 'f', 'from a', 1);
    await sim.quiesce();
    write(sim, 'r', 'f', 'local edit on r', 2);
    write(sim, 'r', 'only-on-r', 'r', 2);
    await sim.quiesce();
    assert.equal(read(sim, 'a', 'f'), 'from a');
    assert.equal(read(sim, 'a', 'only-on-r'), undefined);
    write(sim, 'a', 'f', 'new from a', 3);
    await sim.quiesce();
    assert.equal(read(sim, 'r', 'f'), 'new from a');
    assert.ok(sim.kept('r').has('local edit on r'), 'the local edit on r is kept in its backups');
  });
});

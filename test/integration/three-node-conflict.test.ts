// The lost update of docs/semantics.md ("Versions and conflicts") over real TLS: a and b edit f concurrently, b's edit reaches c first,
// and a's edit must then be a conflict at c (not a silent overwrite) until `csync -f` on a resolves it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b', 'c'], backupGenerations: 3 });
const BASE = 'base\n';
const FROM_A = 'edit from a\n';
const FROM_B = 'edit from b, which is longer\n';

/** Content of f.txt on node `n`. */
function f(n: string): string {
  return readFileSync(join(c.root(n), 'f.txt'), 'utf8');
}

describe('three nodes, concurrent edits delivered in the csync2-losing order', () => {
  it('starts from a common synced base', async () => {
    writeFileSync(join(c.root('a'), 'f.txt'), BASE);
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of ['a', 'b', 'c']) assert.equal(f(n), BASE);
  });

  it('declares a conflict at c when a\'s edit arrives after b\'s (exit 1, naming path and peer); nobody loses content', async () => {
    writeFileSync(join(c.root('a'), 'f.txt'), FROM_A);
    writeFileSync(join(c.root('b'), 'f.txt'), FROM_B);
    const fromB = await c.run('b', '-x', '-P', 'c');
    assert.equal(fromB.status, 0, fromB.out + fromB.err);
    assert.equal(f('c'), FROM_B);

    const fromA = await c.run('a', '-x', '-P', 'c');
    assert.equal(fromA.status, 1, fromA.out + fromA.err);
    assert.match(fromA.out, /^c: .*conflicts 1/m, 'names the peer');
    assert.ok(fromA.out.includes(`conflict: ${join(c.root('a'), 'f.txt')} (run \`csync -f ${join(c.root('a'), 'f.txt')}\``), `names the real path and the command to settle it: ${fromA.out}`);
    assert.equal(f('c'), FROM_B, 'c keeps b\'s content');
    assert.equal(f('a'), FROM_A, 'a keeps its own');
    assert.equal(f('b'), FROM_B);

    const dirty = await c.run('a', '-M');
    assert.equal(dirty.status, 0, dirty.err);
    assert.match(dirty.out, /^chary\tc\t%data%\/f\.txt\tconflict$/m);
  });

  it('converges all three nodes to a\'s content after `-f FILE` and `-u` on a, backing up c\'s old content', async () => {
    const force = await c.run('a', '-f', join(c.root('a'), 'f.txt'));
    assert.equal(force.status, 0, force.out + force.err);
    const forced = await c.run('a', '-M');
    assert.match(forced.out, /^force\tc\t%data%\/f\.txt/m);
    const r = await c.run('a', '-u');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of ['a', 'b', 'c']) assert.equal(f(n), FROM_A, `${n} has a's content`);
    assert.equal(readFileSync(join(c.backupDir('c'), c.root('c'), 'f.txt'), 'utf8'), FROM_B, 'c\'s old content is in its backup dir');
    assert.equal((await c.run('a', '-M')).status, 2, 'nothing left dirty on a');
  });

  it('stays converged when b later delivers its superseded edit', async () => {
    const r = await c.run('b', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of ['a', 'b', 'c']) assert.equal(f(n), FROM_A, `${n} still has a's content`);
    for (const n of ['a', 'b', 'c']) {
      const m = await c.run(n, '-M', '-v');
      assert.equal(m.status, 2, `nothing dirty on ${n}: ${m.out}`);
    }
    assert.deepEqual(c.snapshot('b'), c.snapshot('a'));
    assert.deepEqual(c.snapshot('c'), c.snapshot('a'));
  });
});

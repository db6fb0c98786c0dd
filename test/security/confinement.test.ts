// Attacks on the receive-side and read-side confinement (docs/security.md, "Local users") against real nodes over TLS:
// a local user on b who can write in the synced tree swaps directories for symlinks between two
// offers, or plants a symlink to a directory of secrets. Each test asserts that nothing outside
// b's root was written or changed, that the refusal names the reason, and that b still syncs.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotTree, startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b'] });
const outside = join(c.dir, 'outside');
mkdirSync(outside);
writeFileSync(join(outside, 'secret.txt'), 'top secret\n');
const outsideBefore = snapshotTree(outside);

/** a writes `rel`, pushes, and the file must arrive on b (b still serves well-behaved peers). */
async function stillSyncs(rel: string): Promise<void> {
  writeFileSync(join(c.root('a'), rel), `${rel}\n`);
  await c.run('a', '-x');
  assert.equal(readFileSync(join(c.root('b'), rel), 'utf8'), `${rel}\n`, 'b still applies changes from a');
}

describe('confinement against a local user racing the daemon', () => {
  it('a directory swapped for a symlink between two offers: the next file is refused, nothing lands outside', async () => {
    mkdirSync(join(c.root('a'), 'd'));
    writeFileSync(join(c.root('a'), 'd', 'x1'), 'one\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    assert.equal(readFileSync(join(c.root('b'), 'd', 'x1'), 'utf8'), 'one\n');
    // On b, www-data replaces d by a symlink to a directory outside the root.
    renameSync(join(c.root('b'), 'd'), join(c.root('b'), 'd.old'));
    symlinkSync(outside, join(c.root('b'), 'd'));
    writeFileSync(join(c.root('a'), 'd', 'x2'), 'two\n');
    const r = await c.run('a', '-x');
    assert.notEqual(r.status, 0, 'the refused entry is reported');
    assert.match(r.out + r.err, /d\/x2.*symlink/, 'the reason names the symlinked parent');
    assert.equal(existsSync(join(outside, 'x2')), false);
    assert.deepEqual(snapshotTree(outside), outsideBefore);
    await stillSyncs('after-swap.txt');
  });

  it('a symlink to a directory of secrets is synced as a link; what is behind it never leaves b', async () => {
    symlinkSync(outside, join(c.root('b'), 'exfil'));
    await c.run('b', '-x');
    assert.equal(c.snapshot('a')['exfil'], `link -> ${outside}`);
    const everything = JSON.stringify(c.snapshot('a'));
    assert.equal(everything.includes('secret.txt'), false, 'no entry below the link reached a');
    assert.deepEqual(snapshotTree(outside), outsideBefore);
  });

  it('a deletion offered below a directory that became a symlink neither deletes outside nor records and pushes the outside file', async () => {
    mkdirSync(join(c.root('a'), 'vault'));
    writeFileSync(join(c.root('a'), 'vault', 'secret.txt'), 'public\n');
    await c.run('a', '-x'); // exits 1 while the refused d/x2 of the first test stays dirty
    assert.equal(readFileSync(join(c.root('b'), 'vault', 'secret.txt'), 'utf8'), 'public\n');
    rmSync(join(c.root('b'), 'vault'), { recursive: true });
    symlinkSync(outside, join(c.root('b'), 'vault'));
    unlinkSync(join(c.root('a'), 'vault', 'secret.txt'));
    await c.run('a', '-x');
    assert.deepEqual(snapshotTree(outside), outsideBefore, 'the outside file is neither deleted nor changed');
    // b must not have taken the outside file for its own and pushed it back to a.
    await c.run('b', '-x');
    // (a may now hold vault as the same symlink: a link is synced as a link, never what is behind it.)
    assert.equal(c.snapshot('a')['vault/secret.txt'], undefined, 'no file below the link reached a');
    const aTree = JSON.stringify(c.snapshot('a'));
    assert.equal(aTree.includes('top secret'), false);
    await stillSyncs('after-vault.txt');
  });
});

// Issue 11 item 1: kill -9 of either side in the middle of a large transfer. The other daemon keeps
// running, the entry stays dirty with the reason, no final path ever holds a partial file, and after
// a restart the trees converge. Real `csync daemon` processes on 127.0.0.1.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digest, FaultCluster, tempFileAppears, tempFiles, treeOf, until } from '../helpers/fault-cluster.ts';

/** Large enough that the stream is certainly still running when the receiver's temp file appears. */
const BIG_BYTES = 64 * 1024 * 1024;

/** Size of the largest csync temp file below `root` (0 when none). */
function tempBytes(root: string): number {
  let max = 0;
  for (const t of tempFiles(root)) {
    try {
      max = Math.max(max, statSync(join(root, t)).size);
    } catch {
      // Renamed or removed between the listing and the stat.
    }
  }
  return max;
}

describe('a peer killed with SIGKILL mid-transfer', { timeout: 120_000 }, () => {
  const clusters: FaultCluster[] = [];
  after(async () => {
    for (const c of clusters) await c.close();
  });

  it('leaves the sending daemon running, the entry dirty with a reason, and converges after a restart', async () => {
    const c = await FaultCluster.create({ nodes: ['a', 'b'], watch: true });
    clusters.push(c);
    await c.spawn('a');
    await c.spawn('b');
    const big = randomBytes(BIG_BYTES);
    // Written beside the root, then renamed in: the watcher sees one complete file and a pushes it.
    const staging = join(c.dir, 'big.bin');
    writeFileSync(staging, big);
    const halfway = until(c.root('b'), () => tempBytes(c.root('b')) >= BIG_BYTES / 2);
    renameSync(staging, join(c.root('a'), 'big.bin'));
    await halfway;
    await c.kill('b');
    // a's pass ends with the entry failed (before the fix a died here instead: this wait rejects).
    await c.logged('a', '"msg":"Entry not delivered"');
    assert.ok(c.alive('a'), c.describe('a'));
    assert.ok(!treeOf(c.root('b')).has('/big.bin'), 'no partial file at the final path');

    // The entry is still dirty for b, with the reason recorded (csync -M -v).
    const dirty = await c.launch('a', '-M', '-v');
    assert.equal(dirty.status, 0, dirty.err);
    const row = dirty.out.split('\n').find((l) => l.includes('big.bin'));
    assert.ok(row !== undefined, `big.bin is still dirty: ${dirty.out}`);
    assert.match(row, /\tb\t.*\t.+/, 'the row carries the last error');

    // The daemon is still serving: once b is back, a pushes again by itself and the trees converge.
    await c.spawn('b');
    await until(c.root('b'), () => treeOf(c.root('b')).get('/big.bin') === digest(big) && tempFiles(c.root('b')).length === 0);
    assert.ok(c.alive('a') && c.alive('b'), c.describe('a') + c.describe('b'));
    assert.deepEqual(treeOf(c.root('b')), treeOf(c.root('a')));
  });

  it('leaves the receiving daemon running with no temp file when the sender dies, and converges after a restart', async () => {
    const c = await FaultCluster.create({ nodes: ['a', 'b'] });
    clusters.push(c);
    await c.spawn('b');
    const big = randomBytes(BIG_BYTES);
    c.write('a', 'big.bin', big);
    // a pushes what it finds at start by itself (no client process that could outlive it).
    const landing = tempFileAppears(c.root('b'));
    await c.spawn('a');
    await landing;
    await c.kill('a');
    // b notices the link closed and abandons the transfer: its temp file goes away.
    await until(c.root('b'), () => tempFiles(c.root('b')).length === 0);
    assert.ok(c.alive('b'), c.describe('b'));
    assert.ok(!treeOf(c.root('b')).has('/big.bin'), 'no partial file at the final path');

    // a restarts, pushes again at start, and the trees converge.
    await c.spawn('a');
    await until(c.root('b'), () => treeOf(c.root('b')).get('/big.bin') === digest(big));
    assert.ok(c.alive('a') && c.alive('b'), c.describe('a') + c.describe('b'));
    assert.deepEqual(treeOf(c.root('b')), treeOf(c.root('a')));
    assert.deepEqual(tempFiles(c.root('b')), []);
  });
});

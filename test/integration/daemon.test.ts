// The daemon (docs/daemon.md): watcher-driven pushes, bursts, a peer coming back, SIGHUP with a bad config,
// and CLI commands running beside the daemon. Three in-process daemons on 127.0.0.1 with real TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !/\.csync-[0-9a-z]+\.tmp$/.test(e.name)).length;
  } catch {
    return 0;
  }
}

describe('csync daemon with watchers (3 nodes)', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: true });
  });
  after(async () => {
    await c.close();
  });

  it('sends a write on a to b and c without any command', async () => {
    c.write('a', 'site/index.html', '<h1>v1</h1>\n');
    await c.until('index.html on b and c', () => c.read('b', 'site/index.html') === '<h1>v1</h1>\n' && c.read('c', 'site/index.html') === '<h1>v1</h1>\n');
  });

  it('sends an edit on c back to a and b', async () => {
    c.write('c', 'site/index.html', '<h1>v2 from c</h1>\n');
    await c.until('the edit on a and b', () => c.read('a', 'site/index.html') === '<h1>v2 from c</h1>\n' && c.read('b', 'site/index.html') === '<h1>v2 from c</h1>\n');
  });

  it('delivers a burst of 10,000 files in a bounded number of update passes', async () => {
    const before = c.cycles('a');
    for (let d = 0; d < 100; d++) for (let f = 0; f < 100; f++) c.write('a', `burst/d${d}/f${f}.txt`, `file ${d}/${f}\n`);
    await c.until('10,000 files on b and c', () => c.applied('b') >= 10_000 && c.applied('c') >= 10_000 && countFiles(join(c.root('b'), 'burst')) === 10_000 && countFiles(join(c.root('c'), 'burst')) === 10_000, 120_000);
    const passes = c.cycles('a') - before;
    assert.ok(passes <= 40, `expected a bounded number of passes, got ${passes}`);
    assert.equal(readFileSync(join(c.root('c'), 'burst/d99/f99.txt'), 'utf8'), 'file 99/99\n');
  });
});

describe('csync daemon without watchers (3 nodes)', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false });
  });
  after(async () => {
    await c.close();
  });

  it('catches up a peer that was stopped while changes were made', async () => {
    await c.stopNode('c');
    for (let i = 0; i < 20; i++) c.write('a', `late/f${i}.txt`, `late ${i}\n`);
    const r = await c.run('a', '-x');
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /c: not updated/);
    assert.equal(c.read('b', 'late/f19.txt'), 'late 19\n');
    await c.startNode('c');
    await c.until('c caught up and a has nothing dirty', () => c.read('c', 'late/f19.txt') === 'late 19\n' && countFiles(join(c.root('c'), 'late')) === 20 && c.dirty('a') === 0);
    const dirty = await c.run('a', '-M');
    assert.equal(dirty.status, 2, `nothing should stay dirty: ${dirty.out}`);
  });

  it('keeps the old configuration when SIGHUP brings a broken one', async () => {
    const good = readFileSync(c.cfg, 'utf8');
    writeFileSync(c.cfg, `${good}\nbogus_key = 1\n`);
    try {
      assert.equal(await c.daemon('a')?.reload(), false);
    } finally {
      writeFileSync(c.cfg, good);
    }
    c.write('a', 'after-hup.txt', 'still syncing\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    assert.equal(c.read('b', 'after-hup.txt'), 'still syncing\n');
    assert.equal(await c.daemon('a')?.reload(), true);
  });

  it('lets CLI commands run beside the daemon without corrupting state or locking errors', async () => {
    for (let i = 0; i < 300; i++) c.write('a', `both/f${i}.txt`, `both ${i}\n`);
    const results = await Promise.all([c.run('a', '-x'), c.run('a', '-x'), c.run('a', '-M'), c.run('b', 'status')]);
    for (const r of results) assert.doesNotMatch(r.err + r.out, /database is locked|SQLITE_BUSY|internal error/);
    assert.ok(results[0].status === 0 || results[1].status === 0, results.map((r) => r.out).join('\n'));
    assert.equal(countFiles(join(c.root('b'), 'both')), 300);
    assert.equal(countFiles(join(c.root('c'), 'both')), 300);
    assert.equal((await c.run('a', '-M')).status, 2);
    const listing = await c.run('b', '-L');
    assert.equal(listing.status, 0);
    assert.equal(listing.out.split('\n').filter((l) => l.includes('%data%/both/')).length, 300);
  });
});

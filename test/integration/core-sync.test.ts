// Core sync over real TLS between three daemons on 127.0.0.1 (issue 2): content of every size,
// modes, mtimes, symlinks, nested dirs, deletes; wrong keys, changed certificates, the 3-node lost
// update case of docs/semantics.md, and csync2-style backup generations.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

/** Deterministic bytes (xorshift32) so a failure reproduces. */
function seeded(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Everything csync promises to carry, per relative path: kind, mode, mtime (µs), size, content hash, link target. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const abs = join(e.parentPath, e.name);
    const rel = abs.slice(root.length + 1);
    const st = lstatSync(abs, { bigint: true });
    const mode = (Number(st.mode) & 0o7777).toString(8);
    if (e.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(abs)}`;
    else if (e.isDirectory()) out[rel] = `dir ${mode}`;
    else out[rel] = `file ${mode} ${st.size} ${st.mtimeNs / 1000n} ${createHash('sha256').update(readFileSync(abs)).digest('hex').slice(0, 16)}`;
  }
  return out;
}

describe('three nodes over TLS (no watcher: csync -x drives the sync)', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false, groupExtra: `backup_dir = "%data%/../backup"\nbackup_generations = 3` });
  });
  after(async () => {
    await c.close();
  });

  it('makes b and c byte-identical to a: sizes, empty files, modes, mtimes, nested dirs, symlinks', async () => {
    const a = c.root('a');
    c.write('a', 'empty', '');
    c.write('a', 'one', 'x');
    c.write('a', 'four-k.bin', seeded(4096, 1));
    c.write('a', 'sub/dir/deep/300k.bin', seeded(300 * 1024, 2));
    c.write('a', 'sub/five-m.bin', seeded(5 * 1024 * 1024, 3));
    c.write('a', 'modes/private', 'secret\n');
    chmodSync(join(a, 'modes/private'), 0o600);
    c.write('a', 'modes/script.sh', '#!/bin/sh\n');
    chmodSync(join(a, 'modes/script.sh'), 0o755);
    mkdirSync(join(a, 'modes/locked'));
    chmodSync(join(a, 'modes/locked'), 0o700);
    utimesSync(join(a, 'one'), 1_600_000_000.123456, 1_600_000_000.123456);
    symlinkSync('../one', join(a, 'sub/link-to-one'));
    symlinkSync('does/not/exist', join(a, 'dangling'));
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /^b: sent \d+/m);
    assert.match(r.out, /^c: sent \d+/m);
    assert.deepEqual(snapshot(c.root('b')), snapshot(a));
    assert.deepEqual(snapshot(c.root('c')), snapshot(a));
  });

  it('carries a 50 MiB file intact', async () => {
    c.write('a', 'big/fifty.bin', seeded(50 * 1024 * 1024, 50));
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    const want = createHash('sha256').update(readFileSync(join(c.root('a'), 'big/fifty.bin'))).digest('hex');
    for (const n of ['b', 'c']) assert.equal(createHash('sha256').update(readFileSync(join(c.root(n), 'big/fifty.bin'))).digest('hex'), want);
  });

  it('deletes files and whole directory trees on every peer', async () => {
    unlinkSync(join(c.root('a'), 'one'));
    rmSync(join(c.root('a'), 'sub'), { recursive: true });
    const r = await c.run('a', '-x', '--allow-mass-delete');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of ['b', 'c']) {
      assert.equal(existsSync(join(c.root(n), 'one')), false);
      assert.equal(existsSync(join(c.root(n), 'sub')), false);
      assert.deepEqual(snapshot(c.root(n)), snapshot(c.root('a')));
    }
  });

  it('sends an edit made on c back to a and b', async () => {
    c.write('c', 'modes/script.sh', '#!/bin/sh\necho from c\n');
    const r = await c.run('c', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(c.read('a', 'modes/script.sh'), '#!/bin/sh\necho from c\n');
    assert.equal(c.read('b', 'modes/script.sh'), '#!/bin/sh\necho from c\n');
  });

  it('rotates backups to 3 generations with csync2 names (name, name.1, name.2)', async () => {
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) {
      c.write('a', 'gen.txt', `${v}\n`);
      assert.equal((await c.run('a', '-x')).status, 0);
    }
    const base = join(c.dir, 'b', 'backup', c.root('b'), 'gen.txt');
    assert.equal(readFileSync(base, 'utf8'), 'v4\n');
    assert.equal(readFileSync(`${base}.1`, 'utf8'), 'v3\n');
    assert.equal(readFileSync(`${base}.2`, 'utf8'), 'v2\n');
    assert.equal(existsSync(`${base}.3`), false);
  });

  it('detects the lost update: b reaches c first, then the concurrent edit of a is a conflict at c', async () => {
    c.write('a', 'f.txt', 'base\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    c.write('a', 'f.txt', 'edit from a\n');
    c.write('b', 'f.txt', 'edit from b\n');
    assert.equal((await c.run('b', '-x', '-P', 'c')).status, 0);
    const fromA = await c.run('a', '-x', '-P', 'c');
    assert.equal(fromA.status, 1, fromA.out);
    assert.match(fromA.out, /c: .*conflicts 1/);
    assert.ok(fromA.out.includes(`conflict: ${join(c.root('a'), 'f.txt')} (run \`csync -f ${join(c.root('a'), 'f.txt')}\``), `names the real path and the command to settle it: ${fromA.out}`);
    assert.equal(c.read('c', 'f.txt'), 'edit from b\n', 'c keeps what it had');
    assert.equal(c.read('a', 'f.txt'), 'edit from a\n', 'a keeps its own');
    const dirty = await c.run('a', '-M');
    assert.match(dirty.out, /^chary\tc\t%data%\/f\.txt\tconflict$/m);

    // The operator decides a wins: -f on a, then -u converges everyone; c's version is backed up.
    assert.equal((await c.run('a', '-f', join(c.root('a'), 'f.txt'))).status, 0);
    const settle = await c.run('a', '-u');
    assert.equal(settle.status, 0, settle.out);
    for (const n of ['b', 'c']) assert.equal(c.read(n, 'f.txt'), 'edit from a\n');
    assert.equal(readFileSync(join(c.dir, 'c', 'backup', c.root('c'), 'f.txt'), 'utf8'), 'edit from b\n');
  });
});

describe('authentication', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false });
  });
  after(async () => {
    await c.close();
  });

  it('refuses a peer with another group key (exit 77) while the other peer is updated, and c writes nothing', async () => {
    await c.stopNode('c');
    const goodKey = readFileSync(join(c.dir, 'g.key'));
    const cfgC = join(c.dir, 'c-wrong-key.toml');
    writeFileSync(join(c.dir, 'other.key'), 'a-completely-different-group-key-of-enough-length\n', { mode: 0o600 });
    writeFileSync(cfgC, readFileSync(c.cfg, 'utf8').replace(join(c.dir, 'g.key'), join(c.dir, 'other.key')));
    await c.startNode('c', cfgC);
    c.write('a', 'secret.txt', 'for members only\n');
    const r = await c.run('a', '-x');
    assert.equal(r.status, 77, r.out + r.err);
    assert.match(r.out, /c: not updated: .*key/i);
    assert.equal(c.read('b', 'secret.txt'), 'for members only\n');
    assert.equal(c.read('c', 'secret.txt'), undefined);
    const listing = await c.run('c', '-L');
    assert.doesNotMatch(listing.out, /secret\.txt/);
    assert.equal(readFileSync(join(c.dir, 'g.key')).equals(goodKey), true);
  });

  it('refuses a peer whose certificate changed, names `csync trust forget`, and accepts it after forgetting', async () => {
    await c.stopNode('c');
    await c.startNode('c');
    c.write('a', 'x1.txt', 'one\n');
    assert.equal((await c.run('a', '-x')).status, 0, 'first contact pins c');
    await c.stopNode('c');
    rmSync(join(c.dir, 'c', 'tls.crt'));
    rmSync(join(c.dir, 'c', 'tls.key'));
    assert.equal((await c.run('c', 'tls', 'init', '-q')).status, 0);
    await c.startNode('c');
    c.write('a', 'x2.txt', 'two\n');
    const r = await c.run('a', '-x');
    assert.equal(r.status, 77, r.out);
    assert.match(r.out + r.err, /csync trust forget c/);
    assert.equal(c.read('b', 'x2.txt'), 'two\n', 'b is not affected');
    assert.equal(c.read('c', 'x2.txt'), undefined);
    assert.equal((await c.run('a', 'trust', 'forget', 'c')).status, 0);
    assert.equal((await c.run('a', '-u')).status, 0);
    assert.equal(c.read('c', 'x2.txt'), 'two\n');
  });
});

describe('csync -T over TLS', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false });
  });
  after(async () => {
    await c.close();
  });

  it('exits 0 when in sync, then names X and R differences made behind csync\'s back (exit 1)', async () => {
    c.write('a', 'www/index.html', 'v1\n');
    c.write('a', 'www/app.js', 'js\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    const clean = await c.run('a', '-T');
    assert.equal(clean.status, 0, clean.out + clean.err);
    assert.equal(clean.out, '');
    c.write('b', 'www/index.html', 'changed on b by hand\n');
    c.write('c', 'www/extra.txt', 'only on c\n');
    const diff = await c.run('a', '-T');
    assert.equal(diff.status, 1, diff.err);
    assert.deepEqual(diff.out.trim().split('\n').sort(), ['R\tc\t%data%/www/extra.txt', 'X\tb\t%data%/www/index.html']);
    const json = await c.run('a', '-T', '--json');
    assert.equal(JSON.parse(json.out).length, 2);
  });
});

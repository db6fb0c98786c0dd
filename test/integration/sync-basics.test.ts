// Core sync over real TLS between three in-process servers (docs/semantics.md, "What is synced"): sizes, modes, mtimes,
// nested dirs, symlinks, a 50 MiB file, deletions of files and trees, and an edit flowing back.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileHash, seededBytes, startCluster } from '../helpers/tls-cluster.ts';

const PEERS = ['b', 'c'] as const;
const MIB = 1024 * 1024;

/** The first tree made on a: every size class, nested dirs, symlinks, modes, fractional mtimes. */
const TREE_FILES: readonly { description: string; rel: string; content: Buffer; mode?: number; mtimeS?: number }[] = [
  { description: 'empty file', rel: 'empty', content: Buffer.alloc(0) },
  { description: 'one byte, fractional mtime', rel: 'one', content: Buffer.from('x'), mtimeS: 1_600_000_000.123456 },
  { description: '4 KiB, 0640', rel: 'four-k.bin', content: seededBytes(4096, 1), mode: 0o640 },
  { description: '300 KiB three levels deep', rel: 'l1/l2/l3/300k.bin', content: seededBytes(300 * 1024, 2), mtimeS: 1_234_567_890.5 },
  { description: '5 MiB', rel: 'l1/five-m.bin', content: seededBytes(5 * MIB, 3) },
  { description: 'private 0600', rel: 'modes/private', content: Buffer.from('secret\n'), mode: 0o600 },
  { description: 'script 0755, old mtime', rel: 'modes/script.sh', content: Buffer.from('#!/bin/sh\n'), mode: 0o755, mtimeS: 1_000_000_000.000001 },
];

function writeTree(root: string): void {
  for (const f of TREE_FILES) {
    const abs = join(root, f.rel);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, f.content);
    if (f.mode !== undefined) chmodSync(abs, f.mode);
    if (f.mtimeS !== undefined) utimesSync(abs, f.mtimeS, f.mtimeS);
  }
  mkdirSync(join(root, 'modes/locked'));
  chmodSync(join(root, 'modes/locked'), 0o700);
  symlinkSync('../../one', join(root, 'l1/l2/link-to-one'));
  symlinkSync('does/not/exist', join(root, 'dangling'));
}

const c = await startCluster(after, { nodes: ['a', 'b', 'c'] });

describe('three nodes over TLS, driven by csync -x', () => {
  it('makes b and c byte-identical to a: sizes, nested dirs, symlinks, modes, fractional mtimes', async () => {
    writeTree(c.root('a'));
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    const want = c.snapshot('a');
    assert.match(want['one'] ?? '', / 1600000000123456 /, 'the snapshot carries µs mtimes');
    assert.match(want['modes/locked'] ?? '', /^dir 0700 /);
    assert.equal(want['dangling'], 'link -> does/not/exist');
    for (const n of PEERS) assert.deepEqual(c.snapshot(n), want, `${n} equals a`);
  });

  it('carries a 50 MiB file to both peers byte-identical', async () => {
    writeFileSync(join(c.root('a'), 'big.bin'), seededBytes(50 * MIB, 50));
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    const want = fileHash(join(c.root('a'), 'big.bin'));
    for (const n of PEERS) assert.equal(fileHash(join(c.root(n), 'big.bin')), want, `${n} has the same bytes`);
    for (const n of PEERS) assert.deepEqual(c.snapshot(n), c.snapshot('a'));
  });

  it('sends only the changed blocks of a large file changed in the middle, and the peers rebuild it exactly', async () => {
    const big = join(c.root('a'), 'big.bin');
    const bytes = readFileSync(big);
    bytes.set(seededBytes(300 * 1024, 51), 20 * MIB);
    writeFileSync(big, bytes);
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    const want = fileHash(big);
    for (const n of PEERS) assert.equal(fileHash(join(c.root(n), 'big.bin')), want, `${n} has the same bytes`);
    // 300 KiB over 64 KiB blocks touches at most 6 blocks: 384 KiB per peer, not 50 MiB.
    for (const n of PEERS) {
      const m = new RegExp(`^${n}: sent 1,.* ([0-9.]+) (B|KiB|MiB) in`, 'm').exec(r.out);
      assert.ok(m, r.out);
      const kib = Number(m[1]) * ({ B: 1 / 1024, KiB: 1, MiB: 1024 } as Record<string, number>)[m[2] as string]!;
      assert.ok(kib > 0 && kib <= 384, `${n}: ${kib} KiB sent for a 300 KiB change`);
    }
  });

  it('deletes a file and a whole directory tree on every peer', async () => {
    unlinkSync(join(c.root('a'), 'empty'));
    rmSync(join(c.root('a'), 'l1'), { recursive: true });
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of PEERS) {
      assert.equal(existsSync(join(c.root(n), 'empty')), false, `empty gone on ${n}`);
      assert.equal(existsSync(join(c.root(n), 'l1')), false, `l1/ gone on ${n}`);
      assert.deepEqual(c.snapshot(n), c.snapshot('a'));
    }
  });

  it('sends an edit made on c back to a and b', async () => {
    const edited = '#!/bin/sh\necho edited on c\n';
    writeFileSync(join(c.root('c'), 'modes/script.sh'), edited);
    const r = await c.run('c', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of ['a', 'b']) {
      assert.equal(readFileSync(join(c.root(n), 'modes/script.sh'), 'utf8'), edited);
      assert.deepEqual(c.snapshot(n), c.snapshot('c'), `${n} equals c`);
    }
  });

  it('keeps the mode of a 0700 directory that arrives together with its contents', async () => {
    const locked = join(c.root('a'), 'private-dir');
    mkdirSync(join(locked, 'nested'), { recursive: true });
    writeFileSync(join(locked, 'nested/inside'), 'behind a 0700 dir\n');
    chmodSync(locked, 0o700);
    chmodSync(join(locked, 'nested'), 0o750);
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    for (const n of PEERS) assert.deepEqual(c.snapshot(n), c.snapshot('a'), `${n} equals a`);
  });
});

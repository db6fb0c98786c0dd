// NodeFileSystem confinement (docs/security.md, "Local users"): below an anchor nothing is reached through a symlink, even
// one a local user swaps in between two operations, and an anchor itself is never replaced. Each
// test is an attack on a real disk; `outside` must be exactly as it was afterwards.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, lstatSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../../../src/fs/node-fs.ts';
import { hasCode } from '../../../src/core/errors.ts';
import { snapshotTree } from '../../helpers/tls-cluster.ts';

let base = '';
let root = '';
let outside = '';
let fs: NodeFileSystem;
let before: Record<string, string> = {};

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'csync-confine-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'd'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'top secret');
  fs = new NodeFileSystem({ anchors: [root] });
  before = snapshotTree(outside);
});
afterEach(() => {
  assert.deepEqual(snapshotTree(outside), before, 'nothing outside the root was written or changed');
  rmSync(base, { recursive: true, force: true });
});

/** Replaces directory `d` of the root by a symlink to `outside`, as a local user could. */
function swapForSymlink(): void {
  renameSync(join(root, 'd'), join(root, 'd.old'));
  symlinkSync(outside, join(root, 'd'));
}

async function refused(p: Promise<unknown> | (() => unknown), code: 'CSYNC_PATH_UNSAFE' | 'CSYNC_LOCAL_CHANGE' = 'CSYNC_PATH_UNSAFE'): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (err: unknown) => hasCode(err, code));
}

describe('NodeFileSystem confined to an anchor', () => {
  it('refuses every write through a directory swapped for a symlink', async () => {
    await fs.mkdir(join(root, 'd', 'sub'), { mode: 0o755 });
    swapForSymlink();
    await refused(fs.beginWrite(join(root, 'd', 'x2')));
    await refused(fs.mkdir(join(root, 'd', 'newdir'), { mode: 0o755 }));
    await refused(fs.symlink('/etc/passwd', join(root, 'd', 'l'), {}));
    await refused(fs.unlink(join(root, 'd', 'secret.txt')));
    await refused(fs.rename(join(root, 'd.old', 'sub'), join(root, 'd', 'sub')));
    await refused(fs.setMeta(join(root, 'd', 'secret.txt'), { mode: 0o777 }));
    await refused(fs.copyFile(join(outside, 'secret.txt'), join(root, 'd', 'copy')));
  });

  it('sees nothing below a symlinked directory and never reads or lists through it', async () => {
    swapForSymlink();
    assert.equal(fs.lstat(join(root, 'd', 'secret.txt')), undefined);
    await refused(fs.readFile(join(root, 'd', 'secret.txt')));
    await refused(async () => {
      for await (const chunk of fs.readChunks(join(root, 'd', 'secret.txt'), 1024)) void chunk;
    });
    await refused(() => fs.readdir(join(root, 'd')));
    await refused(() => fs.listDir(join(root, 'd')));
    assert.equal(fs.lstat(join(root, 'd'))?.kind, 'symlink', 'the link itself is seen as a link');
  });

  it('a write begun before the swap lands in the directory it opened, never through the new symlink', async () => {
    const w = await fs.beginWrite(join(root, 'd', 'x1'));
    await w.write(new TextEncoder().encode('payload'));
    swapForSymlink();
    await w.commit({ mode: 0o644 });
    assert.equal(readFileSync(join(root, 'd.old', 'x1'), 'utf8'), 'payload');
  });

  it('never replaces, removes or writes over the anchor itself', async () => {
    await refused(fs.beginWrite(root));
    await refused(fs.symlink(outside, root, {}));
    await refused(fs.unlink(root));
    await refused(fs.rmdir(root));
    await refused(fs.rename(join(root, 'd'), root));
    assert.equal(lstatSync(root).isDirectory(), true);
  });

  it('never reads a file swapped for a symlink, nor one that changed since it was checked', async () => {
    writeFileSync(join(root, 'f'), 'same size!');
    const st = fs.lstat(join(root, 'f'));
    assert.ok(st);
    rmSync(join(root, 'f'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'f'));
    await refused(fs.readFile(join(root, 'f'), st), 'CSYNC_LOCAL_CHANGE');
    await refused(fs.readFile(join(root, 'f')), 'CSYNC_LOCAL_CHANGE');
    rmSync(join(root, 'f'));
    writeFileSync(join(root, 'f'), 'other text');
    await refused(fs.readFile(join(root, 'f'), st), 'CSYNC_LOCAL_CHANGE');
  });

  it('sets metadata on the entry itself, never on what a symlink points to', async () => {
    symlinkSync(join(outside, 'secret.txt'), join(root, 'link'));
    await fs.setMeta(join(root, 'link'), { mode: 0o777, mtimeNs: 1_000_000_000_000_000_000n });
  });

  it('aborts a commit when the target changed after the write began, keeping the local version', async () => {
    writeFileSync(join(root, 'f'), 'original');
    const st = fs.lstat(join(root, 'f')) ?? null;
    const w = await fs.beginWrite(join(root, 'f'));
    await w.write(new TextEncoder().encode('incoming'));
    writeFileSync(join(root, 'f'), 'local edit');
    await refused(w.commit({}, { expectTarget: st }), 'CSYNC_LOCAL_CHANGE');
    assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'local edit');
    assert.deepEqual(fs.readdir(root).filter((n) => n.endsWith('.tmp')), []);
  });

  it('lists a directory with each entry seen through the directory itself', () => {
    writeFileSync(join(root, 'd', 'a'), 'x');
    symlinkSync(outside, join(root, 'd', 'l'));
    const got = Object.fromEntries(fs.listDir(join(root, 'd')).map((e) => [e.name, e.stat?.kind]));
    assert.deepEqual(got, { a: 'file', l: 'symlink' });
  });

  it('leaves the working directory where it was after a listing, a refused one included', async () => {
    const cwd = process.cwd();
    writeFileSync(join(root, 'd', 'a'), 'x');
    assert.equal(fs.listDir(join(root, 'd')).length, 1);
    assert.equal(process.cwd(), cwd);
    assert.equal(realpathSync('.'), realpathSync(cwd), 'the process is back in its own directory, not only its cached name');
    swapForSymlink();
    await refused(() => fs.listDir(join(root, 'd')));
    assert.equal(realpathSync('.'), realpathSync(cwd));
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../../../src/fs/node-fs.ts';
import { hasCode } from '../../../src/core/errors.ts';
import { describeFileSystemConformance } from '../../helpers/fs-conformance.ts';

describeFileSystemConformance('NodeFileSystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'csync-nodefs-conf-'));
  return { fs: new NodeFileSystem(), root, cleanup: () => rm(root, { recursive: true, force: true }) };
});

const IS_ROOT = process.getuid?.() === 0;

describe('NodeFileSystem', () => {
  const fs = new NodeFileSystem();
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'csync-nodefs-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('round-trips a nanosecond mtime to within a microsecond as seen by node:fs', async () => {
    const path = join(root, 'mtime');
    const w = await fs.beginWrite(path);
    await w.commit({ mtimeNs: 1_234_567_890_987_654_321n });
    const st = await stat(path, { bigint: true });
    const diff = st.mtimeNs - 1_234_567_890_987_654_321n;
    assert.ok(diff >= -1_000n && diff <= 1_000n, `diff ${diff}ns`);
  });

  it('writes a file larger than the early-writeback step intact, and aborts one mid-way without a trace', async () => {
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    const path = join(root, 'large');
    const w = await fs.beginWrite(path);
    for (let i = 0; i < 70; i++) await w.write(chunk);
    await w.commit({ mode: 0o644 });
    assert.equal((await stat(path)).size, 70 * chunk.length);
    const back = await fs.readFile(path);
    assert.ok(Buffer.from(back.subarray(69 * chunk.length)).equals(Buffer.from(chunk)), "the last MiB is intact");
    const aborted = await fs.beginWrite(join(root, 'large-aborted'));
    for (let i = 0; i < 70; i++) await aborted.write(chunk);
    await aborted.abort();
    assert.deepEqual((await readdir(root)).filter((n) => n.includes('large')), ['large']);
  });

  it('applies a mode regardless of the umask and masks off file-type bits', async () => {
    const path = join(root, 'mode');
    const w = await fs.beginWrite(path);
    await w.commit({ mode: 0o100777 });
    assert.equal((await stat(path)).mode & 0o7777, 0o777);
  });

  it('reports a device as kind "other" and a symlink without following it', async () => {
    await fs.symlink('does-not-exist', join(root, 'dangling'), {});
    assert.equal(fs.lstat(join(root, 'dangling'))?.kind, 'symlink');
    assert.equal(fs.lstat(join(root, 'dangling'))?.sizeBytes, 'does-not-exist'.length);
    assert.equal(fs.lstat('/dev/null')?.kind, 'other');
  });

  it('changes the owner when permitted and never fails a write over ownership', async () => {
    const path = join(root, 'owned');
    const w = await fs.beginWrite(path);
    await w.commit({ uid: 4321, gid: 4322 });
    const st = fs.lstat(path);
    if (IS_ROOT) assert.deepEqual([st?.uid, st?.gid], [4321, 4322]);
    else assert.equal(st?.kind, 'file');
  });

  it('commit resolves with what an lstat of the target reports, setuid kept across an owner change', async () => {
    const path = join(root, 'committed');
    const w = await fs.beginWrite(path);
    await w.write(new TextEncoder().encode('abc'));
    const mode = IS_ROOT ? 0o4755 : 0o640;
    const got = await w.commit({ mode, uid: 4321, gid: 4322, mtimeNs: 1_700_000_000_123_456_000n });
    assert.deepEqual(got, fs.lstat(path));
    assert.equal(got.sizeBytes, 3);
    assert.equal(got.mode, mode, IS_ROOT ? 'chown clears setuid: the mode is set again after it' : 'mode as asked');
    if (IS_ROOT) assert.deepEqual([got.uid, got.gid], [4321, 4322]);
  });

  it('changes a symlink owner with lchown, leaving the target alone', { skip: !IS_ROOT && 'needs root' }, async () => {
    await writeFile(join(root, 'tgt'), 'x');
    await fs.symlink('tgt', join(root, 'lnk'), { uid: 777, gid: 778 });
    assert.deepEqual([fs.lstat(join(root, 'lnk'))?.uid, fs.lstat(join(root, 'lnk'))?.gid], [777, 778]);
    assert.notEqual(fs.lstat(join(root, 'tgt'))?.uid, 777);
  });

  it('refuses to replace a directory with a file and leaves no temp file behind after abort', async () => {
    const dir = join(root, 'isdir');
    await fs.mkdir(dir, {});
    const w = await fs.beginWrite(dir);
    await w.write(new Uint8Array(10));
    await assert.rejects(w.commit({}), (e) => hasCode(e, 'CSYNC_IO') && /rename/.test(e.message));
    await w.abort();
    const left = (await readdir(root)).filter((n) => n.includes('.csync-'));
    assert.deepEqual(left, []);
  });

  it('streams a file larger than one chunk with bounded chunk sizes', async () => {
    const path = join(root, 'big');
    const content = new Uint8Array(300_001).map((_, i) => i % 251);
    const w = await fs.beginWrite(path);
    await w.write(content);
    await w.commit({});
    const sizes: number[] = [];
    const parts: Uint8Array[] = [];
    for await (const c of fs.readChunks(path, 65_536)) {
      sizes.push(c.length);
      parts.push(c);
    }
    assert.deepEqual(sizes, [65_536, 65_536, 65_536, 65_536, 37_857]);
    assert.ok(Buffer.concat(parts).equals(Buffer.from(content)));
  });
});

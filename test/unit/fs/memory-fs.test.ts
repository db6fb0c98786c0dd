import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/fs/memory-fs.ts';
import { FailingFileSystem } from '../../../src/fs/failing-fs.ts';
import { hasCode } from '../../../src/core/errors.ts';
import { describeFileSystemConformance } from '../../helpers/fs-conformance.ts';

describeFileSystemConformance('MemoryFileSystem', async () => {
  const fs = new MemoryFileSystem();
  fs.mkdirpSync('/root');
  return { fs, root: '/root', cleanup: async () => undefined };
});

const MTIME = 1_700_000_000_000_000_123n;

describe('MemoryFileSystem', () => {
  it('snapshots a tree by relative path with kind, mode, owner, mtime and content', () => {
    const fs = new MemoryFileSystem({ uid: 7, gid: 8 });
    fs.mkdirpSync('/g/sub');
    fs.writeFileSync('/g/sub/a.txt', 'hi', { mode: 0o600, mtimeNs: MTIME });
    fs.writeFileSync('/g/bin', new Uint8Array([0xff, 0x00]), { mtimeNs: MTIME });
    fs.symlinkSync('sub/a.txt', '/g/link', { mtimeNs: MTIME });
    const snap = fs.snapshot('/g', { ignoreMtime: true });
    assert.deepEqual(snap, {
      bin: 'file 0644 7:8 hex:ff00',
      link: 'symlink 0777 7:8 -> sub/a.txt',
      sub: 'dir 0755 7:8',
      'sub/a.txt': 'file 0600 7:8 "hi"',
    });
    assert.equal(fs.snapshot('/g')['sub/a.txt'], `file 0600 7:8 mtime=${MTIME} "hi"`);
  });

  it('makes two trees with the same history compare equal and a changed byte compare unequal', () => {
    const build = (text: string): MemoryFileSystem => {
      const fs = new MemoryFileSystem();
      fs.mkdirpSync('/r/d');
      fs.writeFileSync('/r/d/f', text, { mtimeNs: MTIME });
      return fs;
    };
    assert.deepEqual(build('x').snapshot('/r', { ignoreMtime: true }), build('x').snapshot('/r', { ignoreMtime: true }));
    assert.notDeepEqual(build('x').snapshot('/r'), build('y').snapshot('/r'));
  });

  it('follows intermediate symlinks but not a final one', async () => {
    const fs = new MemoryFileSystem();
    fs.mkdirpSync('/real/dir');
    fs.writeFileSync('/real/dir/f', 'content');
    fs.symlinkSync('/real', '/alias');
    fs.symlinkSync('dir', '/real/rel');
    assert.equal(fs.lstat('/alias')?.kind, 'symlink');
    assert.equal(fs.lstat('/alias/dir/f')?.kind, 'file');
    assert.equal(Buffer.from(await fs.readFile('/real/rel/f')).toString(), 'content');
  });

  it('reports ELOOP for a symlink cycle instead of hanging', () => {
    const fs = new MemoryFileSystem();
    fs.symlinkSync('/b', '/a');
    fs.symlinkSync('/a', '/b');
    assert.throws(() => fs.lstat('/a/x'), (e) => hasCode(e, 'CSYNC_IO') && /ELOOP/.test(e.message));
  });

  it('throws POSIX-like errors: ENOTDIR under a file, EISDIR unlinking a dir, ENOENT renaming a missing entry', async () => {
    const fs = new MemoryFileSystem();
    fs.mkdirpSync('/d');
    fs.writeFileSync('/f', 'x');
    await assert.rejects(fs.mkdir('/f/sub', {}), (e) => hasCode(e, 'CSYNC_IO') && /ENOTDIR/.test(e.message));
    await assert.rejects(fs.unlink('/d'), (e) => hasCode(e, 'CSYNC_IO') && /EISDIR/.test(e.message));
    await assert.rejects(fs.rename('/nope', '/x'), (e) => hasCode(e, 'CSYNC_IO') && /ENOENT/.test(e.message));
    await assert.rejects(fs.rename('/d', '/d/inside'), (e) => hasCode(e, 'CSYNC_IO') && /EINVAL/.test(e.message));
  });

  it('moves a directory subtree with rename', async () => {
    const fs = new MemoryFileSystem();
    fs.mkdirpSync('/a/b');
    fs.writeFileSync('/a/b/f', 'x');
    await fs.rename('/a', '/z');
    assert.equal(fs.lstat('/a'), undefined);
    assert.equal(fs.lstat('/z/b/f')?.kind, 'file');
  });

  it('keeps a failed commit (target is a directory) from touching the directory, and abort cleans up', async () => {
    const fs = new MemoryFileSystem();
    fs.mkdirpSync('/d/target');
    const w = await fs.beginWrite('/d/target');
    await w.write(new Uint8Array([1]));
    await assert.rejects(w.commit({}), (e) => hasCode(e, 'CSYNC_IO') && /EISDIR/.test(e.message));
    await w.abort();
    assert.deepEqual(fs.readdir('/d'), ['target']);
    assert.equal(fs.lstat('/d/target')?.kind, 'dir');
  });
});

describe('FailingFileSystem', () => {
  it('throws CSYNC_IO for selected operations and leaves the inner filesystem untouched', async () => {
    const inner = new MemoryFileSystem();
    inner.mkdirpSync('/d');
    inner.writeFileSync('/d/a', 'keep');
    const fs = new FailingFileSystem(inner, { failOn: (op, path) => op === 'rename' && path === '/d/b' });
    await assert.rejects(fs.rename('/d/a', '/d/b'), (e) => hasCode(e, 'CSYNC_IO') && e.message === 'rename "/d/b": injected failure');
    assert.deepEqual(inner.readdir('/d'), ['a']);
    await fs.rename('/d/a', '/d/c');
    assert.deepEqual(inner.readdir('/d'), ['c']);
  });

  it('fails a pending write at commit so the caller can abort without leftovers', async () => {
    const inner = new MemoryFileSystem();
    inner.mkdirpSync('/d');
    const fs = new FailingFileSystem(inner, { failOn: (op) => op === 'commit' });
    const w = await fs.beginWrite('/d/f');
    await w.write(new Uint8Array([1, 2]));
    await assert.rejects(w.commit({}), (e) => hasCode(e, 'CSYNC_IO'));
    await w.abort();
    assert.deepEqual(inner.readdir('/d'), []);
  });

  it('fails readChunks before yielding anything', async () => {
    const inner = new MemoryFileSystem();
    inner.writeFileSync('/f', 'data');
    const fs = new FailingFileSystem(inner, { failOn: (op) => op === 'readChunks' });
    const seen: Uint8Array[] = [];
    await assert.rejects(async () => {
      for await (const c of fs.readChunks('/f', 2)) seen.push(c);
    }, (e) => hasCode(e, 'CSYNC_IO'));
    assert.equal(seen.length, 0);
  });
});

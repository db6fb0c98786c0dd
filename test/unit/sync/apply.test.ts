// apply* (sync/apply.ts) on a MemoryFileSystem: parents, atomic verified writes, backups, kinds, deletes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import type { FileMeta, RelPath } from '../../../src/core/types.ts';
import type { NodeGroup } from '../../../src/config/types.ts';
import { applyDelete, applyDir, applyFile, applyMetaOnly, applySymlink, ensureParents, metaUpdate } from '../../../src/sync/apply.ts';
import type { ApplyTarget } from '../../../src/sync/apply.ts';
import { DIR, F1, LINK, memoryNode, T0_NS } from '../../helpers/fixtures.ts';
import type { MemoryNode } from '../../helpers/fixtures.ts';

const ROOT = '/data';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const code = (c: string) => (e: unknown): boolean => e instanceof CsyncError && e.code === c;

async function setup(t: { after(fn: () => void): void }): Promise<{ n: MemoryNode; group: NodeGroup }> {
  const n = await memoryNode('a');
  t.after(() => n.close());
  const group = n.ctx.view.groups.get('g');
  assert.ok(group);
  return { n, group };
}

const target = (group: NodeGroup, rel: string): ApplyTarget => ({ group, absRoot: ROOT, rel: rel as RelPath });
const withBackups = (g: NodeGroup): NodeGroup => ({ ...g, backupDir: '/backup', config: { ...g.config, backupGenerations: 2 } });
/** The file meta of `text` with the real hash. */
const fileMeta = (n: MemoryNode, text: string, extra: Partial<FileMeta> = {}): FileMeta => ({
  ...F1, sizeBytes: enc(text).length, hash: n.ctx.hasher.hashBytes(enc(text)), ...extra,
});
const temps = (n: MemoryNode, dir: string): string[] => n.mem.readdir(dir).filter((x) => x.endsWith('.tmp'));

describe('metaUpdate', () => {
  const rows: readonly { description: string; meta: FileMeta; ignore: ('mode' | 'uid' | 'gid')[]; allowSetid?: boolean; expected: object }[] = [
    { description: 'sets everything for a file', meta: F1, ignore: [], expected: { mode: 0o644, uid: 1000, gid: 1000, mtimeNs: T0_NS } },
    { description: 'leaves out ignored attributes', meta: F1, ignore: ['mode', 'gid'], expected: { uid: 1000, mtimeNs: T0_NS } },
    { description: 'never sets a directory mtime', meta: DIR, ignore: [], expected: { mode: 0o755, uid: 1000, gid: 1000 } },
    { description: 'never sets a symlink mode', meta: LINK, ignore: [], expected: { uid: 1000, gid: 1000, mtimeNs: T0_NS } },
    { description: 'strips setuid and setgid from a file', meta: { ...F1, mode: 0o6755, uid: 0, gid: 0 }, ignore: [], expected: { mode: 0o755, uid: 0, gid: 0, mtimeNs: T0_NS } },
    { description: 'keeps the sticky bit of a file', meta: { ...F1, mode: 0o1644 }, ignore: [], expected: { mode: 0o1644, uid: 1000, gid: 1000, mtimeNs: T0_NS } },
    { description: 'keeps setgid on a directory', meta: { ...DIR, mode: 0o2775 }, ignore: [], expected: { mode: 0o2775, uid: 1000, gid: 1000 } },
    { description: 'keeps setuid with allow_setid', meta: { ...F1, mode: 0o4755, uid: 0 }, ignore: [], allowSetid: true, expected: { mode: 0o4755, uid: 0, gid: 1000, mtimeNs: T0_NS } },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.deepEqual(metaUpdate(row.meta, { ignore: row.ignore, allowSetid: row.allowSetid ?? false }), row.expected);
    });
  }
});

describe('ensureParents', () => {
  it('creates missing parent directories', async (t) => {
    const { n, group } = await setup(t);
    await ensureParents(n.mem, target(group, 'a/b/c.txt'));
    assert.equal(n.mem.lstat(`${ROOT}/a/b`)?.kind, 'dir');
    assert.equal(n.mem.lstat(`${ROOT}/a/b/c.txt`), undefined);
  });

  it('refuses a symlinked parent and a file parent with CSYNC_PATH_UNSAFE', async (t) => {
    const { n, group } = await setup(t);
    n.mem.symlinkSync('/tmp', `${ROOT}/link`);
    n.mem.writeFileSync(`${ROOT}/file`, 'x');
    await assert.rejects(ensureParents(n.mem, target(group, 'link/x')), code('CSYNC_PATH_UNSAFE'));
    await assert.rejects(ensureParents(n.mem, target(group, 'file/x')), code('CSYNC_PATH_UNSAFE'));
  });

  it('refuses a missing root (it may be an unmounted disk) with CSYNC_SYNC_HALTED_FOR_SAFETY', async (t) => {
    const { n, group } = await setup(t);
    n.mem.removeSync(ROOT);
    await assert.rejects(ensureParents(n.mem, target(group, 'x')), code('CSYNC_SYNC_HALTED_FOR_SAFETY'));
    assert.equal(n.mem.lstat(ROOT), undefined, 'the root is not re-created');
  });

  it('accepts a root that is itself a symlink', async (t) => {
    const { n, group } = await setup(t);
    n.mem.mkdirpSync('/real');
    n.mem.removeSync(ROOT);
    n.mem.symlinkSync('/real', ROOT);
    await ensureParents(n.mem, target(group, 'x/y'));
    assert.equal(n.mem.lstat('/real/x')?.kind, 'dir');
  });
});

describe('applyFile', () => {
  it('writes the content with its metadata and leaves no temp file', async (t) => {
    const { n, group } = await setup(t);
    await applyFile(n.ctx, target(group, 'f.txt'), fileMeta(n, 'hello', { mode: 0o600 }), [enc('hel'), enc('lo')]);
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'hello');
    const st = n.mem.lstat(`${ROOT}/f.txt`);
    assert.equal(st?.mode, 0o600);
    assert.equal(st?.mtimeNs, T0_NS);
    assert.deepEqual(temps(n, ROOT), []);
  });

  it('aborts on a hash mismatch: the old file stays, no temp file is left', async (t) => {
    const { n, group } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/f.txt`, 'old');
    await assert.rejects(applyFile(n.ctx, target(group, 'f.txt'), fileMeta(n, 'hello'), [enc('HELLO')]), (e: unknown) =>
      code('CSYNC_IO')(e) && /content hash mismatch/.test((e as Error).message));
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'old');
    assert.deepEqual(temps(n, ROOT), []);
  });

  it('aborts on a size mismatch even when the stream is cut short', async (t) => {
    const { n, group } = await setup(t);
    await assert.rejects(applyFile(n.ctx, target(group, 'f.txt'), fileMeta(n, 'hello'), [enc('hel')]), code('CSYNC_IO'));
    assert.equal(n.mem.lstat(`${ROOT}/f.txt`), undefined);
  });

  it('backs up the file it overwrites when the group keeps generations', async (t) => {
    const { n, group } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/f.txt`, 'old');
    await applyFile(n.ctx, target(withBackups(group), 'f.txt'), fileMeta(n, 'new'), [enc('new')]);
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'new');
    assert.equal(dec(n.mem.readFileSync(`/backup${ROOT}/f.txt`)), 'old');
  });

  it('replaces an empty directory but refuses a non-empty one', async (t) => {
    const { n, group } = await setup(t);
    n.mem.mkdirpSync(`${ROOT}/empty`);
    n.mem.mkdirpSync(`${ROOT}/full`);
    n.mem.writeFileSync(`${ROOT}/full/child`, 'keep me');
    await applyFile(n.ctx, target(group, 'empty'), fileMeta(n, 'x'), [enc('x')]);
    assert.equal(n.mem.lstat(`${ROOT}/empty`)?.kind, 'file');
    await assert.rejects(applyFile(n.ctx, target(group, 'full'), fileMeta(n, 'x'), [enc('x')]), code('CSYNC_IO'));
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/full/child`)), 'keep me');
    assert.deepEqual(temps(n, ROOT), []);
  });
});

describe('applyDir, applySymlink, applyMetaOnly', () => {
  it('creates a directory with its mode, and updates an existing one', async (t) => {
    const { n, group } = await setup(t);
    await applyDir(n.mem, target(group, 'd'), { ...DIR, mode: 0o700 });
    assert.equal(n.mem.lstat(`${ROOT}/d`)?.mode, 0o700);
    await applyDir(n.mem, target(group, 'd'), { ...DIR, mode: 0o750 });
    assert.equal(n.mem.lstat(`${ROOT}/d`)?.mode, 0o750);
  });

  it('creates and replaces a symlink without following it', async (t) => {
    const { n, group } = await setup(t);
    await applySymlink(n.mem, target(group, 'l'), LINK);
    assert.equal(n.mem.readlink(`${ROOT}/l`), 'target-1');
    n.mem.writeFileSync(`${ROOT}/victim`, 'v');
    await applySymlink(n.mem, target(group, 'l'), { ...LINK, target: 'victim' });
    assert.equal(n.mem.readlink(`${ROOT}/l`), 'victim');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/victim`)), 'v');
  });

  it('changes only metadata, keeping the content', async (t) => {
    const { n, group } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/f`, 'content');
    await applyMetaOnly(n.mem, target(group, 'f'), { ...fileMeta(n, 'content'), mode: 0o640 });
    assert.equal(n.mem.lstat(`${ROOT}/f`)?.mode, 0o640);
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f`)), 'content');
  });
});

describe('applyDelete', () => {
  it('deletes a file (backing it up when configured) and an empty directory', async (t) => {
    const { n, group } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/f`, 'bye');
    n.mem.mkdirpSync(`${ROOT}/d`);
    await applyDelete(n.mem, target(withBackups(group), 'f'));
    await applyDelete(n.mem, target(group, 'd'));
    assert.equal(n.mem.lstat(`${ROOT}/f`), undefined);
    assert.equal(n.mem.lstat(`${ROOT}/d`), undefined);
    assert.equal(dec(n.mem.readFileSync(`/backup${ROOT}/f`)), 'bye');
  });

  it('refuses a non-empty directory', async (t) => {
    const { n, group } = await setup(t);
    n.mem.mkdirpSync(`${ROOT}/d`);
    n.mem.writeFileSync(`${ROOT}/d/x`, 'x');
    await assert.rejects(applyDelete(n.mem, target(group, 'd')), code('CSYNC_IO'));
    assert.equal(n.mem.lstat(`${ROOT}/d/x`)?.kind, 'file');
  });

  it('does nothing when a parent is missing, and creates no directory', async (t) => {
    const { n, group } = await setup(t);
    await applyDelete(n.mem, target(group, 'no/such/file'));
    assert.equal(n.mem.lstat(`${ROOT}/no`), undefined);
  });

  it('refuses to delete through a symlinked parent', async (t) => {
    const { n, group } = await setup(t);
    n.mem.mkdirpSync('/elsewhere');
    n.mem.writeFileSync('/elsewhere/precious', 'p');
    n.mem.symlinkSync('/elsewhere', `${ROOT}/link`);
    await assert.rejects(applyDelete(n.mem, target(group, 'link/precious')), code('CSYNC_PATH_UNSAFE'));
    assert.equal(dec(n.mem.readFileSync('/elsewhere/precious')), 'p');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupBeforeOverwrite, backupPathFor, listGenerations } from '../../../src/backup/rotate.ts';
import { MemoryFileSystem } from '../../../src/fs/memory-fs.ts';
import { NodeFileSystem } from '../../../src/fs/node-fs.ts';
import { FailingFileSystem } from '../../../src/fs/failing-fs.ts';
import type { FileSystem } from '../../../src/fs/filesystem.ts';
import { hasCode } from '../../../src/core/errors.ts';

const BACKUP_DIR = '/var/backups/csync';
const FILE = '/srv/www/index.html';
const BARE = `${BACKUP_DIR}${FILE}`;
const VERSIONS = ['v1', 'v2', 'v3', 'v4', 'v5'];

async function text(fs: FileSystem, path: string): Promise<string> {
  return Buffer.from(await fs.readFile(path)).toString();
}

/** Writes each version over FILE, backing up before every overwrite. */
async function overwriteInTurn(fs: FileSystem, file: string, backupDir: string, versions: readonly string[], generations: number): Promise<void> {
  for (const [i, v] of versions.entries()) {
    await backupBeforeOverwrite(fs, { backupDir, generations, path: file });
    const w = await fs.beginWrite(file);
    await w.write(new TextEncoder().encode(v));
    await w.commit({ mtimeNs: BigInt(i + 1) * 1_000_000_000n });
  }
}

function memoryWithFile(): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  fs.mkdirpSync('/srv/www');
  fs.mkdirpSync('/var/backups');
  return fs;
}

describe('backupBeforeOverwrite', () => {
  it('moves the backups of a file one generation older when a directory takes its name (it keeps one even with N=1)', async () => {
    for (const generations of [1, 3]) {
      const fs = memoryWithFile();
      fs.writeFileSync('/srv/www/d', 'old file d');
      await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations, path: '/srv/www/d' });
      fs.removeSync('/srv/www/d');
      fs.mkdirpSync('/srv/www/d');
      fs.writeFileSync('/srv/www/d/f2', 'first f2');
      const made = await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations, path: '/srv/www/d/f2' });
      assert.equal(made, `${BACKUP_DIR}/srv/www/d/f2`);
      assert.equal(await text(fs, `${BACKUP_DIR}/srv/www/d/f2`), 'first f2');
      assert.equal(await text(fs, `${BACKUP_DIR}/srv/www/d.1`), 'old file d', `N=${generations}: the file's backup is generation 1 now`);
      assert.deepEqual(listGenerations(fs, BACKUP_DIR, '/srv/www/d').map((g) => [g.generation, g.stat.kind]), [[0, 'dir'], [1, 'file']]);
    }
  });

  it('never moves anything at or above the backup root out of the way', async () => {
    const fs = memoryWithFile();
    fs.writeFileSync('/var/backups/csync', 'a file where the backup root should be');
    fs.writeFileSync(FILE, 'x');
    await assert.rejects(backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 2, path: FILE }), (e: unknown) => hasCode(e, 'CSYNC_IO'));
    assert.equal(await text(fs, '/var/backups/csync'), 'a file where the backup root should be');
  });

  it('keeps the 3 newest old contents as name, name.1, name.2 after 4 overwrites with N=3', async () => {
    const fs = memoryWithFile();
    fs.writeFileSync(FILE, VERSIONS[0] ?? '');
    await overwriteInTurn(fs, FILE, BACKUP_DIR, VERSIONS.slice(1), 3);
    assert.equal(await text(fs, FILE), 'v5');
    assert.deepEqual(
      await Promise.all(listGenerations(fs, BACKUP_DIR, FILE).map((g) => text(fs, g.path))),
      ['v4', 'v3', 'v2'],
    );
    assert.deepEqual(fs.readdir(`${BACKUP_DIR}/srv/www`).sort(), ['index.html', 'index.html.1', 'index.html.2']);
  });

  it('preserves mode and mtime of the backed-up file and creates backup dirs 0700', async () => {
    const fs = memoryWithFile();
    fs.writeFileSync(FILE, 'old', { mode: 0o640, mtimeNs: 42n });
    assert.equal(await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 2, path: FILE }), BARE);
    assert.deepEqual([fs.lstat(BARE)?.mode, fs.lstat(BARE)?.mtimeNs], [0o640, 42n]);
    assert.equal(fs.lstat(`${BACKUP_DIR}/srv`)?.mode, 0o700);
  });

  it('backs up a symlink as a symlink with the same target', async () => {
    const fs = memoryWithFile();
    fs.symlinkSync('../other', FILE);
    await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 2, path: FILE });
    assert.equal(fs.readlink(BARE), '../other');
  });

  it('does nothing with generations 0, a missing path or a directory', async () => {
    const fs = memoryWithFile();
    fs.writeFileSync(FILE, 'x');
    assert.equal(await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 0, path: FILE }), undefined);
    assert.equal(await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 3, path: '/srv/missing' }), undefined);
    assert.equal(await backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 3, path: '/srv/www' }), undefined);
    assert.equal(fs.lstat(BACKUP_DIR), undefined);
  });

  it('ignores entries that share the name but are not generations', async () => {
    const fs = memoryWithFile();
    fs.writeFileSync(FILE, 'x');
    fs.mkdirpSync(`${BACKUP_DIR}/srv/www`);
    fs.writeFileSync(`${BACKUP_DIR}/srv/www/index.html.bak`, 'unrelated');
    await overwriteInTurn(fs, FILE, BACKUP_DIR, ['y', 'z'], 1);
    assert.deepEqual(fs.readdir(`${BACKUP_DIR}/srv/www`).sort(), ['index.html', 'index.html.bak']);
    assert.equal(await text(fs, BARE), 'y');
  });

  it('fails with CSYNC_IO and keeps the current file when the copy fails', async () => {
    const inner = memoryWithFile();
    inner.writeFileSync(FILE, 'precious');
    const fs = new FailingFileSystem(inner, { failOn: (op) => op === 'copyFile' });
    await assert.rejects(backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 3, path: FILE }), (e) => hasCode(e, 'CSYNC_IO'));
    assert.equal(await text(inner, FILE), 'precious');
  });

  it('refuses a backup directory blocked by a file', async () => {
    const fs = memoryWithFile();
    fs.writeFileSync(FILE, 'x');
    fs.writeFileSync(BACKUP_DIR, 'in the way');
    await assert.rejects(
      backupBeforeOverwrite(fs, { backupDir: BACKUP_DIR, generations: 3, path: FILE }),
      (e) => hasCode(e, 'CSYNC_IO') && /not a directory/.test(e.message),
    );
  });

  it('rotates on a real disk too', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'csync-rotate-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const fs = new NodeFileSystem();
    const file = join(root, 'data', 'f.txt');
    await fs.mkdir(join(root, 'data'), {});
    const w = await fs.beginWrite(file);
    await w.write(new TextEncoder().encode('v1'));
    await w.commit({});
    await overwriteInTurn(fs, file, join(root, 'backup'), VERSIONS.slice(1), 3);
    const gens = listGenerations(fs, join(root, 'backup'), file);
    assert.deepEqual(gens.map((g) => g.generation), [0, 1, 2]);
    assert.deepEqual(await Promise.all(gens.map((g) => text(fs, g.path))), ['v4', 'v3', 'v2']);
    assert.equal(gens[0]?.stat.mtimeNs, fs.lstat(gens[0]?.path ?? '')?.mtimeNs);
  });
});

describe('backupPathFor', () => {
  it('appends the absolute path to the backup dir, ignoring a trailing slash', () => {
    assert.equal(backupPathFor('/b/', '/etc/passwd'), '/b/etc/passwd');
  });
  it('throws a bug error for relative or unnormalised paths', () => {
    assert.throws(() => backupPathFor('/b', 'etc/passwd'), /^Error: bug: /);
    assert.throws(() => backupPathFor('/b', '/etc/../passwd'), /^Error: bug: /);
  });
});

describe('listGenerations', () => {
  it('returns [] when nothing was ever backed up', () => {
    assert.deepEqual(listGenerations(new MemoryFileSystem(), BACKUP_DIR, FILE), []);
  });
});

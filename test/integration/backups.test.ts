// csync2-style backup generations over real TLS (docs/reference.md, "Backups and conflict losers"): before a receiver overwrites a file it
// keeps the old one at backup_dir + absolute path, newest as `name`, then `name.1` … `name.(N-1)`.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b', 'c'], backupGenerations: 3 });
const REL = 'etc/app/settings.conf';
const VERSIONS = ['v0 original\n', 'v1\n', 'v2 is longer\n', 'v3\n', 'v4 final\n'] as const;

describe('backup generations (backup_generations = 3)', () => {
  it('keeps the 3 previous contents on b, newest first as name, name.1, name.2, and no name.3', async () => {
    const src = join(c.root('a'), REL);
    mkdirSync(dirname(src), { recursive: true });
    const mtimesOnB: bigint[] = [];
    for (const [i, v] of VERSIONS.entries()) {
      writeFileSync(src, v);
      const r = await c.run('a', '-x');
      assert.equal(r.status, 0, `version ${i}: ${r.out}${r.err}`);
      assert.equal(readFileSync(join(c.root('b'), REL), 'utf8'), v, `b has version ${i}`);
      mtimesOnB.push(statSync(join(c.root('b'), REL), { bigint: true }).mtimeNs);
    }
    const base = join(c.backupDir('b'), c.root('b'), REL);
    assert.equal(readFileSync(base, 'utf8'), VERSIONS[3]);
    assert.equal(readFileSync(`${base}.1`, 'utf8'), VERSIONS[2]);
    assert.equal(readFileSync(`${base}.2`, 'utf8'), VERSIONS[1]);
    assert.equal(existsSync(`${base}.3`), false, 'no 4th generation');
    assert.equal(statSync(base, { bigint: true }).mtimeNs / 1000n, (mtimesOnB[3] as bigint) / 1000n, 'the backup keeps the old mtime');
  });

  it('rotates the same way on c, and keeps no backups on a, which only sent', () => {
    const base = join(c.backupDir('c'), c.root('c'), REL);
    assert.deepEqual([base, `${base}.1`, `${base}.2`].map((p) => readFileSync(p, 'utf8')), [VERSIONS[3], VERSIONS[2], VERSIONS[1]]);
    assert.equal(existsSync(`${base}.3`), false);
    assert.equal(existsSync(join(c.backupDir('a'), c.root('a'), REL)), false);
  });
});

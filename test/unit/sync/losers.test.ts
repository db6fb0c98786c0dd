// Conflict losers without backups (sync/losers.ts): one name per path (no two paths share a loser
// file), names that fit a directory entry, and a conflicts dir that is never reached through a symlink.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FileState, LogicalPath, RelPath } from '../../../src/core/types.ts';
import { hasCode } from '../../../src/core/errors.ts';
import { loserName, preserveLoser } from '../../../src/sync/losers.ts';
import { allRootTargets } from '../../../src/sync/scope.ts';
import { memoryNode } from '../../helpers/fixtures.ts';

const ROOT = '/data';
const state = (path: string): FileState => ({
  path: path as LogicalPath,
  meta: { kind: 'file', sizeBytes: 1, mtimeNs: 0n, mode: 0o644, uid: 0, gid: 0, hash: '0000000000000000' },
  version: { b: 1 },
  origin: 'b',
  changedAtMs: 42,
});

describe('loser names', () => {
  it('differ for paths that a character class would merge (a/b, a_b, a b, a%2Fb)', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    const names = ['/data/a/b', '/data/a_b', '/data/a b', '/data/a%2Fb', '/data/a:b'].map((p) => loserName(n.ctx, state(p)));
    assert.equal(new Set(names).size, names.length, names.join('\n'));
    for (const name of names) assert.ok(!name.includes('/'), name);
  });

  it('fit a directory entry for very long paths, and stay distinct', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    const long = `/data/${'x'.repeat(3000)}`;
    const a = loserName(n.ctx, state(`${long}/a`));
    const b = loserName(n.ctx, state(`${long}/b`));
    assert.notEqual(a, b);
    assert.ok(Buffer.byteLength(a) <= 255, `${Buffer.byteLength(a)} bytes`);
  });
});

describe('preserveLoser', () => {
  it('refuses a conflicts dir that is a symlink, and writes nothing through it', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    n.mem.writeFileSync(`${ROOT}/f.txt`, 'local version');
    n.mem.mkdirpSync('/state');
    n.mem.mkdirpSync('/elsewhere');
    n.mem.symlinkSync('/elsewhere', '/state/conflicts');
    const [target] = allRootTargets(n.ctx.view);
    assert.ok(target);
    const t0 = { ...target, rel: 'f.txt' as RelPath };
    if (t0.group.backupDir !== undefined && t0.group.config.backupGenerations > 0) return t.skip('the fixture keeps backups');
    await assert.rejects(preserveLoser(n.ctx, t0, state(`${ROOT}/f.txt`)), (err: unknown) => hasCode(err, 'CSYNC_PATH_UNSAFE'));
    assert.deepEqual(n.mem.snapshot('/elsewhere'), {});
  });
});

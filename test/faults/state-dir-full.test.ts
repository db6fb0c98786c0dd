// Issue 11 item 3, the state dir: b's state dir (its csync.db) is a small tmpfs (mounted by the test,
// as root; skipped with the reason where mounting is impossible) that is then filled. Changes from a
// cannot be recorded on b: neither daemon dies, a keeps the entries dirty with a reason, and once
// space is freed everything converges without a restart or a command on b.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultCluster, mountTmpfs } from '../helpers/fault-cluster.ts';


/** Fills the file system of `dir` with one ballast file; returns its path. */
function fill(dir: string): string {
  const ballast = join(dir, 'ballast');
  const st = statfsSync(dir);
  try {
    writeFileSync(ballast, Buffer.alloc(Number(st.bavail) * Number(st.bsize)));
  } catch {
    // ENOSPC on the last block: full is what we want.
  }
  return ballast;
}

/** Re-runs `a -M` until it lists nothing (exit 2) or `timeoutMs` passes; the daemons do the work. */
async function untilNothingDirty(n: FaultCluster, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await n.launch('a', '-M');
    if (r.status === 2) return;
    if (Date.now() > end) assert.fail(`still dirty on a after ${timeoutMs} ms:\n${r.out}${n.log('b').slice(-1500)}`);
    await n.logged('a', /Update pass|Pushed|Sent|sent/, 2_000).catch(() => undefined);
  }
}

describe('a full state dir on the receiver', { timeout: 120_000 }, () => {
  let c: FaultCluster | undefined;
  let mounted: string | undefined;
  after(async () => {
    // Daemons first (they hold the database), then the mount, then the temp dir.
    for (const node of ['a', 'b']) await c?.kill(node);
    if (mounted) execFileSync('umount', ['-l', mounted]);
    await c?.close();
  });

  it('kills no daemon, keeps the entries dirty on the sender, and converges once space is freed', async (t) => {
    const n = await FaultCluster.create({ nodes: ['a', 'b'], top: 'idle_timeout = "5s"', watch: true });
    c = n;
    const state = join(n.dir, 'b', 'state');
    mkdirSync(state, { recursive: true });
    const why = mountTmpfs(state, 8, '700');
    if (why !== undefined) {
      t.skip(why);
      return;
    }
    mounted = state;
    await n.spawn('a');
    await n.spawn('b');
    n.write('a', 'before.txt', 'recorded while there was space\n');
    await n.launch('a', '-x');
    const ballast = fill(state);
    for (let i = 0; i < 40; i++) n.write('a', `full/f${i}.txt`, `file ${i}\n`);
    const pushed = await n.launch('a', '-x');
    assert.notEqual(pushed.status, 0, `the changes could not all be recorded on b:\n${pushed.out}`);
    assert.ok(n.alive('a') && n.alive('b'), n.describe('a') + n.describe('b'));
    const dirty = await n.launch('a', '-M', '-v');
    assert.match(dirty.out, /full\/f\d+\.txt/, dirty.out);

    rmSync(ballast);
    await untilNothingDirty(n, 90_000);
    assert.ok(n.alive('a') && n.alive('b'), n.describe('a') + n.describe('b'));
    const check = await n.launch('b', '-T');
    assert.equal(check.status, 0, `b and a are in sync:\n${check.out}${check.err}`);
  });
});

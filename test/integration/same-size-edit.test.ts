// No silent divergence (docs/semantics.md, "What is synced"): a rewrite of the same size whose mtime is put back to the
// nanosecond is still a change. On real daemons over TLS: the next `-x` syncs it, the watcher
// syncs it, and `csync -T` reports a peer file tampered that way as different (exit 1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

/** Rewrites `path` with `text` (same size) and puts its mtime back exactly as it was (ns). */
function rewriteKeepingMtime(path: string, text: string): void {
  const st = lstatSync(path, { bigint: true });
  assert.equal(BigInt(Buffer.byteLength(text)), st.size, 'same size');
  writeFileSync(path, text);
  // utimes takes seconds as a double; aim at the recorded microsecond (csync keeps µs).
  const micros = st.mtimeNs / 1000n;
  const s = Number(micros / 1_000_000n) + (Number(micros % 1_000_000n) + 0.5) / 1e6;
  utimesSync(path, s, s);
  assert.equal(lstatSync(path, { bigint: true }).mtimeNs / 1000n, st.mtimeNs / 1000n, 'mtime put back');
}

/**
 * Lets the racy window pass and has node `n` record trusted local signatures. This is a wait for
 * time itself, not for an event: a file recorded within 2 s of its last write is always re-read
 * (scanner/scan.ts RACY_WINDOW_NS), and the point here is the case where csync would trust it.
 */
async function settle(c: DaemonCluster, n: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  assert.equal((await c.run(n, '-c')).status, 0);
}

describe('a same-size edit with the mtime put back', () => {
  describe('without watchers (csync -x and -T)', () => {
    let c: DaemonCluster;
    before(async () => {
      c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: false });
    });
    after(async () => {
      await c.close();
    });

    it('is synced by the next -x, from either side', async () => {
      c.write('a', 'conf/app.conf', 'port=8080\n');
      assert.equal((await c.run('a', '-x')).status, 0);
      assert.equal(c.read('b', 'conf/app.conf'), 'port=8080\n');
      await settle(c, 'a');
      await settle(c, 'b');
      rewriteKeepingMtime(join(c.root('a'), 'conf/app.conf'), 'port=9090\n');
      const r = await c.run('a', '-x');
      assert.equal(r.status, 0, r.out + r.err);
      assert.equal(c.read('b', 'conf/app.conf'), 'port=9090\n', 'b got the edit made on a');
      await settle(c, 'b');
      rewriteKeepingMtime(join(c.root('b'), 'conf/app.conf'), 'port=7070\n');
      assert.equal((await c.run('b', '-x')).status, 0);
      assert.equal(c.read('a', 'conf/app.conf'), 'port=7070\n', 'a got the edit made on b');
    });

    it('made behind csync\'s back on a peer is reported by -T as X, exit 1', async () => {
      c.write('a', 'conf/other.conf', 'mode=fast\n');
      assert.equal((await c.run('a', '-x')).status, 0);
      assert.equal((await c.run('a', '-T')).status, 0);
      await settle(c, 'b');
      rewriteKeepingMtime(join(c.root('b'), 'conf/other.conf'), 'mode=slow\n');
      const r = await c.run('a', '-T');
      assert.equal(r.status, 1, r.out + r.err);
      assert.match(r.out, /^X\s.*conf\/other\.conf/m);
    });
  });

  describe('with watchers', () => {
    let c: DaemonCluster;
    before(async () => {
      c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: true });
    });
    after(async () => {
      await c.close();
    });

    it('is synced by the watcher without any command', async () => {
      c.write('a', 'site/v.txt', 'version-1\n');
      await c.until('v.txt on b', () => c.read('b', 'site/v.txt') === 'version-1\n');
      rewriteKeepingMtime(join(c.root('a'), 'site/v.txt'), 'version-2\n');
      await c.until('the same-size edit on b', () => c.read('b', 'site/v.txt') === 'version-2\n');
    });
  });
});

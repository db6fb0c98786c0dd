// Exit statuses and messages an operator's scripts rely on (issue 13): unknown names and missing
// paths are usage errors (64), one unreachable peer of two is a partial failure (1), 69 only when no
// peer answered, `csync status` is non-zero when something needs attention, and every path csync
// prints can be typed back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startCluster } from '../helpers/tls-cluster.ts';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const NO_PERIODIC_CHECK = 'check_interval = "1d"';

const c = await startCluster(after, { nodes: ['a', 'b', 'c'] });
const f = (n: string, rel: string): string => join(c.root(n), rel);

describe('exit statuses of the sync commands', () => {
  it('refuses -m and -f of a path that neither exists nor was recorded (64), and marks a recorded deletion (0)', async () => {
    const typo = await c.run('a', '-m', f('a', 'no-such-file.txt'));
    assert.equal(typo.status, 64, typo.err);
    assert.match(typo.err, /no-such-file\.txt.*does not exist, and csync has no record of it/);
    assert.match(typo.err, /^hint: /m);
    const force = await c.run('a', '-f', f('a', 'no-such-file.txt'));
    assert.equal(force.status, 64, force.err);
    writeFileSync(f('a', 'gone.txt'), 'here for now\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    rmSync(f('a', 'gone.txt'));
    const mark = await c.run('a', '-m', f('a', 'gone.txt'));
    assert.equal(mark.status, 0, mark.err);
    assert.equal((await c.run('a', '-u')).status, 0);
    assert.throws(() => readFileSync(f('b', 'gone.txt')), /ENOENT/, 'the deletion reached b');
  });

  it('refuses an unknown peer or group for -u, -x, -c and -T (64), naming the known ones', async () => {
    for (const args of [['-u', '-P', 'nosuchpeer'], ['-x', '-P', 'nosuchpeer'], ['-T', '-P', 'nosuchpeer']]) {
      const r = await c.run('a', ...args);
      assert.equal(r.status, 64, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /peer "nosuchpeer": not a peer of this node/);
      assert.match(r.err, /hint: its peers: b, c/);
    }
    for (const args of [['-u', '-G', 'nosuchgroup'], ['-c', '-G', 'nosuchgroup'], ['-x', '-G', 'nosuchgroup']]) {
      const r = await c.run('a', ...args);
      assert.equal(r.status, 64, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /group "nosuchgroup": this node is not in it/);
    }
  });

  it('exits 1 with a line per peer when one of two peers is down, and 69 only when none answers', async () => {
    await c.stop('c');
    try {
      writeFileSync(f('a', 'partial.txt'), 'to b only\n');
      const one = await c.run('a', '-x');
      assert.equal(one.status, 1, one.out + one.err);
      assert.match(one.out, /^b: sent 1,/m);
      assert.match(one.out, /^c: not updated: /m);
      await c.stop('b');
      writeFileSync(f('a', 'nobody.txt'), 'to nobody\n');
      const none = await c.run('a', '-x');
      assert.equal(none.status, 69, none.out + none.err);
    } finally {
      await c.restart('b');
      await c.restart('c');
    }
    assert.equal((await c.run('a', '-u')).status, 0);
  });

  it('prints conflicts with the real path and accepts that path, or the logical one, back in -f', async () => {
    writeFileSync(f('a', 'lp.txt'), 'base\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    writeFileSync(f('a', 'lp.txt'), 'from a\n');
    writeFileSync(f('b', 'lp.txt'), 'from b\n');
    assert.equal((await c.run('b', '-x', '-P', 'c')).status, 0);
    const r = await c.run('a', '-x', '-P', 'c');
    assert.equal(r.status, 1);
    assert.ok(r.out.includes(`conflict: ${f('a', 'lp.txt')} (run \`csync -f ${f('a', 'lp.txt')}\``), r.out);
    const logical = await c.run('a', '-f', '%data%/lp.txt');
    assert.equal(logical.status, 0, `the logical form is a path too: ${logical.err}`);
    assert.equal((await c.run('a', '-u')).status, 0);
    for (const n of ['a', 'b', 'c']) assert.equal(readFileSync(f(n, 'lp.txt'), 'utf8'), 'from a\n', n);
  });

  it('says a peer with nothing to send has every change already', async () => {
    const r = await c.run('a', '-u');
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /^b: nothing to send, every recorded change has reached it$/m);
  });
});

describe('csync status', () => {
  it('exits 69 with no daemon, and --json says why', async () => {
    const r = await c.run('a', 'status', '--json');
    assert.equal(r.status, 69, r.err);
    const s = JSON.parse(r.out) as { healthy: boolean; exitStatus: number; attention: { what: string }[] };
    assert.equal(s.healthy, false);
    assert.equal(s.exitStatus, 69);
    assert.deepEqual(s.attention.map((a) => a.what), ['no-daemon']);
  });

  it('shows a group halted by the emptied-root rail as HALTED with the override, until a pass no longer trips', async () => {
    writeFileSync(f('b', 'keep.txt'), 'keep\n');
    assert.equal((await c.run('b', '-x')).status, 0);
    renameSync(c.root('b'), `${c.root('b')}.away`);
    const x = await c.run('b', '-x');
    assert.equal(x.status, 1, x.err);
    const st = await c.run('b', 'status');
    assert.match(st.out, /^group g: HALTED$/m);
    assert.match(st.out, /override, once the deletion is intended: csync -cr -G g --allow-mass-delete/);
    assert.match(st.out, /needs attention \(exit 69\)/);
    const json = JSON.parse((await c.run('b', 'status', '--json')).out) as { attention: { what: string }[]; groups: { halted: unknown[] }[] };
    assert.ok(json.attention.some((a) => a.what === 'halted'));
    assert.equal(json.groups[0]?.halted.length, 1);
    // The root is back: the next check no longer trips, and the halt is gone.
    renameSync(`${c.root('b')}.away`, c.root('b'));
    assert.equal((await c.run('b', '-c')).status, 0);
    assert.doesNotMatch((await c.run('b', 'status')).out, /HALTED/);
  });
});

describe('help', () => {
  it('prints the help of one command for `csync COMMAND --help`', async () => {
    const r = await c.run('a', 'restore', '--help');
    assert.equal(r.status, 0);
    assert.match(r.out, /^usage: csync restore PATH \[--generation N\]/);
    const m = await c.run('a', '-M', '-h');
    assert.match(m.out, /chary: sent only if the peer/);
  });
});

describe('csync status with the daemons running', () => {
  let d: DaemonCluster;
  before(async () => {
    d = await DaemonCluster.start({ nodes: ['a', 'b'], watch: false, groupExtra: NO_PERIODIC_CHECK });
  });
  after(async () => {
    await d.close();
  });

  it('exits 0 and says healthy when nothing needs attention', async () => {
    const r = await d.run('a', 'status');
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /^healthy$/m);
  });

  it('exits 1 naming the conflict, on the node whose version waits and on the one holding the other', async () => {
    d.write('a', 'c.txt', 'base\n');
    assert.equal((await d.run('a', '-x')).status, 0);
    d.write('a', 'c.txt', 'from a\n');
    d.write('b', 'c.txt', 'from b\n');
    assert.equal((await d.run('b', '-c')).status, 0);
    assert.equal((await d.run('a', '-x')).status, 1);
    for (const n of ['a', 'b']) {
      const r = await d.run(n, 'status', '--json');
      assert.equal(r.status, 1, `${n}: ${r.out}`);
      const s = JSON.parse(r.out) as { attention: { what: string }[] };
      assert.deepEqual(s.attention.map((x) => x.what), ['conflicts'], n);
    }
  });
});

describe('csync -R after a node left the group', () => {
  it('drops the dirty rows toward it, which nothing would ever deliver', async () => {
    await c.stop('c');
    try {
      writeFileSync(f('a', 'left-behind.txt'), 'for c\n');
      assert.equal((await c.run('a', '-x')).status, 1);
      assert.match((await c.run('a', '-M')).out, /^chary\tc\t%data%\/left-behind\.txt$/m);
      const without = c.writeConfig('without-c', (toml) => toml.replace(/^hosts = \["a","b","c"\]$/m, 'hosts = ["a","b"]'));
      const r = await c.run('a', '-C', without, '-R');
      assert.equal(r.status, 0, r.err);
      assert.match(r.out, /^dropped dirty\tc\t%data%\/left-behind\.txt$/m);
      assert.doesNotMatch((await c.run('a', '-C', without, '-M')).out, /\tc\t/);
    } finally {
      await c.restart('c');
    }
  });
});

describe('a FIFO in a synced tree', () => {
  it('fails the first pass that finds it (naming it and the fix), then only warns: cron does not fail forever', async () => {
    const fifo = f('a', 'queue.fifo');
    execFileSync('mkfifo', [fifo]);
    try {
      const first = await c.run('a', '-x');
      assert.equal(first.status, 1, first.err);
      assert.ok(first.err.includes(`csync: ${JSON.stringify(fifo)}: skipped: not a regular file, directory or symlink`), first.err);
      assert.match(first.err, /^hint: exclude it: csync syncs regular files, directories and symlinks, never a FIFO/m);
      const again = await c.run('a', '-x');
      assert.equal(again.status, 0, again.err);
      assert.match(again.err, /warning: 1 path\(s\) not synced/);
      assert.match((await c.run('a', 'status')).out, /^refused "%data%\/queue\.fifo": skipped: not a regular file/m);
    } finally {
      rmSync(fifo);
    }
    assert.equal((await c.run('a', '-x')).status, 0);
    assert.doesNotMatch((await c.run('a', 'status')).out, /queue\.fifo/, 'forgotten once gone');
  });
});

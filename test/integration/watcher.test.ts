// The watcher misses nothing the periodic check would find (issue 12 item 3): a root missing at start
// or moved away and back is watched again without SIGHUP, a chmod alone and a dangling symlink are
// pushed by the watcher, and a name the protocol refuses is reported once without failing every pass.
// Two in-process daemons on 127.0.0.1 with real chokidar watchers; no `-x` unless a test says so, and
// no periodic check (check_interval = 1d), so only the watcher can deliver.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const NO_PERIODIC_CHECK = 'check_interval = "1d"';

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    // Not there (yet).
    return undefined;
  }
}

function linkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    // Not there (yet).
    return undefined;
  }
}

describe('the watcher: roots that come and go', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: true, groupExtra: NO_PERIODIC_CHECK, recordLogs: true, rootProbeMs: 100 });
  });
  after(async () => {
    await c.close();
  });

  it('warns about a root missing at start and watches it once it is created, without SIGHUP', async () => {
    await c.stopNode('a');
    rmSync(c.root('a'), { recursive: true, force: true });
    await c.startNode('a');
    const warned = c.logs('a').filter((r) => r.level === 'warn' && r.msg.startsWith('Watched root is missing') && r.fields.root === c.root('a'));
    assert.equal(warned.length, 1, 'one warning naming the root');
    assert.match(String(warned[0]?.fields.hint), /create .*no restart or SIGHUP needed/);
    mkdirSync(c.root('a'));
    // The first file arrives by the check of the root once it is watched again (so the watch is in
    // place when it has arrived); the second can only come from that new watch.
    c.write('a', 'late/first.txt', 'born after the daemon\n');
    await c.until('first.txt on b', () => c.read('b', 'late/first.txt') === 'born after the daemon\n', 10_000);
    assert.ok(c.logs('a').some((r) => r.msg.startsWith('Watched root is there again') && r.fields.root === c.root('a')));
    c.write('a', 'late/second.txt', 'seen by the new watch\n');
    await c.until('second.txt on b', () => c.read('b', 'late/second.txt') === 'seen by the new watch\n', 10_000);
    assert.equal(c.logs('a').filter((r) => r.msg.startsWith('Watched root is missing')).length, 1, 'the warning is not repeated');
  });

  it('watches a root again after it was moved away and back', async () => {
    c.write('a', 'moved/before.txt', 'before the move\n');
    await c.until('before.txt on b', () => c.read('b', 'moved/before.txt') === 'before the move\n', 10_000);
    const backs = c.logs('a').filter((r) => r.msg.startsWith('Watched root is there again')).length;
    const missing = c.logs('a').filter((r) => r.msg.startsWith('Watched root is missing')).length;
    renameSync(c.root('a'), `${c.root('a')}.away`);
    await c.until('a noticed its root gone', () => c.logs('a').filter((r) => r.msg.startsWith('Watched root is missing')).length > missing, 10_000);
    // The watcher reports every entry of the moved root as removed; the check halts instead (the
    // missing-root rail) and records no deletion, so b keeps its copy.
    await c.until('the group halted on a', () => c.logs('a').some((r) => r.msg === 'Group halted' && String(r.fields.reason).includes('is missing')), 10_000);
    assert.deepEqual(c.logs('a').filter((r) => r.msg === 'Local change' && r.fields.why === 'deleted' && String(r.fields.path).startsWith('%data%/moved')).map((r) => r.fields.path), []);
    renameSync(`${c.root('a')}.away`, c.root('a'));
    c.write('a', 'moved/after.txt', 'after the move\n');
    await c.until('after.txt on b', () => c.read('b', 'moved/after.txt') === 'after the move\n', 10_000);
    await c.until('a watching its root afresh', () => c.logs('a').filter((r) => r.msg.startsWith('Watched root is there again')).length > backs, 10_000);
    c.write('a', 'moved/later.txt', 'seen by the new watch\n');
    await c.until('later.txt on b', () => c.read('b', 'moved/later.txt') === 'seen by the new watch\n', 10_000);
    assert.equal(c.read('b', 'moved/before.txt'), 'before the move\n', 'b never lost a file a only moved away');
  });
});

describe('the watcher: changes chokidar alone does not report', () => {
  // The entries exist before a's daemon starts, so they reach b by its first full check and no
  // watcher event of theirs is pending (the daemon checks the paths of a watcher event once more a
  // moment later, which would find a chmod made just after without any event of its own).
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: true, groupExtra: NO_PERIODIC_CHECK });
    await c.stopNode('a');
    c.write('a', 'bin/tool.sh', '#!/bin/sh\necho hi\n');
    chmodSync(join(c.root('a'), 'bin/tool.sh'), 0o644);
    mkdirSync(join(c.root('a'), 'private'), { mode: 0o755 });
    c.write('a', 'private/x.txt', 'x\n');
    mkdirSync(join(c.root('a'), 'links'));
    await c.startNode('a');
    await c.until('the tree on b', () => c.read('b', 'bin/tool.sh') === '#!/bin/sh\necho hi\n' && c.read('b', 'private/x.txt') === 'x\n' && modeOf(join(c.root('b'), 'links')) !== undefined, 10_000);
  });
  after(async () => {
    await c.close();
  });

  it('pushes a chmod alone of a file that was already read', async () => {
    assert.equal(modeOf(join(c.root('b'), 'bin/tool.sh')), 0o644);
    chmodSync(join(c.root('a'), 'bin/tool.sh'), 0o755);
    await c.until('mode 0755 on b', () => modeOf(join(c.root('b'), 'bin/tool.sh')) === 0o755, 10_000);
  });

  it('pushes a chmod alone of a directory', async () => {
    chmodSync(join(c.root('a'), 'private'), 0o700);
    await c.until('mode 0700 on b', () => modeOf(join(c.root('b'), 'private')) === 0o700, 10_000);
  });

  it('pushes a dangling symlink, and a new target of it', async () => {
    symlinkSync('/nonexistent/target', join(c.root('a'), 'links/dangling'));
    await c.until('the dangling link on b', () => linkTarget(join(c.root('b'), 'links/dangling')) === '/nonexistent/target', 10_000);
    rmSync(join(c.root('a'), 'links/dangling'));
    symlinkSync('/still/nowhere', join(c.root('a'), 'links/dangling'));
    await c.until('the new target on b', () => linkTarget(join(c.root('b'), 'links/dangling')) === '/still/nowhere', 10_000);
  });
});

describe('the watcher: a name csync refuses', () => {
  const BAD = 'bad\nname.txt';
  const LOGICAL = `%data%/${BAD}`;
  const REFUSED_MSG = 'Not syncing a path whose name csync refuses';
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: true, groupExtra: NO_PERIODIC_CHECK, recordLogs: true });
  });
  after(async () => {
    await c.close();
  });
  const reports = (): number => c.logs('a').filter((r) => r.msg === REFUSED_MSG && r.fields.path === LOGICAL).length;

  it('is reported once by the daemon, with what to do, while other files keep syncing', async () => {
    writeFileSync(join(c.root('a'), BAD), 'cannot travel\n');
    await c.until('the report of the refused name', () => reports() === 1, 10_000);
    const rec = c.logs('a').find((r) => r.msg === REFUSED_MSG);
    assert.equal(rec?.level, 'warn');
    assert.match(String(rec?.fields.hint), /rename it .*newline.*or exclude it/);
    c.write('a', 'ok/two.txt', 'still syncing\n');
    await c.until('two.txt on b', () => c.read('b', 'ok/two.txt') === 'still syncing\n', 10_000);
  });

  it('does not fail every later -x: each warns and exits 0, and it is listed by status and -M', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await c.run('a', '-x');
      assert.equal(r.status, 0, r.err + r.out);
      assert.match(r.err, /warning: 1 path\(s\) not synced because csync refuses their names/);
    }
    assert.equal(reports(), 1, 'reported once, not on every pass');
    const status = await c.run('a', 'status');
    assert.match(status.out, /refused: 1 path\(s\) not synced/);
    assert.ok(status.out.includes(`refused ${JSON.stringify(LOGICAL)}: `), status.out);
    const dirty = await c.run('a', '-M');
    assert.equal(dirty.status, 0);
    assert.ok(dirty.out.includes(`refused\t*\t${JSON.stringify(LOGICAL)}`), dirty.out);
  });

  it('fails the -x that finds a new one first (naming it and the fix), and only that one', async () => {
    await c.stopNode('a');
    const tab = 'tab\tname.txt';
    writeFileSync(join(c.root('a'), tab), 'neither\n');
    const first = await c.run('a', '-x');
    assert.equal(first.status, 1, first.err);
    assert.ok(first.err.includes(`csync: ${JSON.stringify(join(c.root('a'), tab))}: `), `the real path, as an operator types it: ${first.err}`);
    assert.match(first.err, /hint: rename it/);
    const again = await c.run('a', '-x');
    assert.equal(again.status, 0, again.err);
    assert.match(again.err, /warning: 2 path\(s\) not synced/);
    rmSync(join(c.root('a'), tab));
    await c.startNode('a');
  });

  it('is forgotten once renamed (refused no more), and syncs under the new name', async () => {
    renameSync(join(c.root('a'), BAD), join(c.root('a'), 'good-name.txt'));
    await c.until('good-name.txt on b', () => c.read('b', 'good-name.txt') === 'cannot travel\n', 10_000);
    const status = await c.run('a', 'status');
    assert.doesNotMatch(status.out, /refused/);
    assert.equal((await c.run('a', '-x')).status, 0);
  });
});

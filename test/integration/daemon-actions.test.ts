// Actions in the daemon (docs/daemon.md, "Actions"): once per received batch with the matching files, hostile names
// run nothing, and actions persisted before a crash run at the next start.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStateStore } from '../../src/store/sqlite-store.ts';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

describe('actions run by the daemon', () => {
  let c: DaemonCluster;
  let logDir: string;
  const logOf = (n: string): string => {
    try {
      return readFileSync(join(logDir, `${n}.log`), 'utf8');
    } catch {
      // No action ran yet.
      return '';
    }
  };
  before(async () => {
    // The action appends its arguments to $CSYNC_LOGDIR/<node>.log (the daemons run in this process,
    // so their actions inherit the variable set below).
    c = await DaemonCluster.start({
      nodes: ['a', 'b'],
      watch: false,
      groupExtra: [
        '[[groups.g.actions]]',
        'pattern = ["%data%/conf/*"]',
        `exec = ${JSON.stringify('printf "%s\\n" %% >> "$CSYNC_LOGDIR/$CSYNC_NODE.log"; echo -- >> "$CSYNC_LOGDIR/$CSYNC_NODE.log"')}`,
      ].join('\n'),
    });
    logDir = join(c.dir, 'actions');
    process.env.CSYNC_LOGDIR = logDir;
    const { mkdirSync } = await import('node:fs');
    mkdirSync(logDir, { recursive: true });
  });
  after(async () => {
    delete process.env.CSYNC_LOGDIR;
    await c.close();
  });

  it('runs a matching action once per received batch, with every matching file', async () => {
    c.write('a', 'conf/one.conf', '1\n');
    c.write('a', 'conf/two.conf', '2\n');
    c.write('a', 'other/ignored.txt', 'x\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    await c.daemon('b')?.actionsIdle();
    const log = logOf('b').split('\n').filter((l) => l !== '');
    assert.deepEqual(log, [join(c.root('b'), 'conf/one.conf'), join(c.root('b'), 'conf/two.conf'), '--']);
    assert.equal(logOf('a'), '', 'no do_local: the originating node runs nothing');
  });

  it('passes a hostile file name as one quoted argument and runs nothing from it', async () => {
    rmSync(join(logDir, 'b.log'), { force: true });
    c.write('a', 'conf/x; touch pwned', 'evil\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    await c.daemon('b')?.actionsIdle();
    assert.deepEqual(logOf('b').split('\n').filter((l) => l !== ''), [join(c.root('b'), 'conf/x; touch pwned'), '--']);
    for (const dir of [process.cwd(), c.dir, c.root('b'), join(c.root('b'), 'conf')]) assert.equal(existsSync(join(dir, 'pwned')), false, dir);
  });

  it('runs actions that were persisted but not run before a crash when the daemon starts again', async () => {
    rmSync(join(logDir, 'b.log'), { force: true });
    await c.stopNode('b');
    const store = SqliteStateStore.open(join(c.dir, 'b', 'state', 'csync.db'));
    store.addPendingAction({ groupName: 'g', actionIndex: 0, paths: [join(c.root('b'), 'conf/one.conf')], createdAtMs: Date.now() });
    store.close();
    await c.startNode('b');
    await c.daemon('b')?.actionsIdle();
    assert.deepEqual(logOf('b').split('\n').filter((l) => l !== ''), [join(c.root('b'), 'conf/one.conf'), '--']);
    const after = SqliteStateStore.open(join(c.dir, 'b', 'state', 'csync.db'));
    assert.equal(after.listPendingActions().length, 0);
    after.close();
  });
});

describe('a checked action in the daemon', () => {
  let c: DaemonCluster;
  before(async () => {
    // check: every received .conf file says "valid"; exec: append the files to reloads.log; verify: append "verified".
    c = await DaemonCluster.start({
      nodes: ['a', 'b'],
      watch: false,
      groupExtra: [
        '[[groups.g.actions]]',
        'pattern = ["%data%/site/*.conf"]',
        `check = ${JSON.stringify('grep -q valid %%')}`,
        `exec = ${JSON.stringify('printf "%s\\n" %% >> "$CSYNC_TESTDIR/$CSYNC_NODE-reloads.log"')}`,
        `verify = ${JSON.stringify('echo verified >> "$CSYNC_TESTDIR/$CSYNC_NODE-reloads.log"')}`,
      ].join('\n'),
      recordLogs: true,
    });
    // The daemons run in this process: their actions inherit the variable.
    process.env.CSYNC_TESTDIR = c.dir;
  });
  after(async () => {
    delete process.env.CSYNC_TESTDIR;
    await c.close();
  });
  const reloads = (n: string): string => (existsSync(join(c.dir, `${n}-reloads.log`)) ? readFileSync(join(c.dir, `${n}-reloads.log`), 'utf8') : '');

  it('does not run exec on a node whose check refuses the received files, and runs it (then verify) once they pass', async () => {
    c.write('a', 'site/app.conf', 'broken\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    await c.daemon('b')?.actionsIdle();
    assert.equal(reloads('b'), '', 'no reload of a config the check refused');
    const refused = c.logs('b').find((r) => r.msg === 'Action check failed; exec not run');
    assert.equal(refused?.fields.check, 'grep -q valid %%');
    c.write('a', 'site/app.conf', 'valid\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    await c.daemon('b')?.actionsIdle();
    assert.equal(reloads('b'), `${join(c.root('b'), 'site/app.conf')}\nverified\n`);
  });
});

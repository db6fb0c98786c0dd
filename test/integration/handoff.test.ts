// Hook calls handed to a running daemon (bin/csync.cjs → <state_dir>/control.sock): `csync -x FILE`
// and `csync -m FILE && csync -u` run inside the daemon of the same node over its open links;
// anything it should not run (another node, -v) and a node without a daemon run in the client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const handed = (log: string): number => log.split('\n').filter((l) => l.includes('Ran a command for a local client')).length;

describe('hook commands handed to the running daemon', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: false, external: ['a'] });
    await c.spawnNode('a');
  });
  after(async () => {
    await c.close();
  });

  it('runs `csync -x FILE` inside a\'s daemon, which delivers it to b', async () => {
    c.write('a', 'hook/one.txt', 'one\n');
    const r = await c.launch('a', ['-x', join(c.root('a'), 'hook/one.txt')]);
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /^b: sent \d+/m, 'the daemon\'s report reaches the client');
    assert.equal(c.read('b', 'hook/one.txt'), 'one\n');
    assert.equal(handed(c.childLog('a')), 1);
    const sock = join(c.dir, 'a', 'state', 'control.sock');
    if (existsSync(sock)) assert.equal(statSync(sock).mode & 0o777, 0o600, 'only the daemon\'s user may connect');
  });

  it('runs `-m FILE` then `-u` there too, with relative paths resolved against the client\'s cwd', async () => {
    c.write('a', 'hook/two.txt', 'two\n');
    const before = handed(c.childLog('a'));
    const m = await c.launch('a', ['-m', 'hook/two.txt'], {}, c.root('a'));
    assert.equal(m.status, 0, m.out + m.err);
    assert.equal(c.read('b', 'hook/two.txt'), undefined, '-m only marks');
    const u = await c.launch('a', ['-u']);
    assert.equal(u.status, 0, u.out + u.err);
    assert.equal(c.read('b', 'hook/two.txt'), 'two\n');
    assert.equal(handed(c.childLog('a')), before + 2);
  });

  it('runs a command itself when the daemon should not (-v), with the same result', async () => {
    c.write('a', 'hook/three.txt', 'three\n');
    const before = handed(c.childLog('a'));
    const r = await c.launch('a', ['-x', '-v', join(c.root('a'), 'hook/three.txt')]);
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(c.read('b', 'hook/three.txt'), 'three\n');
    assert.equal(handed(c.childLog('a')), before, 'not handed over');
  });

  it('runs a command itself with CSYNC_NO_DAEMON=1', async () => {
    c.write('a', 'hook/four.txt', 'four\n');
    const before = handed(c.childLog('a'));
    const r = await c.launch('a', ['-x', join(c.root('a'), 'hook/four.txt')], { CSYNC_NO_DAEMON: '1' });
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(c.read('b', 'hook/four.txt'), 'four\n');
    assert.equal(handed(c.childLog('a')), before);
  });

  it('reports a usage error from the client, not the daemon', async () => {
    const r = await c.launch('a', ['-x', '-u']);
    assert.notEqual(r.status, 0);
    assert.match(r.err, /csync: /);
  });
});

// Fleet visibility on three real daemons (issue 14): `csync wait` / `-u --wait` return once both
// peers hold the change and name a stopped peer when they time out; `csync status --cluster` asks
// every peer over its authenticated link and shows a stopped one and a held conflict; each received
// file gets one info line with its outcome.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const NO_PERIODIC_CHECK = 'check_interval = "1d"';

/** Commands with `word` in their argv that a daemon's JSON log says it ran for a local client. */
function handed(log: string, word: string): number {
  return log.split('\n').filter((l) => l.includes('"Ran a command for a local client"')).filter((l) => (JSON.parse(l) as { argv: string[] }).argv.includes(word)).length;
}

describe('a converged barrier and the fleet table', () => {
  let c: DaemonCluster;
  before(async () => {
    // a runs as a `csync daemon` child process, so the launcher can hand commands to it.
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false, groupExtra: NO_PERIODIC_CHECK, recordLogs: true, external: ['a'] });
    await c.spawnNode('a');
  });
  after(async () => {
    await c.close();
  });

  it('-m then -u --wait returns 0 once b and c hold the file (handed to the daemon), and logs one line per file on each', async () => {
    c.write('a', 'deploy/app.js', 'v1\n');
    assert.equal((await c.launch('a', ['-m', `${c.root('a')}/deploy/app.js`])).status, 0);
    const r = await c.launch('a', ['-u', '--wait', '--timeout', '20s']);
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /^in sync: b, c hold this node's version of every path$/m);
    assert.equal(handed(c.childLog('a'), '--wait'), 1, 'the launcher handed -u --wait to the daemon, which ran it');
    for (const n of ['b', 'c']) {
      assert.equal(c.read(n, 'deploy/app.js'), 'v1\n', n);
      const lines = c.logs(n).filter((l) => l.msg === 'File' && l.fields.path === '%data%/deploy/app.js');
      assert.deepEqual(lines.map((l) => [l.level, l.fields.outcome, l.fields.peer]), [['info', 'applied', 'a']], `${n}: one line for the file, with its outcome`);
    }
  });

  it('csync wait returns 0 at once when nothing is lagging, and says so', async () => {
    const r = await c.launch('a', ['wait', `${c.root('a')}/deploy/app.js`]);
    assert.equal(r.status, 0, r.out + r.err);
    assert.ok(r.out.includes(`in sync: b, c hold this node's version of ${c.root('a')}/deploy/app.js`), r.out);
    assert.equal(handed(c.childLog('a'), 'wait'), 1, 'handed to the daemon');
  });

  it('csync wait gives up at its timeout with exit 1, naming the stopped peer and what it lacks', async () => {
    await c.stopNode('c');
    try {
      c.write('a', 'deploy/app.js', 'v2\n');
      assert.equal((await c.run('a', '-m', `${c.root('a')}/deploy/app.js`)).status, 0);
      const t0 = Date.now();
      const r = await c.run('a', 'wait', '--timeout', '1500ms');
      assert.equal(r.status, 1, r.out + r.err);
      assert.ok(Date.now() - t0 < 10_000, 'within its timeout (plus one pass)');
      assert.ok(r.out.includes(`c: lacks 1 entry (${c.root('a')}/deploy/app.js): not reachable: `), r.out);
      assert.doesNotMatch(r.out, /^b: /m, 'b got it: not lagging');
      assert.equal(c.read('b', 'deploy/app.js'), 'v2\n');
      assert.match(r.err, /timed out/);

      const st = await c.run('a', 'status', '--cluster', '--timeout', '2s');
      assert.equal(st.status, 1, st.out + st.err);
      assert.match(st.out, /^c\s+-\s.*unreachable: /m, st.out);
      assert.match(st.out, /^b\s+up \d+s\s+0\.1\.0\s+0\s+0\s+0\s+0\s/m, st.out);
    } finally {
      await c.startNode('c');
    }
    const back = await c.run('a', 'wait', '--timeout', '20s');
    assert.equal(back.status, 0, back.out + back.err);
  });

  it('status --cluster shows a held conflict on the node holding it, with the command that settles it', async () => {
    c.write('b', 'conf.txt', 'base\n');
    assert.equal((await c.run('b', '-x')).status, 0);
    await c.until('conf.txt on c', () => c.read('c', 'conf.txt') === 'base\n');
    c.write('b', 'conf.txt', 'from b\n');
    c.write('c', 'conf.txt', 'from c\n');
    assert.equal((await c.run('c', '-c')).status, 0);
    assert.equal((await c.run('b', '-x', '-P', 'c')).status, 1);
    const r = await c.run('a', 'status', '--cluster', '--json');
    assert.equal(r.status, 1, r.out + r.err);
    const fleet = JSON.parse(r.out) as { nodes: { node: string; reachable: boolean; summary?: { conflicts: { realPath: string; settle: string }[]; attention: { what: string }[] } }[] };
    assert.deepEqual(fleet.nodes.map((n) => [n.node, n.reachable]), [['a', true], ['b', true], ['c', true]]);
    const atC = fleet.nodes.find((n) => n.node === 'c')?.summary;
    assert.deepEqual(atC?.conflicts.map((x) => x.realPath), [`${c.root('c')}/conf.txt`]);
    assert.equal(atC?.conflicts[0]?.settle, `csync -f ${c.root('c')}/conf.txt`);
    assert.ok(atC?.attention.some((x) => x.what === 'conflicts'));
    const text = await c.run('a', 'status', '--cluster');
    assert.ok(text.out.includes(`c: conflict ${c.root('c')}/conf.txt with b (settle there: csync -f ${c.root('c')}/conf.txt)`), text.out);
  });
});

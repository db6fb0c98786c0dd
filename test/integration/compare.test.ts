// `csync -T` on three in-process daemons over real TLS on 127.0.0.1: in sync after -x, then X / L / R
// for changes made behind csync's back, PATH and -P narrowing, --json, and unreachable peers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const sorted = (out: string): string[] => out.split('\n').filter((l) => l !== '').sort();

describe('csync -T on three TLS nodes', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false });
  });
  after(async () => {
    await c.close();
  });

  it('exits 0 and prints nothing once -x has synced every node', async () => {
    c.write('a', 'www/index.html', '<h1>v1</h1>\n');
    c.write('a', 'www/css/site.css', 'body{}\n');
    c.write('a', 'etc/app.conf', 'port=80\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    assert.equal(c.read('c', 'www/css/site.css'), 'body{}\n');
    const r = await c.run('a', '-T');
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(r.out, '');
  });

  it('prints X for a file edited on b, R for one only on c and L for one only on a, and exits 1', async () => {
    c.write('b', 'www/index.html', '<h1>edited on b by hand</h1>\n');
    c.write('c', 'etc/extra.conf', 'only on c\n');
    c.write('a', 'www/css/new.css', 'only on a\n');
    const r = await c.run('a', '-T');
    assert.equal(r.status, 1, r.err);
    assert.deepEqual(sorted(r.out), [
      'L\tb\t%data%/www/css/new.css',
      'L\tc\t%data%/www/css/new.css',
      'R\tc\t%data%/etc/extra.conf',
      'X\tb\t%data%/www/index.html',
    ]);
    // Comparing changed nothing: b's edit was not recorded there, so nothing was pushed.
    assert.equal(c.dirty('b'), 0);
    assert.equal(c.read('a', 'www/index.html'), '<h1>v1</h1>\n');
  });

  it('compares only the subtree of PATH, and only the peers of -P', async () => {
    const etc = await c.run('a', '-T', join(c.root('a'), 'etc'));
    assert.equal(etc.status, 1, etc.err);
    assert.deepEqual(sorted(etc.out), ['R\tc\t%data%/etc/extra.conf']);
    const onlyB = await c.run('a', '-T', '-P', 'b');
    assert.equal(onlyB.status, 1, onlyB.err);
    assert.deepEqual(sorted(onlyB.out), ['L\tb\t%data%/www/css/new.css', 'X\tb\t%data%/www/index.html']);
    const etcOnB = await c.run('a', '-T', '-P', 'b', join(c.root('a'), 'etc'));
    assert.equal(etcOnB.status, 0, etcOnB.out + etcOnB.err);
  });

  it('prints one report per peer with --json', async () => {
    const r = await c.run('a', '-T', '--json');
    assert.equal(r.status, 1, r.err);
    const reports = JSON.parse(r.out) as { peer: string; differences: { kind: string; path: string }[]; error?: string }[];
    assert.deepEqual(reports.map((p) => [p.peer, p.differences.map((d) => `${d.kind} ${d.path}`), p.error]), [
      ['b', ['L %data%/www/css/new.css', 'X %data%/www/index.html'], undefined],
      ['c', ['R %data%/etc/extra.conf', 'L %data%/www/css/new.css'], undefined],
    ]);
  });

  it('reports an unreachable peer and still compares with the others; exits 69 only when no peer answered', async () => {
    await c.stopNode('c');
    const one = await c.run('a', '-T');
    assert.match(one.err, /\bc\b.*not compared/);
    assert.deepEqual(sorted(one.out), ['L\tb\t%data%/www/css/new.css', 'X\tb\t%data%/www/index.html']);
    assert.equal(one.status, 1);
    await c.stopNode('b');
    const none = await c.run('a', '-T');
    assert.equal(none.status, 69, none.out + none.err);
    assert.match(none.err, /\bb\b.*not compared/);
  });
});

// The [metrics] listener on three real daemons (issue 14, items 3 and 4): /metrics parses as strict
// Prometheus text format and its counters move by what a known sync moved; /healthz turns 503 while
// a group is halted and 200 after; bad requests are answered without harm; the listener closes with
// the daemon; and the status page, loaded in a real headless Chromium, shows the fleet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { get as httpGet } from 'node:http';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';
import { parseExposition, valueOf } from '../helpers/prom-exposition.ts';
import type { Exposition } from '../helpers/prom-exposition.ts';
import { findChromium, runChromium } from '../helpers/chromium.ts';

const NO_PERIODIC_CHECK = 'check_interval = "1d"';
const FAILING_ACTION = ['[[groups.g.actions]]', 'pattern = ["%data%/act/*"]', 'exec = "exit 3"'].join('\n');
/** A file name a hostile or careless peer could hold: markup, if a page forgot to escape it. */
const HOSTILE = '<img src=x onerror=alert(1)>.txt';

describe('the metrics listener', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false, metrics: true, groupExtra: `${NO_PERIODIC_CHECK}\n${FAILING_ACTION}` });
  });
  after(async () => {
    await c.close();
  });

  const get = (n: string, path: string, init?: RequestInit): Promise<Response> => fetch(new URL(path, c.metricsUrl(n)), init);
  const scrape = async (n: string): Promise<Exposition> => {
    const r = await get(n, 'metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(await r.text());
  };

  it('serves every family with HELP and TYPE, named as Prometheus asks (csync_ prefix, _total counters, base units)', async () => {
    const e = await scrape('a');
    assert.equal(valueOf(e, 'csync_build_info', { version: '0.1.0' }), 1);
    const ours = [...e.types].filter(([name]) => name.startsWith('csync_'));
    assert.ok(ours.length >= 20, ours.map(([n]) => n).join(' '));
    for (const [name, type] of ours) {
      if (type === 'counter') assert.match(name, /_total$/, name);
      else assert.doesNotMatch(name, /_total$/, name);
      assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb)(_|$)/, `${name}: base units`);
    }
    for (const key of e.samples.keys()) assert.doesNotMatch(key, /path=/, 'no per-path labels');
    assert.ok(e.types.has('process_resident_memory_bytes'), 'the default process metrics');
  });

  it('moves the counters by what a known sync moved: five changed files from a reach b and c', async () => {
    const files = ['m1.txt', 'm2.txt', 'm3.txt', 'm4.txt', 'm5.txt'];
    for (const f of files) c.write('a', f, 'old\n');
    assert.equal((await c.run('a', '-x')).status, 0);
    await c.daemon('a')?.idle();
    // Changed contents, same directory: exactly these five entries are owed to each peer.
    const [a0, b0] = [await scrape('a'), await scrape('b')];
    files.forEach((f, i) => c.write('a', f, 'x'.repeat(100 * (i + 1))));
    const bytes = 100 + 200 + 300 + 400 + 500;
    const t0 = Date.now();
    assert.equal((await c.run('a', '-m', ...files.map((f) => join(c.root('a'), f)))).status, 0);
    c.daemon('a')?.kick();
    await c.until('the files on b and c', () => files.every((f, i) => c.read('b', f)?.length === 100 * (i + 1) && c.read('c', f)?.length === 100 * (i + 1)) && c.dirty('a') === 0);
    await c.daemon('a')?.idle();
    const [a1, b1] = [await scrape('a'), await scrape('b')];
    const delta = (e0: Exposition, e1: Exposition, name: string, labels: Record<string, string>): number => valueOf(e1, name, labels) - valueOf(e0, name, labels, 0);
    assert.equal(delta(b0, b1, 'csync_files_received_total', { peer: 'a' }), 5);
    assert.equal(delta(b0, b1, 'csync_bytes_received_total', { peer: 'a' }), bytes);
    assert.equal(delta(b0, b1, 'csync_received_outcomes_total', { outcome: 'applied' }), 5);
    for (const peer of ['b', 'c']) {
      assert.equal(delta(a0, a1, 'csync_files_sent_total', { peer }), 5, peer);
      assert.equal(delta(a0, a1, 'csync_bytes_sent_total', { peer }), bytes, peer);
      assert.equal(valueOf(a1, 'csync_dirty_entries', { group: 'g', peer }), 0, peer);
      assert.equal(valueOf(a1, 'csync_peer_up', { peer }), 1, peer);
      assert.ok(valueOf(a1, 'csync_last_sync_timestamp_seconds', { peer }) >= Math.floor(t0 / 1000), peer);
    }
    assert.equal(delta(b0, b1, 'csync_files_received_total', { peer: 'c' }), 0);
    assert.equal(valueOf(a1, 'csync_watcher_queue_length'), 0);
    assert.equal(valueOf(a1, 'csync_group_halted', { group: 'g' }), 0);
  });

  it('answers /healthz 200 "ok", 503 with the reason while a group is halted, and 200 again once it is not', async () => {
    const ok = await get('b', 'healthz');
    assert.deepEqual([ok.status, await ok.text()], [200, 'ok\n']);
    renameSync(c.root('b'), `${c.root('b')}.away`);
    try {
      assert.notEqual((await c.run('b', '-c')).status, 0, 'the check halts the group');
      const halted = await get('b', 'healthz');
      assert.equal(halted.status, 503);
      assert.match(await halted.text(), /^group g halted: /m);
      assert.equal(valueOf(await scrape('b'), 'csync_group_halted', { group: 'g' }), 1);
    } finally {
      renameSync(`${c.root('b')}.away`, c.root('b'));
    }
    assert.equal((await c.run('b', '-c')).status, 0);
    const back = await get('b', 'healthz');
    assert.deepEqual([back.status, await back.text()], [200, 'ok\n']);
  });

  it('answers bad requests with an error and keeps serving', async () => {
    assert.equal((await get('a', 'metrics', { method: 'POST', body: 'x' })).status, 405);
    assert.equal((await get('a', 'no-such-page')).status, 404);
    assert.equal(await statusWithHost(new URL('healthz', c.metricsUrl('a')), 'rebound.example.com:9477'), 421, 'a DNS-rebound name is refused');
    assert.equal(await statusWithHost(new URL('healthz', c.metricsUrl('a')), 'localhost:9477'), 200);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(new URL(c.metricsUrl('a')).port), '127.0.0.1', () => s.write('NOT HTTP AT ALL\r\n\r\n'));
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('utf8')));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal((await get('a', 'healthz')).status, 200, 'still serving');
  });

  it('closes the listener when the daemon stops', async () => {
    await c.stopNode('c');
    await assert.rejects(get('c', 'healthz'), /fetch failed/);
  });

  it('serves a status page a real browser renders: the fleet, lag, a held conflict with its settle command, and an action exit status', async (t) => {
    const chromium = findChromium();
    if (chromium === undefined) {
      t.skip('chromium is not installed (apt-get install chromium; .ci/run installs it)');
      return;
    }
    // An action on b that exits 3.
    c.write('a', 'act/run.txt', 'go\n');
    assert.equal((await c.run('a', '-x', '-P', 'b')).status, 0);
    await c.daemon('b')?.actionsIdle();
    // A conflict held on b over a file whose name is markup; c stays stopped (unreachable).
    c.write('b', HOSTILE, 'base\n');
    const seed = await c.run('b', '-x', '-P', 'a');
    assert.equal(seed.status, 0, seed.out + seed.err);
    c.write('a', HOSTILE, 'from a\n');
    c.write('b', HOSTILE, 'from b\n');
    assert.equal((await c.run('b', '-c')).status, 0);
    const held = await c.run('a', '-x', '-P', 'b');
    assert.equal(held.status, 1, 'b holds the conflict');

    const r = await runChromium(chromium, ['--dump-dom', c.metricsUrl('a')]);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const dom = r.stdout;
    assert.match(dom, /<meta http-equiv="refresh" content="5">/, 'refreshes itself');
    assert.match(dom, /<h1>csync fleet, seen from a<\/h1>/);
    const rowOf = (node: string): string => (dom.split(`<tr><td>${node}</td>`)[1] ?? '').split('</tr>')[0] ?? '';
    assert.match(rowOf('a'), /<td[^>]*>up \d+[smhd]<\/td><td>0\.1\.0<\/td>/, rowOf('a'));
    assert.match(rowOf('b'), /<td>1<\/td><td>0<\/td><td>[^<]*<\/td><td>[^<]*<\/td><td class="bad">conflicts\b/, rowOf('b'));
    assert.match(rowOf('c'), /unreachable: /, rowOf('c'));
    const escaped = '&lt;img src=x onerror=alert(1)&gt;.txt';
    assert.ok(dom.includes(`${c.root('b')}/${escaped} with a; settle on b: <code>csync -f '${c.root('b')}/${escaped}'</code>`), dom);
    assert.doesNotMatch(dom, /<img/i, 'the peer-supplied name stays text');
    assert.match(dom, /<td>b<\/td><td>g<\/td><td class="cmd">exit 3<\/td><td>1<\/td><td class="bad">exit 3<\/td>/);
    assert.match(dom, /<tr><td>a<\/td><td>g<\/td><td>c<\/td><td>[^<]*<\/td><td>[1-9]\d*<\/td>/, 'a lags toward the stopped c');
  });
});

/** The status of a GET of `url` sent with this Host header (fetch does not let a caller set it). */
function statusWithHost(url: URL, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

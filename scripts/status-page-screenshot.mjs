#!/usr/bin/env node
// Takes the README's picture of the status page: starts a three-node demo cluster in this process
// (the test harness, so run `npm run build` first), makes a synced tree, a failing action, a held
// conflict and a stopped peer, prints `csync status --cluster` and has headless Chromium screenshot
// node a's page. Usage: node scripts/status-page-screenshot.mjs [OUT.png] (default docs/status-page.png).
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(ROOT, 'docs/status-page.png'));
const { DaemonCluster } = await import(join(ROOT, 'build/test/helpers/daemon-cluster.js'));
const { findChromium, runChromium } = await import(join(ROOT, 'build/test/helpers/chromium.js'));

const chromium = findChromium();
if (chromium === undefined) {
  console.error('status-page-screenshot: chromium not found (apt-get install chromium, or set CHROMIUM=/path)');
  process.exit(69);
}
const actions = ['[[groups.g.actions]]', 'pattern = ["%data%/nginx/*"]', 'exec = "exit 1"'].join('\n');
const c = await DaemonCluster.start({ nodes: ['a', 'b', 'c'], watch: false, metrics: true, groupExtra: `check_interval = "1d"\n${actions}` });
try {
  const must = async (node, ...args) => {
    const r = await c.run(node, ...args);
    if (r.status > 1) throw new Error(`csync ${args.join(' ')} on ${node}: exit ${r.status}\n${r.out}${r.err}`);
    return r;
  };
  for (const f of ['htdocs/index.html', 'htdocs/about.html', 'etc/app.conf']) c.write('a', f, `${f}\n`);
  await must('a', '-x');
  // An action that fails on its receivers.
  c.write('a', 'nginx/site.conf', 'server {}\n');
  await must('a', '-x');
  await c.daemon('b')?.actionsIdle();
  await c.daemon('c')?.actionsIdle();
  // Both a and b edit etc/app.conf: b holds the conflict.
  c.write('a', 'etc/app.conf', 'from a\n');
  c.write('b', 'etc/app.conf', 'from b\n');
  await must('b', '-c');
  await must('a', '-x', '-P', 'b');
  // c stops; a has a change c has not got.
  await c.stopNode('c');
  c.write('a', 'htdocs/news.html', 'news\n');
  await must('a', '-x', '-P', 'b');
  await must('a', '-m', join(c.root('a'), 'htdocs/news.html'));
  const fleet = await c.run('a', 'status', '--cluster', '--timeout', '2s');
  console.log(`$ csync status --cluster\n${fleet.out.replaceAll(c.dir, '/srv/demo')}`);
  const shot = await runChromium(chromium, ['--hide-scrollbars', '--window-size=1200,900', `--screenshot=${out}`, c.metricsUrl('a')]);
  if (shot.status !== 0) throw new Error(`chromium exited ${shot.status}: ${shot.stderr.slice(-2000)}`);
  console.log(`wrote ${out}`);
} finally {
  await c.close();
}

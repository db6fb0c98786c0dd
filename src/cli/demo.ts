// `csync demo`: a 3-node cluster on 127.0.0.1 in a temp dir: sync, an edit going back, a conflict
// and its resolution with -f, then a summary and cleanup. Uses the real CLI, TLS and SQLite.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/logger.ts';
import type { Command } from './args.ts';
import type { Io } from './output.ts';
import { openRuntime } from '../daemon/runtime.ts';
import type { Runtime } from '../daemon/runtime.ts';
import { Daemon } from '../daemon/daemon.ts';
import { ChokidarSource } from '../watcher/chokidar-source.ts';

const NODES = ['alpha', 'beta', 'gamma'] as const;

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The demo's config: one group over three roots in `dir`. */
export function demoConfig(dir: string, ports: readonly number[], live = false): string {
  const hosts = NODES.map((n, i) => `${n} = "127.0.0.1:${ports[i] ?? 0}"`).join('\n');
  const roots = NODES.map((n) => `${n} = ${JSON.stringify(join(dir, n, 'www'))}`).join('\n');
  return `# csync demo cluster\nstate_dir = ${JSON.stringify(join(dir, '%h', 'state'))}\n\n[tls]\ncert = ${JSON.stringify(join(dir, '%h', 'tls.crt'))}\nkey = ${JSON.stringify(join(dir, '%h', 'tls.key'))}\n\n[hosts]\n${hosts}\n\n[prefix.www]\n${roots}\n\n[groups.web]\nhosts = ["alpha", "beta", "gamma"]\nkey = ${JSON.stringify(join(dir, 'web.key'))}\ninclude = ["%www%"]\nexclude = ["*~", ".*.swp"]\nbackup_dir = ${JSON.stringify(join(dir, '%h', 'backup'))}\nbackup_generations = 3\nwatch = ${String(live)}\n`;
}

interface Demo {
  readonly dir: string;
  readonly cfg: string;
  readonly io: Io;
  readonly run: (node: string, ...args: string[]) => Promise<number>;
  readonly root: (node: string) => string;
}

/** Runs the demo; returns 0 when every step behaved as expected. */
export async function runDemo(cmd: Command, io: Io): Promise<number> {
  const live = cmd.options.live;
  const { runCommand } = await import('./main.ts');
  const dir = mkdtempSync(join(tmpdir(), 'csync-demo-'));
  const daemons: Daemon[] = [];
  const runtimes: Runtime[] = [];
  const started = Date.now();
  try {
    const ports = await Promise.all(NODES.map(() => freePort()));
    const cfg = join(dir, 'csync.toml');
    writeFileSync(cfg, demoConfig(dir, ports, live));
    for (const n of NODES) mkdirSync(join(dir, n, 'www'), { recursive: true });
    const quiet: Io = { out: () => undefined, err: () => undefined, isTty: false, logs: false };
    const demo: Demo = {
      dir, cfg, io,
      root: (n) => join(dir, n, 'www'),
      run: async (node, ...args) => {
        io.out(`\n$ csync -N ${node} ${args.join(' ')}\n`);
        const status = await runCommand(['-C', cfg, '-N', node, ...args], indent(io));
        if (status !== 0) io.out(`  (exit status ${status})\n`);
        return status;
      },
    };
    await runCommand(['-k', join(dir, 'web.key'), '-q'], quiet);
    for (const n of NODES) await runCommand(['-C', cfg, '-N', n, 'tls', 'init', '-q'], quiet);
    for (const n of NODES) {
      const rt = await openRuntime({ configPath: cfg, nodeName: n, checkKeys: true, log: silentLogger });
      runtimes.push(rt);
      const d = new Daemon(rt, {
        runtimeOptions: { configPath: cfg, nodeName: n, checkKeys: true, log: silentLogger },
        watchSource: live ? new ChokidarSource() : undefined,
        host: '127.0.0.1',
      });
      await d.start();
      daemons.push(d);
    }
    io.out(`csync demo: three nodes (${NODES.join(', ')}) on 127.0.0.1 ports ${ports.join(', ')}, in ${dir}\n`);
    const ok = live ? await liveStory(demo) : await story(demo);
    io.out(`\n${ok ? 'demo finished: every node holds the same tree' : 'demo FAILED: the trees differ'} (${((Date.now() - started) / 1000).toFixed(1)} s); cleaning up\n`);
    return ok ? 0 : 1;
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    for (const rt of runtimes) rt.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function indent(io: Io): Io {
  const pad = (t: string): string => t.replace(/^(?=.)/gm, '  ');
  return { out: (t) => io.out(pad(t)), err: (t) => io.out(pad(t)), isTty: false, logs: false };
}

async function story(d: Demo): Promise<boolean> {
  const w = (node: string, rel: string, text: string): void => {
    mkdirSync(join(d.root(node), rel, '..'), { recursive: true });
    writeFileSync(join(d.root(node), rel), text);
  };
  const show = (rel: string): void => {
    for (const n of NODES) d.io.out(`  ${n}: ${rel} = ${JSON.stringify(readFileSync(join(d.root(n), rel), 'utf8').trim())}\n`);
  };
  d.io.out('\n1. alpha gets new files; one `csync -x` sends them to both peers at once.\n');
  w('alpha', 'index.html', '<h1>hello from alpha</h1>\n');
  w('alpha', 'css/site.css', 'body { color: #333 }\n');
  w('alpha', 'img/logo.svg', '<svg/>\n'.repeat(2000));
  await d.run('alpha', '-x');
  show('index.html');

  d.io.out('\n2. beta edits a file; the change flows the other way.\n');
  w('beta', 'css/site.css', 'body { color: #036 }\n');
  await d.run('beta', '-x');
  show('css/site.css');

  d.io.out('\n3. alpha and gamma edit index.html at the same time: a conflict, nothing is overwritten.\n');
  w('alpha', 'index.html', '<h1>alpha\'s new version</h1>\n');
  w('gamma', 'index.html', '<h1>gamma\'s new version</h1>\n');
  await d.run('gamma', '-x');
  await d.run('alpha', '-x');
  await d.run('alpha', '-M');
  show('index.html');

  d.io.out('\n4. The operator decides alpha wins: `csync -f` then `csync -u`. Losers go to backups.\n');
  await d.run('alpha', '-f', join(d.root('alpha'), 'index.html'));
  await d.run('alpha', '-u');
  await d.run('gamma', '-x');
  await d.run('beta', '-x');
  show('index.html');
  d.io.out(`  gamma's version was kept in ${join(d.dir, 'gamma', 'backup')}${join(d.root('gamma'), 'index.html')}\n`);
  return sameTrees(d);
}

function sameTrees(d: Demo): boolean {
  const files = ['index.html', 'css/site.css', 'img/logo.svg'];
  return files.every((f) => NODES.every((n) => readFileSync(join(d.root(n), f), 'utf8') === readFileSync(join(d.root('alpha'), f), 'utf8')));
}

/** Waits until `path` holds `text` (polling every 2 ms, at most 10 s); returns the ms it took. */
async function waitFor(path: string, text: string, t0: number): Promise<number> {
  for (;;) {
    try {
      if (readFileSync(path, 'utf8') === text) return performance.now() - t0;
    } catch {
      // Not there yet: keep polling.
    }
    if (performance.now() - t0 > 10_000) return Number.NaN;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** --live: daemons with watchers; plain writes appear on the peers without any csync command. */
async function liveStory(d: Demo): Promise<boolean> {
  d.io.out('\nLive mode: every node runs `csync daemon` with a watcher. No csync commands below, just writes.\n');
  let ok = true;
  const steps: [string, string, string][] = [
    ['alpha', 'index.html', '<h1>written on alpha</h1>\n'],
    ['gamma', 'index.html', '<h1>edited on gamma</h1>\n'],
    ['beta', 'news/today.txt', 'fresh news from beta\n'],
  ];
  for (const [from, rel, text] of steps) {
    mkdirSync(join(d.root(from), rel, '..'), { recursive: true });
    const t0 = performance.now();
    writeFileSync(join(d.root(from), rel), text);
    const times = await Promise.all(NODES.filter((n) => n !== from).map(async (n) => [n, await waitFor(join(d.root(n), rel), text, t0)] as const));
    d.io.out(`  ${from} wrote ${rel}: ${times.map(([n, ms]) => `${n} has it after ${Number.isNaN(ms) ? 'TIMEOUT' : `${ms.toFixed(0)} ms`}`).join(', ')}\n`);
    ok &&= times.every(([, ms]) => !Number.isNaN(ms));
  }
  return ok;
}

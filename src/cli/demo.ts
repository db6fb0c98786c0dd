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
import { loadTlsMaterial, startServer } from '../daemon/server.ts';
import type { Server } from '../daemon/server.ts';

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
export function demoConfig(dir: string, ports: readonly number[]): string {
  const hosts = NODES.map((n, i) => `${n} = "127.0.0.1:${ports[i] ?? 0}"`).join('\n');
  const roots = NODES.map((n) => `${n} = ${JSON.stringify(join(dir, n, 'www'))}`).join('\n');
  return `# csync demo cluster\nstate_dir = ${JSON.stringify(join(dir, '%h', 'state'))}\n\n[tls]\ncert = ${JSON.stringify(join(dir, '%h', 'tls.crt'))}\nkey = ${JSON.stringify(join(dir, '%h', 'tls.key'))}\n\n[hosts]\n${hosts}\n\n[prefix.www]\n${roots}\n\n[groups.web]\nhosts = ["alpha", "beta", "gamma"]\nkey = ${JSON.stringify(join(dir, 'web.key'))}\ninclude = ["%www%"]\nexclude = ["*~", ".*.swp"]\nbackup_dir = ${JSON.stringify(join(dir, '%h', 'backup'))}\nbackup_generations = 3\n`;
}

interface Demo {
  readonly dir: string;
  readonly cfg: string;
  readonly io: Io;
  readonly run: (node: string, ...args: string[]) => Promise<number>;
  readonly root: (node: string) => string;
}

/** Runs the demo; returns 0 when every step behaved as expected. */
export async function runDemo(_cmd: Command, io: Io): Promise<number> {
  const { runCommand } = await import('./main.ts');
  const dir = mkdtempSync(join(tmpdir(), 'csync-demo-'));
  const servers: Server[] = [];
  const runtimes: Runtime[] = [];
  const started = Date.now();
  try {
    const ports = await Promise.all(NODES.map(() => freePort()));
    const cfg = join(dir, 'csync.toml');
    writeFileSync(cfg, demoConfig(dir, ports));
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
      servers.push(await startServer(rt, loadTlsMaterial(rt), { host: '127.0.0.1' }));
    }
    io.out(`csync demo: three nodes (${NODES.join(', ')}) on 127.0.0.1 ports ${ports.join(', ')}, in ${dir}\n`);
    const ok = await story(demo);
    io.out(`\n${ok ? 'demo finished: every node holds the same tree' : 'demo FAILED: the trees differ'} (${((Date.now() - started) / 1000).toFixed(1)} s); cleaning up\n`);
    return ok ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.close()));
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

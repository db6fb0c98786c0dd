// Drives csync for the benchmarks: node n0 sends (CLI), the others receive (`csync daemon` processes).
// The sender reaches every receiver through a counting proxy, so bytes on the wire are measured.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { children, CountingProxy, discard, timed } from './util.ts';

/** The CLI launcher (build/native-bench/lib → bin/). */
/** The V8 flag systemd/csync.service gives the daemon (a test checks the two agree). */
export const DAEMON_V8_FLAG = '--max-semi-space-size=4';
export const CSYNC_BIN = join(dirname(fileURLToPath(import.meta.url)), '../../../bin/csync.cjs');

/** A bench cluster of csync nodes on 127.0.0.1. */
export class CsyncCluster {
  readonly dir: string;
  readonly nodes: readonly string[];
  private readonly basePort: number;
  private readonly proxies = new Map<string, CountingProxy>();
  private readonly daemons = new Map<string, ReturnType<typeof spawn>>();

  constructor(dir: string, nodes: readonly string[], basePort: number) {
    this.dir = dir;
    this.nodes = nodes;
    this.basePort = basePort;
  }

  root(n: string): string {
    return join(this.dir, n, 'root');
  }

  private port(i: number): number {
    return this.basePort + i;
  }

  private config(name: string, opts: { viaProxy: boolean; watch: boolean }): string {
    const hosts = this.nodes.map((n, i) => `${n} = "127.0.0.1:${opts.viaProxy && i > 0 ? this.port(i) + 100 : this.port(i)}"`).join('\n');
    const roots = this.nodes.map((n) => `${n} = ${JSON.stringify(this.root(n))}`).join('\n');
    const text = [
      `state_dir = ${JSON.stringify(join(this.dir, '%h', 'state'))}`,
      '[tls]', `cert = ${JSON.stringify(join(this.dir, '%h', 'tls.crt'))}`, `key = ${JSON.stringify(join(this.dir, '%h', 'tls.key'))}`,
      '[hosts]', hosts, '[prefix.data]', roots, '[groups.bench]', `hosts = ${JSON.stringify(this.nodes)}`,
      `key = ${JSON.stringify(join(this.dir, 'bench.key'))}`, 'include = ["%data%"]', `watch = ${String(opts.watch)}`, 'max_delete = "100%"', '',
    ].join('\n');
    const file = join(this.dir, name);
    writeFileSync(file, text);
    return file;
  }

  /** Writes configs, the group key and every node's certificate; starts the proxies. */
  async setup(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.config('recv.toml', { viaProxy: false, watch: false });
    this.config('send.toml', { viaProxy: true, watch: false });
    this.config('recv-watch.toml', { viaProxy: false, watch: true });
    this.config('send-watch.toml', { viaProxy: true, watch: true });
    run([CSYNC_BIN, '-k', join(this.dir, 'bench.key'), '-q']);
    for (const n of this.nodes) run([CSYNC_BIN, '-C', join(this.dir, 'recv.toml'), '-N', n, 'tls', 'init', '-q']);
    for (const [i, n] of this.nodes.entries()) {
      if (i === 0) continue;
      const p = new CountingProxy();
      await p.start(this.port(i) + 100, this.port(i));
      this.proxies.set(n, p);
    }
  }

  /** Bytes through every proxy since the last reset. */
  wire(): number {
    return [...this.proxies.values()].reduce((n, p) => n + p.bytes, 0);
  }

  resetWire(): void {
    for (const p of this.proxies.values()) p.bytes = 0;
  }

  /** Empties every root and state dir (keeps keys and certificates), with receivers stopped. */
  async wipe(): Promise<void> {
    await this.stopDaemons();
    for (const n of this.nodes) {
      discard(this.root(n));
      discard(join(this.dir, n, 'state'));
      mkdirSync(this.root(n), { recursive: true });
    }
  }

  /** Starts `csync daemon` for `nodes` (default: every receiver); resolves when each is listening. */
  async startDaemons(opts: { watch?: boolean; nodes?: readonly string[] } = {}): Promise<void> {
    const which = opts.nodes ?? this.nodes.slice(1);
    await Promise.all(which.map((n) => this.startDaemon(n, opts.watch === true)));
  }

  private async startDaemon(n: string, watch: boolean): Promise<void> {
    const cfg = join(this.dir, n === this.nodes[0] ? (watch ? 'send-watch.toml' : 'send.toml') : watch ? 'recv-watch.toml' : 'recv.toml');
    // As systemd/csync.service runs it (Environment=NODE_OPTIONS=--max-semi-space-size=4).
    // CSYNC_BENCH_DAEMON_FLAGS: extra node flags for the daemons (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
    const extra = (process.env.CSYNC_BENCH_DAEMON_FLAGS ?? '').split(' ').filter((f) => f !== '');
    const child = spawn(process.execPath, [DAEMON_V8_FLAG, ...extra, CSYNC_BIN, '-C', cfg, '-N', n, 'daemon'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    this.daemons.set(n, child);
    await new Promise<void>((resolve, reject) => {
      let log = '';
      child.stderr?.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('Daemon started')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`daemon ${n} exited ${String(code)}: ${log.slice(-500)}`)));
    });
  }

  /** Peak RSS (KiB) of a running daemon, from /proc. */
  daemonPeakRssKb(n: string): number {
    const pid = this.daemons.get(n)?.pid;
    if (pid === undefined) return 0;
    const status = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }

  /** Current RSS (KiB) of a running daemon, from /proc. */
  daemonRssKb(n: string): number {
    const pid = this.daemons.get(n)?.pid;
    if (pid === undefined) return 0;
    const status = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }

  async stopDaemons(): Promise<void> {
    await this.stopDaemonsOf([...this.daemons.keys()]);
  }

  /** Runs the CLI as the sender n0 (through the proxies). */
  cli(args: readonly string[], okCodes: readonly number[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; rssKb: number; out: string }> {
    return timed(process.execPath, [CSYNC_BIN, '-C', join(this.dir, 'send.toml'), '-N', this.nodes[0] as string, ...args], { okCodes, env });
  }

  /** Starts the daemons of those `nodes` that are not running. */
  async ensureDaemons(nodes: readonly string[]): Promise<void> {
    const missing = nodes.filter((n) => !this.daemons.has(n));
    if (missing.length > 0) await this.startDaemons({ nodes: missing });
  }

  /** Stops the daemons of `nodes` only. */
  async stopDaemonsOf(nodes: readonly string[]): Promise<void> {
    await Promise.all(nodes.map(async (n) => {
      const c = this.daemons.get(n);
      if (!c) return;
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGTERM');
        await exited;
      }
      children.delete(c);
      this.daemons.delete(n);
    }));
  }

  async close(): Promise<void> {
    await this.stopDaemons();
    for (const p of this.proxies.values()) await p.stop();
  }
}

function run(args: readonly string[]): void {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`csync ${args.slice(1).join(' ')} failed: ${r.stderr}`);
}

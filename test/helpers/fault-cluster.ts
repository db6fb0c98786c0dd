// Test harness of the fault tier: N real `csync daemon` child processes on 127.0.0.1, one config file
// per node (so one node can reach another through a proxy), killed and restarted at will. No sleeps:
// waits are on process events, log lines and file-system events.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCommand } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/output.ts';
import { freePort } from '../../src/cli/demo.ts';

/** Options of FaultCluster.start(). */
export interface FaultClusterOptions {
  readonly nodes: readonly string[];
  /** Extra top-level TOML lines (e.g. `idle_timeout = "1s"`). */
  readonly top?: string;
  /** Extra TOML lines for [groups.g]. */
  readonly groupExtra?: string;
  /** Watch the roots (default false: changes travel when a test runs -x / -u). */
  readonly watch?: boolean;
  /** NODE_OPTIONS of the daemons (the bench passes the systemd unit's V8 flag). */
  readonly nodeOptions?: string;
}

/** Exit status and output of a command line. */
export interface Ran {
  readonly status: number;
  readonly out: string;
  readonly err: string;
}

const QUIET: Io = { out: () => undefined, err: () => undefined, isTty: false, logs: false };
/** The CLI launcher (from build/test/helpers/ back to the checkout). */
const BIN = join(dirname(new URL(import.meta.url).pathname), '../../../bin/csync.cjs');

/** A cluster of daemon processes. close() it in after(). */
export class FaultCluster {
  readonly dir: string;
  readonly ports: ReadonlyMap<string, number>;
  private readonly opts: FaultClusterOptions;
  private readonly children = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string>();
  /** Peer address overrides per node: node → peer → port (e.g. a proxy). */
  private readonly via = new Map<string, Map<string, number>>();

  private constructor(dir: string, ports: Map<string, number>, opts: FaultClusterOptions) {
    this.dir = dir;
    this.ports = ports;
    this.opts = opts;
  }

  /** Makes the key, certificates and configs; starts no daemon. */
  static async create(opts: FaultClusterOptions): Promise<FaultCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'csync-faults-'));
    const ports = new Map<string, number>();
    for (const n of opts.nodes) ports.set(n, await freePort());
    const c = new FaultCluster(dir, ports, opts);
    for (const n of opts.nodes) {
      mkdirSync(c.root(n), { recursive: true });
      c.writeConfig(n);
    }
    await runCommand(['-k', join(dir, 'g.key'), '-q'], QUIET);
    for (const n of opts.nodes) await runCommand(['-C', c.config(n), '-N', n, 'tls', 'init', '-q'], QUIET);
    return c;
  }

  /** The config file node `n` runs with. */
  config(n: string): string {
    return join(this.dir, `${n}.toml`);
  }

  /** Node `n`'s root directory. */
  root(n: string): string {
    return join(this.dir, n, 'root');
  }

  /** Makes node `from` dial `to` at `port` (a proxy) from its next start on. */
  route(from: string, to: string, port: number): void {
    const m = this.via.get(from) ?? new Map<string, number>();
    m.set(to, port);
    this.via.set(from, m);
    this.writeConfig(from);
  }

  /** Writes a file below `n`'s root, creating directories. */
  write(n: string, rel: string, content: string | Uint8Array): void {
    const p = join(this.root(n), rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }

  /** Starts `csync daemon` for `n`; resolves once it logged "Daemon started", rejects if it exits first. */
  async spawn(n: string): Promise<ChildProcess> {
    const env = this.opts.nodeOptions === undefined ? process.env : { ...process.env, NODE_OPTIONS: this.opts.nodeOptions };
    const child = spawn(process.execPath, [BIN, '-C', this.config(n), '-N', n, 'daemon'], { stdio: ['ignore', 'ignore', 'pipe'], env });
    this.children.set(n, child);
    this.logs.set(n, '');
    child.stderr?.on('data', (chunk: Buffer) => this.logs.set(n, (this.logs.get(n) ?? '') + chunk.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      const onData = (): void => {
        if ((this.logs.get(n) ?? '').includes('Daemon started')) {
          child.stderr?.off('data', onData);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null): void => reject(new Error(`daemon ${n} exited with ${String(code)}: ${this.logs.get(n) ?? ''}`));
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
    });
    return child;
  }

  /** True while `n`'s daemon process has not exited. */
  alive(n: string): boolean {
    const child = this.children.get(n);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** How `n`'s daemon ended (for assertion messages), with the tail of its log. */
  describe(n: string): string {
    const child = this.children.get(n);
    return `daemon ${n}: exit ${String(child?.exitCode)} signal ${String(child?.signalCode)}; log tail: ${(this.logs.get(n) ?? '').slice(-2000)}`;
  }

  /** Everything `n`'s daemon logged (JSON lines on stderr). */
  log(n: string): string {
    return this.logs.get(n) ?? '';
  }

  /** Resolves once `n`'s log contains `text` (rejects after `timeoutMs` or if the daemon exits). */
  async logged(n: string, text: string | RegExp, timeoutMs = 20_000): Promise<void> {
    const child = this.children.get(n);
    const has = (): boolean => (typeof text === 'string' ? this.log(n).includes(text) : text.test(this.log(n)));
    if (has()) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        child?.stderr?.off('data', onData);
        child?.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onData = (): void => {
        if (has()) done();
      };
      const onExit = (): void => done(new Error(`daemon ${n} exited while waiting for ${String(text)}`));
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${String(text)} in ${n}'s log`)), timeoutMs);
      child?.stderr?.on('data', onData);
      child?.once('exit', onExit);
    });
  }

  /** Sends `signal` to `n`'s daemon and resolves once it exited. */
  async kill(n: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.children.get(n);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Runs the CLI as node `n` in a child process (a running daemon of `n` takes -x/-u over). */
  async launch(n: string, ...args: string[]): Promise<Ran> {
    const child = spawn(process.execPath, [BIN, '-C', this.config(n), '-N', n, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const status = await new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)));
    return { status, out, err };
  }

  /** Stops every daemon (SIGKILL) and removes the directory. */
  async close(): Promise<void> {
    for (const n of this.children.keys()) await this.kill(n);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeConfig(n: string): void {
    const hosts = this.opts.nodes.map((h) => `${h} = "127.0.0.1:${this.via.get(n)?.get(h) ?? this.ports.get(h) ?? 0}"`).join('\n');
    const roots = this.opts.nodes.map((h) => `${h} = ${JSON.stringify(this.root(h))}`).join('\n');
    writeFileSync(this.config(n), [
      `state_dir = ${JSON.stringify(join(this.dir, '%h', 'state'))}`,
      this.opts.top ?? '',
      '[tls]',
      `cert = ${JSON.stringify(join(this.dir, '%h', 'tls.crt'))}`,
      `key = ${JSON.stringify(join(this.dir, '%h', 'tls.key'))}`,
      '[hosts]',
      hosts,
      '[prefix.data]',
      roots,
      '[groups.g]',
      `hosts = ${JSON.stringify(this.opts.nodes)}`,
      `key = ${JSON.stringify(join(this.dir, 'g.key'))}`,
      'include = ["%data%"]',
      `watch = ${String(this.opts.watch ?? false)}`,
      this.opts.groupExtra ?? '',
      '',
    ].join('\n'));
  }
}

/** Resolves once `check()` holds, re-checked on every file-system event below `root` (rejects after `timeoutMs`). */
export function until(root: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const w = watch(root, { recursive: true }, () => {
      if (check()) finish();
    });
    const timer = setTimeout(() => finish(new Error(`timed out waiting for a condition below ${root}`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      w.close();
      if (err) reject(err);
      else resolve();
    };
    if (check()) finish();
  });
}

/** Resolves once a csync temp file (`.<name>.csync-<id>.tmp`) exists anywhere below `root`. */
export function tempFileAppears(root: string, timeoutMs = 20_000): Promise<void> {
  return until(root, () => tempFiles(root).length > 0, timeoutMs);
}

/**
 * Files below `dir` (relative path → sha256 of the content), csync temp files excluded. Digests, not
 * bytes: a failed deepEqual must not try to print a diff of two 64 MiB buffers.
 */
export function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && !e.name.includes('.csync-')) out.set(join(e.parentPath, e.name).slice(dir.length), digest(readFileSync(join(e.parentPath, e.name))));
  }
  return out;
}

/** sha256 hex of `bytes`. */
export function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** csync temp files left below `dir`. */
export function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => f.includes('.csync-'));
}

/**
 * Mounts a tmpfs of `mib` MiB at `dir` (as root) with directory mode `mode`; returns why not when
 * this machine cannot (the caller skips with that reason).
 */
export function mountTmpfs(dir: string, mib: number, mode = '755'): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=${mode}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root and mount rights): ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

// Test harness: N csync daemons in this process on 127.0.0.1 (real TLS, SQLite files, disks, and
// optionally real chokidar watchers), with event-driven waits: no sleeps.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { memoryLogger, silentLogger } from '../../src/core/logger.ts';
import type { LogRecord, Logger } from '../../src/core/logger.ts';
import { runCommand } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/output.ts';
import { freePort } from '../../src/cli/demo.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { openRuntime } from '../../src/daemon/runtime.ts';
import type { Runtime } from '../../src/daemon/runtime.ts';
import type { PeerReport } from '../../src/sync/update.ts';
import { ChokidarSource } from '../../src/watcher/chokidar-source.ts';

/** Options of startDaemonCluster(). */
export interface DaemonClusterOptions {
  readonly nodes: readonly string[];
  /** Watch the roots with chokidar (else changes are pushed by check/update calls). */
  readonly watch: boolean;
  /** Extra TOML lines for [groups.g]. */
  readonly groupExtra?: string;
  /** Nodes not started in this process: start them with spawnNode() (a real `csync daemon`). */
  readonly external?: readonly string[];
  /** Keep each in-process daemon's log records (see logs()); else they are dropped. */
  readonly recordLogs?: boolean;
  /** How often daemons probe their watched roots (DaemonOptions.rootProbeMs). */
  readonly rootProbeMs?: number;
  /**
   * Serve [metrics] on a free loopback port per node (see metricsUrl): each node then reads its own
   * copy of the config with its `[metrics] listen` appended.
   */
  readonly metrics?: boolean;
}

interface Node {
  rt: Runtime | undefined;
  daemon: Daemon | undefined;
  cycles: number;
  applied: number;
  logs: LogRecord[];
}

/** A running cluster. Close it in after(). */
export class DaemonCluster {
  readonly dir: string;
  readonly cfg: string;
  private readonly nodes = new Map<string, Node>();
  private readonly waiters = new Set<() => void>();
  private readonly opts: DaemonClusterOptions;
  private readonly metricsPorts = new Map<string, number>();

  private constructor(dir: string, cfg: string, opts: DaemonClusterOptions) {
    this.dir = dir;
    this.cfg = cfg;
    this.opts = opts;
  }

  /** The base URL of node `n`'s metrics listener (with `metrics`), e.g. http://127.0.0.1:PORT/. */
  metricsUrl(n: string): string {
    const port = this.metricsPorts.get(n);
    if (port === undefined) throw new Error(`bug: node ${n} has no metrics listener (start the cluster with metrics: true)`);
    return `http://127.0.0.1:${port}/`;
  }

  /** The config file node `n`'s daemon reads: its own copy when it serves metrics, else the shared one. */
  nodeConfig(n: string): string {
    return this.metricsPorts.has(n) ? join(this.dir, n, 'csync.toml') : this.cfg;
  }

  /** Builds keys, certificates, a config with free ports, and starts every daemon. */
  static async start(opts: DaemonClusterOptions): Promise<DaemonCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'csync-dcluster-'));
    const ports = await Promise.all(opts.nodes.map(() => freePort()));
    const cfg = join(dir, 'csync.toml');
    writeFileSync(cfg, clusterConfig(dir, opts, ports));
    const c = new DaemonCluster(dir, cfg, opts);
    for (const n of opts.nodes) mkdirSync(c.root(n), { recursive: true });
    if (opts.metrics) {
      for (const n of opts.nodes) {
        const port = await freePort();
        c.metricsPorts.set(n, port);
        writeFileSync(c.nodeConfig(n), `${readFileSync(cfg, 'utf8')}\n[metrics]\nlisten = "127.0.0.1:${port}"\n`);
      }
    }
    await runCommand(['-k', join(dir, 'g.key'), '-q'], QUIET);
    for (const n of opts.nodes) await runCommand(['-C', cfg, '-N', n, 'tls', 'init', '-q'], QUIET);
    for (const n of opts.nodes) if (!opts.external?.includes(n)) await c.startNode(n);
    return c;
  }

  /** The root directory of node `n`. */
  root(n: string): string {
    return join(this.dir, n, 'root');
  }

  /** Number of work cycles node `n`'s daemon has run. */
  cycles(n: string): number {
    return this.nodes.get(n)?.cycles ?? 0;
  }

  /** Dirty rows in node `n`'s store (0 once everything reached every peer). */
  dirty(n: string): number {
    return this.nodes.get(n)?.rt?.store.listDirty().length ?? 0;
  }

  /** Log records of node `n`'s daemon (with `recordLogs`), oldest first, across restarts. */
  logs(n: string): LogRecord[] {
    return this.nodes.get(n)?.logs ?? [];
  }

  /** Number of changes node `n` has applied from peers. */
  applied(n: string): number {
    return this.nodes.get(n)?.applied ?? 0;
  }

  /** Writes a file below node `n`'s root, creating directories. */
  write(n: string, rel: string, content: string | Uint8Array): void {
    const p = join(this.root(n), rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }

  /** Content of a file below `n`'s root, or undefined. */
  read(n: string, rel: string): string | undefined {
    try {
      return readFileSync(join(this.root(n), rel), 'utf8');
    } catch {
      // Not there (yet).
      return undefined;
    }
  }

  /** Runs a CLI command as node `n`; resolves with status and captured output. */
  async run(n: string, ...args: string[]): Promise<{ status: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: Io = { out: (t) => (out += t), err: (t) => (err += t), isTty: false, logs: false };
    const status = await runCommand(['-C', this.cfg, '-N', n, ...args], io);
    return { status, out, err };
  }

  /**
   * Resolves once `check()` holds, re-checking after every applied change and work cycle on any
   * node, and every log record with `recordLogs` (events, not polling); rejects after `timeoutMs`
   * naming `what`.
   */
  async until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(probe);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const probe = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(probe);
        resolve();
      };
      this.waiters.add(probe);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Starts (or restarts) node `n`'s daemon, optionally with another config file. */
  async startNode(n: string, configPath = this.nodeConfig(n)): Promise<void> {
    const node: Node = this.nodes.get(n) ?? { rt: undefined, daemon: undefined, cycles: 0, applied: 0, logs: [] };
    this.nodes.set(n, node);
    const log = this.opts.recordLogs ? notifying(memoryLogger(node.logs), () => this.notify()) : silentLogger;
    node.rt = await openRuntime({ configPath, nodeName: n, checkKeys: true, log });
    node.daemon = new Daemon(node.rt, {
      runtimeOptions: { configPath, nodeName: n, checkKeys: true, log },
      ...(this.opts.rootProbeMs !== undefined ? { rootProbeMs: this.opts.rootProbeMs } : {}),
      watchSource: this.opts.watch ? new ChokidarSource() : undefined,
      host: '127.0.0.1',
      quietMs: 20,
      hooks: {
        applied: () => {
          node.applied++;
          this.notify();
        },
      },
      onCycle: (_r: PeerReport[]) => {
        node.cycles++;
        this.notify();
      },
    });
    await node.daemon.start();
  }

  /** Stops node `n`'s daemon (its files stay). */
  async stopNode(n: string): Promise<void> {
    const node = this.nodes.get(n);
    await node?.daemon?.stop();
    node?.rt?.close();
    if (node) {
      node.daemon = undefined;
      node.rt = undefined;
    }
  }

  /** The daemon of node `n` (for reload tests). */
  daemon(n: string): Daemon | undefined {
    return this.nodes.get(n)?.daemon;
  }

  private readonly children = new Map<string, ChildProcess>();
  private readonly childLogs = new Map<string, string>();

  /** Everything node `n`'s child daemon logged so far (its stderr). */
  childLog(n: string): string {
    return this.childLogs.get(n) ?? '';
  }

  /**
   * Runs the installed launcher (bin/csync.cjs) as node `n` in a child process, as a hook would:
   * with a daemon of `n` running, the command is handed to it.
   */
  async launch(n: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ status: number; out: string; err: string }> {
    const child = spawn(process.execPath, [BIN, '-C', this.cfg, '-N', n, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...(cwd ? { cwd } : {}) });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const status = await new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)));
    return { status, out, err };
  }

  /**
   * Starts `csync daemon` for node `n` as a child process; resolves once it logged that it started
   * (an event on its stderr), rejects if it exits first.
   */
  async spawnNode(n: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, [BIN, '-C', this.cfg, '-N', n, 'daemon'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.children.set(n, child);
    this.childLogs.set(n, '');
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        this.childLogs.set(n, seen);
        if (seen.includes('Daemon started')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`daemon ${n} exited with ${String(code)}: ${seen}`)));
    });
    return child;
  }

  /** Sends `signal` to node `n`'s child daemon and resolves when it has exited. */
  async killNode(n: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.children.get(n);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.children.delete(n);
  }

  /** Stops every daemon (in-process and children) and removes the directory. */
  async close(): Promise<void> {
    for (const n of [...this.children.keys()]) await this.killNode(n, 'SIGKILL');
    for (const n of this.nodes.keys()) await this.stopNode(n);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `log`, calling `onRecord` after each record (until() waits on log lines too). */
function notifying(log: Logger, onRecord: () => void): Logger {
  const at = (fn: Logger['info']): Logger['info'] => (fields, msg) => {
    fn(fields, msg);
    onRecord();
  };
  return { trace: at(log.trace), debug: at(log.debug), info: at(log.info), warn: at(log.warn), error: at(log.error), child: (b) => notifying(log.child(b), onRecord) };
}

/** The CLI launcher (from build/test/helpers/ back to the checkout). */
const BIN = join(dirname(new URL(import.meta.url).pathname), '../../../bin/csync.cjs');

const QUIET: Io = { out: () => undefined, err: () => undefined, isTty: false, logs: false };

function clusterConfig(dir: string, opts: DaemonClusterOptions, ports: readonly number[]): string {
  const hosts = opts.nodes.map((n, i) => `${n} = "127.0.0.1:${ports[i] ?? 0}"`).join('\n');
  const roots = opts.nodes.map((n) => `${n} = ${JSON.stringify(join(dir, n, 'root'))}`).join('\n');
  return [
    `state_dir = ${JSON.stringify(join(dir, '%h', 'state'))}`,
    '[tls]',
    `cert = ${JSON.stringify(join(dir, '%h', 'tls.crt'))}`,
    `key = ${JSON.stringify(join(dir, '%h', 'tls.key'))}`,
    '[hosts]',
    hosts,
    '[prefix.data]',
    roots,
    '[groups.g]',
    `hosts = ${JSON.stringify(opts.nodes)}`,
    `key = ${JSON.stringify(join(dir, 'g.key'))}`,
    'include = ["%data%"]',
    `watch = ${String(opts.watch)}`,
    opts.groupExtra ?? '',
    '',
  ].join('\n');
}

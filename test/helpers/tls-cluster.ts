// Test harness: N csync nodes in this process on 127.0.0.1, each a bare TLS server (openRuntime +
// startServer, no daemon, no watcher), driven by runCommand() calls. Real TLS, SQLite files, disks.
// Owns its temp dir, runtimes and servers; startCluster() registers their teardown with after().
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/demo.ts';
import { runCommand } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/output.ts';
import { memoryLogger, silentLogger, type LogRecord } from '../../src/core/logger.ts';
import { openRuntime } from '../../src/daemon/runtime.ts';
import type { Runtime } from '../../src/daemon/runtime.ts';
import { loadTlsMaterial, startServer } from '../../src/daemon/server.ts';
import type { Server } from '../../src/daemon/server.ts';

/** Something teardown can be registered with: node:test's `after`, or a TestContext (`t.after`). */
export type AfterRegistrar = ((fn: () => Promise<void>) => void) | { after(fn: () => Promise<void>): void };

/** Options of startCluster(). */
export interface ClusterOptions {
  /** Node names, all in one group `g` whose root is `%data%` (= root(node)). */
  readonly nodes: readonly string[];
  /** Extra TOML lines appended to `[groups.g]` (a function gets the cluster's temp dir). */
  readonly groupExtra?: string | ((dir: string) => string);
  /** Called with the temp dir before the config is written (to create key files, dirs). */
  readonly beforeStart?: (dir: string) => void;
  /** Keep every node's log records in memory (Cluster.logs(n)); default: logs are dropped. */
  readonly captureLogs?: boolean;
  /** When set, `backup_dir = backupDir(node)` and `backup_generations = N` are added to the group. */
  readonly backupGenerations?: number;
}

/** What one CLI call returned. */
export interface RunResult {
  readonly status: number;
  readonly out: string;
  readonly err: string;
}

interface NodeState {
  configPath: string;
  rt: Runtime | undefined;
  server: Server | undefined;
  logs: LogRecord[] | undefined;
}

/**
 * Builds a temp dir with per-node roots, state dirs and certificates, one group key, a config with
 * free 127.0.0.1 ports, and starts one server per node. Registers close() with `t` before any
 * await. `after` called from inside a before() hook would attach to that hook and run right after
 * it, so pass a TestContext, or call this at module top level with node:test's `after` (cleanup
 * then runs once the file's suites are done). Throws (after cleaning up) when setup fails.
 */
export async function startCluster(t: AfterRegistrar, opts: ClusterOptions): Promise<Cluster> {
  const c = new Cluster(mkdtempSync(join(tmpdir(), 'csync-tls-cluster-')), opts);
  if (typeof t === 'function') t(() => c.close());
  else t.after(() => c.close());
  try {
    await setUp(c, opts);
  } catch (err) {
    await c.close();
    throw err;
  }
  return c;
}

async function setUp(c: Cluster, opts: ClusterOptions): Promise<void> {
  const ports: number[] = [];
  for (const _ of opts.nodes) ports.push(await freePort());
  opts.beforeStart?.(c.dir);
  writeFileSync(c.cfg, clusterConfig(c, opts, ports));
  await mustRun(['-k', c.keyFile, '-q']);
  for (const n of opts.nodes) {
    mkdirSync(c.root(n), { recursive: true });
    await mustRun(['-C', c.cfg, '-N', n, 'tls', 'init', '-q']);
  }
  for (const n of opts.nodes) await c.restart(n);
}

async function mustRun(argv: readonly string[]): Promise<void> {
  const r = await runCli(argv);
  if (r.status !== 0) throw new Error(`cluster setup: csync ${argv.join(' ')} exited ${r.status}: ${r.err}`);
}

/** A running cluster, made by startCluster() and torn down by the after() hook it registered. */
export class Cluster {
  /** The temp dir holding everything. */
  readonly dir: string;
  /** The shared config file. */
  readonly cfg: string;
  /** The group key file named by `cfg`. */
  readonly keyFile: string;
  private readonly nodes = new Map<string, NodeState>();

  constructor(dir: string, opts: ClusterOptions) {
    this.dir = dir;
    this.cfg = join(dir, 'csync.toml');
    this.keyFile = join(dir, 'g.key');
    for (const n of opts.nodes) this.nodes.set(n, { configPath: this.cfg, rt: undefined, server: undefined, logs: opts.captureLogs === true ? [] : undefined });
  }

  /** Node `n`'s synced root (the `%data%` prefix). */
  root(n: string): string {
    return join(this.dir, n, 'root');
  }

  /** Node `n`'s state dir (holds csync.db). */
  stateDir(n: string): string {
    return join(this.dir, n, 'state');
  }

  /** Node `n`'s backup dir (configured only with `backupGenerations`). */
  backupDir(n: string): string {
    return join(this.dir, n, 'backup');
  }

  /** Node `n`'s certificate and key paths. */
  tlsFiles(n: string): { cert: string; key: string } {
    return { cert: join(this.dir, n, 'tls.crt'), key: join(this.dir, n, 'tls.key') };
  }

  /** The runtime of node `n`'s running server (its store is the node's csync.db); throws when stopped. */
  runtime(n: string): Runtime {
    const rt = this.node(n).rt;
    if (!rt) throw new Error(`node ${n} is stopped`);
    return rt;
  }

  /** Runs `csync -C <config of n> -N n ...args` in this process, capturing its output. */
  run(n: string, ...args: string[]): Promise<RunResult> {
    return runCli(['-C', this.node(n).configPath, '-N', n, ...args]);
  }

  /** Writes `<dir>/<name>.toml`, a transform of the shared config, and returns its path. */
  writeConfig(name: string, transform: (toml: string) => string): string {
    const path = join(this.dir, `${name}.toml`);
    writeFileSync(path, transform(readFileSync(this.cfg, 'utf8')));
    return path;
  }

  /** Stops node `n`'s server and closes its runtime; its files and state stay. No-op when stopped. */
  async stop(n: string): Promise<void> {
    const s = this.node(n);
    const { server, rt } = s;
    s.server = undefined;
    s.rt = undefined;
    await server?.close();
    rt?.close();
  }

  /**
   * Stops node `n` (if running) and starts it again on its port; `configPath` switches the config
   * that its server and later run(n) calls use. Throws what openRuntime/startServer throw.
   */
  async restart(n: string, opts: { configPath?: string } = {}): Promise<void> {
    const s = this.node(n);
    await this.stop(n);
    if (opts.configPath !== undefined) s.configPath = opts.configPath;
    if (s.logs !== undefined) s.logs.length = 0;
    const log = s.logs === undefined ? silentLogger : memoryLogger(s.logs);
    const rt = await openRuntime({ configPath: s.configPath, nodeName: n, checkKeys: true, log });
    try {
      s.server = await startServer(rt, loadTlsMaterial(rt), { host: '127.0.0.1' });
    } catch (err) {
      rt.close();
      throw err;
    }
    s.rt = rt;
  }

  /** Node `n`'s log records since its last (re)start; throws unless started with `captureLogs`. */
  logs(n: string): LogRecord[] {
    const logs = this.node(n).logs;
    if (logs === undefined) throw new Error('startCluster() without captureLogs: logs are dropped');
    return logs;
  }

  /** A deterministic description of node `n`'s tree (see snapshotTree). */
  snapshot(n: string): Record<string, string> {
    return snapshotTree(this.root(n));
  }

  /** Stops every node and removes the temp dir (idempotent; the after() hook calls it). */
  async close(): Promise<void> {
    for (const n of this.nodes.keys()) await this.stop(n);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private node(n: string): NodeState {
    const s = this.nodes.get(n);
    if (!s) throw new Error(`no node ${n} in this cluster (${[...this.nodes.keys()].join(', ')})`);
    return s;
  }
}

/** Runs one command line (no implied -C/-N) in this process with a capturing Io; log records are dropped. */
export async function runCli(argv: readonly string[]): Promise<RunResult> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => (out += t), err: (t) => (err += t), isTty: false, logs: false };
  const status = await runCommand(argv, io);
  return { status, out, err };
}


function clusterConfig(c: Cluster, opts: ClusterOptions, ports: readonly number[]): string {
  const q = (s: string): string => JSON.stringify(s);
  const backups = opts.backupGenerations === undefined ? [] : [`backup_dir = ${q(join(c.dir, '%h', 'backup'))}`, `backup_generations = ${opts.backupGenerations}`];
  return [
    `state_dir = ${q(join(c.dir, '%h', 'state'))}`,
    '[tls]',
    `cert = ${q(join(c.dir, '%h', 'tls.crt'))}`,
    `key = ${q(join(c.dir, '%h', 'tls.key'))}`,
    '[hosts]',
    ...opts.nodes.map((n, i) => `${n} = "127.0.0.1:${ports[i] ?? 0}"`),
    '[prefix.data]',
    ...opts.nodes.map((n) => `${n} = ${q(c.root(n))}`),
    '[groups.g]',
    `hosts = ${JSON.stringify(opts.nodes)}`,
    `key = ${q(c.keyFile)}`,
    'include = ["%data%"]',
    ...backups,
    typeof opts.groupExtra === 'function' ? opts.groupExtra(c.dir) : (opts.groupExtra ?? ''),
    '',
  ].join('\n');
}

/**
 * Relative path → `kind mode uid:gid size mtimeµs sha256` for files, `dir mode uid:gid` for
 * directories (their mtimes change with their entries, so they are left out), `link -> target`
 * for symlinks. Keys are sorted so two snapshots compare with deepEqual.
 */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = readdirSync(root, { recursive: true, withFileTypes: true });
  const rels = entries.map((e) => join(e.parentPath, e.name).slice(root.length + 1)).sort();
  for (const rel of rels) {
    const abs = join(root, rel);
    const st = lstatSync(abs, { bigint: true });
    const mode = (Number(st.mode) & 0o7777).toString(8).padStart(4, '0');
    const owner = `${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(abs)}`;
    else if (st.isDirectory()) out[rel] = `dir ${mode} ${owner}`;
    else if (st.isFile()) out[rel] = `file ${mode} ${owner} ${st.size} ${st.mtimeNs / 1000n} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
    else out[rel] = 'other';
  }
  return out;
}

/** Deterministic bytes from a seed (xorshift32, 4 bytes per step), so a failure reproduces. */
export function seededBytes(size: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, size);
}

/** sha256 hex of a file's content. */
export function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A port that was free a moment ago on 127.0.0.1 (the demo's helper, re-exported). */
export { freePort };

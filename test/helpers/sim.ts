// In-process cluster simulator (the sim tier, README "Tests"): 2–5 nodes in one process, each with a
// MemoryFileSystem, an in-memory SQLite store and a manual clock, connected by memory transports.
// It drives the production code (runCheck, runUpdate, servePeer, openChannel): no second
// implementation of any sync logic. An auditing filesystem records every content csync replaces
// or deletes, so tests can check that it was backed up first.
import { createHash } from 'node:crypto';
import { manualClock } from '../../src/core/clock.ts';
import type { ManualClock } from '../../src/core/clock.ts';
import { CsyncError } from '../../src/core/errors.ts';
import { memoryLogger, silentLogger } from '../../src/core/logger.ts';
import type { LogFn, LogRecord, Logger } from '../../src/core/logger.ts';
import { compileMatcher } from '../../src/core/matcher.ts';
import type { AutoPolicy } from '../../src/core/types.ts';
import { parseConfig } from '../../src/config/parse.ts';
import { resolveNode } from '../../src/config/resolve.ts';
import { MemoryFileSystem } from '../../src/fs/memory-fs.ts';
import type { FileSystem, FsExpect, FsMetaUpdate, PendingWrite } from '../../src/fs/filesystem.ts';
import { SqliteStateStore } from '../../src/store/sqlite-store.ts';
import type { DirtyRow } from '../../src/store/state-store.ts';
import { loadHasher } from '../../src/scanner/hasher.ts';
import type { Hasher } from '../../src/scanner/hasher.ts';
import { memoryTransportPair } from '../../src/net/memory-transport.ts';
import { openChannel, servePeer } from '../../src/daemon/peers.ts';
import type { Runtime } from '../../src/daemon/runtime.ts';
import { runCheck } from '../../src/sync/check.ts';
import type { GroupMatcher, SyncContext } from '../../src/sync/context.ts';
import { PathLocks } from '../../src/sync/path-locks.ts';
import { allRootTargets, confinementAnchors, targetsForUserPath } from '../../src/sync/scope.ts';
import { runUpdate } from '../../src/sync/update.ts';
import type { PeerReport } from '../../src/sync/update.ts';

/** One content replaced or deleted by csync on a node (the user's own edits are not recorded). */
export interface Replaced {
  readonly node: string;
  readonly path: string;
  readonly content: string;
}

const TEXT = new TextDecoder();

/**
 * A FileSystem that records, before csync overwrites (rename over, symlink over) or deletes a file,
 * what the file held. Backup and conflict copies are written through it too, but are not audited.
 */
class AuditingFileSystem implements FileSystem {
  private readonly inner: MemoryFileSystem;
  private readonly onReplace: (path: string, content: string) => void;
  private readonly audited: (path: string) => boolean;

  constructor(inner: MemoryFileSystem, audited: (path: string) => boolean, onReplace: (path: string, content: string) => void) {
    this.inner = inner;
    this.audited = audited;
    this.onReplace = onReplace;
  }

  private note(path: string): void {
    if (!this.audited(path) || this.inner.lstat(path)?.kind !== 'file') return;
    this.onReplace(path, TEXT.decode(this.inner.readFileSync(path)));
  }

  confine = (anchors: readonly string[]) => this.inner.confine(anchors);
  lstat = (p: string) => this.inner.lstat(p);
  readdir = (p: string) => this.inner.readdir(p);
  listDir = (p: string) => this.inner.listDir(p);
  readlink = (p: string) => this.inner.readlink(p);
  readChunks = (p: string, n: number, e?: FsExpect) => this.inner.readChunks(p, n, e);
  readRange = (p: string, o: number, l: number) => this.inner.readRange(p, o, l);
  readFile = (p: string, e?: FsExpect) => this.inner.readFile(p, e);
  mkdir = (p: string, m: FsMetaUpdate) => this.inner.mkdir(p, m);
  setMeta = (p: string, m: FsMetaUpdate) => this.inner.setMeta(p, m);
  rmdir = (p: string) => this.inner.rmdir(p);
  copyFile = (a: string, b: string) => this.inner.copyFile(a, b);
  fsyncDir = (p: string) => this.inner.fsyncDir(p);
  async rename(from: string, to: string): Promise<void> {
    this.note(to);
    return this.inner.rename(from, to);
  }
  async unlink(p: string): Promise<void> {
    this.note(p);
    return this.inner.unlink(p);
  }
  async symlink(target: string, p: string, m: FsMetaUpdate): Promise<void> {
    this.note(p);
    return this.inner.symlink(target, p, m);
  }
  async beginWrite(target: string): Promise<PendingWrite> {
    const w = await this.inner.beginWrite(target);
    return {
      write: (c) => w.write(c),
      abort: () => w.abort(),
      commit: async (meta, opts) => {
        this.note(target);
        return w.commit(meta, opts);
      },
    };
  }
}

/** Options of a simulated cluster. */
export interface SimOptions {
  readonly nodes: readonly string[];
  readonly policy: AutoPolicy;
  readonly receiveOnly?: readonly string[];
  /** Keep backup generations under BACKUP (default true); without, losers go to CONFLICTS. */
  readonly backups?: boolean;
  /** The group's `exclude` patterns (default none). */
  readonly exclude?: readonly string[];
  /** The group's `ignore` attributes (default none). */
  readonly ignore?: readonly ('uid' | 'gid' | 'mode')[];
}

/**
 * A message fault on a link, from the (after+1)-th offer of an update pass on: 'lose-reply' delivers
 * the offer and loses the answer; 'drop' loses the offer itself; 'duplicate' delivers it twice.
 * The sender sees an error for lost messages, keeps the row dirty and offers it again later.
 */
export interface Fault {
  readonly kind: 'lose-reply' | 'drop' | 'duplicate';
  readonly after: number;
}

/** A simulated node. */
export interface SimNode {
  readonly name: string;
  readonly fs: MemoryFileSystem;
  readonly rt: Runtime;
  readonly locks: PathLocks;
}

/** The root directory of a node in its own memory filesystem. */
export const ROOT = '/data';
/** Where a node keeps backups (generous: nothing rotates out during a test). */
export const BACKUP = '/backup';
/** Where a node keeps conflict losers when it has no backups (not used with BACKUP set). */
export const CONFLICTS = '/state/conflicts';

/** The cluster: nodes, a shared manual clock, partitions, and the audit log. */
export class SimCluster {
  readonly clock: ManualClock;
  readonly nodes = new Map<string, SimNode>();
  readonly replaced: Replaced[] = [];
  private readonly cut = new Set<string>();

  private constructor(clock: ManualClock) {
    this.clock = clock;
  }

  /** Builds the nodes (all share one group over `/data`, with backups under `/backup`). */
  static async create(opts: SimOptions): Promise<SimCluster> {
    const clock = manualClock(1_700_000_000_000);
    const sim = new SimCluster(clock);
    const hasher = await loadHasher();
    const text = configText(opts);
    const config = parseConfig(text, 'sim.toml');
    for (const name of opts.nodes) sim.nodes.set(name, sim.makeNode(name, resolveNode(config, name), hasher));
    return sim;
  }

  private makeNode(name: string, view: ReturnType<typeof resolveNode>, hasher: Hasher): SimNode {
    const mem = new MemoryFileSystem({ uid: 0, gid: 0, nowNs: () => BigInt(this.clock.nowMs()) * 1_000_000n });
    mem.mkdirpSync(ROOT);
    mem.mkdirpSync(BACKUP);
    const fs = new AuditingFileSystem(mem, (p) => p.startsWith(`${ROOT}/`), (path, content) => this.replaced.push({ node: name, path, content }));
    const store = SqliteStateStore.open(':memory:');
    const matchers = new Map<string, GroupMatcher>([...view.groups].map(([g, ng]) => [g, compileMatcher(ng.config.exclude)]));
    // CSYNC_SIM_DEBUG=1 prints every node's log records (for replaying a failing history).
    const log = process.env['CSYNC_SIM_DEBUG'] ? debugLogger(name) : silentLogger;
    const ctx: SyncContext = { view, fs, store, hasher, clock: this.clock, log, matchers, conflictDir: CONFLICTS };
    fs.confine(confinementAnchors(view, CONFLICTS));
    const rt: Runtime = { ctx, view, store, stateDir: '/state', log: silentLogger, keys: new Map([['g', KEY]]), close: () => store.close() };
    return { name, fs: mem, rt, locks: new PathLocks() };
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`bug: no node ${name}`);
    return n;
  }

  /** Cuts (or heals, with `heal`) the link between two nodes. */
  partition(a: string, b: string): void {
    this.cut.add([a, b].sort().join('|'));
  }

  heal(): void {
    this.cut.clear();
  }

  /** `csync -cr` on a node (mass deletes allowed: random histories may empty the tree). */
  async check(name: string): Promise<void> {
    const n = this.node(name);
    await runCheck(n.rt.ctx, allRootTargets(n.rt.view), { recursive: true, markAll: false, force: false, allowMassDelete: true, dryRun: false });
  }

  /** `csync -f PATH` on a node (PATH relative to the root). */
  async force(name: string, rel: string): Promise<void> {
    const n = this.node(name);
    await runCheck(n.rt.ctx, targetsForUserPath(n.rt.view, `${ROOT}/${rel}`), { recursive: false, markAll: true, force: true, allowMassDelete: true, dryRun: false });
  }

  /**
   * `csync -u` on a node, optionally only to some peers; links cut by partition() fail. With
   * `loseRepliesAfter: k`, every offer after the k-th on a link is delivered but its reply is lost
   * (the sender sees an error, keeps the row dirty and will offer it again: a duplicate).
   */
  async update(name: string, peers?: readonly string[], opts: { loseRepliesAfter?: number; fault?: Fault } = {}): Promise<PeerReport[]> {
    const n = this.node(name);
    const fault: Fault | undefined = opts.fault ?? (opts.loseRepliesAfter === undefined ? undefined : { kind: 'lose-reply', after: opts.loseRepliesAfter });
    return runUpdate(n.rt.ctx, {
      connect: async (peer) => {
        const ch = await this.connect(name, peer);
        if (fault === undefined) return ch;
        let sent = 0;
        return {
          ...ch,
          offer: async (o, content, delta) => {
            if (++sent <= fault.after) return ch.offer(o, content, delta);
            if (fault.kind === 'drop') throw new CsyncError('CSYNC_PEER_UNREACHABLE', 'offer lost (simulated)');
            await ch.offer(o, content, delta);
            if (fault.kind === 'lose-reply') throw new CsyncError('CSYNC_PEER_UNREACHABLE', 'reply lost (simulated)');
            return ch.offer(o, content, delta);
          },
        };
      },
      ...(peers ? { peers: new Set(peers) } : {}),
      dryRun: false,
      allowMassDelete: true,
    });
  }

  private async connect(from: string, to: string) {
    if (this.cut.has([from, to].sort().join('|'))) throw new CsyncError('CSYNC_PEER_UNREACHABLE', `peer "${to}": partitioned`);
    const [ta, tb] = memoryTransportPair({ fingerprints: [simFingerprint(to), simFingerprint(from)] });
    const target = this.node(to);
    void servePeer(target.rt, tb, target.locks);
    return openChannel(this.node(from).rt, ta, to);
  }

  /** Dirty rows on a node. */
  dirty(name: string): number {
    return this.node(name).rt.store.listDirty().length;
  }

  /**
   * Heals, then checks and updates every node in order until nothing is dirty (at most `rounds`).
   * With `heldConflicts`, rows held back as conflicts (auto = none) may stay dirty; rows `stuck`
   * accepts may stay dirty too (a known failure the caller checks around).
   */
  async quiesce(rounds = 12, opts: { heldConflicts?: boolean; stuck?: (node: string, row: DirtyRow) => boolean } = {}): Promise<number> {
    this.heal();
    // Held back by a conflict: the conflicting row itself, or the deletion of a directory that
    // still holds a conflicting child (csync never deletes what no node deleted).
    const held = (e: string): boolean => opts.heldConflicts === true && (e.startsWith('conflict') || e.includes('non-empty directory'));
    const settled = (n: string): boolean => this.node(n).rt.store.listDirty().every((d) => held(d.lastError ?? '') || opts.stuck?.(n, d) === true);
    // With held conflicts, settle once more after an update round: held rows are offered again on
    // every pass, so both sides of each conflict have seen the other's latest version.
    let refreshed = false;
    for (let round = 1; round <= rounds; round++) {
      for (const n of this.nodes.keys()) await this.check(n);
      if ([...this.nodes.keys()].every(settled)) {
        if (opts.heldConflicts !== true || refreshed) return round;
        refreshed = true;
      } else refreshed = false;
      for (const n of this.nodes.keys()) await this.update(n);
    }
    throw new Error(`no quiescence after ${rounds} rounds: ${[...this.nodes.keys()].map((n) => `${n}=${this.dirty(n)} dirty`).join(', ')}`);
  }

  /** A node's tree (directory mtimes left out: they move with every child). */
  tree(name: string): Record<string, string> {
    const snap = this.node(name).fs.snapshot(ROOT);
    for (const [k, v] of Object.entries(snap)) if (v.startsWith('dir ')) snap[k] = v.replace(/ mtime=\d+/, '');
    return snap;
  }

  /** Every file content under a node's backup and conflict directories. */
  kept(name: string): Set<string> {
    const fs = this.node(name).fs;
    const out = new Set<string>();
    for (const dir of [BACKUP, CONFLICTS]) {
      if (fs.lstat(dir)?.kind !== 'dir') continue;
      for (const [rel, desc] of Object.entries(fs.snapshot(dir))) if (desc.startsWith('file ')) out.add(TEXT.decode(fs.readFileSync(`${dir}/${rel}`)));
    }
    return out;
  }

  close(): void {
    for (const n of this.nodes.values()) n.rt.close();
  }
}

function debugLogger(node: string): Logger {
  const records: LogRecord[] = [];
  const base = memoryLogger(records, { node });
  const print = (): void => {
    for (const r of records.splice(0)) process.stderr.write(`${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  };
  const wrap = (fn: LogFn): LogFn => (f, m) => {
    fn(f, m);
    print();
  };
  return { ...base, debug: wrap(base.debug), info: wrap(base.info), warn: wrap(base.warn), error: wrap(base.error) };
}

const KEY = new TextEncoder().encode('sim-group-key-of-at-least-thirty-two-bytes');

function configText(opts: SimOptions): string {
  const hosts = opts.nodes.map((n, i) => `${n} = "127.0.0.1:${40000 + i}"`).join('\n');
  return [
    'state_dir = "/state"',
    '[hosts]',
    hosts,
    '[groups.g]',
    `hosts = ${JSON.stringify(opts.nodes)}`,
    `receive_only = ${JSON.stringify(opts.receiveOnly ?? [])}`,
    'key = "/keys/g.key"',
    `include = ["${ROOT}"]`,
    `exclude = ${JSON.stringify(opts.exclude ?? [])}`,
    `ignore = ${JSON.stringify(opts.ignore ?? [])}`,
    `auto = "${opts.policy}"`,
    ...(opts.backups === false ? [] : [`backup_dir = "${BACKUP}"`, 'backup_generations = 1000']),
    '',
  ].join('\n');
}

/** A cluster closed when the test ends. */
export async function simCluster(t: { after: (fn: () => void) => void }, opts: SimOptions): Promise<SimCluster> {
  const sim = await SimCluster.create(opts);
  t.after(() => sim.close());
  return sim;
}

/** Writes `content` at ROOT/rel on a node (parents made), with an mtime `mtimeS` seconds after 1,700,000,000. */
export function writeAt(sim: SimCluster, node: string, rel: string, content: string, mtimeS: number): void {
  const fs = sim.node(node).fs;
  if (rel.includes('/')) fs.mkdirpSync(`${ROOT}/${rel.slice(0, rel.lastIndexOf('/'))}`);
  fs.writeFileSync(`${ROOT}/${rel}`, new TextEncoder().encode(content), { mtimeNs: BigInt(1_700_000_000 + mtimeS) * 1_000_000_000n, mode: 0o644 });
}

/** The content of the file at ROOT/rel on a node, or undefined when there is none. */
export function readAt(sim: SimCluster, node: string, rel: string): string | undefined {
  const fs = sim.node(node).fs;
  return fs.lstat(`${ROOT}/${rel}`)?.kind === 'file' ? TEXT.decode(fs.readFileSync(`${ROOT}/${rel}`)) : undefined;
}

/**
 * A stable stand-in certificate fingerprint for a simulated node ("sha256:" + sha256 of its name):
 * pins are enforced in the sim as over TLS, and a transport without a fingerprint is refused.
 */
export function simFingerprint(node: string): string {
  return `sha256:${createHash('sha256').update(node).digest('hex')}`;
}

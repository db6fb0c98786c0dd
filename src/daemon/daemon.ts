// `csync daemon`: the TLS server, a pool of peer links, the watcher and the periodic check, driving
// one serialized work loop (check what changed, then push dirty entries). Signals: SIGHUP reloads
// the config (a bad one is reported and the old one kept), SIGTERM/SIGINT finish the work and exit.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CsyncError } from '../core/errors.ts';
import type { NodeName } from '../core/types.ts';
import { runCheck } from '../sync/check.ts';
import { allRootTargets, targetsForUserPath } from '../sync/scope.ts';
import type { Target } from '../sync/scope.ts';
import { runUpdate } from '../sync/update.ts';
import { sweepTempFiles } from '../sync/sweep.ts';
import type { Connect, PeerReport } from '../sync/update.ts';
import { listenControl, tightenStateDir } from './control.ts';
import { lockStateDir } from '../store/state-dir-lock.ts';
import type { StateDirLock } from '../store/state-dir-lock.ts';
import type { ControlHandler, ControlServer } from './control.ts';
import type { ReceiverHooks } from '../sync/receive.ts';
import { Aggregator } from '../watcher/aggregator.ts';
import { ActionExecutor } from '../actions/executor.ts';
import type { CommandRunner } from '../actions/runner.ts';
import { ChildProcessRunner } from '../actions/child-process-runner.ts';
import { actionSucceeded } from '../actions/runner.ts';
import { ActionBatcher } from './action-batcher.ts';
import type { WatchEvent, WatchSource } from '../watcher/watch-source.ts';
import { ROOT_PROBE_MS, RootWatch, railTargets } from './root-watch.ts';
import { haltsOfCheck, haltsOfUpdate, loadHalts, noteHalts } from './halts.ts';
import { DaemonStats, failureReason } from './stats.ts';
import { entriesFailed, ENTRY_RETRY_MAX_MS, linkLost, logicalOfTarget, reportDiskFull } from './pass-outcomes.ts';
import type { DaemonFacts, NodeSummary } from './summary.ts';
import { noteRefused, refusedFromEvents, refusedHint, SPECIAL_FILE_REASON } from './refused-paths.ts';
import type { RefusedFound } from './refused-paths.ts';
import { connectPeer, dialPeer } from './peers.ts';
import { askStatus, collectClusterStatus } from './cluster-status.ts';
import type { ClusterRow } from './cluster-status.ts';
import { PeerPool } from './peer-pool.ts';
import { reloadRuntime } from './runtime.ts';
import type { Runtime, RuntimeOptions } from './runtime.ts';
import { loadTlsMaterial, startServer } from './server.ts';
import type { Server } from './server.ts';
import type { PreAuthLimits } from '../net/admission.ts';
import { healthOf } from './health.ts';
import type { Health } from './health.ts';
import { buildSummary } from './summary.ts';
import type { MetricsServer } from './metrics-server.ts';

/** Delay of the second check of paths the watcher reported (see startWatcher). */
const SETTLE_RECHECK_MS = 150;
/** How long a cluster status is reused (see clusterStatus). */
const CLUSTER_CACHE_MS = 5000;
/** Flushes larger than this are not re-checked (they are bursts, checked as a whole). */
const SETTLE_MAX_PATHS = 100;
/** More pending paths than this are checked by walking the roots instead. */
const BURST_PATHS = 500;

/** Daemon tuning; defaults suit production, tests shorten them. */
export interface DaemonOptions {
  /** How the config was found, for SIGHUP reloads. */
  readonly runtimeOptions: RuntimeOptions;
  readonly watchSource: WatchSource | undefined;
  /** Quiet period before a burst of watcher events is checked. */
  readonly quietMs?: number;
  readonly maxDelayMs?: number;
  /** How often watched roots are probed (a missing or moved root is watched again when back). */
  readonly rootProbeMs?: number;
  /** Listen address override (tests: '127.0.0.1'). */
  readonly host?: string;
  readonly hooks?: ReceiverHooks;
  /** Called after every work cycle with the update reports (tests await convergence with it). */
  readonly onCycle?: (reports: PeerReport[]) => void;
  /** Runs action commands (tests pass a RecordingRunner). */
  readonly actionRunner?: CommandRunner;
  /**
   * Serves local command lines on `<state_dir>/control.sock` (the CLI supplies it; see
   * daemon/control.ts). Given the daemon's handle: run work exclusively, its peer links, its reports.
   */
  readonly control?: (d: DaemonHandle) => ControlHandler;
  /** Limits on unauthenticated connections (tests shorten the timeout); default DEFAULT_PRE_AUTH_LIMITS. */
  readonly preAuth?: PreAuthLimits;
}

/** What a handed-over command may use of the running daemon. */
export interface DaemonHandle {
  readonly rt: Runtime;
  /** Runs `fn` with no work cycle running (cycles wait; one runs after if requested meanwhile). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The daemon's pooled, authenticated peer links. */
  readonly connect: Connect;
  /** Reports of an update pass run for a client: peer health and do_local actions, as a cycle's. */
  readonly noteReports: (reports: readonly PeerReport[]) => void;
}

/** The running daemon. */
export class Daemon {
  private readonly rt: Runtime;
  private readonly opts: DaemonOptions;
  private server: Server | undefined;
  private executor: ActionExecutor | undefined;
  private batcher: ActionBatcher | undefined;
  private pool: PeerPool | undefined;
  private aggregator: Aggregator | undefined;
  private rootWatch: RootWatch | undefined;
  private readonly pendingPaths = new Set<string>();
  /** Watcher paths below a name csync refuses (no target can hold them): reported by the cycle. */
  private refusedPaths: string[] = [];
  private fullCheck = false;
  private running: Promise<void> | undefined;
  private again = false;
  private stopping = false;
  private cancelTimers: (() => void)[] = [];
  private cancelRetry: (() => void) | undefined;
  private cancelSettle: (() => void) | undefined;
  private settlePaths: string[] | undefined;
  /** Entries that failed (a peer's disk full, an I/O error) or a cycle that failed: retried with backoff. */
  private entryFailures = 0;
  private cancelEntryRetry: (() => void) | undefined;
  private readonly startedAtMs: number;
  /** What this daemon has done since it started (status, cluster summary, metrics). */
  readonly stats: DaemonStats;
  private cluster: { atMs: number; rows: Promise<ClusterRow[]> } | undefined;
  private control: ControlServer | undefined;
  private lock: StateDirLock | undefined;
  private metrics: MetricsServer | undefined;
  /** When the running work cycle started (health: a cycle that never ends is a hung loop). */
  private cycleStartedAtMs: number | undefined;

  constructor(rt: Runtime, opts: DaemonOptions) {
    this.rt = rt;
    this.opts = opts;
    this.startedAtMs = rt.ctx.clock.nowMs();
    this.stats = new DaemonStats(this.startedAtMs);
  }

  /** The listening port (after start). */
  get port(): number {
    return this.server?.port ?? 0;
  }

  /**
   * Takes the state dir's lock (CSYNC_DAEMON_RUNNING when another daemon holds it), then starts
   * serving, watching and the periodic check, and pushes whatever is already dirty.
   */
  async start(): Promise<void> {
    this.lock = lockStateDir(this.rt.stateDir);
    try {
      tightenStateDir(this.rt.stateDir, this.rt.ctx.log);
      await this.startLocked();
    } catch (err) {
      await this.metrics?.close();
      this.metrics = undefined;
      this.lock.release();
      this.lock = undefined;
      throw err;
    }
  }

  private async startLocked(): Promise<void> {
    const tls = loadTlsMaterial(this.rt);
    const log = this.rt.ctx.log;
    // First, so an address in use stops the start before anything else runs.
    await this.startMetrics();
    this.pool = new PeerPool((peer) => connectPeer(this.rt, tls, peer), this.rt.ctx.clock, log);
    this.executor = new ActionExecutor({
      store: this.rt.store,
      runner: this.opts.actionRunner ?? new ChildProcessRunner(),
      groups: () => this.rt.view.groups,
      self: this.rt.view.self,
      log,
      clock: this.rt.ctx.clock,
      onResult: ({ group, command, files, result, phase }) =>
        this.stats.noteAction({ group, command, phase, files, exitCode: result.exitCode, ok: actionSucceeded(result), durationMs: Math.round(result.durationMs), atMs: this.rt.ctx.clock.nowMs() }),
    });
    this.batcher = new ActionBatcher(this.executor, this.rt.ctx.clock);
    // Actions persisted by an earlier run that did not finish them (crash, kill -9).
    this.executor.replayPending();
    const hooks: ReceiverHooks = {
      applied: (t, s) => {
        this.batcher?.received(t, s);
        this.opts.hooks?.applied?.(t, s);
      },
      dirtied: () => {
        this.opts.hooks?.dirtied?.();
        this.kick();
      },
      applyFailed: (t, err) => {
        this.opts.hooks?.applyFailed?.(t, err);
        this.stats.noteApplyFailure(failureReason(err));
        reportDiskFull(this.rt, t, err);
      },
      outcome: (peer, outcome, bytes) => {
        this.opts.hooks?.outcome?.(peer, outcome, bytes);
        this.stats.noteReceived(peer, outcome, bytes);
      },
      peerSeen: (peer) => {
        this.opts.hooks?.peerSeen?.(peer);
        // It is up: forget any backoff and stale link, reconnect, and push what it missed.
        if (!this.pool?.isOpen(peer)) {
          this.pool?.drop(peer);
          this.pool?.resetBackoff(peer);
          this.maintainLinks();
        }
        if (this.rt.ctx.store.hasDirty(peer)) this.kick();
      },
    };
    // A receiver killed mid-write leaves temp files; nothing of ours is writing before we listen.
    const swept = await sweepTempFiles(this.rt.ctx.fs, [...this.rt.view.groups.values()].flatMap((g) => [...g.roots.values()]));
    if (swept.length > 0) log.info({ count: swept.length }, 'Removed temp files of an interrupted transfer');
    this.server = await startServer(this.rt, tls, { ...(this.opts.host ? { host: this.opts.host } : {}), ...(this.opts.preAuth ? { preAuth: this.opts.preAuth } : {}), hooks });
    await this.startWatcher();
    if (this.opts.control) this.control = await listenControl(this.rt.stateDir, this.opts.control(this.handle()), log);
    this.schedulePeriodicCheck();
    this.fullCheck = true;
    this.kick();
    this.maintainLinks();
    this.writeStatus();
  }

  /**
   * Starts the [metrics] listener when configured. Without it nothing is loaded: the listener and
   * prom-client are imported here, on demand.
   */
  private async startMetrics(): Promise<void> {
    const config = this.rt.view.config.metrics;
    if (config === undefined) return;
    const { startMetricsServer } = await import('./metrics-server.ts');
    const source = {
      node: this.rt.view.self,
      snapshot: () => ({ summary: this.summary(), facts: this.facts(), stats: this.stats, watcherQueue: this.watcherQueueLength() }),
      health: () => this.health(),
      clusterStatus: () => this.clusterStatus(),
      nowMs: () => this.rt.ctx.clock.nowMs(),
    };
    this.metrics = await startMetricsServer(config, source, this.rt.ctx.log);
  }

  /** Opens links to every peer that has none and is not backing off; schedules the next try. */
  private maintainLinks(): void {
    const pool = this.pool;
    if (!pool || this.stopping) return;
    const now = this.rt.ctx.clock.nowMs();
    const peers = new Set([...this.rt.view.groups.values()].flatMap((g) => g.peers));
    for (const peer of peers) {
      if (pool.has(peer) || pool.state(peer).retryAtMs > now) continue;
      pool.get(peer).then(
        () => {
          this.writeStatus();
          if (this.rt.ctx.store.hasDirty(peer)) this.kick();
        },
        () => this.scheduleRetry(),
      );
    }
  }

  private async startWatcher(): Promise<void> {
    const src = this.opts.watchSource;
    const roots = [...this.rt.view.groups.values()].filter((g) => g.config.watch).flatMap((g) => [...g.roots.values()]);
    if (!src || roots.length === 0) return;
    this.aggregator = new Aggregator(this.rt.ctx.clock, { quietMs: this.opts.quietMs ?? 15, maxDelayMs: this.opts.maxDelayMs ?? 500 }, (paths) => {
      for (const p of paths) this.pendingPaths.add(p);
      this.kick();
      // The watcher throttles repeated change events of one file; a write that lands inside that
      // window has no event of its own. Checking the same paths once more a moment later catches it.
      // (A burst needs no second look: it ends in a full check of the roots, see takeTargets.)
      if (paths.length > SETTLE_MAX_PATHS) return;
      this.cancelSettle?.();
      const again = [...(this.settlePaths ?? []), ...paths];
      this.settlePaths = again;
      this.cancelSettle = this.rt.ctx.clock.setTimer(() => {
        this.cancelSettle = undefined;
        this.settlePaths = undefined;
        for (const p of again) this.pendingPaths.add(p);
        this.kick();
      }, SETTLE_RECHECK_MS);
    });
    const agg = this.aggregator;
    const onEvent = (e: WatchEvent): void => {
      if (e.kind === 'unlinkDir') this.rootWatch?.lost(e.path);
      agg.add(e.path);
    };
    await src.watch(roots, { isIgnored: (abs) => this.isIgnored(abs) }, onEvent, (err) => {
      const e = err instanceof CsyncError ? err : new CsyncError('CSYNC_IO', String(err));
      this.rt.ctx.log.error({ code: e.code, reason: e.message, hint: e.hint }, 'Watcher failed; relying on the periodic check');
    });
    this.rt.ctx.log.info({ roots: roots.length }, 'Watching');
    // A root missing now, or moved away later, is warned about and watched again when it is back.
    const onBack = (root: string): void => {
      this.pendingPaths.add(root);
      this.kick();
    };
    this.rootWatch = new RootWatch({ roots, fs: this.rt.ctx.fs, clock: this.rt.ctx.clock, log: this.rt.ctx.log, source: src, probeMs: this.opts.rootProbeMs ?? ROOT_PROBE_MS, onBack });
    this.rootWatch.start();
  }

  private isIgnored(abs: string): boolean {
    try {
      const targets = targetsForUserPath(this.rt.view, abs);
      return targets.every((t) => this.rt.ctx.matchers.get(t.group.config.name)?.isExcluded(logicalOfTarget(t)) ?? false);
    } catch {
      // Not inside any root (e.g. a parent directory chokidar reports): nothing to ignore.
      return false;
    }
  }

  private schedulePeriodicCheck(): void {
    const intervals = [...this.rt.view.groups.values()].map((g) => g.config.checkIntervalMs).filter((ms) => ms > 0);
    if (intervals.length === 0) return;
    const every = Math.min(...intervals);
    const arm = (): void => {
      this.cancelTimers.push(this.rt.ctx.clock.setTimer(() => {
        this.fullCheck = true;
        this.kick();
        arm();
      }, every));
    };
    arm();
  }

  private handle(): DaemonHandle {
    const pool = this.pool;
    if (!pool) throw new Error('bug: daemon handle before start');
    return {
      rt: this.rt,
      exclusive: (fn) => this.exclusive(fn),
      connect: pool.get,
      noteReports: (reports) => {
        this.afterPass(pool, reports);
        // A client's pass whose entries failed is retried by the daemon, as a cycle's would be.
        if (entriesFailed(reports)) this.retryEntriesLater(true);
      },
    };
  }

  /** Runs `fn` while no work cycle runs; a cycle asked for meanwhile runs after it. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await this.running;
    let release!: () => void;
    this.running = new Promise<void>((resolve) => (release = resolve));
    try {
      return await fn();
    } finally {
      this.running = undefined;
      release();
      if (this.again) {
        this.again = false;
        this.kick();
      }
      this.writeStatus();
    }
  }

  /** Asks for a work cycle; cycles never overlap, and requests during one cause one more. */
  kick(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when no work cycle is running or requested. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      this.cycleStartedAtMs = this.rt.ctx.clock.nowMs();
      try {
        const failedEntries = await this.cycle();
        this.retryEntriesLater(failedEntries);
      } catch (err) {
        this.rt.ctx.log.error({ reason: err instanceof Error ? err.message : String(err), code: err instanceof CsyncError ? err.code : 'bug' }, 'Work cycle failed');
        this.retryEntriesLater(true);
      }
    } while (this.again && !this.stopping);
    this.cycleStartedAtMs = undefined;
    this.scheduleRetry();
    this.writeStatus();
  }

  /**
   * After a cycle: when entries failed on a link that works (the peer's disk is full, a file could
   * not be read) or the cycle itself failed, run another cycle after 1 s, 2 s, 4 s … 60 s, so the
   * node recovers by itself once the cause is gone. A clean cycle resets the backoff.
   */
  private retryEntriesLater(failed: boolean): void {
    if (!failed) {
      this.entryFailures = 0;
      return;
    }
    if (this.cancelEntryRetry || this.stopping) return;
    const delayMs = Math.min(ENTRY_RETRY_MAX_MS, 1000 * 2 ** this.entryFailures);
    this.entryFailures++;
    this.cancelEntryRetry = this.rt.ctx.clock.setTimer(() => {
      this.cancelEntryRetry = undefined;
      this.kick();
    }, delayMs);
  }

  /** One cycle; resolves true when some entries failed to reach a peer whose link worked. */
  private async cycle(): Promise<boolean> {
    const ctx = this.rt.ctx;
    const targets = this.takeTargets();
    const events = refusedFromEvents(ctx.view, this.refusedPaths.splice(0));
    if (targets.length > 0) {
      const t0 = ctx.clock.nowMs();
      const report = await runCheck(ctx, targets, { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: false, keepChanged: false });
      const whole = report.roots.length === allRootTargets(ctx.view).length;
      this.stats.noteCheck(ctx.clock.nowMs() - t0, whole ? { atMs: t0, entries: report.entriesSeen, changed: report.changedCount, problems: report.problems.length, halted: report.halted.length } : undefined);
      for (const h of report.halted) ctx.log.error({ code: h.code, reason: h.message, hint: h.hint }, 'Group halted');
      noteHalts({ stateDir: this.rt.stateDir, seen: haltsOfCheck(report), nowMs: ctx.clock.nowMs(), log: ctx.log });
      events.found.push(...report.problems.filter((p) => p.refused));
      events.scopes.push(...targets.map((t) => logicalOfTarget(t)));
    }
    if (events.scopes.length > 0) this.reportRefused(events.found, events.scopes);
    if (!ctx.store.hasDirty() || !this.pool) return false;
    const pool = this.pool;
    const now = ctx.clock.nowMs();
    const peers = new Set<NodeName>([...ctx.view.groups.values()].flatMap((g) => g.peers).filter((p) => pool.state(p).retryAtMs <= now));
    const reports = await runUpdate(ctx, { connect: pool.get, peers, dryRun: false });
    this.afterPass(pool, reports);
    noteHalts({ stateDir: this.rt.stateDir, seen: haltsOfUpdate(ctx.view, reports, {}), nowMs: ctx.clock.nowMs(), log: ctx.log });
    this.opts.onCycle?.(reports);
    return entriesFailed(reports);
  }

  /** Logs each refused path the first time it is found (once, not on every pass). */
  private reportRefused(found: readonly RefusedFound[], scopes: readonly string[]): void {
    const log = this.rt.ctx.log;
    const { fresh } = noteRefused({ stateDir: this.rt.stateDir, found, scopes, nowMs: this.rt.ctx.clock.nowMs(), log });
    for (const e of fresh) log.warn({ path: e.path, reason: e.reason, hint: refusedHint(e.reason) }, e.reason.startsWith(SPECIAL_FILE_REASON) ? 'Not syncing a special file' : 'Not syncing a path whose name csync refuses');
  }

  /** After an update pass (a cycle's or a client's): peer health, then do_local actions. */
  private afterPass(pool: PeerPool, reports: readonly PeerReport[]): void {
    for (const r of reports) {
      this.noteReport(pool, r);
      if (r.status === 'ok') this.stats.noteSent(r.peer, r.delivered.length, r.bytes);
    }
    this.batcher?.delivered(this.rt.ctx, reports);
  }

  private takeTargets(): Target[] {
    // Many paths at once (a burst, an rsync into the tree): one walk of the roots is far cheaper
    // than checking thousands of paths one by one.
    if (this.fullCheck || this.pendingPaths.size > BURST_PATHS) {
      this.fullCheck = false;
      this.pendingPaths.clear();
      return allRootTargets(this.rt.view);
    }
    const out: Target[] = [];
    for (const p of this.pendingPaths) {
      try {
        out.push(...targetsForUserPath(this.rt.view, p));
      } catch (err) {
        // An event outside every root (the root's own parent): nothing to check. Below a name csync
        // refuses: reported by the cycle (reportRefused).
        if (err instanceof CsyncError && err.code === 'CSYNC_PATH_UNSAFE') this.refusedPaths.push(p);
      }
    }
    this.pendingPaths.clear();
    return railTargets(out, this.rt.ctx.fs);
  }

  private noteReport(pool: PeerPool, r: PeerReport): void {
    if (r.status === 'failed') return; // PeerPool.get already recorded the failure
    if (linkLost(r)) {
      pool.drop(r.peer);
      pool.markFailed(r.peer, new Error(r.failed[0]?.reason ?? 'link lost'));
    } else if (r.status === 'ok') pool.markOk(r.peer);
    for (const h of r.halted) this.rt.ctx.log.error({ peer: r.peer, code: h.code, reason: h.message, hint: h.hint }, 'Update halted');
  }

  private scheduleRetry(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    const inMs = this.pool?.nextRetryInMs();
    if (inMs === undefined || this.stopping) return;
    this.cancelRetry = this.rt.ctx.clock.setTimer(() => {
      this.maintainLinks();
      this.kick();
    }, inMs + 10);
  }

  /** Re-reads the config; on failure logs every problem and keeps running with the old one. */
  async reload(): Promise<boolean> {
    try {
      await reloadRuntime(this.rt, this.opts.runtimeOptions);
      // Roots, watch flags and check intervals may have changed: restart the watcher and timers.
      this.aggregator?.close();
      this.aggregator = undefined;
      await this.rootWatch?.close();
      await this.opts.watchSource?.close();
      for (const c of this.cancelTimers) c();
      this.cancelTimers = [];
      await this.startWatcher();
      this.schedulePeriodicCheck();
      this.rt.ctx.log.info({}, 'Configuration reloaded');
      this.fullCheck = true;
      this.kick();
      return true;
    } catch (err) {
      const issues = (err as { issues?: unknown }).issues;
      this.rt.ctx.log.error({ reason: err instanceof Error ? err.message : String(err), issues }, 'Reload failed; keeping the old configuration');
      return false;
    }
  }

  /**
   * Every node's summary (this one live, each peer asked over a link of its own, see
   * cluster-status.ts); answers within ~5 s and reuses a result younger than 5 s (a page refreshing
   * every few seconds does not dial the fleet each time).
   */
  clusterStatus(): Promise<ClusterRow[]> {
    const now = this.rt.ctx.clock.nowMs();
    if (this.cluster && now - this.cluster.atMs < CLUSTER_CACHE_MS) return this.cluster.rows;
    const tls = loadTlsMaterial(this.rt);
    const ask = async (peer: string): Promise<string> => {
      const { link } = await dialPeer(this.rt, tls, peer);
      try {
        return await askStatus(link);
      } finally {
        link.close();
      }
    };
    const rows = collectClusterStatus(this.rt, { ask, local: this.facts() });
    this.cluster = { atMs: now, rows };
    return rows;
  }

  /** What this daemon adds to a summary (see daemon/summary.ts), live. */
  facts(): DaemonFacts {
    const peers = Object.fromEntries([...(this.pool?.states.entries() ?? [])].map(([p, s]) => [p, { connected: s.connected, lastOkMs: s.lastOkMs, lastError: s.lastError }]));
    const st = this.stats;
    return {
      pid: process.pid, startedAtMs: this.startedAtMs, port: this.port, peers,
      lastFullCheck: st.lastFullCheck, lastActions: st.lastActions, actionRuns: st.actionRuns, actionFailures: st.actionFailures,
    };
  }

  /** This node's summary with the live facts (what `csync status` shows). */
  summary(): NodeSummary {
    return buildSummary({ view: this.rt.view, store: this.rt.store, stateDir: this.rt.stateDir, daemon: this.facts() });
  }

  /** Paths the watcher reported that no work cycle has checked yet (coalescing or waiting). */
  watcherQueueLength(): number {
    return this.pendingPaths.size + (this.aggregator?.size ?? 0);
  }

  /** Healthy: the work loop is alive (not stopping, no cycle stuck) and no group is halted. */
  health(): Health {
    const halts = loadHalts(this.rt.stateDir).filter((h) => this.rt.view.groups.has(h.group));
    return healthOf({ stopping: this.stopping, cycleStartedAtMs: this.cycleStartedAtMs, nowMs: this.rt.ctx.clock.nowMs(), halts });
  }

  /** Writes `<state_dir>/daemon.json` for `csync status` (atomically). */
  private writeStatus(): void {
    const file = join(this.rt.stateDir, 'daemon.json');
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ ...this.facts(), updatedAtMs: this.rt.ctx.clock.nowMs() }));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      // Status is advisory: a full disk must not stop syncing. Logged, not thrown.
      this.rt.ctx.log.warn({ reason: String(err) }, 'Could not write daemon status');
    }
  }

  /** Stops watching and accepting, lets the current cycle finish, closes links. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.metrics?.close();
    this.metrics = undefined;
    await this.control?.close();
    this.control = undefined;
    this.aggregator?.close();
    await this.rootWatch?.close();
    await this.opts.watchSource?.close();
    for (const c of this.cancelTimers) c();
    this.cancelRetry?.();
    this.cancelSettle?.();
    this.cancelEntryRetry?.();
    await this.idle();
    this.pool?.close();
    await this.server?.close();
    // Received batches run their actions; queued rows that cannot start now stay for the next run.
    this.batcher?.flush();
    await this.executor?.idle();
    this.executor?.close();
    this.lock?.release();
    this.lock = undefined;
  }

  /** Resolves when no action is queued or running (tests). */
  async actionsIdle(): Promise<void> {
    this.batcher?.flush();
    await this.executor?.idle();
  }
}

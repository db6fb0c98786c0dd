// ⚙ The daemon's Prometheus metrics (prom-client), read at scrape time from what the daemon keeps
// anyway: its statistics, its peer links and this node's summary. Nothing here runs between scrapes
// and nothing is added to the sync path; the module is loaded only when [metrics] is configured.
// Names follow Prometheus practice: `csync_` prefix, base units, `_total` counters, no path labels.
import type * as PromClient from 'prom-client';
import type { DaemonStats } from './stats.ts';
import type { DaemonFacts, NodeSummary } from './summary.ts';
import { CSYNC_VERSION } from './summary.ts';

/** What one scrape reads, taken once per scrape (every metric sees the same moment). */
export interface MetricsSnapshot {
  /** This node's summary (dirty entries, conflicts, halts), built with the live facts. */
  readonly summary: NodeSummary;
  readonly facts: DaemonFacts;
  readonly stats: DaemonStats;
  /** Paths the watcher reported that no work cycle has checked yet. */
  readonly watcherQueue: number;
}

/** A registry bound to a snapshot source. */
export interface DaemonMetrics {
  /** The exposition text (Prometheus text format 0.0.4) of a fresh snapshot. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

type Labels = Record<string, string>;
type Emit = (labels: Labels, value: number) => void;
type Read = (emit: Emit, s: MetricsSnapshot) => void;

/**
 * Builds the registry (its own, never prom-client's global one) with the default process metrics
 * and csync's own. `take` is called once at the start of every scrape.
 */
export function createDaemonMetrics(prom: typeof PromClient, take: () => MetricsSnapshot): DaemonMetrics {
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  let current: MetricsSnapshot | undefined;
  const snap = (): MetricsSnapshot => (current ??= take());
  const def = { prom, registry, snap };
  for (const m of GAUGES) gauge(def, m);
  for (const m of COUNTERS) counter(def, m);
  return {
    contentType: registry.contentType,
    async scrape() {
      current = take();
      try {
        return await registry.metrics();
      } finally {
        current = undefined;
      }
    },
  };
}

interface MetricDef {
  readonly name: string;
  readonly help: string;
  readonly labels: readonly string[];
  readonly read: Read;
}

interface Ctx {
  readonly prom: typeof PromClient;
  readonly registry: PromClient.Registry;
  readonly snap: () => MetricsSnapshot;
}

function gauge(ctx: Ctx, m: MetricDef): void {
  new ctx.prom.Gauge({
    name: m.name, help: m.help, labelNames: m.labels, registers: [ctx.registry],
    collect() {
      // Values are absolute at scrape time: series of peers or groups gone since are dropped.
      this.reset();
      m.read((labels, v) => this.set(labels, v), ctx.snap());
    },
  });
}

function counter(ctx: Ctx, m: MetricDef): void {
  new ctx.prom.Counter({
    name: m.name, help: m.help, labelNames: m.labels, registers: [ctx.registry],
    collect() {
      // DaemonStats only grows, so setting the counter to its total keeps it monotonic.
      this.reset();
      m.read((labels, v) => this.inc(labels, v), ctx.snap());
    },
  });
}

const seconds = (ms: number): number => ms / 1000;

/** Every peer this node syncs with (the summary's groups), once. */
function peersOf(s: MetricsSnapshot): string[] {
  return [...new Set(s.summary.groups.flatMap((g) => g.peers.map((p) => p.peer)))];
}

function eachTraffic(m: ReadonlyMap<string, { files: number; bytes: number }>, key: 'files' | 'bytes', peers: readonly string[], emit: Emit): void {
  for (const peer of new Set([...peers, ...m.keys()])) emit({ peer }, m.get(peer)?.[key] ?? 0);
}

const GAUGES: readonly MetricDef[] = [
  { name: 'csync_build_info', help: 'Always 1; the version of csync this daemon runs.', labels: ['version'], read: (emit) => emit({ version: CSYNC_VERSION }, 1) },
  { name: 'csync_start_time_seconds', help: 'When this daemon started (unix time).', labels: [], read: (emit, s) => emit({}, seconds(s.facts.startedAtMs)) },
  {
    name: 'csync_peer_up', help: '1 while this node holds an authenticated link to the peer, else 0.', labels: ['peer'],
    read: (emit, s) => {
      for (const peer of peersOf(s)) emit({ peer }, s.facts.peers[peer]?.connected ? 1 : 0);
    },
  },
  {
    name: 'csync_dirty_entries', help: 'Entries changed here that the peer does not hold yet, per group.', labels: ['group', 'peer'],
    read: (emit, s) => {
      for (const g of s.summary.groups) for (const p of g.peers) emit({ group: g.group, peer: p.peer }, p.dirty);
    },
  },
  {
    name: 'csync_failing_entries', help: 'Dirty entries whose last attempt to reach the peer failed, per group.', labels: ['group', 'peer'],
    read: (emit, s) => {
      for (const g of s.summary.groups) for (const p of g.peers) emit({ group: g.group, peer: p.peer }, p.failing);
    },
  },
  {
    name: 'csync_conflicts_held', help: 'Paths in conflict with the peer (held here or refused by it); each is settled with csync -f.', labels: ['peer'],
    read: (emit, s) => {
      const by = new Map(peersOf(s).map((p) => [p, 0]));
      for (const c of s.summary.conflicts) by.set(c.peer, (by.get(c.peer) ?? 0) + 1);
      for (const [peer, n] of by) emit({ peer }, n);
    },
  },
  {
    name: 'csync_last_sync_timestamp_seconds', help: 'When an update pass to the peer last succeeded (unix time); absent before the first.', labels: ['peer'],
    read: (emit, s) => {
      for (const peer of peersOf(s)) {
        const ms = s.facts.peers[peer]?.lastOkMs;
        if (ms !== undefined) emit({ peer }, seconds(ms));
      }
    },
  },
  {
    name: 'csync_group_halted', help: '1 while a safety rail holds the group halted (see csync status for the override), else 0.', labels: ['group'],
    read: (emit, s) => {
      for (const g of s.summary.groups) emit({ group: g.group }, g.halted.length > 0 ? 1 : 0);
    },
  },
  { name: 'csync_last_full_check_duration_seconds', help: 'How long the last full check of every root took.', labels: [], read: (emit, s) => s.stats.lastFullCheck && emit({}, seconds(s.stats.lastFullCheck.durationMs)) },
  { name: 'csync_last_full_check_timestamp_seconds', help: 'When the last full check of every root started (unix time).', labels: [], read: (emit, s) => s.stats.lastFullCheck && emit({}, seconds(s.stats.lastFullCheck.atMs)) },
  { name: 'csync_last_full_check_problems', help: 'Problems (unreadable or refused paths, halts) the last full check found.', labels: [], read: (emit, s) => s.stats.lastFullCheck && emit({}, s.stats.lastFullCheck.problems + s.stats.lastFullCheck.halted) },
  { name: 'csync_watcher_queue_length', help: 'Paths the watcher reported that no work cycle has checked yet.', labels: [], read: (emit, s) => emit({}, s.watcherQueue) },
  { name: 'csync_pending_actions', help: 'Action runs queued or interrupted, waiting to run.', labels: [], read: (emit, s) => emit({}, s.summary.pendingActions) },
];

const COUNTERS: readonly MetricDef[] = [
  { name: 'csync_files_sent_total', help: 'Entries the peer acknowledged from this node (written or deleted there).', labels: ['peer'], read: (emit, s) => eachTraffic(s.stats.sent, 'files', peersOf(s), emit) },
  { name: 'csync_bytes_sent_total', help: 'Content bytes of the entries the peer acknowledged.', labels: ['peer'], read: (emit, s) => eachTraffic(s.stats.sent, 'bytes', peersOf(s), emit) },
  { name: 'csync_files_received_total', help: 'Entries this node applied from the peer (written, deleted, or resolved in its favour).', labels: ['peer'], read: (emit, s) => eachTraffic(s.stats.received, 'files', peersOf(s), emit) },
  { name: 'csync_bytes_received_total', help: 'Content bytes of the entries applied from the peer.', labels: ['peer'], read: (emit, s) => eachTraffic(s.stats.received, 'bytes', peersOf(s), emit) },
  {
    name: 'csync_received_outcomes_total', help: 'Received entries by outcome (applied, skipped-identical, conflict-held, resolved-by-POLICY, refused-REASON).', labels: ['outcome'],
    read: (emit, s) => {
      for (const [outcome, n] of s.stats.outcomes) emit({ outcome }, n);
    },
  },
  {
    name: 'csync_apply_failures_total', help: 'Changes from peers that could not be written here, by reason (error code or errno).', labels: ['reason'],
    read: (emit, s) => {
      for (const [reason, n] of s.stats.applyFailures) emit({ reason }, n);
    },
  },
  { name: 'csync_checks_total', help: 'Checks of changed paths or whole roots run by the daemon.', labels: [], read: (emit, s) => emit({}, s.stats.checks) },
  { name: 'csync_check_duration_seconds_total', help: 'Time spent in those checks.', labels: [], read: (emit, s) => emit({}, s.stats.checkSeconds) },
  { name: 'csync_action_runs_total', help: 'Action commands run.', labels: [], read: (emit, s) => emit({}, s.stats.actionRuns) },
  { name: 'csync_action_failures_total', help: 'Action commands that failed (non-zero exit, signal, timeout, not started).', labels: [], read: (emit, s) => emit({}, s.stats.actionFailures) },
];

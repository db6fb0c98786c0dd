// ⚙ One node's summary: what `csync status` prints, what a peer answers when asked for it
// (`csync status --cluster`, over the authenticated link), and what the status page and /healthz
// show. Built from the store, the state dir's advisory files and, when a daemon runs, its live
// statistics. A summary for a peer holds only the groups it shares with that peer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeView } from '../config/types.ts';
import type { StateStore } from '../store/state-store.ts';
import { realPathOf } from '../sync/scope.ts';
import type { HaltEntry } from './halts.ts';
import { haltOverride, loadHalts } from './halts.ts';
import { loadRefused } from './refused-paths.ts';
import type { ActionRunRecord, CheckRecord } from './stats.ts';

/** The package version (printed by --version, reported in summaries and build info). */
export const CSYNC_VERSION = '0.1.0';

/** One reason a node needs an operator (also `attention` in `csync status --json`). */
export interface Attention {
  readonly what: 'no-daemon' | 'halted' | 'conflicts' | 'failing' | 'refused';
  readonly message: string;
}

/** This node's view of one peer. */
export interface PeerSummary {
  readonly peer: string;
  readonly connected: boolean;
  readonly lastSyncMs: number | null;
  readonly linkError: string | null;
  /** Entries not yet delivered to it, and how many of those failed their last attempt. */
  readonly dirty: number;
  readonly failing: number;
  readonly lastError: string | null;
  /** Conflicts held here with it. */
  readonly conflicts: number;
}

/** What a running daemon adds to a summary (daemon.json, or the live daemon itself). */
export interface DaemonFacts {
  readonly pid: number;
  readonly port: number;
  readonly startedAtMs: number;
  readonly peers: Readonly<Record<string, { connected: boolean; lastOkMs?: number | undefined; lastError?: string | undefined }>>;
  readonly lastFullCheck?: CheckRecord | undefined;
  readonly lastActions?: readonly ActionRunRecord[];
  readonly actionRuns?: number;
  readonly actionFailures?: number;
}

/** The facts of the daemon of this state dir (its daemon.json), if one is alive. */
export function readDaemonFacts(stateDir: string): DaemonFacts | undefined {
  try {
    const st = JSON.parse(readFileSync(join(stateDir, 'daemon.json'), 'utf8')) as DaemonFacts;
    process.kill(st.pid, 0);
    return st;
  } catch {
    // No file, unreadable, or the pid is gone: no daemon is running for this state dir.
    return undefined;
  }
}

/** One node's summary. */
export interface NodeSummary {
  readonly node: string;
  readonly version: string;
  readonly daemon: { readonly pid: number; readonly port: number; readonly startedAtMs: number } | null;
  readonly groups: readonly {
    readonly group: string;
    readonly receiveOnly: boolean;
    readonly halted: readonly (HaltEntry & { readonly override: string })[];
    readonly peers: readonly PeerSummary[];
  }[];
  /** Conflicts held here or refused by a peer, each with the command that settles it on this node. */
  readonly conflicts: readonly { readonly path: string; readonly realPath: string; readonly peer: string; readonly settle: string }[];
  readonly refused: readonly { readonly path: string; readonly reason: string }[];
  readonly pendingActions: number;
  readonly lastFullCheck: CheckRecord | null;
  readonly lastActions: readonly ActionRunRecord[];
  readonly actionRuns: number;
  readonly actionFailures: number;
  readonly attention: readonly Attention[];
  /** The exit status of `csync status` for this summary (see statusExit). */
  readonly exitStatus: number;
}

/**
 * The exit status of `csync status`: 0 healthy, 69 no daemon runs for this state dir (nothing is
 * watched or retried), 1 anything else that needs an operator (docs/reference.md, exit statuses).
 */
export function statusExit(attention: readonly Attention[]): number {
  if (attention.some((a) => a.what === 'no-daemon')) return 69;
  return attention.length > 0 ? 1 : 0;
}

/** A path as a POSIX shell word: bare when it is plainly safe, else single-quoted. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Builds the summary of this node. `groups` limits it to those groups (a peer's request: the groups
 * it shares with this node); `daemon` is undefined when no daemon runs.
 */
export function buildSummary(opts: { view: NodeView; store: StateStore; stateDir: string; daemon: DaemonFacts | undefined; groups?: ReadonlySet<string> }): NodeSummary {
  const { view, store, daemon } = opts;
  const inScope = (g: string): boolean => opts.groups === undefined || opts.groups.has(g);
  const groups = [...view.groups.values()].filter((g) => inScope(g.config.name));
  const roots = groups.flatMap((g) => [...g.roots.keys()]);
  const inRoots = (path: string): boolean => roots.some((r) => path === r || path.startsWith(`${r}/`));
  const peers = new Set(groups.flatMap((g) => g.peers));
  const dirty = store.listDirty().filter((d) => peers.has(d.peer) && inRoots(d.path));
  const held = store.listConflicts().filter((c) => inRoots(c.path));
  const halts = loadHalts(opts.stateDir).filter((h) => inScope(h.group) && view.groups.has(h.group));
  const refused = loadRefused(opts.stateDir).filter((r) => inRoots(r.path));
  const peerSummary = (peer: string): PeerSummary => {
    const mine = dirty.filter((d) => d.peer === peer);
    const failing = mine.filter((d) => d.lastError !== undefined);
    const link = daemon?.peers[peer];
    return {
      peer,
      connected: link?.connected ?? false,
      lastSyncMs: link?.lastOkMs ?? null,
      linkError: link?.lastError ?? null,
      dirty: mine.length,
      failing: failing.length,
      lastError: failing[0]?.lastError ?? null,
      conflicts: held.filter((c) => c.peer === peer).length,
    };
  };
  // Held here (a peer's version waits) or refused by a peer (this node's version waits): both need -f.
  const conflictRows = [
    ...held.map((c) => ({ path: c.path, peer: c.peer })),
    ...dirty.filter((d) => d.lastError?.startsWith('conflict') && !held.some((c) => c.path === d.path && c.peer === d.peer)).map((d) => ({ path: d.path, peer: d.peer })),
  ].map((c) => ({ ...c, realPath: realPathOf(view, c.path), settle: `csync -f ${shellQuote(realPathOf(view, c.path))}` }));
  const inConflict = new Set(conflictRows.map((c) => c.path)).size;
  const failing = dirty.filter((d) => d.lastError !== undefined && !d.lastError.startsWith('conflict')).length;
  const attention: Attention[] = [
    ...(daemon ? [] : [{ what: 'no-daemon' as const, message: 'no daemon runs for this state dir: nothing is watched or retried (start it: systemctl start csync)' }]),
    ...halts.map((h) => ({ what: 'halted' as const, message: `group ${h.group} halted: ${h.message}` })),
    ...(inConflict ? [{ what: 'conflicts' as const, message: `${inConflict} path(s) in conflict: settle each with \`csync -f PATH\` on the node whose version should win` }] : []),
    ...(failing ? [{ what: 'failing' as const, message: `${failing} dirty entr${failing === 1 ? 'y' : 'ies'} failing to reach a peer (see the peer lines)` }] : []),
    ...(refused.length ? [{ what: 'refused' as const, message: `${refused.length} path(s) not synced: csync cannot carry their names (rename or exclude them)` }] : []),
  ];
  return {
    node: view.self,
    version: CSYNC_VERSION,
    daemon: daemon ? { pid: daemon.pid, port: daemon.port, startedAtMs: daemon.startedAtMs } : null,
    groups: groups.map((g) => ({
      group: g.config.name,
      receiveOnly: g.receiveOnly,
      halted: halts.filter((h) => h.group === g.config.name).map((h) => ({ ...h, override: haltOverride(h) })),
      peers: g.peers.map(peerSummary),
    })),
    conflicts: conflictRows,
    refused: refused.map((r) => ({ path: r.path, reason: r.reason })),
    pendingActions: store.listPendingActions().filter((a) => inScope(a.groupName)).length,
    lastFullCheck: daemon?.lastFullCheck ?? null,
    lastActions: (daemon?.lastActions ?? []).filter((a) => inScope(a.group)),
    actionRuns: daemon?.actionRuns ?? 0,
    actionFailures: daemon?.actionFailures ?? 0,
    attention,
    exitStatus: statusExit(attention),
  };
}

// `csync status --cluster`: every peer's own summary, asked over the authenticated link (a `status`
// request; protocol/README.md), and this node's, as one fleet table. A peer answers with the groups
// it shares with the asker only. What comes back is validated field by field and every string is
// cleaned of control characters before it reaches a terminal or a page: a peer may be hostile.
import { CsyncError } from '../core/errors.ts';
import type { NodeName } from '../core/types.ts';
import type { Message } from '../protocol/messages.ts';
import type { PeerLink } from '../net/peer-link.ts';
import type { Runtime } from './runtime.ts';
import type { Attention, DaemonFacts, NodeSummary } from './summary.ts';
import { buildSummary, readDaemonFacts } from './summary.ts';

/** One row of the fleet table: a node and its summary, or why it could not be asked. */
export interface ClusterRow {
  readonly node: string;
  readonly reachable: boolean;
  readonly error?: string;
  readonly summary?: NodeSummary;
}

/** Asks `peer` for its summary; resolves with its status-reply's text. */
export type AskStatus = (peer: NodeName) => Promise<string>;

/** How long a peer has to answer a status request. */
export const STATUS_TIMEOUT_MS = 5000;

/** How long an answered summary is reused for the same set of groups (see serveStatus). */
const SUMMARY_REUSE_MS = 2000;
const answered = new WeakMap<Runtime, Map<string, { atMs: number; text: string }>>();

/**
 * Answers a peer's `status` request with this node's summary of the groups they share. A summary
 * reads every dirty row: one built in the last 2 s for the same groups is reused, so a peer asking
 * in a loop costs a lookup, not a scan of the state database.
 */
export async function serveStatus(rt: Runtime, shared: ReadonlySet<string>, msg: Extract<Message, { type: 'status' }>, link: PeerLink): Promise<void> {
  const key = [...shared].sort().join('\0');
  const byGroups = answered.get(rt) ?? new Map<string, { atMs: number; text: string }>();
  answered.set(rt, byGroups);
  const now = rt.ctx.clock.nowMs();
  let hit = byGroups.get(key);
  if (hit === undefined || now - hit.atMs >= SUMMARY_REUSE_MS) {
    const summary = buildSummary({ view: rt.view, store: rt.store, stateDir: rt.stateDir, daemon: readDaemonFacts(rt.stateDir), groups: shared });
    hit = { atMs: now, text: JSON.stringify(summary) };
    byGroups.set(key, hit);
  }
  await link.send({ type: 'status-reply', id: msg.id, summary: hit.text });
}

/** Sends a status request on an open link; resolves with the summary text. */
export async function askStatus(link: PeerLink, timeoutMs = STATUS_TIMEOUT_MS): Promise<string> {
  const reply = await link.request({ type: 'status' }, { timeoutMs });
  if (reply.type === 'error') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `status: the peer answered with an error (${reply.code}): ${clean(reply.message)}`);
  if (reply.type !== 'status-reply') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `status: expected status-reply, got ${reply.type}`);
  return reply.summary;
}

/**
 * This node's row (from `local`, its own facts) and one per peer of its groups, asked concurrently;
 * a peer that cannot be asked, or answers with something that is not a summary, is a row saying why.
 */
export async function collectClusterStatus(rt: Runtime, opts: { ask: AskStatus; local: DaemonFacts | undefined }): Promise<ClusterRow[]> {
  const self: ClusterRow = { node: rt.view.self, reachable: true, summary: buildSummary({ view: rt.view, store: rt.store, stateDir: rt.stateDir, daemon: opts.local }) };
  const peers = [...new Set([...rt.view.groups.values()].flatMap((g) => g.peers))].sort();
  const rows = await Promise.all(
    peers.map(async (peer): Promise<ClusterRow> => {
      try {
        return { node: peer, reachable: true, summary: parseSummary(await opts.ask(peer), peer) };
      } catch (err) {
        return { node: peer, reachable: false, error: clean(err instanceof Error ? err.message : String(err)) };
      }
    }),
  );
  return [self, ...rows];
}

/** The exit status of `csync status --cluster`: the worst of the rows (an unreachable peer is 1). */
export function clusterExit(rows: readonly ClusterRow[]): number {
  const statuses = rows.map((r) => (r.reachable ? (r.summary?.exitStatus ?? 1) : 1));
  if (statuses.includes(69)) return 69;
  return statuses.some((s) => s !== 0) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Validation of a peer's summary: the shape NodeSummary has, with bounds; nothing else is kept.

const MAX_ITEMS = 1000;

function invalid(peer: string, what: string): CsyncError {
  return new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `status of ${JSON.stringify(peer)}: ${what}`);
}

/** A string with control characters (terminal escapes) replaced by U+FFFD, and bounded. */
export function clean(s: string, max = 1024): string {
  const out = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\ufffd');
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

/** Parses and validates a peer's summary text. Throws CSYNC_PROTO_INVALID_MESSAGE. */
export function parseSummary(text: string, peer: string): NodeSummary {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid(peer, 'not JSON');
  }
  const v = new Reader(peer);
  const o = v.obj(raw, 'summary');
  const node = v.str(o['node'], 'node', 128);
  if (node !== peer) throw invalid(peer, `it names itself ${JSON.stringify(node)}`);
  const daemon = o['daemon'] === null ? null : v.obj(o['daemon'], 'daemon');
  return {
    node,
    version: v.str(o['version'], 'version', 64),
    daemon: daemon === null ? null : { pid: v.int(daemon['pid'], 'daemon.pid'), port: v.int(daemon['port'], 'daemon.port'), startedAtMs: v.int(daemon['startedAtMs'], 'daemon.startedAtMs') },
    groups: v.arr(o['groups'], 'groups').map((g, i) => {
      const go = v.obj(g, `groups[${i}]`);
      return {
        group: v.str(go['group'], 'group', 128),
        receiveOnly: v.bool(go['receiveOnly'], 'receiveOnly'),
        halted: v.arr(go['halted'], 'halted').map((h) => {
          const ho = v.obj(h, 'halted');
          const kind = ho['kind'] === 'update' ? 'update' : 'check';
          return { kind, group: v.str(ho['group'], 'halted.group', 128), where: v.str(ho['where'], 'halted.where'), message: v.str(ho['message'], 'halted.message'), hint: v.str(ho['hint'], 'halted.hint'), sinceMs: v.int(ho['sinceMs'], 'halted.sinceMs'), override: v.str(ho['override'], 'halted.override') } as const;
        }),
        peers: v.arr(go['peers'], 'peers').map((p) => {
          const po = v.obj(p, 'peer');
          return {
            peer: v.str(po['peer'], 'peer', 128),
            connected: v.bool(po['connected'], 'connected'),
            lastSyncMs: po['lastSyncMs'] === null ? null : v.int(po['lastSyncMs'], 'lastSyncMs'),
            linkError: po['linkError'] === null ? null : v.str(po['linkError'], 'linkError'),
            dirty: v.int(po['dirty'], 'dirty'),
            failing: v.int(po['failing'], 'failing'),
            lastError: po['lastError'] === null ? null : v.str(po['lastError'], 'lastError'),
            conflicts: v.int(po['conflicts'], 'conflicts'),
          };
        }),
      };
    }),
    conflicts: v.arr(o['conflicts'], 'conflicts').map((c) => {
      const co = v.obj(c, 'conflict');
      return { path: v.str(co['path'], 'conflict.path', 4096), realPath: v.str(co['realPath'], 'conflict.realPath', 4096), peer: v.str(co['peer'], 'conflict.peer', 128), settle: v.str(co['settle'], 'conflict.settle', 4200) };
    }),
    refused: v.arr(o['refused'], 'refused').map((r) => {
      const ro = v.obj(r, 'refused');
      return { path: v.str(ro['path'], 'refused.path', 4096), reason: v.str(ro['reason'], 'refused.reason') };
    }),
    pendingActions: v.int(o['pendingActions'], 'pendingActions'),
    lastFullCheck: o['lastFullCheck'] === null || o['lastFullCheck'] === undefined ? null : (() => {
      const c = v.obj(o['lastFullCheck'], 'lastFullCheck');
      return { atMs: v.int(c['atMs'], 'atMs'), durationMs: v.int(c['durationMs'], 'durationMs'), entries: v.int(c['entries'], 'entries'), changed: v.int(c['changed'], 'changed'), problems: v.int(c['problems'], 'problems'), halted: v.int(c['halted'], 'halted') };
    })(),
    lastActions: v.arr(o['lastActions'], 'lastActions').map((a) => {
      const ao = v.obj(a, 'action');
      return {
        group: v.str(ao['group'], 'action.group', 128),
        command: v.str(ao['command'], 'action.command'),
        phase: ao['phase'] === 'check' || ao['phase'] === 'verify' ? ao['phase'] : 'exec',
        exitCode: ao['exitCode'] === null ? null : v.int(ao['exitCode'], 'action.exitCode'),
        ok: v.bool(ao['ok'], 'action.ok'),
        durationMs: v.int(ao['durationMs'], 'action.durationMs'),
        atMs: v.int(ao['atMs'], 'action.atMs'),
        files: v.int(ao['files'], 'action.files'),
      };
    }),
    actionRuns: v.int(o['actionRuns'], 'actionRuns'),
    actionFailures: v.int(o['actionFailures'], 'actionFailures'),
    attention: v.arr(o['attention'], 'attention').map((a) => {
      const ao = v.obj(a, 'attention');
      const what = v.str(ao['what'], 'attention.what', 32);
      if (!['no-daemon', 'halted', 'conflicts', 'failing', 'refused'].includes(what)) throw invalid(peer, `attention.what ${JSON.stringify(what)}`);
      return { what: what as Attention['what'], message: v.str(ao['message'], 'attention.message') };
    }),
    exitStatus: v.int(o['exitStatus'], 'exitStatus'),
  };
}

/** Typed reads of untrusted JSON; every failure names the field. */
class Reader {
  readonly #peer: string;
  constructor(peer: string) {
    this.#peer = peer;
  }
  obj(x: unknown, at: string): Record<string, unknown> {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw invalid(this.#peer, `${at} is not an object`);
    return x as Record<string, unknown>;
  }
  arr(x: unknown, at: string): unknown[] {
    if (!Array.isArray(x) || x.length > MAX_ITEMS) throw invalid(this.#peer, `${at} is not a list of at most ${MAX_ITEMS}`);
    return x;
  }
  str(x: unknown, at: string, max = 1024): string {
    if (typeof x !== 'string') throw invalid(this.#peer, `${at} is not text`);
    return clean(x, max);
  }
  int(x: unknown, at: string): number {
    if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw invalid(this.#peer, `${at} is not a whole number`);
    return x;
  }
  bool(x: unknown, at: string): boolean {
    if (typeof x !== 'boolean') throw invalid(this.#peer, `${at} is not true or false`);
    return x;
  }
}

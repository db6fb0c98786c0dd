// The sending side of an update pass (SPEC §4.5): every peer concurrently, many offers in flight per
// peer, results recorded per entry. Talks to peers only through the OfferChannel port.
import { CsyncError } from '../core/errors.ts';
import type { FileState, GroupName, IgnoredAttr, LogicalPath, NodeName, RootId } from '../core/types.ts';
import { sameContent, sameMeta } from '../core/decide.ts';
import { compareVersions, mergeVersions } from '../core/version.ts';
import type { DirtyRow } from '../store/state-store.ts';
import { wouldDeleteTooMany } from '../core/safety.ts';
import type { SyncContext } from './context.ts';
import type { OfferOutcome } from './receive.ts';
import { relOf, targetsOf } from './scope.ts';
import { preserveLoser } from './losers.ts';
import { changedBlocks } from './delta.ts';
import type { BlockSignatures, DeltaBlock } from './delta.ts';

/** An offer as the sender builds it. */
export interface OutgoingOffer {
  readonly group: GroupName;
  readonly root: RootId;
  readonly rel: string;
  readonly state: FileState;
  readonly force: boolean;
  readonly content?: Uint8Array;
}

/** An authenticated connection to one peer, as the update pass needs it. */
export interface OfferChannel {
  readonly peer: NodeName;
  readonly sharedGroups: ReadonlySet<GroupName>;
  /**
   * Sends an offer and resolves with the final outcome. When the peer answers 'need', the channel
   * streams `content()` and resolves with the reply that follows the last chunk; when the peer
   * sends block hashes of its older copy, it streams `delta(hashes)` (only the changed blocks).
   */
  offer(o: OutgoingOffer, content: () => AsyncIterable<Uint8Array>, delta?: (remote: BlockSignatures) => AsyncIterable<DeltaBlock>): Promise<OfferOutcome>;
  /** Releases the channel (a pooled channel stays open for the next pass). */
  close(): void;
  /** False once the underlying link has closed (pooled channels are then replaced). */
  isOpen?(): boolean;
  /** A heartbeat round trip; rejects when the peer does not answer. */
  ping?(): Promise<void>;
}

/** Opens an authenticated channel; throws CsyncError (unreachable, auth failed, cert changed). */
export type Connect = (peer: NodeName) => Promise<OfferChannel>;

/** What happened with one peer during an update. */
export interface PeerReport {
  readonly peer: NodeName;
  status: 'ok' | 'nothing-to-do' | 'failed' | 'dry-run';
  sent: number;
  have: number;
  conflicts: LogicalPath[];
  /** Paths the peer acknowledged (applied, had or merged) in this pass. */
  delivered: LogicalPath[];
  /** Conflicts the peer resolved by the group's policy in its own favour. */
  superseded: LogicalPath[];
  failed: { path: LogicalPath; reason: string }[];
  bytes: number;
  ms: number;
  error?: CsyncError;
  /** Dry run: what would be sent. */
  planned: LogicalPath[];
  /** Groups held back by the mass-delete rail (SPEC §4.6). */
  halted: CsyncError[];
}

/** Options of runUpdate(). */
export interface UpdateOptions {
  readonly connect: Connect;
  readonly peers?: ReadonlySet<NodeName>;
  readonly groups?: ReadonlySet<GroupName>;
  /** Only entries equal to or below these logical paths. */
  readonly paths?: readonly string[];
  readonly dryRun: boolean;
  /** Let an update delete more than a group's max_delete share on a peer (`--allow-mass-delete`). */
  readonly allowMassDelete?: boolean;
  /** Offers in flight per peer. */
  readonly window?: number;
  /** Called after every entry with the peer's running totals (CLI progress on a TTY). */
  readonly onProgress?: (p: { peer: NodeName; done: number; total: number; bytes: number }) => void;
}

/** Files up to this size travel inside the offer: one round trip per file. */
export const INLINE_MAX_BYTES = 256 * 1024;
const CHUNK_BYTES = 512 * 1024;
const DEFAULT_WINDOW = 256;

/** Delivers dirty entries to every (filtered) peer concurrently. Never throws for one peer's failure. */
export async function runUpdate(ctx: SyncContext, opts: UpdateOptions): Promise<PeerReport[]> {
  const peers = new Set<NodeName>();
  for (const g of ctx.view.groups.values()) {
    if (opts.groups && !opts.groups.has(g.config.name)) continue;
    for (const p of g.peers) if (!opts.peers || opts.peers.has(p)) peers.add(p);
  }
  // One read of the recorded states serves every peer of the pass (they share most rows).
  const shared = new SharedStates(ctx);
  return Promise.all([...peers].sort().map((peer) => updatePeer(ctx, peer, opts, shared)));
}

/**
 * The recorded states of dirty rows, read once per pass: point reads for a few rows, one range
 * read of the whole store for many (cheaper than a point read per row, and shared by all peers so a
 * large pass holds one copy, not one per peer). A state that changes during the pass is sent next
 * pass (clearDirty only clears the version that was delivered).
 */
class SharedStates {
  private readonly ctx: SyncContext;
  private all: Map<string, FileState> | undefined;
  constructor(ctx: SyncContext) {
    this.ctx = ctx;
  }
  of(rows: readonly DirtyRow[]): Map<string, FileState> {
    if (rows.length < 256 && this.all === undefined) {
      const out = new Map<string, FileState>();
      for (const r of rows) {
        const st = this.ctx.store.get(r.path);
        if (st) out.set(r.path, st);
      }
      return out;
    }
    if (this.all === undefined) {
      this.all = new Map();
      for (const st of this.ctx.store.list()) this.all.set(st.path, st);
    }
    return this.all;
  }
}

/**
 * SPEC §4.6: per group, if the tombstones about to go to `peer` exceed max_delete of the group's
 * files, hold them back (they stay dirty) and report the group as halted.
 */
function holdMassDeletes(ctx: SyncContext, peer: NodeName, rows: DirtyRow[], states: Map<string, FileState>, report: PeerReport): DirtyRow[] {
  if (!rows.some((r) => states.get(r.path)?.meta.kind === 'deleted')) return rows;
  const held = new Set<string>();
  for (const g of ctx.view.groups.values()) {
    if (!g.peers.includes(peer)) continue;
    const inGroup = rows.filter((r) => targetsOf(ctx.view, ctx.matchers, r.path).some((t) => t.group === g));
    const deletions = inGroup.filter((r) => states.get(r.path)?.meta.kind === 'deleted');
    if (deletions.length === 0) continue;
    let live = 0;
    for (const root of g.roots.keys()) live += ctx.store.list(root).filter((s) => s.meta.kind !== 'deleted' && s.path !== root).length;
    const total = live + deletions.length;
    if (!wouldDeleteTooMany({ deletions: deletions.length, total, maxDeletePercent: g.config.maxDeletePercent })) continue;
    for (const r of deletions) held.add(r.path);
    report.halted.push(new CsyncError('CSYNC_SYNC_HALTED_FOR_SAFETY',
      `group ${JSON.stringify(g.config.name)} to ${JSON.stringify(peer)}: update would delete ${deletions.length} of ${total} entries (max_delete ${g.config.maxDeletePercent}%)`,
      { hint: 'if the deletion is intended, run again with --allow-mass-delete' }));
  }
  return held.size === 0 ? rows : rows.filter((r) => !held.has(r.path));
}

function inScope(ctx: SyncContext, row: DirtyRow, opts: UpdateOptions): boolean {
  if (opts.paths && !opts.paths.some((p) => row.path === p || row.path.startsWith(`${p}/`))) return false;
  if (!opts.groups) return true;
  return targetsOf(ctx.view, ctx.matchers, row.path).some((t) => opts.groups?.has(t.group.config.name));
}

async function updatePeer(ctx: SyncContext, peer: NodeName, opts: UpdateOptions, shared: SharedStates): Promise<PeerReport> {
  const started = ctx.clock.nowMs();
  const report: PeerReport = { peer, status: 'ok', sent: 0, have: 0, conflicts: [], delivered: [], superseded: [], failed: [], bytes: 0, ms: 0, planned: [], halted: [] };
  const all = ctx.store.listDirty(peer).filter((r) => inScope(ctx, r, opts));
  const states = shared.of(all);
  const rows = opts.allowMassDelete ? all : holdMassDeletes(ctx, peer, all, states, report);
  if (rows.length === 0 || opts.dryRun) {
    report.status = rows.length === 0 ? 'nothing-to-do' : 'dry-run';
    report.planned = rows.map((r) => r.path);
    return report;
  }
  let channel: OfferChannel;
  try {
    channel = await opts.connect(peer);
  } catch (err) {
    const e = err instanceof CsyncError ? err : new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${JSON.stringify(peer)}: ${String(err)}`);
    ctx.store.transaction(() => {
      for (const r of rows) ctx.store.setDirtyError(r.path, peer, e.message);
    });
    ctx.log.warn({ peer, code: e.code, reason: e.message }, 'Peer not updated');
    return { ...report, status: 'failed', error: e, ms: ctx.clock.nowMs() - started };
  }
  const batch = new WriteBatch(ctx);
  try {
    // Creations and file deletions first (parents sort before children); directory deletions
    // last and deepest first, so a directory is empty when its deletion arrives.
    const dirDelete = new Set(rows.filter((r) => isDirDeletion(ctx, states.get(r.path))).map((r) => r.path as string));
    const dirDeletes = rows.filter((r) => dirDelete.has(r.path)).sort((a, b) => b.path.localeCompare(a.path));
    const others = rows.filter((r) => !dirDelete.has(r.path));
    let done = 0;
    const step = async (r: DirtyRow): Promise<void> => {
      await offerOne(ctx, channel, r, states.get(r.path), report, batch);
      opts.onProgress?.({ peer, done: ++done, total: rows.length, bytes: report.bytes });
    };
    await runPool(others, opts.window ?? DEFAULT_WINDOW, step);
    batch.flush();
    await runPool(dirDeletes, 1, step);
  } finally {
    batch.flush();
    channel.close();
  }
  report.ms = ctx.clock.nowMs() - started;
  return report;
}

function isDirDeletion(ctx: SyncContext, s: FileState | undefined): boolean {
  if (s?.meta.kind !== 'deleted') return false;
  // A tombstone does not say what it was; a path with recorded children was a directory.
  return ctx.store.list(s.path).length > 1;
}

async function runPool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

async function offerOne(
  ctx: SyncContext, ch: OfferChannel, row: DirtyRow, state: FileState | undefined, report: PeerReport, batch: WriteBatch,
): Promise<void> {
  if (state === undefined) {
    ctx.store.clearDirty(row.path, ch.peer, {});
    return;
  }
  const place = placeFor(ctx, ch, state.path);
  if (place === undefined) {
    fail(ctx, ch, report, state.path, `no group shared with ${ch.peer} holds this path`);
    return;
  }
  try {
    const content = await inlineContent(ctx, place.absPath, state);
    const outcome = await ch.offer(
      { ...place.offer, state, force: row.force, ...(content ? { content } : {}) },
      () => ctx.fs.readChunks(place.absPath, CHUNK_BYTES),
      (remote) => changedBlocks(ctx.fs, ctx.hasher, place.absPath, remote),
    );
    // Our version lost a conflict there ('superseded'), or the peer already holds a newer, different
    // state (after a lost 'superseded' reply that verdict comes back as 'have'): the newer state
    // will replace ours here, so keep ours as a loser now (a no-op when backups will keep it).
    if (outcome.result === 'superseded' || (outcome.result === 'have' && outcome.state && supersededBy(state, outcome.state))) {
      await preserveLoser(ctx, place.target, state);
    }
    recordOutcome(ctx, ch.peer, state, outcome, report, batch);
  } catch (err) {
    fail(ctx, ch, report, state.path, err instanceof Error ? err.message : String(err));
  }
}

function placeFor(ctx: SyncContext, ch: OfferChannel, path: LogicalPath) {
  for (const t of targetsOf(ctx.view, ctx.matchers, path)) {
    if (!ch.sharedGroups.has(t.group.config.name) || !t.group.peers.includes(ch.peer)) continue;
    const rel = relOf(t.root, path);
    if (rel === undefined) continue;
    return {
      offer: { group: t.group.config.name, root: t.root, rel },
      absPath: rel === '' ? t.absRoot : `${t.absRoot}/${rel}`,
      target: t,
    };
  }
  return undefined;
}

/** Small files travel inline; the content must still match the recorded hash (else re-check first). */
async function inlineContent(ctx: SyncContext, absPath: string, state: FileState): Promise<Uint8Array | undefined> {
  if (state.meta.kind !== 'file' || state.meta.sizeBytes > INLINE_MAX_BYTES) return undefined;
  const bytes = await ctx.fs.readFile(absPath);
  if (ctx.hasher.hashBytes(bytes) !== state.meta.hash) {
    throw new CsyncError('CSYNC_IO', `file ${JSON.stringify(absPath)} changed since the last check`, { hint: 'run `csync -x` to check and send it' });
  }
  return bytes;
}

/**
 * Store writes of one pass, committed together every BATCH_SIZE entries and at the end: one
 * transaction (one fsync) per batch instead of one per entry. A crash before a flush only leaves
 * rows dirty; they are offered again and answered `have`.
 */
class WriteBatch {
  private jobs: (() => void)[] = [];
  private readonly ctx: SyncContext;
  constructor(ctx: SyncContext) {
    this.ctx = ctx;
  }
  add(job: () => void): void {
    this.jobs.push(job);
    if (this.jobs.length >= BATCH_SIZE) this.flush();
  }
  flush(): void {
    const jobs = this.jobs;
    this.jobs = [];
    if (jobs.length > 0) this.ctx.store.transaction(() => jobs.forEach((j) => j()));
  }
}

const BATCH_SIZE = 512;

function recordOutcome(ctx: SyncContext, peer: NodeName, sent: FileState, outcome: OfferOutcome, report: PeerReport, batch: WriteBatch): void {
  ctx.log.debug({ peer, path: sent.path, result: outcome.result, sent: sent.version, theirs: outcome.state?.version, reason: outcome.reason }, 'Offer answered');
  switch (outcome.result) {
    case 'applied':
      report.sent++;
      report.delivered.push(sent.path);
      report.bytes += outcome.contentBytes ?? (sent.meta.kind === 'file' ? sent.meta.sizeBytes : 0);
      batch.add(() => {
        // An auto-resolved conflict comes back with a version superseding both: adopt it.
        if (outcome.state && compareVersions(outcome.state.version, sent.version) !== 'equal') {
          adoptMergedVersion(ctx, sent, outcome.state);
          ctx.store.clearDirty(sent.path, peer, ctx.store.get(sent.path)?.version ?? sent.version);
        } else ctx.store.clearDirty(sent.path, peer, sent.version);
        // The peer now holds our version: any conflict recorded with it on this path is over.
        ctx.store.clearConflicts(sent.path, peer);
      });
      return;
    case 'superseded':
      report.superseded.push(sent.path);
      batch.add(() => ctx.store.clearDirty(sent.path, peer, sent.version));
      ctx.log.info({ peer, path: sent.path, local: sent.version, remote: outcome.state?.version, rule: outcome.reason }, 'Conflict resolved: peer version wins');
      return;
    case 'have':
    case 'merged':
      report.have++;
      report.delivered.push(sent.path);
      batch.add(() => {
        // Merged there, or already held there under a newer version of the same state: take the
        // peer's version, so a later edit here is not mistaken for a concurrent one.
        if (outcome.state && (outcome.result === 'merged' || sameMeta(outcome.state.meta, sent.meta, ignoredFor(ctx, sent.path)))) adoptMergedVersion(ctx, sent, outcome.state);
        ctx.store.clearDirty(sent.path, peer, ctx.store.get(sent.path)?.version ?? sent.version);
        ctx.store.clearConflicts(sent.path, peer);
      });
      return;
    case 'conflict':
      report.conflicts.push(sent.path);
      if (outcome.state) ctx.store.putConflict({ path: sent.path, peer, remote: { ...outcome.state, path: sent.path }, detectedAtMs: ctx.clock.nowMs() });
      ctx.store.setDirtyError(sent.path, peer, 'conflict: both sides changed; run `csync -f PATH` on the node whose version should win');
      ctx.log.warn({ peer, path: sent.path, local: sent.version, remote: outcome.state?.version }, 'Conflict');
      return;
    case 'rejected':
    case 'need':
      report.failed.push({ path: sent.path, reason: outcome.reason ?? outcome.result });
      ctx.store.setDirtyError(sent.path, peer, outcome.reason ?? outcome.result);
      return;
    default: {
      const never: never = outcome.result;
      throw new Error(`bug: unknown offer result ${String(never)}`);
    }
  }
}

function supersededBy(sent: FileState, theirs: FileState): boolean {
  return compareVersions(theirs.version, sent.version) === 'newer' && !sameContent(theirs.meta, sent.meta);
}

function ignoredFor(ctx: SyncContext, path: LogicalPath): readonly IgnoredAttr[] {
  return targetsOf(ctx.view, ctx.matchers, path)[0]?.group.config.ignore ?? [];
}

/** The peer merged versions (identical content, or our version won a conflict): merge here too, if nothing changed since. */
function adoptMergedVersion(ctx: SyncContext, sent: FileState, remote: FileState): void {
  const now = ctx.store.get(sent.path);
  if (!now || compareVersions(now.version, sent.version) !== 'equal' || compareVersions(remote.version, sent.version) === 'equal') return;
  // Identical states also take the peer's origin and change time (mergeIdentical's pick), so every
  // node orders this state the same way in a later conflict.
  const same = sameMeta(now.meta, remote.meta, ignoredFor(ctx, sent.path));
  ctx.store.put({ ...now, version: mergeVersions(now.version, remote.version), ...(same ? { origin: remote.origin, changedAtMs: remote.changedAtMs } : {}) });
}

function fail(ctx: SyncContext, ch: OfferChannel, report: PeerReport, path: LogicalPath, reason: string): void {
  report.failed.push({ path, reason });
  ctx.store.setDirtyError(path, ch.peer, reason);
  ctx.log.warn({ peer: ch.peer, path, reason }, 'Entry not delivered');
}

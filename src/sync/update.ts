// The sending side of an update pass (docs/semantics.md, "Update pass"): every peer concurrently, many offers in flight per
// peer, results recorded per entry. Talks to peers only through the OfferChannel port.
import { CsyncError } from '../core/errors.ts';
import type { FsExpect } from '../fs/filesystem.ts';
import type { FileState, GroupName, IgnoredAttr, LogicalPath, NodeName, RootId } from '../core/types.ts';
import { sameContent, sameMeta } from '../core/decide.ts';
import { compareVersions, mergeVersions } from '../core/version.ts';
import type { DirtyEntry, DirtyRow } from '../store/state-store.ts';
import { wouldDeleteTooMany } from '../core/safety.ts';
import { wireMtimeFits } from '../protocol/messages.ts';
import type { SyncContext } from './context.ts';
import { transactEach } from './isolate.ts';
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
  /** Groups held back by the mass-delete rail (docs/semantics.md, "Safety rails"). */
  halted: CsyncError[];
  /** The groups of those errors, in the same order (for the halts `csync status` shows). */
  haltedGroups: GroupName[];
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
  /** Offers in flight over every peer of the pass (default: the larger of the window and 512). */
  readonly totalInFlight?: number;
  /** Called after every entry with the peer's running totals (CLI progress on a TTY). */
  readonly onProgress?: (p: { peer: NodeName; done: number; total: number; bytes: number }) => void;
}

/** Files up to this size travel inside the offer: one round trip per file. */
export const INLINE_MAX_BYTES = 256 * 1024;
const CHUNK_BYTES = 512 * 1024;
const DEFAULT_WINDOW = 256;
/** Offers in flight over all peers of one update pass (see runUpdate). */
const TOTAL_IN_FLIGHT = 512;

/** Delivers dirty entries to every (filtered) peer concurrently. Never throws for one peer's failure. */
export async function runUpdate(ctx: SyncContext, opts: UpdateOptions): Promise<PeerReport[]> {
  const peers = new Set<NodeName>();
  for (const g of ctx.view.groups.values()) {
    if (opts.groups && !opts.groups.has(g.config.name)) continue;
    for (const p of g.peers) if (!opts.peers || opts.peers.has(p)) peers.add(p);
  }
  // One budget of offers in flight for the whole pass: with many peers, each gets a share instead
  // of a full window (memory follows the budget, not the number of peers).
  const shared = new Slots(opts.totalInFlight ?? Math.max(opts.window ?? DEFAULT_WINDOW, TOTAL_IN_FLIGHT));
  return Promise.all([...peers].sort().map((peer) => updatePeer(ctx, peer, opts, shared)));
}

/** A counting semaphore: take() resolves when a slot is free; give() frees one. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Dirty rows read per page: memory of a pass follows the window, not the number of rows. */
const PAGE_ROWS = 1024;

/**
 * The dirty entries of one peer that this pass may deliver (in scope, not held back), read from
 * the store a page at a time in path order (parents before children). A row marked or cleared
 * behind the cursor during the pass is left for the next pass.
 */
class DirtyCursor {
  private page: DirtyEntry[] = [];
  private at = 0;
  private after = '';
  private exhausted = false;
  private readonly ctx: SyncContext;
  private readonly peer: NodeName;
  private readonly keep: (e: DirtyEntry) => boolean;
  constructor(ctx: SyncContext, peer: NodeName, keep: (e: DirtyEntry) => boolean) {
    this.ctx = ctx;
    this.peer = peer;
    this.keep = keep;
  }

  peek(): DirtyEntry | undefined {
    for (;;) {
      const e = this.page[this.at];
      if (e !== undefined) {
        if (this.keep(e)) return e;
        this.at++;
        continue;
      }
      if (this.exhausted) return undefined;
      this.page = this.ctx.store.dirtyPage(this.peer, this.after, PAGE_ROWS);
      this.at = 0;
      this.exhausted = this.page.length < PAGE_ROWS;
      this.after = this.page[this.page.length - 1]?.row.path ?? this.after;
    }
  }

  next(): DirtyEntry | undefined {
    const e = this.peek();
    if (e !== undefined) this.at++;
    return e;
  }
}

/**
 * The max_delete rail also looks back this far: deletions delivered in the hour before the oldest
 * pending one count with it, so several passes each under max_delete cannot add up to a mass
 * deletion (issue 11 item 6). `--allow-mass-delete` overrides both.
 */
export const MAX_DELETE_WINDOW_MS = 3_600_000;

/**
 * The mass-delete rail (docs/semantics.md): per group, if the tombstones about to go to `peer` exceed max_delete of the group's
 * entries — in this pass, or together with the deletions of the hour before the oldest of them —
 * they are held back (they stay dirty) and the group is reported as halted. Returns the halted
 * groups. Counts come from the store; no row list is held.
 */
function massDeleteHalts(ctx: SyncContext, peer: NodeName, opts: UpdateOptions, report: PeerReport): Set<GroupName> {
  const halted = new Set<GroupName>();
  const deletions = new Map<GroupName, { count: number; oldestMs: number }>();
  for (const path of ctx.store.dirtyDeletions(peer)) {
    if (!inScope(ctx, path, opts)) continue;
    const changedAtMs = ctx.store.get(path)?.changedAtMs ?? ctx.clock.nowMs();
    const groups = new Set(targetsOf(ctx.view, ctx.matchers, path).map((t) => t.group.config.name));
    for (const g of groups) {
      const d = deletions.get(g) ?? { count: 0, oldestMs: changedAtMs };
      deletions.set(g, { count: d.count + 1, oldestMs: Math.min(d.oldestMs, changedAtMs) });
    }
  }
  for (const g of ctx.view.groups.values()) {
    const pending = deletions.get(g.config.name);
    if (pending === undefined || !g.peers.includes(peer)) continue;
    const max = g.config.maxDeletePercent;
    let live = 0;
    let recent = 0;
    for (const root of g.roots.keys()) {
      live += ctx.store.countLive(root);
      recent += ctx.store.countDeletedSince(root, pending.oldestMs - MAX_DELETE_WINDOW_MS);
    }
    // The pending tombstones are among the recent ones (a tombstone without its time counts anyway).
    recent = Math.max(recent, pending.count);
    const total = live + pending.count;
    const what = `group ${JSON.stringify(g.config.name)} to ${JSON.stringify(peer)}`;
    let message: string | undefined;
    if (wouldDeleteTooMany({ deletions: pending.count, total, maxDeletePercent: max })) {
      message = `${what}: update would delete ${pending.count} of ${total} entries (max_delete ${max}%)`;
    } else if (wouldDeleteTooMany({ deletions: recent, total: live + recent, maxDeletePercent: max })) {
      message = `${what}: update would bring the deletions within an hour to ${recent} of ${live + recent} entries (max_delete ${max}%, ${pending.count} in this pass)`;
    }
    if (message === undefined) continue;
    halted.add(g.config.name);
    report.haltedGroups.push(g.config.name);
    report.halted.push(new CsyncError('CSYNC_SYNC_HALTED_FOR_SAFETY', message, { hint: 'if the deletion is intended, run again with --allow-mass-delete' }));
  }
  return halted;
}

function inScope(ctx: SyncContext, path: LogicalPath, opts: UpdateOptions): boolean {
  if (opts.paths && !opts.paths.some((p) => path === p || path.startsWith(`${p}/`))) return false;
  if (!opts.groups) return true;
  return targetsOf(ctx.view, ctx.matchers, path).some((t) => opts.groups?.has(t.group.config.name));
}

async function updatePeer(ctx: SyncContext, peer: NodeName, opts: UpdateOptions, shared: Slots): Promise<PeerReport> {
  const started = ctx.clock.nowMs();
  const report: PeerReport = { peer, status: 'ok', sent: 0, have: 0, conflicts: [], delivered: [], superseded: [], failed: [], bytes: 0, ms: 0, planned: [], halted: [], haltedGroups: [] };
  const halted = opts.allowMassDelete ? new Set<GroupName>() : massDeleteHalts(ctx, peer, opts, report);
  const keep = (e: DirtyEntry): boolean => {
    if (!inScope(ctx, e.row.path, opts)) return false;
    if (halted.size === 0 || e.state?.meta.kind !== 'deleted') return true;
    return !targetsOf(ctx.view, ctx.matchers, e.row.path).some((t) => halted.has(t.group.config.name));
  };
  const cursor = new DirtyCursor(ctx, peer, keep);
  const nothing = cursor.peek() === undefined;
  if (nothing || opts.dryRun) {
    report.status = nothing ? 'nothing-to-do' : 'dry-run';
    for (let e = cursor.next(); e !== undefined; e = cursor.next()) report.planned.push(e.row.path);
    return report;
  }
  let channel: OfferChannel;
  try {
    channel = await opts.connect(peer);
  } catch (err) {
    const e = err instanceof CsyncError ? err : new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${JSON.stringify(peer)}: ${String(err)}`);
    ctx.store.transaction(() => {
      for (let r = cursor.next(); r !== undefined; r = cursor.next()) ctx.store.setDirtyError(r.row.path, peer, e.message);
    });
    ctx.log.warn({ peer, code: e.code, reason: e.message }, 'Peer not updated');
    return { ...report, status: 'failed', error: e, ms: ctx.clock.nowMs() - started };
  }
  const total = opts.onProgress ? countEntries(ctx, peer, keep) : 0;
  const batch = new WriteBatch(ctx);
  try {
    // Creations and file deletions first, in path order (parents before children); directory
    // deletions last and deepest first, so a directory is empty when its deletion arrives.
    const dirDeletes: DirtyEntry[] = [];
    const nextOffer = (): DirtyEntry | undefined => {
      for (let e = cursor.next(); e !== undefined; e = cursor.next()) {
        if (!isDirDeletion(ctx, e.state)) return e;
        dirDeletes.push(e);
      }
      return undefined;
    };
    let done = 0;
    const step = async (e: DirtyEntry): Promise<void> => {
      await shared.take();
      try {
        await offerOne(ctx, channel, e.row, e.state, report, batch);
      } finally {
        shared.give();
      }
      opts.onProgress?.({ peer, done: ++done, total, bytes: report.bytes });
    };
    await runPool(nextOffer, opts.window ?? DEFAULT_WINDOW, step);
    batch.flush();
    dirDeletes.sort((a, b) => b.row.path.localeCompare(a.row.path));
    let d = 0;
    await runPool(() => dirDeletes[d++], 1, step);
  } finally {
    batch.flush();
    channel.close();
  }
  report.ms = ctx.clock.nowMs() - started;
  return report;
}

/** How many entries a cursor over `peer`'s dirty rows yields (a terminal's progress total). */
function countEntries(ctx: SyncContext, peer: NodeName, keep: (e: DirtyEntry) => boolean): number {
  const c = new DirtyCursor(ctx, peer, keep);
  let n = 0;
  while (c.next() !== undefined) n++;
  return n;
}

function isDirDeletion(ctx: SyncContext, s: FileState | undefined): boolean {
  if (s?.meta.kind !== 'deleted') return false;
  // A tombstone does not say what it was; a path with recorded children was a directory.
  return ctx.store.hasChildren(s.path);
}

/** Runs `fn` on what `next` yields until it yields undefined, `width` at a time. */
async function runPool<T>(next: () => T | undefined, width: number, fn: (item: T) => Promise<void>): Promise<void> {
  const worker = async (): Promise<void> => {
    for (let item = next(); item !== undefined; item = next()) await fn(item);
  };
  await Promise.all(Array.from({ length: width }, worker));
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
  if (!wireMtimeFits(state.meta.mtimeNs)) {
    // The peer would refuse the whole message and close the link for every other entry.
    fail(ctx, ch, report, state.path, `modification time ${state.meta.mtimeNs} ns cannot be sent (protocol limit: 20 digits, year 5138); touch the file`);
    return;
  }
  try {
    const content = await inlineContent(ctx, place.absPath, state);
    const outcome = await ch.offer(
      { ...place.offer, state, force: row.force, ...(content ? { content } : {}) },
      () => ctx.fs.readChunks(place.absPath, CHUNK_BYTES, expectOf(state)),
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

/** What the check recorded of a file: a read that opens anything else is refused (FsExpect). */
function expectOf(state: FileState): FsExpect {
  return { sizeBytes: state.meta.sizeBytes, mtimeNs: state.meta.mtimeNs };
}

/** Small files travel inline; the content must still match the recorded hash (else re-check first). */
async function inlineContent(ctx: SyncContext, absPath: string, state: FileState): Promise<Uint8Array | undefined> {
  if (state.meta.kind !== 'file' || state.meta.sizeBytes > INLINE_MAX_BYTES) return undefined;
  const bytes = await ctx.fs.readFile(absPath, expectOf(state));
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
  private jobs: { path: LogicalPath; run: () => void }[] = [];
  private readonly ctx: SyncContext;
  constructor(ctx: SyncContext) {
    this.ctx = ctx;
  }
  add(path: LogicalPath, job: () => void): void {
    this.jobs.push({ path, run: job });
    if (this.jobs.length >= BATCH_SIZE) this.flush();
  }
  /** Commits the batch; an entry whose outcome the store refuses stays dirty (offered again), alone. */
  flush(): void {
    const jobs = this.jobs;
    this.jobs = [];
    for (const [i, err] of transactEach(this.ctx.store, jobs.map((j) => j.run))) {
      this.ctx.log.warn({ path: jobs[i]?.path, reason: err instanceof Error ? err.message : String(err) }, 'Could not record an outcome; the entry stays dirty');
    }
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
      batch.add(sent.path, () => {
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
      batch.add(sent.path, () => ctx.store.clearDirty(sent.path, peer, sent.version));
      ctx.log.info({ peer, path: sent.path, local: sent.version, remote: outcome.state?.version, rule: outcome.reason }, 'Conflict resolved: peer version wins');
      return;
    case 'have':
    case 'merged':
      report.have++;
      report.delivered.push(sent.path);
      batch.add(sent.path, () => {
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
      // In the pass's batch, as the successes are: one commit (and one WAL fsync) per batch, not per
      // refused entry (a peer refusing a whole tree cost a sync per file).
      batch.add(sent.path, () => ctx.store.setDirtyError(sent.path, peer, outcome.reason ?? outcome.result));
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

// The receiving side of an update (docs/semantics.md, "Versions and conflicts", "Applying a change"): validates an offer, re-checks the local entry,
// decides (core/decide), and applies, holds a conflict, or asks for the content.
import { CsyncError, hasCode } from '../core/errors.ts';
import { decide, sameContent } from '../core/decide.ts';
import { mergeIdentical, resolveConflict } from '../core/conflict.ts';
import { toRelPath } from '../core/paths.ts';
import type { FileState, GroupName, NodeName, RelPath } from '../core/types.ts';
import { logicalPath } from '../core/types.ts';
import { bumpVersion, compareVersions, mergeVersions } from '../core/version.ts';
import type { FsStat } from '../fs/filesystem.ts';
import type { OfferResult } from '../protocol/messages.ts';
import { localSig, toMicros } from '../scanner/scan.ts';
import { applyDelete, applyDir, applyFile, applyMetaOnly, applySymlink } from './apply.ts';
import { AsyncQueue } from './async-queue.ts';
import { deltaSignatures, reconstruct } from './delta.ts';
import type { BlockSignatures, DeltaBlock } from './delta.ts';
import { GroupCommit } from './group-commit.ts';
import { runCheck } from './check.ts';
import type { SyncContext } from './context.ts';
import type { PathLocks } from './path-locks.ts';
import type { Target } from './scope.ts';
import { peersFor } from './scope.ts';
import { preserveLoser } from './losers.ts';

/** An offer as the receiver sees it (already validated by the protocol layer). */
export interface IncomingOffer {
  readonly id: number;
  readonly group: GroupName;
  readonly root: string;
  readonly rel: string;
  readonly state: FileState;
  readonly force: boolean;
  readonly content?: Uint8Array;
}

/** The receiver's answer to an offer (or to the last data frame of a transfer). */
export interface OfferOutcome {
  readonly result: OfferResult;
  readonly state?: FileState;
  readonly reason?: string;
  /** With 'need': the receiver's block hashes of its current file; send only the changed blocks. */
  readonly blocks?: BlockSignatures;
  /** Sender side: content bytes the channel actually sent for this offer (inline or streamed). */
  readonly contentBytes?: number;
}

interface Transfer {
  readonly queue: AsyncQueue<DeltaBlock>;
  /** Delta transfer: offsets may skip ranges (the old file fills them); else they are contiguous. */
  readonly delta: boolean;
  readonly done: Promise<OfferOutcome>;
  /** The offered size: a frame ending past it fails the transfer at once. */
  readonly sizeBytes: number;
  nextOffset: number;
  /** Cancels the idle timer; re-armed on every data frame. */
  cancelIdle: () => void;
  /** The writer finished (written and recorded, or failed); a failed transfer waits for a frame to answer. */
  settled: boolean;
  /** The final reply was handed to a data frame's handler (exactly one frame answers). */
  replied: boolean;
}

/**
 * A transfer with no data frame for this long is abandoned (its temp file removed, the path lock
 * freed): twice the configured `idle_timeout`, by default 60 s. A sender that stalled gives up on its
 * side after one idle timeout, so the path is free again soon after.
 */
export const TRANSFER_IDLE_TIMEOUT_MS = 60_000;

/** Offers one link may have in flight (deciding, or transferring): more closes that link. */
export const MAX_OFFERS_PER_LINK = 1024;
/** Offers all links of one process may have in flight: past it, offers are refused as busy. */
export const MAX_OFFERS_PER_DAEMON = 4096;

/**
 * Offers in flight across every receiver of one process (each transfer holds a temp file and a file
 * descriptor). Shared like PathLocks; a receiver takes a slot per offer and frees it when the offer
 * is settled (its transfer ended, or it needed none).
 */
export class OfferBudget {
  private used = 0;
  readonly max: number;
  constructor(max = MAX_OFFERS_PER_DAEMON) {
    this.max = max;
  }
  /** Takes a slot; false when all are in use. */
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  release(): void {
    this.used--;
  }
  get inUse(): number {
    return this.used;
  }
}

/** Callbacks a receiver reports to (the daemon: actions, pushes). All optional. */
export interface ReceiverHooks {
  /** A change from the peer was written to disk (or deleted) at `t`. */
  applied?(t: Target, state: FileState): void;
  /** Local rows became dirty (a conflict this node won, an unrecorded local edit): push soon. */
  dirtied?(): void;
  /** A peer authenticated an inbound link: it is up (reset any backoff towards it). */
  peerSeen?(peer: NodeName): void;
  /** Applying a change from a peer at `t` failed with `err` (the daemon adds free disk space to ENOSPC). */
  applyFailed?(t: Target, err: unknown): void;
  /** How one offered entry ended (logged at info, one line per file per peer); `bytes`: its content size. */
  outcome?(peer: NodeName, outcome: FileOutcome, bytes: number): void;
}

/**
 * How a received entry ended, one code per file per peer: written (`applied`), nothing to write
 * (`skipped-identical`), held for the operator (`conflict-held`), this node's version kept by the
 * group's policy (`resolved-by-POLICY`), or refused with a reason code (`refused-REASON`).
 */
export type FileOutcome = 'applied' | 'skipped-identical' | 'conflict-held' | `resolved-by-${string}` | `refused-${string}`;

/** The outcome code of a final reply to an offer of group policy `auto`. */
export function fileOutcome(o: OfferOutcome, auto: string): FileOutcome {
  switch (o.result) {
    case 'applied':
      return 'applied';
    case 'have':
    case 'merged':
      return 'skipped-identical';
    case 'conflict':
      return 'conflict-held';
    case 'superseded':
      return `resolved-by-${auto}`;
    default:
      return `refused-${refusalCode(o.reason ?? '')}`;
  }
}

/** A short code for a refusal reason: the csync error code or errno it names, else `error`. */
function refusalCode(reason: string): string {
  const m = /\b(CSYNC_[A-Z_]+|E[A-Z]{3,})\b/.exec(reason);
  if (m) return m[1] as string;
  if (reason.startsWith('receiver busy')) return 'busy';
  return /excluded|not shared|receive_only|not an include|never replaced/.test(reason) ? 'unsafe' : 'error';
}

/** Handles one authenticated peer's offers. One instance per link; `locks` is shared per process. */
export class OfferReceiver {
  private readonly transfers = new Map<number, Transfer>();
  private readonly ctx: SyncContext;
  private readonly peer: NodeName;
  private readonly sharedGroups: ReadonlySet<GroupName>;
  private readonly locks: PathLocks;
  private readonly hooks: ReceiverHooks;
  private readonly commits: GroupCommit;
  /** Parent directories verified during this link's current burst (see ApplyTarget.verifiedDirs). */
  private readonly verifiedDirs = new Set<string>();
  private verifiedAtMs = 0;
  private readonly budget: OfferBudget;
  private offersInFlight = 0;

  constructor(ctx: SyncContext, peer: NodeName, sharedGroups: ReadonlySet<GroupName>, locks: PathLocks, hooks: ReceiverHooks = {}, budget = new OfferBudget()) {
    this.ctx = ctx;
    this.peer = peer;
    this.sharedGroups = sharedGroups;
    this.locks = locks;
    this.hooks = hooks;
    this.budget = budget;
    this.commits = new GroupCommit(ctx.fs, ctx.store);
  }

  /**
   * Handles an offer. Resolves with the reply to send now; when that is 'need', the final reply
   * comes from receiveData() after the last data frame. Never throws: refusals are 'rejected'.
   */
  async receiveOffer(offer: IncomingOffer): Promise<OfferOutcome> {
    if (!this.budget.take()) {
      this.ctx.log.warn({ peer: this.peer, inFlight: this.budget.inUse }, 'Offer refused: too many transfers in flight on this node');
      return { result: 'rejected', reason: `receiver busy: ${this.budget.max} offers in flight; retried later` };
    }
    this.offersInFlight++;
    let freed = false;
    const free = (): void => {
      if (freed) return;
      freed = true;
      this.offersInFlight--;
      this.budget.release();
    };
    try {
      return await this.admitted(offer, free);
    } catch (err) {
      free();
      throw err;
    }
  }

  /**
   * Offers of this link that are being decided or transferred. Past MAX_OFFERS_PER_LINK the daemon
   * closes the link (protocol/README.md §6): a well-behaved sender keeps a window of 256.
   */
  get inFlight(): number {
    return this.offersInFlight;
  }

  private async admitted(offer: IncomingOffer, free: () => void): Promise<OfferOutcome> {
    let target: Target;
    try {
      target = this.targetOf(offer);
    } catch (err) {
      free();
      this.ctx.log.warn({ peer: this.peer, group: offer.group, root: offer.root, rel: offer.rel, outcome: `refused-${refusalCode(reasonOf(err))}`, reason: reasonOf(err) }, 'Rejected offer');
      this.hooks.outcome?.(this.peer, `refused-${refusalCode(reasonOf(err))}`, 0);
      return { result: 'rejected', reason: reasonOf(err) };
    }
    const path = logicalPath(target.root, target.rel);
    const incoming: FileState = { ...offer.state, path };
    let first!: (o: OfferOutcome) => void;
    const firstReply = new Promise<OfferOutcome>((resolve) => {
      first = resolve;
    });
    // The lock is held, and the slot taken, until the offer is settled (for a transfer: until its
    // last byte is written and recorded, or it failed).
    this.locks
      .run(path, () => this.handleLocked(offer, target, incoming, first))
      .finally(free)
      .then(
        (o) => {
          this.ended(target, incoming, o);
          first(o);
        },
        (err: unknown) => {
          this.ctx.log.warn({ peer: this.peer, path, reason: reasonOf(err) }, 'Could not apply change');
          this.hooks.applyFailed?.(target, err);
          const o: OfferOutcome = { result: 'rejected', reason: reasonOf(err) };
          this.ended(target, incoming, o);
          first(o);
        },
      );
    return firstReply;
  }

  /** One info line per offered entry with how it ended (never "updated" for a file not written). */
  private ended(t: Target, incoming: FileState, o: OfferOutcome): void {
    const outcome = fileOutcome(o, t.group.config.auto);
    const fields = { peer: this.peer, path: incoming.path, outcome, ...(o.reason !== undefined && o.result !== 'applied' ? { reason: o.reason } : {}) };
    this.ctx.log.info(fields, 'File');
    this.hooks.outcome?.(this.peer, outcome, incoming.meta.kind === 'file' ? incoming.meta.sizeBytes : 0);
  }

  /**
   * Accepts one data frame of a transfer started by a 'need' reply. Resolves with the final reply
   * after the last frame, else undefined. Frames must arrive in order (they do: one link, one stream).
   */
  async receiveData(data: { id: number; offset: number; last: boolean; bytes: Uint8Array }): Promise<OfferOutcome | undefined> {
    const tr = this.transfers.get(data.id);
    if (tr === undefined) return data.last ? { result: 'rejected', reason: 'no transfer with this id' } : undefined;
    this.armIdle(data.id, tr);
    if (tr.delta ? data.offset < tr.nextOffset : data.offset !== tr.nextOffset) {
      tr.queue.fail(new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `transfer ${data.id}: data at offset ${data.offset}, expected ${tr.delta ? 'at least ' : ''}${tr.nextOffset}`));
    } else if (data.offset + data.bytes.length > tr.sizeBytes) {
      // Enforced as bytes arrive: a peer that declared N bytes cannot make the temp file grow past N.
      tr.queue.fail(new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `transfer ${data.id}: data up to byte ${data.offset + data.bytes.length} exceeds the offered size of ${tr.sizeBytes} bytes`));
      // The final reply goes out now; later frames of this id find no transfer and are dropped.
      return this.finish(data.id, tr, await tr.done);
    } else {
      tr.nextOffset = data.offset + data.bytes.length;
      if (data.bytes.length > 0) tr.queue.push({ offset: data.offset, bytes: data.bytes });
      if (data.last) tr.queue.end();
    }
    // Hold this frame's handler until the writer has caught up: PeerLink then stops reading. A
    // writer that failed (disk full, I/O error) consumes nothing more: answer now with its reason,
    // so the link keeps flowing and the sender stops streaming; later frames of this id are dropped.
    if (!data.last) {
      const failed = await Promise.race([tr.queue.space(2).then(() => undefined), tr.done]);
      return failed === undefined ? undefined : this.finish(data.id, tr, failed);
    }
    return this.finish(data.id, tr, await tr.done);
  }

  /** The final reply `out` of transfer `id`, for the first frame that gets here (then undefined); forgets it. */
  private finish(id: number, tr: Transfer, out: OfferOutcome): OfferOutcome | undefined {
    this.forget(id, tr);
    if (tr.replied) return undefined;
    tr.replied = true;
    return out;
  }

  private forget(id: number, tr: Transfer): void {
    tr.cancelIdle();
    if (this.transfers.get(id) === tr) this.transfers.delete(id);
  }

  private armIdle(id: number, tr: Transfer): void {
    tr.cancelIdle();
    const configured = this.ctx.view.config.idleTimeoutMs;
    const idleMs = configured === undefined ? TRANSFER_IDLE_TIMEOUT_MS : 2 * configured;
    tr.cancelIdle = this.ctx.clock.setTimer(() => {
      tr.queue.fail(new CsyncError('CSYNC_PROTO_TIMEOUT', `transfer ${id} from ${JSON.stringify(this.peer)}: no data for ${idleMs} ms`));
      // A transfer that failed and whose sender went quiet has nobody left to answer.
      if (tr.settled) this.forget(id, tr);
    }, idleMs);
  }

  /** Fails every open transfer (the link closed). Temp files are removed by the writers. */
  close(): void {
    for (const tr of this.transfers.values()) {
      tr.cancelIdle();
      tr.queue.fail(new CsyncError('CSYNC_PEER_UNREACHABLE', 'link closed during transfer'));
    }
    this.transfers.clear();
  }

  private targetOf(offer: IncomingOffer): Target {
    const group = this.ctx.view.groups.get(offer.group);
    if (group === undefined || !this.sharedGroups.has(offer.group)) throw unsafe(`group ${JSON.stringify(offer.group)} is not shared with this peer`);
    if (group.config.receiveOnly.includes(this.peer)) throw unsafe(`peer ${JSON.stringify(this.peer)} is receive_only in group ${JSON.stringify(offer.group)}`);
    const absRoot = group.roots.get(offer.root);
    if (absRoot === undefined) throw unsafe(`root ${JSON.stringify(offer.root)} is not an include of group ${JSON.stringify(offer.group)}`);
    const rel: RelPath = toRelPath(offer.rel);
    // The root of an include is a directory the local config owns: no offer changes its kind.
    if (rel === '' && offer.state.meta.kind !== 'dir') throw unsafe(`root ${JSON.stringify(offer.root)}: a root is never replaced or deleted by a peer`);
    const path = logicalPath(offer.root, rel);
    if (this.ctx.matchers.get(offer.group)?.isExcluded(path)) throw unsafe(`path ${JSON.stringify(path)} is excluded here`);
    return { group, root: offer.root, absRoot, rel };
  }

  private async handleLocked(offer: IncomingOffer, t: Target, incoming: FileState, first: (o: OfferOutcome) => void): Promise<OfferOutcome> {
    // An unrecorded local edit must be seen before deciding, or it would be overwritten silently.
    let local = this.ctx.store.get(incoming.path);
    const before = local;
    let justRecorded = false;
    if (!this.unchangedOnDisk(t, local)) {
      const rescan = await runCheck(this.ctx, [t], { recursive: false, markAll: false, force: false, allowMassDelete: false, dryRun: false });
      justRecorded = rescan.changed.some((c) => c.path === incoming.path);
      if (rescan.changed.length > 0) this.hooks.dirtied?.();
      local = this.ctx.store.get(incoming.path);
    }
    const decision = decide(local, incoming, { ignore: t.group.config.ignore, force: offer.force });
    const fields = { peer: this.peer, path: incoming.path, decision: decision.kind, reason: decision.reason };
    // A receive_only node mirrors: it never wins, never merges its own history into the cluster's,
    // and takes any version it cannot order exactly as sent (its own content kept as a loser).
    if (t.group.receiveOnly && (decision.kind === 'merge' || decision.kind === 'conflict')) {
      const differs = local !== undefined && !sameContent(local.meta, incoming.meta);
      const kept = differs ? await preserveLoser(this.ctx, t, local as FileState) : undefined;
      if (differs) this.ctx.log.info({ ...fields, kept, rule: 'receive_only never wins' }, 'Conflict resolved: incoming version wins');
      return this.applyChange(offer, t, incoming, local, first);
    }
    switch (decision.kind) {
      case 'have':
        this.ctx.log.debug(fields, 'Already have this version');
        return { result: 'have', ...(local ? { state: local } : {}) };
      case 'merge': {
        // What the re-check just recorded is identical to what the sender distributes: its fresh
        // version (never sent) is dropped and what this node had before merges with the sender's.
        // Otherwise both sides' versions merge.
        const merged = justRecorded
          ? { ...(local as FileState), origin: incoming.origin, changedAtMs: incoming.changedAtMs, version: mergeVersions(before?.version ?? {}, incoming.version) }
          : mergeIdentical(local as FileState, incoming);
        this.ctx.store.transaction(() => {
          this.ctx.store.put(merged);
          settleConflicts(this.ctx, merged);
          // The sender adopts the merged version from the reply; other peers need it pushed only
          // when it holds something the sender's version lacks (what this node had before).
          if (justRecorded) {
            const news = compareVersions(merged.version, incoming.version) !== 'equal';
            for (const p of this.ctx.store.dirtyPeers(merged.path)) if (p === this.peer || !news) this.ctx.store.clearDirty(merged.path, p, merged.version);
          }
        });
        this.ctx.log.debug(fields, 'Merged identical concurrent versions');
        return { result: 'merged', state: merged };
      }
      case 'conflict':
        return this.resolve(offer, t, local as FileState, incoming, first);
      case 'apply': {
        const version = decision.reason === 'forced' && local && !t.group.receiveOnly ? mergeVersions(local.version, incoming.version) : incoming.version;
        // A local change not yet delivered everywhere is about to be replaced (a peer resolved a
        // conflict against it and its reply was lost, or it was forced): keep it as a loser. A
        // receive_only node's own change is never delivered (nor marked dirty) and is kept too.
        const undelivered = local !== undefined && (this.ctx.store.dirtyPeers(local.path).length > 0 || (t.group.receiveOnly && local.origin === this.ctx.view.self));
        if (local !== undefined && undelivered && !sameContent(local.meta, incoming.meta)) {
          const kept = await preserveLoser(this.ctx, t, local);
          if (kept !== undefined) this.ctx.log.info({ ...fields, kept }, 'Kept undelivered local version before applying');
        }
        const out = await this.applyChange(offer, t, { ...incoming, version }, local, first);
        this.ctx.log.debug(fields, 'Applied change');
        return out;
      }
      default: {
        const never: never = decision;
        throw new Error(`bug: unknown decision ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * A concurrent, different change: resolve by the group's policy, or hold it for the operator.
   * The resolution is a new version of this node's (the merged version, bumped): two nodes that
   * resolve different pairs never end up with one version naming two contents, and the result
   * supersedes both sides everywhere, so it is pushed to every peer.
   */
  private async resolve(offer: IncomingOffer, t: Target, local: FileState, incoming: FileState, first: (o: OfferOutcome) => void): Promise<OfferOutcome> {
    const g = t.group.config;
    const res = resolveConflict(local, incoming, { policy: g.auto, hosts: g.hosts, receiveOnly: g.receiveOnly });
    const fields = { peer: this.peer, path: incoming.path, local: local.version, remote: incoming.version, rule: res.rule };
    if (res.kind === 'held') {
      this.ctx.store.putConflict({ path: incoming.path, peer: this.peer, remote: incoming, detectedAtMs: this.ctx.clock.nowMs() });
      this.ctx.log.warn(fields, 'Conflict held');
      return { result: 'conflict', state: local };
    }
    const state: FileState = { ...res.state, version: bumpVersion(res.state.version, this.ctx.view.self) };
    const peers = peersFor(this.ctx.view, this.ctx.matchers, state.path);
    if (res.winner === 'b') {
      const kept = await preserveLoser(this.ctx, t, local);
      this.ctx.log.info({ ...fields, winner: this.peer, version: state.version, kept }, 'Conflict resolved: incoming version wins');
      const out = await this.applyChange(offer, t, state, local, first);
      if (out.result === 'applied' && peers.length > 0) {
        this.ctx.store.markDirty(state.path, peers, { force: false, nowMs: this.ctx.clock.nowMs() });
        this.hooks.dirtied?.();
      }
      return out;
    }
    // This node's version wins: it takes the resolved version and will push it to every peer.
    this.ctx.store.transaction(() => {
      this.ctx.store.put(state);
      this.ctx.store.clearConflicts(state.path);
      if (peers.length > 0) this.ctx.store.markDirty(state.path, peers, { force: false, nowMs: this.ctx.clock.nowMs() });
    });
    this.ctx.log.info({ ...fields, winner: this.ctx.view.self, version: state.version }, 'Conflict resolved: local version wins');
    this.hooks.dirtied?.();
    return { result: 'superseded', state, reason: res.rule };
  }

  /**
   * The cheap part of a re-check: true when the disk matches the record (or both are absent) by
   * kind, size and mtime, so no scan is needed. Anything else goes through a real check.
   */
  private unchangedOnDisk(t: Target, local: FileState | undefined): boolean {
    const st = this.ctx.fs.lstat(t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`);
    if (st === undefined) return local === undefined || local.meta.kind === 'deleted';
    if (local === undefined || local.meta.kind !== st.kind) return false;
    if (st.kind === 'dir') return local.meta.mode === st.mode && local.meta.uid === st.uid && local.meta.gid === st.gid;
    return local.meta.sizeBytes === (st.kind === 'file' ? st.sizeBytes : 0) && local.meta.mtimeNs === toMicros(st.mtimeNs)
      && local.meta.mode === st.mode && local.meta.uid === st.uid && local.meta.gid === st.gid;
  }

  private async applyChange(
    offer: IncomingOffer,
    t: Target,
    incoming: FileState,
    local: FileState | undefined,
    first: (o: OfferOutcome) => void,
  ): Promise<OfferOutcome> {
    const fs = this.ctx.fs;
    const meta = incoming.meta;
    // The cache lives at most a second: a local change to the tree is noticed soon after.
    const now = this.ctx.clock.nowMs();
    if (meta.kind !== 'file' || now - this.verifiedAtMs > 1000) {
      this.verifiedDirs.clear();
      this.verifiedAtMs = now;
    }
    t = { ...t, verifiedDirs: this.verifiedDirs };
    if (meta.kind === 'deleted') {
      if (t.group.receiveOnly) await this.yieldOwnEntries(t);
      await applyDelete(fs, t);
    }
    else if (meta.kind === 'dir') await applyDir(fs, t, meta);
    else if (meta.kind === 'symlink') await applySymlink(fs, t, meta);
    else if (local?.meta.kind === 'file' && local.meta.hash === meta.hash && local.meta.sizeBytes === meta.sizeBytes) {
      await applyMetaOnly(fs, t, meta);
    } else if (offer.content !== undefined) {
      let st: FsStat;
      try {
        st = await applyFile(this.ctx, t, meta, [offer.content], { syncDir: false });
      } catch (err) {
        if (!hasCode(err, 'CSYNC_LOCAL_CHANGE')) throw err;
        return this.keepLocal(t, incoming, err);
      }
      return { result: 'applied', state: await this.record(t, incoming, { syncParent: true, st }) };
    } else {
      // A large file already here: ask for the blocks that differ and rebuild from the old file.
      const abs = t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`;
      const blocks = local?.meta.kind === 'file' ? await deltaSignatures(fs, this.ctx.hasher, abs, meta.sizeBytes) : undefined;
      const queue = new AsyncQueue<DeltaBlock>();
      const content = blocks ? reconstruct(fs, abs, meta.sizeBytes, queue) : bytesOf(queue);
      const done = applyFile(this.ctx, t, meta, content, { syncDir: false }).then((st) => this.record(t, incoming, { syncParent: true, st }));
      const settled = done.then((s): OfferOutcome => ({ result: 'applied', state: s }), (err: unknown) => {
        queue.fail(err);
        // A local edit made during the transfer is kept and recorded (keepLocal); anything else
        // is logged here, with the path: the sender records the reason, this node's operator sees it.
        if (hasCode(err, 'CSYNC_LOCAL_CHANGE')) return this.keepLocal(t, incoming, err);
        this.ctx.log.warn({ peer: this.peer, path: incoming.path, reason: reasonOf(err) }, 'Could not apply change');
        this.hooks.applyFailed?.(t, err);
        return { result: 'rejected' as const, reason: reasonOf(err) };
      });
      const tr: Transfer = { queue, delta: blocks !== undefined, done: settled, sizeBytes: meta.sizeBytes, nextOffset: 0, cancelIdle: () => undefined, settled: false, replied: false };
      this.armIdle(offer.id, tr);
      this.transfers.set(offer.id, tr);
      first(blocks ? { result: 'need', blocks } : { result: 'need' });
      void settled.then((out) => {
        tr.settled = true;
        if (out.result === 'applied') return this.forget(offer.id, tr);
        // Failed before the sender's last frame, maybe: kept (until a frame answers with the reason,
        // the link closes, or the sender goes quiet for the idle timeout) so the reason is not lost.
        this.armIdle(offer.id, tr);
        return undefined;
      });
      return settled;
    }
    return { result: 'applied', state: await this.record(t, incoming, { syncParent: false }) };
  }

  /**
   * A write that failed is rejected (the sender keeps the entry dirty and offers it again). When it
   * failed because the target changed on this node meanwhile (CSYNC_LOCAL_CHANGE), the local edit
   * is recorded now: the next offer meets it as a concurrent version and the group's conflict rules
   * decide, instead of the edit being overwritten silently.
   */
  private async keepLocal(t: Target, incoming: FileState, err: unknown): Promise<OfferOutcome> {
    if (!hasCode(err, 'CSYNC_LOCAL_CHANGE')) return { result: 'rejected', reason: reasonOf(err) };
    this.ctx.log.warn({ peer: this.peer, path: incoming.path, reason: reasonOf(err) }, 'Kept a local change made during the transfer');
    const rescan = await runCheck(this.ctx, [t], { recursive: false, markAll: false, force: false, allowMassDelete: false, dryRun: false });
    if (rescan.changed.length > 0) this.hooks.dirtied?.();
    return { result: 'rejected', reason: reasonOf(err) };
  }

  /**
   * A receive_only node asked to delete a directory: entries below it that only this node has (its
   * own unrecorded or locally changed entries, which it never sends) would block the deletion for
   * ever. They are kept as losers (backup or conflicts/) and removed, and their rows forgotten.
   * Entries that came from peers stay: the deletion is refused as on any node until they are gone.
   */
  private async yieldOwnEntries(t: Target): Promise<void> {
    const fs = this.ctx.fs;
    const top = t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`;
    if (fs.lstat(top)?.kind !== 'dir') return;
    const visit = async (rel: string): Promise<void> => {
      const abs = `${t.absRoot}/${rel}`;
      const sub: Target = { ...t, rel: rel as RelPath };
      const path = logicalPath(t.root, sub.rel);
      const st = fs.lstat(abs);
      if (st === undefined) return;
      if (st.kind === 'dir') for (const name of fs.readdir(abs)) await visit(`${rel}/${name}`);
      const rec = this.ctx.store.get(path);
      const own = rec === undefined || rec.origin === this.ctx.view.self || !this.unchangedOnDisk(sub, rec);
      if (!own || (st.kind === 'dir' && fs.readdir(abs).length > 0)) return;
      if (st.kind !== 'dir') {
        // Named after this node (its own change); a no-op where applyDelete's backup keeps it.
        const loser: FileState = { path, meta: { kind: st.kind === 'symlink' ? 'symlink' : 'file', sizeBytes: 0, mtimeNs: 0n, mode: st.mode, uid: st.uid, gid: st.gid }, version: {}, changedAtMs: this.ctx.clock.nowMs(), ...rec, origin: this.ctx.view.self };
        const kept = await preserveLoser(this.ctx, sub, loser);
        this.ctx.log.info({ path, kept }, 'receive_only: removed a local entry that blocked a deletion');
      }
      await applyDelete(fs, sub);
      this.ctx.store.remove(path);
    };
    for (const name of fs.readdir(top)) await visit(t.rel === '' ? name : `${t.rel}/${name}`);
  }

  /**
   * Records the applied state with the metadata actually on disk, so the next scan sees no change.
   * With `syncParent`, the parent directory is fsynced (group-committed) before the state is.
   * `st` is the stat a write committed (saves an lstat per file).
   */
  private async record(t: Target, incoming: FileState, opts: { syncParent: boolean; st?: FsStat }): Promise<FileState> {
    const abs = t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`;
    const st = incoming.meta.kind === 'deleted' ? undefined : (opts.st ?? this.ctx.fs.lstat(abs));
    const meta = st === undefined ? incoming.meta : { ...incoming.meta, mode: st.mode, uid: st.uid, gid: st.gid, mtimeNs: toMicros(st.mtimeNs) };
    const state: FileState = { ...incoming, meta };
    const dir = opts.syncParent ? abs.slice(0, abs.lastIndexOf('/')) || '/' : undefined;
    const ls = st === undefined ? '' : localSig(st, BigInt(this.ctx.clock.nowMs()) * 1_000_000n);
    await this.commits.commit(dir, () => {
      this.ctx.store.put(state, ls === '' ? undefined : ls);
      this.ctx.store.clearConflicts(state.path);
    });
    this.hooks.applied?.(t, state);
    return state;
  }
}

/**
 * Drops conflict rows of `state.path` whose remote version `state` now dominates or equals: the
 * conflict is over once this node holds a version that supersedes the peer's.
 */
export function settleConflicts(ctx: SyncContext, state: FileState): void {
  for (const c of ctx.store.listConflicts(state.path)) {
    const order = compareVersions(state.version, c.remote.version);
    if (order === 'newer' || order === 'equal') ctx.store.clearConflicts(state.path, c.peer);
  }
}

async function* bytesOf(blocks: AsyncIterable<DeltaBlock>): AsyncIterable<Uint8Array> {
  for await (const b of blocks) yield b.bytes;
}

function unsafe(message: string): CsyncError {
  return new CsyncError('CSYNC_PATH_UNSAFE', message);
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

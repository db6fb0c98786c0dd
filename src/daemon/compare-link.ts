// The wire side of `csync -T`: answering `list` requests with digests (server) and a ListChannel
// over a PeerLink (client). The comparison itself is sync/compare.ts.
import { Buffer } from 'node:buffer';
import { CsyncError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import { toRelPath } from '../core/paths.ts';
import type { GroupName, NodeName, RelPath, RootId } from '../core/types.ts';
import { logicalPath } from '../core/types.ts';
import type { NodeGroup } from '../config/types.ts';
import { fromWireState, MAX_FRAME_BYTES, MAX_LIST_ENTRIES, toWireState } from '../protocol/messages.ts';
import type { Message, WireState } from '../protocol/messages.ts';
import type { PeerLink } from '../net/peer-link.ts';
import type { Transport } from '../net/transport.ts';
import { digestTree, scanForCompare } from '../sync/compare.ts';
import type { DigestEntry, DigestTree, ListChannel } from '../sync/compare.ts';
import type { SyncContext } from '../sync/context.ts';
import type { TlsMaterial } from './peers.ts';
import { dialPeer, openLink } from './peers.ts';
import type { Runtime } from './runtime.ts';

type ListRequest = Extract<Message, { type: 'list' }>;
type WireEntry = { readonly rel: string; readonly state: WireState; readonly digest: string };

/** JSON bytes of one list-reply frame's entries: half a frame, leaving room for the envelope. */
const REPLY_BUDGET_BYTES = MAX_FRAME_BYTES / 2;

/** A checked and digested subtree of one (group, root), answering every request at or below `rel`. */
interface Snapshot {
  readonly group: GroupName;
  readonly root: RootId;
  readonly rel: RelPath;
  readonly tree: Promise<DigestTree>;
}

/**
 * Answers one link's `list` requests. The first request into a (group, root) scans the requested
 * subtree (a dry-run check: nothing recorded) and digests it; later requests at or below it reuse
 * that snapshot, so one comparison sees one consistent tree.
 */
export class ListServer {
  private readonly ctx: SyncContext;
  private readonly shared: ReadonlySet<GroupName>;
  private readonly snapshots: Snapshot[] = [];

  constructor(ctx: SyncContext, shared: ReadonlySet<GroupName>) {
    this.ctx = ctx;
    this.shared = shared;
  }

  /** Replies with the entry at `rel` (depth 0) or it and its children (depth 1, the default), split into frames. */
  async serve(msg: ListRequest, link: PeerLink): Promise<void> {
    const group = this.ctx.view.groups.get(msg.group);
    const absRoot = group?.roots.get(msg.root);
    if (group === undefined || absRoot === undefined || !this.shared.has(msg.group)) {
      throw new CsyncError('CSYNC_PATH_UNSAFE', `list: root ${JSON.stringify(msg.root)} of group ${JSON.stringify(msg.group)} is not shared with this peer`);
    }
    const rel = toRelPath(msg.rel);
    const tree = await this.snapshot(group, msg.root, absRoot, rel);
    const self = tree.get(rel);
    const entries = self === undefined ? [] : [self, ...(msg.depth === 0 ? [] : tree.children(rel))];
    const parts = splitEntries(entries.map(toWireEntry));
    for (const [i, part] of parts.entries()) {
      await link.send({ type: 'list-reply', id: msg.id, entries: part, done: i === parts.length - 1 });
    }
  }

  private snapshot(group: NodeGroup, root: RootId, absRoot: string, rel: RelPath): Promise<DigestTree> {
    const name = group.config.name;
    const covering = this.snapshots.find((s) => s.group === name && s.root === root && isAtOrBelow(rel, s.rel));
    if (covering !== undefined) return covering.tree;
    const tree = (async () => {
      const t = { group, root, absRoot, rel };
      return digestTree(this.ctx, t, this.ctx.hasher, await scanForCompare(this.ctx, [t]));
    })();
    this.snapshots.push({ group: name, root, rel, tree });
    return tree;
  }
}

function isAtOrBelow(rel: string, top: string): boolean {
  return top === '' || rel === top || rel.startsWith(`${top}/`);
}

function toWireEntry(e: DigestEntry): WireEntry {
  return { rel: e.rel, state: toWireState(e.state), digest: e.digest };
}

/**
 * Splits entries into list-reply frames of at most MAX_LIST_ENTRIES and REPLY_BUDGET_BYTES of
 * encoded JSON each (one entry is at most ~150 KB: a 4096-unit path and 1024 version entries).
 * Always at least one part, possibly empty.
 */
export function splitEntries(entries: readonly WireEntry[]): WireEntry[][] {
  const parts: WireEntry[][] = [[]];
  let bytes = 0;
  for (const e of entries) {
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    let part = parts[parts.length - 1] as WireEntry[];
    if (part.length > 0 && (part.length >= MAX_LIST_ENTRIES || bytes + size > REPLY_BUDGET_BYTES)) {
      part = [];
      parts.push(part);
      bytes = 0;
    }
    part.push(e);
    bytes += size;
  }
  return parts;
}

/** Dials `peer` (TLS, handshake, pin) for a comparison. */
export async function connectListPeer(rt: Runtime, tls: TlsMaterial, peer: NodeName): Promise<ListChannel> {
  const { link, shared } = await dialPeer(rt, tls, peer);
  return listChannelOver(link, peer, shared);
}

/** A comparison channel over an outbound transport (the simulator and tests use memory transports). */
export async function openListChannel(rt: Runtime, transport: Transport, peer: NodeName): Promise<ListChannel> {
  const { link, shared } = await openLink(rt, transport, peer);
  return listChannelOver(link, peer, shared);
}

/** Codes a peer's `error` reply to `list` keeps; anything else is reported as a protocol problem. */
const KEPT_REMOTE_CODES: readonly ErrorCode[] = ['CSYNC_SYNC_HALTED_FOR_SAFETY', 'CSYNC_PATH_UNSAFE', 'CSYNC_IO', 'CSYNC_STORE_FAILED'];

function listChannelOver(link: PeerLink, peer: NodeName, shared: Set<GroupName>): ListChannel {
  const who = `peer ${JSON.stringify(peer)}`;
  return {
    peer,
    sharedGroups: shared,
    close: () => link.close(),
    list: async (req) => {
      // The peer checks the subtree before its first reply: allow it time (reset by partial replies).
      const reply = await link.request({ type: 'list', group: req.group, root: req.root, rel: req.rel, depth: req.depth }, { timeoutMs: 300_000 });
      if (reply.type === 'error') {
        const code = KEPT_REMOTE_CODES.find((c) => c === reply.code) ?? 'CSYNC_PROTO_INVALID_MESSAGE';
        throw new CsyncError(code, `${who}: ${reply.code}: ${reply.message}`);
      }
      if (reply.type !== 'list-reply') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `${who}: expected list-reply, got ${reply.type}`);
      return reply.entries.map((e) => fromWireEntry(who, req, e));
    },
  };
}

/** Confines a reply entry: the requested entry itself, or (depth 1) one of its direct children, with a digest. */
function fromWireEntry(who: string, req: { root: RootId; rel: RelPath; depth: 0 | 1 }, e: { rel: string; state: WireState; digest?: string }): DigestEntry {
  const rel = toRelPath(e.rel);
  const parent = rel === '' ? undefined : rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
  if (rel !== req.rel && (req.depth === 0 || parent !== req.rel)) {
    throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `${who}: list of ${JSON.stringify(req.rel)} answered with ${JSON.stringify(rel)}`);
  }
  if (e.digest === undefined) {
    throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `${who}: list-reply without digests`, { hint: 'upgrade csync on that peer' });
  }
  return { rel, state: fromWireState(logicalPath(req.root, rel), e.state), digest: e.digest };
}

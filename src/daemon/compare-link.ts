// The wire side of `csync -T`: answering `list` requests with digests (server) and a ListChannel
// over a PeerLink (client). The comparison itself is sync/compare.ts.
import { CsyncError } from '../core/errors.ts';
import { toRelPath } from '../core/paths.ts';
import type { GroupName, NodeName, RelPath } from '../core/types.ts';
import { logicalPath } from '../core/types.ts';
import { fromWireState, MAX_LIST_ENTRIES, toWireState } from '../protocol/messages.ts';
import type { Message } from '../protocol/messages.ts';
import type { PeerLink } from '../net/peer-link.ts';
import { runCheck } from '../sync/check.ts';
import { childrenOf, digestTree } from '../sync/compare.ts';
import type { DigestEntry, ListChannel } from '../sync/compare.ts';
import type { SyncContext } from '../sync/context.ts';
import type { Target } from '../sync/scope.ts';
import type { TlsMaterial } from './peers.ts';
import { dialPeer, openLink } from './peers.ts';
import type { Transport } from '../net/transport.ts';
import type { Runtime } from './runtime.ts';

type ListRequest = Extract<Message, { type: 'list' }>;

/** Keeps a list-reply frame well under MAX_FRAME_BYTES (an entry is at most ~5 KiB). */
const MAX_REPLY_ENTRIES = Math.min(MAX_LIST_ENTRIES, 500);

/** Answers one link's `list` requests; the root is checked and digested once per link. */
export class ListServer {
  private readonly ctx: SyncContext;
  private readonly shared: ReadonlySet<GroupName>;
  private readonly trees = new Map<string, Promise<Map<string, DigestEntry>>>();

  constructor(ctx: SyncContext, shared: ReadonlySet<GroupName>) {
    this.ctx = ctx;
    this.shared = shared;
  }

  /** Replies with the entry at `rel` (depth 0) or it and its children (depth 1), split into frames. */
  async serve(msg: ListRequest, link: PeerLink): Promise<void> {
    const group = this.ctx.view.groups.get(msg.group);
    const absRoot = group?.roots.get(msg.root);
    if (group === undefined || absRoot === undefined || !this.shared.has(msg.group)) {
      throw new CsyncError('CSYNC_PATH_UNSAFE', `list: root ${JSON.stringify(msg.root)} of group ${JSON.stringify(msg.group)} is not shared`);
    }
    const rel: RelPath = toRelPath(msg.rel);
    const key = `${msg.group}\0${msg.root}`;
    let tree = this.trees.get(key);
    if (tree === undefined) {
      const t: Target = { group, root: msg.root, absRoot, rel: '' as RelPath };
      tree = runCheck(this.ctx, [t], { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: false }).then(() => digestTree(this.ctx, t, this.ctx.hasher));
      this.trees.set(key, tree);
    }
    const all = await tree;
    const self = all.get(rel);
    const entries = [...(self ? [self] : []), ...(msg.depth === 0 ? [] : childrenOf(all, rel))];
    for (let i = 0; i < entries.length || i === 0; i += MAX_REPLY_ENTRIES) {
      const part = entries.slice(i, i + MAX_REPLY_ENTRIES);
      await link.send({
        type: 'list-reply', id: msg.id, done: i + MAX_REPLY_ENTRIES >= entries.length,
        entries: part.map((e) => ({ rel: e.rel, state: toWireState(e.state), digest: e.digest })),
      });
    }
  }
}

/** Dials `peer` for a comparison. */
export async function connectListPeer(rt: Runtime, tls: TlsMaterial, peer: NodeName): Promise<ListChannel> {
  const { link, shared } = await dialPeer(rt, tls, peer);
  return listChannelOver(link, peer, shared);
}

/** A comparison channel over an authenticated transport (the simulator uses memory transports). */
export async function openListChannel(rt: Runtime, transport: Transport, peer: NodeName): Promise<ListChannel> {
  const { link, shared } = await openLink(rt, transport, peer);
  return listChannelOver(link, peer, shared);
}

function listChannelOver(link: PeerLink, peer: NodeName, shared: Set<GroupName>): ListChannel {
  return {
    peer,
    sharedGroups: shared,
    close: () => link.close(),
    list: async (req) => {
      const reply = await link.request({ type: 'list', group: req.group, root: req.root, rel: req.rel, depth: req.depth }, { timeoutMs: 300_000 });
      if (reply.type === 'error') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer ${JSON.stringify(peer)}: ${reply.code}: ${reply.message}`);
      if (reply.type !== 'list-reply') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer ${JSON.stringify(peer)}: expected list-reply, got ${reply.type}`);
      return reply.entries.map((e) => {
        const rel = toRelPath(e.rel);
        return { rel, state: fromWireState(logicalPath(req.root, rel), e.state), digest: e.digest ?? '' };
      });
    },
  };
}

// Peer connections for one node: dial a peer (TLS, handshake, pin) as an OfferChannel, and serve an
// inbound connection with an OfferReceiver. Composition only: the logic lives in net/ and sync/.
import { CsyncError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { GroupName, LogicalPath, NodeName } from '../core/types.ts';
import { BLOCK_HASH_BYTES, fromWireState, toWireState } from '../protocol/messages.ts';
import type { Message } from '../protocol/messages.ts';
import { PeerLink } from '../net/peer-link.ts';
import type { InboundRequest, PeerLinkOptions } from '../net/peer-link.ts';
import { checkPin, pinMismatchError } from '../net/pinning.ts';
import { connectTls } from '../net/tls-transport.ts';
import type { Transport } from '../net/transport.ts';
import { MAX_OFFERS_PER_LINK, OfferReceiver } from '../sync/receive.ts';
import type { OfferBudget, OfferOutcome, ReceiverHooks } from '../sync/receive.ts';
import type { OfferChannel, OutgoingOffer } from '../sync/update.ts';
import type { PathLocks } from '../sync/path-locks.ts';
import { allBlocks } from '../sync/delta.ts';
import { ListServer } from './compare-link.ts';
import type { Runtime } from './runtime.ts';
import { serveStatus } from './cluster-status.ts';

/** TLS material of this node. */
export interface TlsMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

const CONNECT_TIMEOUT_MS = 10_000;
const EMPTY = new Uint8Array(0);

/** PeerLink options of this node: its clock, log and the configured `idle_timeout`. */
function linkOptions(rt: Runtime): PeerLinkOptions {
  const idle = rt.view.config.idleTimeoutMs;
  return { clock: rt.ctx.clock, logger: rt.ctx.log, ...(idle === undefined ? {} : { requestTimeoutMs: idle }) };
}

/** Keys of the groups this node shares with `peer`. */
export function keysSharedWith(rt: Runtime, peer: NodeName): Map<GroupName, Uint8Array> {
  const out = new Map<GroupName, Uint8Array>();
  for (const [name, g] of rt.view.groups) {
    const key = rt.keys.get(name);
    if (key && g.config.hosts.includes(peer)) out.set(name, key);
  }
  return out;
}

/**
 * Checks the peer's certificate against its pin, failing closed: no fingerprint, a fingerprint
 * other than the configured or stored pin, or (with `tls.require_pins`) no pin at all throws
 * (CSYNC_AUTH_FAILED or CSYNC_CERT_CHANGED). With `store`, a first-seen fingerprint is pinned
 * (trust on first use); call it that way only once the peer has proven a group it is a host of.
 * Check and store run synchronously, so two racing first contacts cannot both pin.
 */
export function enforcePin(rt: Runtime, peer: NodeName, transport: Transport, opts: { store: boolean }): void {
  const fingerprint = transport.peerFingerprint();
  if (fingerprint === undefined) {
    throw new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(peer)}: presented no certificate fingerprint`, {
      hint: 'every node needs a certificate: run `csync tls init` on that node',
    });
  }
  // In strict mode only tls.pins counts: a pin stored by an earlier trust on first use does not.
  const strict = rt.view.config.tls.requirePins;
  const configured = rt.view.config.tls.pins[peer];
  const stored = strict ? undefined : rt.store.getPin(peer)?.fingerprint;
  const check = checkPin({ peer, fingerprint, configured, stored });
  if (check.kind === 'mismatch') throw pinMismatchError(peer, check.expected, fingerprint);
  if (check.kind !== 'pin-new') return;
  if (strict) throw missingPinError(peer, fingerprint);
  if (opts.store) rt.store.setPin({ peer, fingerprint, pinnedAtMs: rt.ctx.clock.nowMs() });
}

/**
 * The server's admission of a claimed name, before any MAC is exchanged: the own name and names
 * that are not hosts of a group this node is in are refused, and so is a certificate that does not
 * match the name's pin. Returns the groups the peer may prove: those it is a host of.
 */
export function admitPeer(rt: Runtime, peer: NodeName, transport: Transport): ReadonlySet<GroupName> {
  if (peer === rt.view.self) {
    throw new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(peer)}: claims this node's own name`, {
      hint: `another machine uses the name ${JSON.stringify(peer)}: give each node its own name (-N) and certificate`,
    });
  }
  const groups = new Set([...rt.view.groups].filter(([, g]) => g.config.hosts.includes(peer)).map(([name]) => name));
  if (groups.size === 0) {
    throw new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(peer)}: is not a host of any group of ${JSON.stringify(rt.view.self)}`, {
      hint: `add ${JSON.stringify(peer)} to the hosts of a group (the same config on every node), or find who connects under that name`,
    });
  }
  enforcePin(rt, peer, transport, { store: false });
  return groups;
}

function missingPinError(peer: NodeName, fingerprint: string): CsyncError {
  return new CsyncError('CSYNC_AUTH_FAILED', `peer ${JSON.stringify(peer)}: has no pin in tls.pins and tls.require_pins is on (it presented ${fingerprint})`, {
    hint: `run \`csync tls pin\` on ${JSON.stringify(peer)} (or \`csync tls pins --collect\` here), verify the fingerprint, and add it to [tls.pins]`,
  });
}

/** Dials `peer`, authenticates, checks its pin, and returns an OfferChannel. */
export async function connectPeer(rt: Runtime, tls: TlsMaterial, peer: NodeName): Promise<OfferChannel> {
  const { link, shared } = await dialPeer(rt, tls, peer);
  return channelOver(link, peer, shared);
}

/** Dials `peer` and returns the authenticated link and the groups it shares with this node. */
export async function dialPeer(rt: Runtime, tls: TlsMaterial, peer: NodeName): Promise<{ link: PeerLink; shared: Set<GroupName> }> {
  const host = rt.view.config.hosts[peer];
  if (host === undefined) throw new Error(`bug: peer ${peer} not in [hosts]`);
  const transport = await connectTls({ host: host.address, port: host.port, certPem: tls.certPem, keyPem: tls.keyPem, timeoutMs: CONNECT_TIMEOUT_MS });
  return openLink(rt, transport, peer);
}

/** Authenticates an outbound transport to `peer` (handshake, pin) and wraps it as an OfferChannel. */
export async function openChannel(rt: Runtime, transport: Transport, peer: NodeName): Promise<OfferChannel> {
  const { link, shared } = await openLink(rt, transport, peer);
  return channelOver(link, peer, shared);
}

/** Authenticates an outbound transport to `peer` (handshake, pin): the link and the shared groups. */
export async function openLink(rt: Runtime, transport: Transport, peer: NodeName): Promise<{ link: PeerLink; shared: Set<GroupName> }> {
  const link = new PeerLink(transport, linkOptions(rt));
  try {
    // A certificate that does not match the pin is refused before this node sends its proof.
    enforcePin(rt, peer, transport, { store: false });
    const hs = await link.handshake({ self: rt.view.self, groups: keysSharedWith(rt, peer), role: 'client', expectedPeer: peer });
    enforcePin(rt, peer, transport, { store: true });
    return { link, shared: new Set(hs.groups) };
  } catch (err) {
    link.close();
    throw err;
  }
}

function channelOver(link: PeerLink, peer: NodeName, shared: ReadonlySet<GroupName>): OfferChannel {
  let open = true;
  void link.closed.then(() => {
    open = false;
  });
  return {
    peer,
    sharedGroups: shared,
    close: () => link.close(),
    isOpen: () => open,
    ping: async () => {
      const reply = await link.request({ type: 'ping' });
      if (reply.type !== 'pong') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `expected pong, got ${reply.type}`);
    },
    offer: async (o, content, delta) => {
      let reply = await link.request({
        type: 'offer', group: o.group, root: o.root, rel: o.rel, state: toWireState(o.state), force: o.force,
        ...(o.content ? { content: o.content } : {}),
      });
      let streamed = 0;
      if (reply.type === 'offer-reply' && reply.result === 'need') {
        const id = reply.id;
        // Awaited from now on: the peer may answer before the stream ends (it refused the
        // transfer), and a link that fails or goes idle mid-stream rejects it (never unhandled).
        const final = link.awaitReply(id);
        let answered = false;
        const over = final.then(() => (answered = true), () => (answered = true));
        const sendOrStop = (m: Message): Promise<unknown> => Promise.race([link.send(m), over]);
        try {
          // With block hashes the peer has an older copy: send only the blocks that differ (without a
          // delta source, every block: always valid). Else the whole content, at consecutive offsets.
          const sig = reply.blocks && reply.blockHashes ? { blockBytes: reply.blocks.blockBytes, hashes: reply.blockHashes } : undefined;
          let end = 0;
          for await (const b of sig && delta ? delta(sig) : allBlocks(content())) {
            await sendOrStop({ type: 'data', id, offset: b.offset, last: false, bytes: b.bytes });
            if (answered) break;
            end = b.offset + b.bytes.length;
            streamed += b.bytes.length;
          }
          if (!answered) await sendOrStop({ type: 'data', id, offset: sig ? Math.max(end, o.state.meta.sizeBytes) : end, last: true, bytes: EMPTY });
        } catch (err) {
          // The link failed mid-stream; `final` rejects with the same cause.
          if (!answered) throw err;
        }
        // Streaming a large file takes its time: the reply timeout starts after the last frame.
        link.restartTimer(id);
        try {
          reply = await final;
        } catch (err) {
          // No bytes moved for the idle timeout: a send may still hang on a stalled socket, and the
          // peer holds half a transfer. The link is unusable; close it (its other requests fail too).
          if (err instanceof CsyncError && err.code === 'CSYNC_PROTO_TIMEOUT') link.close();
          throw err;
        }
      }
      return { ...outcomeOf(reply, o), contentBytes: streamed + (o.content?.length ?? 0) };
    },
  };
}

function outcomeOf(reply: Message, o: OutgoingOffer): OfferOutcome {
  if (reply.type === 'error') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `peer error ${reply.code}: ${reply.message}`);
  if (reply.type !== 'offer-reply') throw new CsyncError('CSYNC_PROTO_INVALID_MESSAGE', `expected offer-reply, got ${reply.type}`);
  return {
    result: reply.result,
    ...(reply.state ? { state: fromWireState(o.state.path, reply.state) } : {}),
    ...(reply.reason !== undefined ? { reason: reply.reason } : {}),
  };
}

/**
 * Serves one inbound connection: handshake as server, pin the client, then answer offers and data
 * frames until the link closes. Resolves when the link is closed; never throws. `log` (default the
 * context's) receives the link's records: the server passes a rate-limited one.
 */
export async function servePeer(rt: Runtime, transport: Transport, locks: PathLocks, hooks: ReceiverHooks = {}, log: Logger = rt.ctx.log, budget?: OfferBudget): Promise<void> {
  const link = new PeerLink(transport, { ...linkOptions(rt), logger: log });
  let receiver: OfferReceiver | undefined;
  try {
    // The claimed name must be a host of one of our groups and match its pin before any MAC is
    // exchanged; only the groups it is a host of can be proven, so the shared set is never empty.
    const hs = await link.handshake({ self: rt.view.self, groups: rt.keys, role: 'server', admit: (peer) => admitPeer(rt, peer, transport) });
    enforcePin(rt, hs.peer, transport, { store: true });
    const shared = new Set(hs.groups.filter((g) => rt.view.groups.get(g)?.config.hosts.includes(hs.peer)));
    receiver = new OfferReceiver(rt.ctx, hs.peer, shared, locks, hooks, budget);
    const r = receiver;
    const lists = new ListServer(rt.ctx, shared);
    link.onRequest((msg, l) => (msg.type === 'list' ? lists.serve(msg, l) : msg.type === 'status' ? serveStatus(rt, shared, msg, l) : handleRequest(rt, r, msg, l)));
    rt.ctx.log.debug({ peer: hs.peer, groups: [...shared] }, 'Peer connected');
    hooks.peerSeen?.(hs.peer);
  } catch (err) {
    log.warn({ remote: transport.remoteLabel, peer: link.claimedPeer, code: err instanceof CsyncError ? err.code : 'bug', reason: String(err instanceof Error ? err.message : err) }, 'Inbound connection refused');
    link.close();
  }
  await link.closed;
  receiver?.close();
}

async function handleRequest(rt: Runtime, receiver: OfferReceiver, msg: InboundRequest, link: PeerLink): Promise<void> {
  if (msg.type === 'offer' && receiver.inFlight >= MAX_OFFERS_PER_LINK) {
    // protocol/README.md §6: more in flight closes the link (this one only; its transfers fail and
    // their temp files are removed).
    rt.ctx.log.warn({ peer: link.peer, code: 'CSYNC_PROTO_INVALID_MESSAGE', inFlight: receiver.inFlight }, 'Too many offers in flight; closing link');
    link.close();
    return;
  }
  if (msg.type === 'offer') {
    const out = await receiver.receiveOffer({
      id: msg.id, group: msg.group, root: msg.root, rel: msg.rel, force: msg.force,
      state: fromWireState('' as LogicalPath, msg.state),
      ...(msg.content ? { content: msg.content } : {}),
    });
    await link.send(replyOf(msg.id, out));
  } else if (msg.type === 'data') {
    const out = await receiver.receiveData(msg);
    if (out) await link.send(replyOf(msg.id, out));
  } else {
    await link.send({ type: 'error', id: msg.id, code: 'CSYNC_PROTO_INVALID_MESSAGE', message: `${msg.type} is not supported yet` });
  }
}

function replyOf(id: number, out: OfferOutcome): Message {
  return {
    type: 'offer-reply', id, result: out.result,
    ...(out.state ? { state: toWireState(out.state) } : {}),
    ...(out.reason !== undefined ? { reason: out.reason.slice(0, 1000) } : {}),
    ...(out.blocks ? { blocks: { blockBytes: out.blocks.blockBytes, count: out.blocks.hashes.length / BLOCK_HASH_BYTES }, blockHashes: out.blocks.hashes } : {}),
  };
}

// Collecting certificate pins for `csync tls pins --collect` (strict mode, `tls.require_pins`): dial each
// peer, note the certificate it presents and whether it proves a shared group key. Composition only;
// it stores nothing and writes no file: the operator verifies the fingerprints and edits the config.
import { CsyncError } from '../core/errors.ts';
import type { NodeName } from '../core/types.ts';
import { PeerLink } from '../net/peer-link.ts';
import { connectTls } from '../net/tls-transport.ts';
import { keysSharedWith } from './peers.ts';
import type { TlsMaterial } from './peers.ts';
import type { Runtime } from './runtime.ts';

/** What one peer presented when dialled. */
export interface CollectedPin {
  readonly peer: NodeName;
  /** "sha256:<hex>" of the certificate it presented, or undefined when no TLS session was made. */
  readonly fingerprint: string | undefined;
  /** True when it also proved the key of a group this node shares with it. */
  readonly keyProven: boolean;
  /** Why the TLS session or the handshake failed (undefined when both succeeded). */
  readonly problem: string | undefined;
}

const COLLECT_TIMEOUT_MS = 10_000;

/**
 * Dials every peer of this node's groups (sorted by name, one at a time) and returns what each
 * presented. Pins are neither checked nor stored: a fingerprint that differs from a pin is reported
 * by the caller. Never throws for a peer's failure (it becomes `problem`).
 */
export async function collectPins(rt: Runtime, tls: TlsMaterial): Promise<CollectedPin[]> {
  const peers = [...new Set([...rt.view.groups.values()].flatMap((g) => g.peers))].sort();
  const out: CollectedPin[] = [];
  for (const peer of peers) out.push(await collectOne(rt, tls, peer));
  return out;
}

async function collectOne(rt: Runtime, tls: TlsMaterial, peer: NodeName): Promise<CollectedPin> {
  const host = rt.view.config.hosts[peer];
  if (host === undefined) throw new Error(`bug: peer ${peer} not in [hosts]`);
  let fingerprint: string | undefined;
  try {
    const transport = await connectTls({ host: host.address, port: host.port, certPem: tls.certPem, keyPem: tls.keyPem, timeoutMs: COLLECT_TIMEOUT_MS });
    fingerprint = transport.peerFingerprint();
    const link = new PeerLink(transport, { clock: rt.ctx.clock, logger: rt.ctx.log, handshakeTimeoutMs: COLLECT_TIMEOUT_MS });
    try {
      await link.handshake({ self: rt.view.self, groups: keysSharedWith(rt, peer), role: 'client', expectedPeer: peer });
      return { peer, fingerprint, keyProven: true, problem: undefined };
    } finally {
      link.close();
    }
  } catch (err) {
    return { peer, fingerprint, keyProven: false, problem: err instanceof CsyncError ? err.message : String(err) };
  }
}

// `csync tls pin` and `csync tls pins [--collect]`: the lines an operator pastes into [tls.pins] to turn
// trust on first use off (`tls.require_pins = true`). They print TOML and never write the config.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CsyncError } from '../core/errors.ts';
import { fingerprintOfDer } from '../net/cert.ts';
import { collectPins, type CollectedPin } from '../daemon/pin-collect.ts';
import type { Runtime } from '../daemon/runtime.ts';
import { loadTlsMaterial } from '../daemon/server.ts';
import type { Command } from './args.ts';
import type { Io } from './output.ts';

/** This node's certificate fingerprint ("sha256:<hex>"), read from its configured certificate file. */
export function ownFingerprint(rt: Runtime): string {
  let pem: string;
  try {
    pem = readFileSync(rt.view.tlsCert, 'utf8');
  } catch (err) {
    throw new CsyncError('CSYNC_CONFIG_INVALID', `tls: cannot read ${JSON.stringify(rt.view.tlsCert)}`, {
      cause: err,
      hint: 'run `csync tls init` on this node to create its certificate and key',
    });
  }
  return fingerprintOfDer(new X509Certificate(pem).raw);
}

/** One `[tls.pins]` line: `"name" = "sha256:…"`, with an optional trailing comment. */
function pinLine(peer: string, fingerprint: string, comment?: string): string {
  return `${JSON.stringify(peer)} = ${JSON.stringify(fingerprint)}${comment === undefined ? '' : `  # ${comment}`}`;
}

/** tls pin: prints this node's `[tls.pins]` line, to paste into the shared config. */
export function commandTlsPin(rt: Runtime, cmd: Command, io: Io): number {
  const fp = ownFingerprint(rt);
  if (cmd.options.json) io.out(`${JSON.stringify({ node: rt.view.self, fingerprint: fp })}\n`);
  else io.out(`${pinLine(rt.view.self, fp)}\n`);
  return 0;
}

/**
 * tls pins: prints a `[tls.pins]` table for this node and its peers. Without --collect, from what
 * is known here (tls.pins, else the pin stored by trust on first use); with --collect, from what
 * each peer presents when dialled now, compared with those pins. Exit 0 when every peer has a
 * fingerprint that no pin contradicts, else 1 (the table then says why in comments).
 */
export async function commandTlsPins(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  const self = rt.view.self;
  const peers = [...new Set([...rt.view.groups.values()].flatMap((g) => g.peers))].sort();
  const known = (peer: string): string | undefined => rt.view.config.tls.pins[peer] ?? rt.store.getPin(peer)?.fingerprint;
  const collected = new Map<string, CollectedPin>();
  if (cmd.options.collect) for (const c of await collectPins(rt, loadTlsMaterial(rt))) collected.set(c.peer, c);
  if (cmd.options.json) {
    const rows = peers.map((peer) => ({ peer, known: known(peer), ...(cmd.options.collect ? { collected: collected.get(peer) } : {}) }));
    io.out(`${JSON.stringify({ node: self, fingerprint: ownFingerprint(rt), peers: rows })}\n`);
    return 0;
  }
  const lines = [
    cmd.options.collect
      ? `# certificates presented to ${JSON.stringify(self)} just now: check each against \`csync tls pin\` run on that host before pasting`
      : `# pins known to ${JSON.stringify(self)} (tls.pins, else trust on first use): check each against \`csync tls pin\` on that host`,
    '[tls.pins]',
    pinLine(self, ownFingerprint(rt), 'this node'),
  ];
  let ok = true;
  for (const peer of peers) {
    const line = cmd.options.collect ? collectedLine(peer, collected.get(peer), known(peer)) : knownLine(peer, known(peer));
    ok &&= line.ok;
    lines.push(line.text);
  }
  io.out(`${lines.join('\n')}\n`);
  if (!ok && !cmd.options.quiet) io.err('some peers have no usable fingerprint (see the comments above); nothing was written\n');
  return ok ? 0 : 1;
}

function knownLine(peer: string, known: string | undefined): { text: string; ok: boolean } {
  if (known === undefined) return { text: `# ${JSON.stringify(peer)}: no pin known here; run \`csync tls pins --collect\` or \`csync tls pin\` on ${peer}`, ok: false };
  return { text: pinLine(peer, known), ok: true };
}

function collectedLine(peer: string, c: CollectedPin | undefined, known: string | undefined): { text: string; ok: boolean } {
  if (c?.fingerprint === undefined) return { text: `# ${JSON.stringify(peer)}: not reached: ${c?.problem ?? 'unknown'}`, ok: false };
  if (known !== undefined && known.toLowerCase() !== c.fingerprint.toLowerCase()) {
    return { text: `# ${JSON.stringify(peer)}: presented ${c.fingerprint}, which DIFFERS from its pin ${known}: find out why before trusting either`, ok: false };
  }
  const proof = c.keyProven ? 'proved the group key' : `did not prove the group key (${c.problem ?? 'unknown'})`;
  return { text: pinLine(peer, c.fingerprint, `${proof}; ${known === undefined ? 'new: no pin here yet' : 'same as its pin here'}`), ok: true };
}

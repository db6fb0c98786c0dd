// Rendering for the CLI: errors (message + hint, no stack unless -v), sizes, per-peer summaries.
import { ConfigError, CsyncError, ERROR_CATALOGUE } from '../core/errors.ts';
import type { PeerReport } from '../sync/update.ts';
import { shellQuote } from '../daemon/summary.ts';

/** Where the CLI writes; injected so tests can capture output. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly isTty: boolean;
  /** False to drop log records (the demo prints its own narrative). Default true. */
  readonly logs?: boolean;
}

/** Renders any thrown value as one or two lines (plus the stack with `verbose`) and returns the exit status. */
export function renderError(io: Io, err: unknown, verbose: boolean): number {
  if (err instanceof ConfigError) {
    io.err(`csync: ${err.message}\n`);
    for (const i of err.issues) io.err(`  ${i.keyPath}${i.line !== undefined ? ` (line ${i.line})` : ''}: ${i.message}\n`);
    if (err.hint) io.err(`hint: ${err.hint}\n`);
    return ERROR_CATALOGUE[err.code].exitStatus;
  }
  if (err instanceof CsyncError) {
    io.err(`csync: ${err.message}\n`);
    if (err.hint) io.err(`hint: ${err.hint}\n`);
    if (verbose && err.cause !== undefined) io.err(`cause: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : JSON.stringify(err.cause)}\n`);
    return ERROR_CATALOGUE[err.code].exitStatus;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.err(`csync: internal error: ${e.message}\n`);
  io.err(verbose ? `${e.stack ?? ''}\n` : 'hint: this is a bug in csync; run again with -v for details and report it\n');
  return 70;
}

/** Human size: 0 B, 12.3 KiB, 4.0 MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u] as string}`;
}

/**
 * One line per peer, e.g. `web2: sent 3, in sync 1, conflicts 0, failed 0, 12.0 KiB in 41 ms`, then
 * a line per conflict, failure and halt. `real` turns a logical path into the one to type.
 */
export function peerLine(r: PeerReport, real: (p: string) => string = (p) => p): string {
  const halted = r.halted.map((h) => `  halted: ${h.message}\n  hint: ${h.hint ?? ''}\n`).join('');
  switch (r.status) {
    case 'nothing-to-do':
      // Nothing dirty for this peer: whatever changed was delivered already (e.g. by the daemon).
      return `${r.peer}: nothing to send, every recorded change has reached it${r.halted.length ? ' except what is halted' : ''}\n${halted}`;
    case 'dry-run':
      return `${r.peer}: would send ${r.planned.length}\n${r.planned.map((p) => `  ${real(p)}\n`).join('')}`;
    case 'failed':
      return `${r.peer}: not updated: ${r.error?.message ?? 'failed'}\n${r.error?.hint ? `  hint: ${r.error.hint}\n` : ''}`;
    case 'ok': {
      const resolved = r.superseded.length ? `, lost to peer by policy ${r.superseded.length}` : '';
      const head = `${r.peer}: sent ${r.sent}, in sync ${r.have}${resolved}, conflicts ${r.conflicts.length}, failed ${r.failed.length}, ${formatBytes(r.bytes)} in ${r.ms} ms\n`;
      const conflicts = r.conflicts.map((p) => `  conflict: ${real(p)} (run \`csync -f ${shellQuote(real(p))}\` on the node whose version should win)\n`);
      const failed = r.failed.map((f) => `  failed: ${real(f.path)}: ${f.reason}\n`);
      return head + conflicts.join('') + failed.join('') + halted;
    }
    default: {
      const never: never = r.status;
      throw new Error(`bug: unknown status ${String(never)}`);
    }
  }
}

/**
 * Exit status of an update: 77 when a peer failed authentication, 69 when no peer could be
 * reached at all, 1 when some peers or entries failed, conflicts remain or a group halted, else 0.
 * A peer with nothing to send counts as fine: one unreachable peer of two is a partial failure (1).
 */
export function updateExitStatus(reports: readonly PeerReport[]): number {
  const failed = reports.filter((r) => r.status === 'failed');
  if (failed.some((r) => r.error?.code === 'CSYNC_AUTH_FAILED' || r.error?.code === 'CSYNC_CERT_CHANGED')) return 77;
  if (reports.length > 0 && failed.length === reports.length) return 69;
  if (failed.length > 0 || reports.some((r) => r.conflicts.length > 0 || r.failed.length > 0 || r.halted.length > 0)) return 1;
  return 0;
}

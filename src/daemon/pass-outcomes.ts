// What the daemon reads from an update pass's reports and a failed apply: whether to retry
// entries, whether a link was lost, and the disk-full log line. Small pure helpers of daemon.ts.
import { statfsSync } from 'node:fs';
import type { Target } from '../sync/scope.ts';
import type { PeerReport } from '../sync/update.ts';
import type { Runtime } from './runtime.ts';

/** Longest wait between retries of entries that failed on a working link. */
export const ENTRY_RETRY_MAX_MS = 60_000;

/** True when entries failed to reach a peer whose link worked (a full disk there, an I/O error). */
export function entriesFailed(reports: readonly PeerReport[]): boolean {
  return reports.some((r) => r.status !== 'failed' && r.failed.length > 0 && !linkLost(r));
}

/** True when a report's failures come from its link (then the peer pool's backoff applies). */
export function linkLost(r: PeerReport): boolean {
  return r.failed.some((f) => /closed|unreachable|lost|no bytes moved/i.test(f.reason));
}

/**
 * Logs a write refused for lack of space (ENOSPC) with the path and the free space left on its
 * file system, once per failure: the operator sees which disk, and how full.
 */
export function reportDiskFull(rt: Runtime, t: Target, err: unknown): void {
  const errno = err instanceof Error && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException).code : undefined;
  if (errno !== 'ENOSPC' && errno !== 'EDQUOT') return;
  let freeBytes: number | undefined;
  try {
    const fs = statfsSync(t.absRoot);
    freeBytes = fs.bavail * fs.bsize;
  } catch {
    // The root may be gone too; the free space is then unknown, the failure is still logged.
  }
  rt.ctx.log.error({ path: logicalOfTarget(t), root: t.absRoot, code: errno, freeBytes }, 'Disk full: a change from a peer was not written');
}

export function logicalOfTarget(t: Target): string {
  return t.rel === '' ? t.root : `${t.root}/${t.rel}`;
}

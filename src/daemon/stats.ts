// ⚙ What the running daemon has done since it started, in memory: files and bytes each way per
// peer, the outcome of every received file, apply failures by reason, checks and their duration,
// action runs with their exit statuses. Read by `csync status` (through daemon.json), by peers
// asking for this node's summary (`csync status --cluster`) and by the metrics listener. Counters
// only grow (Prometheus counters); nothing here is per path except the last few action runs.
import type { FileOutcome } from '../sync/receive.ts';

/** One finished action run, as the status page and the cluster summary show it. */
export interface ActionRunRecord {
  readonly group: string;
  readonly command: string;
  /** Which command of the action: its check, its exec, or its verify. */
  readonly phase: 'check' | 'exec' | 'verify';
  /** Exit status; null when killed by a signal, timed out, or not started. */
  readonly exitCode: number | null;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly atMs: number;
  readonly files: number;
}

/** The last full check of every root (the periodic or first one), and what it found. */
export interface CheckRecord {
  readonly atMs: number;
  readonly durationMs: number;
  readonly entries: number;
  readonly changed: number;
  readonly problems: number;
  readonly halted: number;
}

/** Files and bytes moved with one peer. */
export interface Traffic {
  files: number;
  bytes: number;
}

/** Last action runs kept for the status page. */
export const LAST_ACTIONS_KEPT = 20;

export class DaemonStats {
  readonly startedAtMs: number;
  /** Per peer: entries it acknowledged from this node, and the content bytes sent for them. */
  readonly sent = new Map<string, Traffic>();
  /** Per peer: entries this node applied from it (written or deleted), and their content size. */
  readonly received = new Map<string, Traffic>();
  /** Received files by outcome. */
  readonly outcomes = new Map<string, number>();
  /** Failed applies by reason code (a CsyncError code, or ENOSPC-style errno, or `other`). */
  readonly applyFailures = new Map<string, number>();
  checks = 0;
  checkSeconds = 0;
  lastFullCheck: CheckRecord | undefined;
  actionRuns = 0;
  actionFailures = 0;
  readonly lastActions: ActionRunRecord[] = [];

  constructor(nowMs: number) {
    this.startedAtMs = nowMs;
  }

  noteSent(peer: string, files: number, bytes: number): void {
    add(this.sent, peer, files, bytes);
  }

  noteReceived(peer: string, outcome: FileOutcome, bytes: number): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (outcome === 'applied' || outcome.startsWith('resolved-by-')) add(this.received, peer, 1, bytes);
  }

  noteApplyFailure(reason: string): void {
    this.applyFailures.set(reason, (this.applyFailures.get(reason) ?? 0) + 1);
  }

  noteCheck(durationMs: number, full: Omit<CheckRecord, 'durationMs'> | undefined): void {
    this.checks++;
    this.checkSeconds += durationMs / 1000;
    if (full) this.lastFullCheck = { ...full, durationMs };
  }

  noteAction(run: ActionRunRecord): void {
    this.actionRuns++;
    if (!run.ok) this.actionFailures++;
    this.lastActions.push(run);
    if (this.lastActions.length > LAST_ACTIONS_KEPT) this.lastActions.shift();
  }
}

function add(m: Map<string, Traffic>, key: string, files: number, bytes: number): void {
  const t = m.get(key) ?? { files: 0, bytes: 0 };
  t.files += files;
  t.bytes += bytes;
  m.set(key, t);
}

/** The reason code of a failed apply: the CsyncError code or errno of `err`, else `other`. */
export function failureReason(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const errno = e?.cause?.code;
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) return errno;
  return typeof e?.code === 'string' ? e.code : 'other';
}

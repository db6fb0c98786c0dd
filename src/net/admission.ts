// Admission of connections that have not authenticated yet: how many may be held at once, in total
// and per source. Pure bookkeeping (no sockets, no timers); ⚙tls-transport.ts enforces it.

/** Limits on unauthenticated connections (DECISIONS.md 2026-11-27 "Unauthenticated connections"). */
export interface PreAuthLimits {
  /** Unauthenticated connections held at once, from every source together. */
  readonly maxPending: number;
  /** Unauthenticated connections held at once from one source (an IPv4 address or an IPv6 /64). */
  readonly maxPendingPerSource: number;
  /** Time from the TCP accept until the peer has proven a group key; then the connection is closed. */
  readonly timeoutMs: number;
}

/** Production limits: a fleet of ~100 nodes reconnecting at once fits; 300 idle sockets do not. */
export const DEFAULT_PRE_AUTH_LIMITS: PreAuthLimits = { maxPending: 128, maxPendingPerSource: 16, timeoutMs: 10_000 };

/** Why a connection was not admitted. */
export type AdmissionVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * The key a connection is counted under: the IPv4 address (also when written IPv4-mapped,
 * `::ffff:a.b.c.d`), or the /64 prefix of an IPv6 address (one host usually holds a whole /64, so
 * counting single IPv6 addresses would not limit anyone). `undefined` (socket already gone) maps to
 * "unknown", which is counted like any other source.
 */
export function sourceKeyOf(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1] as string;
  if (!lower.includes(':')) return lower;
  const [head = '', tail] = lower.split('%')[0]?.split('::') ?? [''];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Counts the connections held before authentication. admit() either counts a new connection (the
 * caller must release() it exactly once: when it authenticates or closes) or says why not. The
 * newest connection is the one refused: connections already held, and authenticated links (never
 * counted here), are not touched.
 */
export class PendingConnections {
  private readonly limits: PreAuthLimits;
  private readonly bySource = new Map<string, number>();
  private total = 0;

  constructor(limits: PreAuthLimits) {
    this.limits = limits;
  }

  /** Connections currently held. */
  get size(): number {
    return this.total;
  }

  /** Counts a new connection from `source` if both limits allow it. */
  admit(source: string): AdmissionVerdict {
    const held = this.bySource.get(source) ?? 0;
    if (held >= this.limits.maxPendingPerSource) {
      return { ok: false, reason: `too many unauthenticated connections from this source (limit ${this.limits.maxPendingPerSource})` };
    }
    if (this.total >= this.limits.maxPending) {
      return { ok: false, reason: `too many unauthenticated connections (limit ${this.limits.maxPending} in total)` };
    }
    this.bySource.set(source, held + 1);
    this.total += 1;
    return { ok: true };
  }

  /** Stops counting one connection admitted from `source`. */
  release(source: string): void {
    const held = this.bySource.get(source);
    if (held === undefined) throw new Error(`bug: release of a connection never admitted from ${source}`);
    if (held <= 1) this.bySource.delete(source);
    else this.bySource.set(source, held - 1);
    this.total -= 1;
  }
}

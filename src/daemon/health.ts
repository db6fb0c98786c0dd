// Whether the daemon is healthy, for /healthz: its work loop is alive (not stopping, no cycle stuck)
// and no group is halted. Pure: the daemon passes in what it knows.
import type { HaltEntry } from './halts.ts';

/**
 * A work cycle running longer than this counts as stuck. A first full check of a large tree or a
 * large transfer can take minutes, so the bound is generous: it catches a hang, not a slow cycle.
 */
export const CYCLE_STUCK_MS = 15 * 60_000;

/** The answer of /healthz: ok, or every reason it is not. */
export interface Health {
  readonly ok: boolean;
  readonly reasons: readonly string[];
}

/** What the daemon knows of its own state. */
export interface HealthInput {
  readonly stopping: boolean;
  /** When the running work cycle started; undefined when none runs. */
  readonly cycleStartedAtMs: number | undefined;
  readonly nowMs: number;
  /** Halts of the groups this node belongs to. */
  readonly halts: readonly Pick<HaltEntry, 'group' | 'message'>[];
}

/** The daemon's health (see Health). */
export function healthOf(input: HealthInput): Health {
  const reasons: string[] = [];
  if (input.stopping) reasons.push('daemon is stopping');
  const runningMs = input.cycleStartedAtMs === undefined ? 0 : input.nowMs - input.cycleStartedAtMs;
  if (runningMs > CYCLE_STUCK_MS) reasons.push(`work cycle running for ${Math.round(runningMs / 1000)} s (stuck?)`);
  for (const h of input.halts) reasons.push(`group ${h.group} halted: ${h.message}`);
  return { ok: reasons.length === 0, reasons };
}

// The Clock port: the only way code below L4 learns the time or waits. Pure types plus a manual clock.

/** Wall-clock milliseconds and timers, injected so tests can drive time by hand. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
  /** Calls `fn` after `delayMs`; returns a cancel function. */
  setTimer(fn: () => void, delayMs: number): () => void;
}

/** A clock that only moves when `advance()` is called; timers fire in due order. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

/** Builds a ManualClock starting at `t0Ms`. */
export function manualClock(t0Ms = 1_700_000_000_000): ManualClock {
  let now = t0Ms;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    nowMs: () => now,
    setTimer(fn, delayMs) {
      const id = seq++;
      timers.set(id, { at: now + Math.max(0, delayMs), fn });
      return () => {
        timers.delete(id);
      };
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = target;
    },
  };
}

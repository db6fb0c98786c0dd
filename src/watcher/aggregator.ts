// Coalesces watcher events per path: a burst becomes one flush once the paths have been quiet for
// `quietMs` (or `maxDelayMs` after the first event at the latest). Pure logic; time via Clock.
import type { Clock } from '../core/clock.ts';

/** Timing of the aggregator. */
export interface AggregatorOptions {
  /** Flush once no event has arrived for this long. */
  readonly quietMs: number;
  /** Never hold an event longer than this (a steady trickle still flushes). */
  readonly maxDelayMs: number;
}

/** Collects paths and hands them to `flush` in batches. */
export class Aggregator {
  private readonly clock: Clock;
  private readonly opts: AggregatorOptions;
  private readonly onFlush: (paths: string[]) => void;
  private pending = new Set<string>();
  private cancelQuiet: (() => void) | undefined;
  private cancelMax: (() => void) | undefined;

  constructor(clock: Clock, opts: AggregatorOptions, onFlush: (paths: string[]) => void) {
    this.clock = clock;
    this.opts = opts;
    this.onFlush = onFlush;
  }

  /** Records a changed path; (re)starts the quiet timer. */
  add(path: string): void {
    this.pending.add(path);
    this.cancelQuiet?.();
    this.cancelQuiet = this.clock.setTimer(() => this.flush(), this.opts.quietMs);
    this.cancelMax ??= this.clock.setTimer(() => this.flush(), this.opts.maxDelayMs);
  }

  /** Number of paths waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** Flushes now (no-op when empty) and clears the timers. */
  flush(): void {
    this.cancelQuiet?.();
    this.cancelMax?.();
    this.cancelQuiet = undefined;
    this.cancelMax = undefined;
    if (this.pending.size === 0) return;
    const paths = [...this.pending].sort();
    this.pending = new Set();
    this.onFlush(paths);
  }

  /** Drops pending paths and timers. */
  close(): void {
    this.cancelQuiet?.();
    this.cancelMax?.();
    this.pending.clear();
  }
}

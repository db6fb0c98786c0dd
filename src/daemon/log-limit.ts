// A Logger that lets each repeated warning through a few times per minute and counts the rest, so a
// flood of hostile connections cannot fill the disk with log lines (issue 10 item 5).
import type { Clock } from '../core/clock.ts';
import type { LogFn, Logger } from '../core/logger.ts';

/** How many warn/error lines with one message pass per window; the rest are counted. */
export interface LogLimitOptions {
  readonly burst: number;
  readonly windowMs: number;
}

/** 20 lines per message per minute: enough to see who and why, at most ~30,000 lines a day. */
export const DEFAULT_LOG_LIMIT: LogLimitOptions = { burst: 20, windowMs: 60_000 };

interface Window {
  passed: number;
  suppressed: number;
}

/** A rate-limited Logger, plus close() to report what is still counted and stop its timers. */
export interface LimitedLogger extends Logger {
  close(): void;
}

/**
 * Wraps `log`: warn and error records are limited per message text (messages are static, so the
 * keys are few): the first `burst` of a window pass, later ones are counted, and when the window
 * ends one warning `Repeated log lines suppressed` says how many of which message were dropped.
 * trace/debug/info pass unchanged. Children share the counters.
 */
export function limitRepeats(log: Logger, clock: Clock, opts: LogLimitOptions = DEFAULT_LOG_LIMIT): LimitedLogger {
  const windows = new Map<string, Window>();
  const cancels = new Map<string, () => void>();
  const report = (msg: string): void => {
    const w = windows.get(msg);
    windows.delete(msg);
    cancels.delete(msg);
    if (w !== undefined && w.suppressed > 0) log.warn({ message: msg, suppressed: w.suppressed, windowMs: opts.windowMs }, 'Repeated log lines suppressed');
  };
  const pass = (msg: string): boolean => {
    let w = windows.get(msg);
    if (w === undefined) {
      w = { passed: 0, suppressed: 0 };
      windows.set(msg, w);
      cancels.set(msg, clock.setTimer(() => report(msg), opts.windowMs));
    }
    if (w.passed < opts.burst) {
      w.passed += 1;
      return true;
    }
    w.suppressed += 1;
    return false;
  };
  const wrap = (inner: Logger): LimitedLogger => {
    const limited = (fn: LogFn): LogFn => (fields, msg) => {
      if (pass(msg)) fn(fields, msg);
    };
    return {
      trace: (f, m) => inner.trace(f, m),
      debug: (f, m) => inner.debug(f, m),
      info: (f, m) => inner.info(f, m),
      warn: limited((f, m) => inner.warn(f, m)),
      error: limited((f, m) => inner.error(f, m)),
      child: (bindings) => wrap(inner.child(bindings)),
      close: () => {
        for (const [msg, cancel] of [...cancels]) {
          cancel();
          report(msg);
        }
      },
    };
  };
  return wrap(log);
}

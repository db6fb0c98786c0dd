// Root loggers. The daemon logs through pino (JSON under systemd or on a pipe, one readable line on a
// TTY). Short CLI commands use a small logger with the same record shape, so a one-file hook call
// does not pay pino's ~25 ms load time; pino is loaded only when the daemon starts.
import { Writable } from 'node:stream';
import type { LogFn, Logger } from '../core/logger.ts';

const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LEVEL_NUM = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: Infinity } as const;

/** Options of the logger factories. */
export interface LogOptions {
  readonly level: keyof typeof LEVEL_NUM;
  /** Readable one-line format instead of JSON. */
  readonly pretty: boolean;
  readonly stream?: NodeJS.WritableStream;
}

/** Formats one JSON record as `level: msg key=value …` (no timestamp: the terminal has one). */
export function formatLine(rec: Record<string, unknown>): string {
  const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = rec;
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  return `${LEVELS[level as number] ?? String(level)}: ${String(msg)}${parts.length ? ` ${parts.join(' ')}` : ''}\n`;
}

/** A small synchronous logger writing pino-shaped records; for short-lived CLI commands. */
export function makeCliLogger(opts: LogOptions, bindings: Record<string, unknown> = {}): Logger {
  const out = opts.stream ?? process.stderr;
  const min = LEVEL_NUM[opts.level];
  const at = (name: keyof typeof LEVEL_NUM): LogFn => {
    const num = LEVEL_NUM[name];
    if (num < min) return () => undefined;
    return (fields, msg) => {
      const rec = { level: num, time: Date.now(), ...bindings, ...fields, msg };
      const json = JSON.stringify(rec, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      out.write(opts.pretty ? formatLine(JSON.parse(json) as Record<string, unknown>) : `${json}\n`);
    };
  };
  return {
    trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
    child: (more) => makeCliLogger(opts, { ...bindings, ...more }),
  };
}

/** The daemon's pino logger (loaded on demand). */
export async function makeDaemonLogger(opts: LogOptions): Promise<Logger> {
  const { default: pino } = await import('pino');
  const out = opts.stream ?? process.stderr;
  const base = { base: null, level: opts.level };
  if (!opts.pretty) {
    const std = out === process.stderr || out === process.stdout;
    return narrow(pino(base, std ? pino.destination({ fd: out === process.stderr ? 2 : 1, sync: true }) : (out as NodeJS.WritableStream & { write(s: string): boolean })));
  }
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          out.write(formatLine(JSON.parse(line) as Record<string, unknown>));
        } catch {
          // A line that is not JSON is printed as it is rather than lost.
          out.write(`${line}\n`);
        }
      }
      cb();
    },
  });
  return narrow(pino(base, stream));
}

/**
 * Views a pino logger as the structural Logger port, with one fix: pino writes a field bound by a
 * child logger and the same field of a call both (`"peer":"b",…,"peer":"b"`), which some log
 * shippers reject. A call's field equal to a bound one is dropped; a different value is kept under
 * `<key>Given` so nothing is lost.
 */
function overlaps(fields: Record<string, unknown>, bound: ReadonlyMap<string, unknown>): boolean {
  for (const k in fields) if (bound.has(k)) return true;
  return false;
}

function narrow(logger: Logger, bound: ReadonlyMap<string, unknown> = new Map()): Logger {
  const clean = (fields: Record<string, unknown>): Record<string, unknown> => {
    if (bound.size === 0 || !overlaps(fields, bound)) return fields;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      if (!bound.has(k)) out[k] = v;
      else if (bound.get(k) !== v) out[`${k}Given`] = v;
    }
    return out;
  };
  const at = (fn: LogFn): LogFn => (fields, msg) => fn(clean(fields), msg);
  return {
    trace: at(logger.trace.bind(logger)), debug: at(logger.debug.bind(logger)), info: at(logger.info.bind(logger)),
    warn: at(logger.warn.bind(logger)), error: at(logger.error.bind(logger)),
    child: (more) => narrow(logger.child(clean(more)), new Map([...bound, ...Object.entries(more)])),
  };
}

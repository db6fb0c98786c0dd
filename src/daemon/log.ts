// Builds the root pino logger: JSON lines under systemd or on a pipe, one readable line on a TTY.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../core/logger.ts';

const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Options of makeLogger(). */
export interface LogOptions {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Readable one-line format instead of JSON. */
  readonly pretty: boolean;
  readonly stream?: NodeJS.WritableStream;
}

/** Formats one pino JSON record as `level msg key=value …` (no timestamp: the terminal has one). */
export function formatLine(rec: Record<string, unknown>): string {
  const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = rec;
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  return `${LEVELS[level as number] ?? String(level)}: ${String(msg)}${parts.length ? ` ${parts.join(' ')}` : ''}\n`;
}

/** The root logger for the CLI and the daemon. */
export function makeLogger(opts: LogOptions): Logger {
  const out = opts.stream ?? process.stderr;
  const base = { base: null, level: opts.level };
  if (!opts.pretty) return pino(base, pino.destination({ fd: out === process.stderr ? 2 : 1, sync: true })) as unknown as Logger;
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
  return pino(base, stream) as unknown as Logger;
}

// ⚙ Small advisory files in the state dir (refused.json, halted.json): a list under one key, read
// leniently (a missing or broken file is an empty list; entries of the wrong shape are dropped) and
// written atomically. Advisory means a lost file only makes csync report something once more, so a
// failed write is logged, never thrown: a full disk must not stop syncing.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../core/logger.ts';

/** The entries under `key` in `file` that pass `valid`; [] when there is no readable file. */
export function readAdvisoryList<T>(file: string, key: string, valid: (e: unknown) => e is T): T[] {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const list = data[key];
    return Array.isArray(list) ? list.filter(valid) : [];
  } catch {
    // No file yet, or a broken one: nothing known.
    return [];
  }
}

/** Writes `{ [key]: list }` to `file` through a temp file and a rename; logs `what` on failure. */
export function writeAdvisoryList(file: string, key: string, list: readonly unknown[], log: Logger, what: string): void {
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify({ [key]: list }));
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    log.warn({ reason: String(err) }, what);
  }
}

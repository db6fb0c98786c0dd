// ⚙ The daemon's exclusive lock on its state dir (issue 10 item 6): one daemon per state dir, while
// CLI commands keep sharing the store. The lock is an SQLite EXCLUSIVE transaction held open on
// `<state_dir>/daemon.lock`, i.e. a POSIX record lock the kernel drops when the process dies (kill -9
// included): no stale lock, no PID to be fooled by reuse (DECISIONS.md 2026-11-27 "One daemon").
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CsyncError } from '../core/errors.ts';

/** A held lock. release() is idempotent. */
export interface StateDirLock {
  readonly stateDir: string;
  release(): void;
}

/** The lock file of a state dir (an SQLite database that holds no data). */
export function lockPathOf(stateDir: string): string {
  return join(stateDir, 'daemon.lock');
}

/** The file naming the lock holder's pid, for messages only: the lock itself decides. */
export function pidPathOf(stateDir: string): string {
  return join(stateDir, 'daemon.pid');
}

/**
 * Takes the exclusive lock on `stateDir` (which must exist) without waiting, and records this
 * process's pid in `daemon.pid`. Throws CSYNC_DAEMON_RUNNING naming the holder's pid when another
 * process holds it, CSYNC_IO when the lock file cannot be opened. Nothing else in the process may
 * open `daemon.lock`: POSIX locks belong to the process, and closing any descriptor of the file
 * drops them (SQLite itself knows this and shares its descriptors).
 */
export function lockStateDir(stateDir: string): StateDirLock {
  const lockPath = lockPathOf(stateDir);
  let db: Database.Database;
  try {
    db = new Database(lockPath, { timeout: 0 });
  } catch (err) {
    throw new CsyncError('CSYNC_IO', `state dir ${JSON.stringify(stateDir)}: cannot open the lock file ${JSON.stringify(lockPath)}`, {
      cause: err,
      hint: 'check that the state dir is a writable directory of the user csync runs as',
    });
  }
  try {
    // EXCLUSIVE locking mode keeps the lock for the life of the connection; the open transaction
    // takes it now. Nothing is written, so no journal is left behind by a crash.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') {
      throw new CsyncError('CSYNC_IO', `state dir ${JSON.stringify(stateDir)}: cannot lock ${JSON.stringify(lockPath)}`, { cause: err });
    }
    throw runningError(stateDir);
  }
  writePid(stateDir);
  let held = true;
  return {
    stateDir,
    release: () => {
      if (!held) return;
      held = false;
      // Remove the pid file before letting go: once unlocked, a new daemon may write its own.
      if (readPid(stateDir) === process.pid) removeQuietly(pidPathOf(stateDir));
      db.close();
    },
  };
}

function runningError(stateDir: string): CsyncError {
  const pid = readPid(stateDir);
  const who = pid === undefined ? 'another csync daemon' : `another csync daemon (pid ${pid})`;
  return new CsyncError('CSYNC_DAEMON_RUNNING', `state dir ${JSON.stringify(stateDir)}: in use by ${who}`, {
    hint: 'only one daemon may run per state dir: stop the other one (`systemctl stop csync`), or give this one its own state_dir',
  });
}

function writePid(stateDir: string): void {
  const path = pidPathOf(stateDir);
  try {
    writeFileSync(`${path}.tmp`, `${process.pid}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch {
    // Advisory only (messages of a second daemon); the lock is held either way.
  }
}

function readPid(stateDir: string): number | undefined {
  try {
    const n = Number(readFileSync(pidPathOf(stateDir), 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    // No pid file (yet): the message says "another csync daemon".
    return undefined;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to remove.
  }
}

// ⚙ The paths csync refuses by design (a name the protocol cannot carry: control characters such as
// a newline, a backslash, a component over 255 bytes): kept in `<state_dir>/refused.json` so each is
// reported once, counted by `csync status` and `-M`, and does not fail every later pass. Advisory, like
// daemon.json: a lost or unreadable file only means a path is reported as new once more.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import { readAdvisoryList, writeAdvisoryList } from './advisory-file.ts';
import { toRelPath } from '../core/paths.ts';
import type { NodeView } from '../config/types.ts';

/** One refused path: its logical path (as a scan names it), why, and when it was first found. */
export interface RefusedEntry {
  readonly path: string;
  readonly reason: string;
  readonly firstSeenMs: number;
}

/** A path found refused by a check (ScanProblem with `refused`). */
export interface RefusedFound {
  readonly path: string;
  readonly message: string;
}

/** Entries kept at most: a tree full of such names must not make the file grow without bound. */
export const MAX_REFUSED_KEPT = 1000;

/** What to tell an operator about a refused name. */
export const REFUSED_HINT = 'rename it (csync cannot sync names with control characters such as a newline, a backslash, or a component over 255 bytes), or exclude it; other files keep syncing';
/** The reason a check gives for a FIFO, socket or device (scanner/scan.ts). */
export const SPECIAL_FILE_REASON = 'skipped: not a regular file, directory or symlink';
const SPECIAL_HINT = 'exclude it: csync syncs regular files, directories and symlinks, never a FIFO, socket or device; other files keep syncing';

/** What to tell an operator about one refused path, given its reason. */
export function refusedHint(reason: string): string {
  return reason.startsWith(SPECIAL_FILE_REASON) ? SPECIAL_HINT : REFUSED_HINT;
}

/**
 * Merges what a check found into the known entries. `scopes` are the logical paths the check
 * walked recursively: a known entry at or below one of them that was not found again is gone
 * (renamed, removed). Returns the new list and the entries seen for the first time. Pure.
 */
export function mergeRefused(known: readonly RefusedEntry[], found: readonly RefusedFound[], scopes: readonly string[], nowMs: number): { next: RefusedEntry[]; fresh: RefusedEntry[] } {
  const seen = new Set(found.map((f) => f.path));
  const within = (p: string): boolean => scopes.some((s) => p === s || p.startsWith(`${s}/`));
  const next = known.filter((e) => seen.has(e.path) || !within(e.path));
  const have = new Set(next.map((e) => e.path));
  const fresh: RefusedEntry[] = [];
  for (const f of found) {
    if (have.has(f.path) || next.length >= MAX_REFUSED_KEPT) continue;
    const e = { path: f.path, reason: f.message, firstSeenMs: nowMs };
    have.add(f.path);
    next.push(e);
    fresh.push(e);
  }
  return { next, fresh };
}

function fileOf(stateDir: string): string {
  return join(stateDir, 'refused.json');
}

/** The known refused paths of this state dir ([] when none, or the file is unreadable). */
export function loadRefused(stateDir: string): RefusedEntry[] {
  return readAdvisoryList(fileOf(stateDir), 'paths', (e): e is RefusedEntry => {
    const r = e as RefusedEntry;
    return typeof r.path === 'string' && typeof r.reason === 'string' && typeof r.firstSeenMs === 'number';
  });
}

/**
 * Records a check's refused paths (see mergeRefused) and returns those seen for the first time.
 * Writes the file atomically, and only when something changed; a failed write is logged, not thrown.
 */
export function noteRefused(opts: { stateDir: string; found: readonly RefusedFound[]; scopes: readonly string[]; nowMs: number; log: Logger; dryRun?: boolean }): { fresh: RefusedEntry[]; known: RefusedEntry[] } {
  const before = loadRefused(opts.stateDir);
  if (before.length === 0 && opts.found.length === 0) return { fresh: [], known: [] };
  const { next, fresh } = mergeRefused(before, opts.found, opts.scopes, opts.nowMs);
  const changed = fresh.length > 0 || next.length !== before.length;
  // A lost file only means the paths are reported as new once more.
  if (changed && !opts.dryRun) writeAdvisoryList(fileOf(opts.stateDir), 'paths', next, opts.log, 'Could not record refused paths');
  const freshPaths = new Set(fresh.map((e) => e.path));
  return { fresh, known: next.filter((e) => opts.found.some((f) => f.path === e.path) && !freshPaths.has(e.path)) };
}

/**
 * The refused path an absolute path reported by the watcher stands for: its logical path up to the
 * first component csync refuses, with the reason and that entry's absolute path; undefined when no
 * root holds it or every component is acceptable.
 */
export function refusedOfAbsPath(view: NodeView, absPath: string): { found: RefusedFound; abs: string } | undefined {
  for (const group of view.groups.values()) {
    for (const [root, absRoot] of group.roots) {
      if (!absPath.startsWith(`${absRoot}/`)) continue;
      const parts = absPath.slice(absRoot.length + 1).split('/');
      for (let i = 1; i <= parts.length; i++) {
        const raw = parts.slice(0, i).join('/');
        try {
          toRelPath(raw);
        } catch (err) {
          return { found: { path: `${root}/${raw}`, message: err instanceof Error ? err.message : String(err) }, abs: `${absRoot}/${raw}` };
        }
      }
    }
  }
  return undefined;
}

/**
 * What watcher events on refused names say: each such entry is a scope (it was looked at), and is
 * found when it still exists (an event for one that was renamed or removed forgets it).
 */
export function refusedFromEvents(view: NodeView, absPaths: readonly string[]): { found: RefusedFound[]; scopes: string[] } {
  const found: RefusedFound[] = [];
  const scopes: string[] = [];
  for (const p of absPaths) {
    const r = refusedOfAbsPath(view, p);
    if (r === undefined || scopes.includes(r.found.path)) continue;
    scopes.push(r.found.path);
    if (lstatSync(r.abs, { throwIfNoEntry: false }) !== undefined) found.push(r.found);
  }
  return { found, scopes };
}

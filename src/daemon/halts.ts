// ⚙ Which groups a safety rail holds halted now: kept in `<state_dir>/halted.json` by every pass
// (daemon or CLI) so `csync status` can say "halted" with the override, and the daemon's health can
// turn red, until a later pass of the same scope no longer trips. Advisory, like refused.json: a
// lost file only means a halt is shown again once the next pass trips it.
import { join } from 'node:path';
import type { CsyncError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { readAdvisoryList, writeAdvisoryList } from './advisory-file.ts';
import type { NodeView } from '../config/types.ts';
import type { CheckReport } from '../sync/check.ts';
import type { PeerReport } from '../sync/update.ts';

/**
 * One halted scope: a root whose check found it vanished or emptied (`check`, where = the root), or
 * the deletions of a group held back from a peer by max_delete (`update`, where = the peer).
 */
export interface HaltEntry {
  readonly kind: 'check' | 'update';
  readonly group: string;
  readonly where: string;
  readonly message: string;
  readonly hint: string;
  readonly sinceMs: number;
}

/** What one pass saw of one scope: halted (with the error) or not (clears a halt of that scope). */
export interface HaltSeen {
  readonly kind: 'check' | 'update';
  readonly group: string;
  readonly where: string;
  readonly error?: CsyncError;
}

const same = (a: { kind: string; group: string; where: string }, b: { kind: string; group: string; where: string }): boolean =>
  a.kind === b.kind && a.group === b.group && a.where === b.where;

/** Merges what a pass saw into the known halts (an ongoing halt keeps its first time). Pure. */
export function mergeHalts(known: readonly HaltEntry[], seen: readonly HaltSeen[], nowMs: number): HaltEntry[] {
  const next = known.filter((k) => !seen.some((s) => same(k, s)));
  for (const s of seen) {
    if (s.error === undefined || next.some((n) => same(n, s))) continue;
    const before = known.find((k) => same(k, s));
    next.push({ kind: s.kind, group: s.group, where: s.where, message: s.error.message, hint: s.error.hint ?? '', sinceMs: before?.sinceMs ?? nowMs });
  }
  return next;
}

function fileOf(stateDir: string): string {
  return join(stateDir, 'halted.json');
}

/** The halts recorded in this state dir ([] when none, or the file is unreadable). */
export function loadHalts(stateDir: string): HaltEntry[] {
  return readAdvisoryList(fileOf(stateDir), 'halts', (e): e is HaltEntry => {
    const h = e as HaltEntry;
    return (h.kind === 'check' || h.kind === 'update') && typeof h.group === 'string' && typeof h.where === 'string' && typeof h.message === 'string' && typeof h.sinceMs === 'number';
  });
}

/** Records what a pass saw (see mergeHalts); writes atomically and only on a change; never throws. */
export function noteHalts(opts: { stateDir: string; seen: readonly HaltSeen[]; nowMs: number; log: Logger }): HaltEntry[] {
  const before = loadHalts(opts.stateDir);
  if (before.length === 0 && opts.seen.every((s) => s.error === undefined)) return before;
  const next = mergeHalts(before, opts.seen, opts.nowMs);
  if (JSON.stringify(next) === JSON.stringify(before)) return next;
  // The halt is logged by the pass anyway; a lost file only means it is shown again once it trips.
  writeAdvisoryList(fileOf(opts.stateDir), 'halts', next, opts.log, 'Could not record halted groups');
  return next;
}

/** The command that overrides a halt once the operator has made sure the deletion is intended. */
export function haltOverride(h: Pick<HaltEntry, 'kind' | 'group'>): string {
  return h.kind === 'check' ? `csync -cr -G ${h.group} --allow-mass-delete` : `csync -u -G ${h.group} --allow-mass-delete`;
}

/** What a check saw: each root it checked whole, halted or not. */
export function haltsOfCheck(report: Pick<CheckReport, 'roots'>): HaltSeen[] {
  return report.roots.map((r) => ({ kind: 'check', group: r.group, where: r.root, ...(r.halted ? { error: r.halted } : {}) }));
}

/**
 * What an update saw: for each peer it reached, each group in the pass's scope that shares that
 * peer, halted or not. A pass limited to some paths proves nothing of a group's other deletions.
 */
export function haltsOfUpdate(view: NodeView, reports: readonly PeerReport[], scope: { groups?: ReadonlySet<string>; paths?: readonly string[] }): HaltSeen[] {
  const seen: HaltSeen[] = [];
  for (const r of reports) {
    if (r.status !== 'ok' && r.status !== 'nothing-to-do') continue;
    r.haltedGroups.forEach((group, i) => seen.push({ kind: 'update', group, where: r.peer, ...(r.halted[i] ? { error: r.halted[i] } : {}) }));
    if (scope.paths !== undefined) continue;
    for (const g of view.groups.values()) {
      if (!g.peers.includes(r.peer) || scope.groups?.has(g.config.name) === false || r.haltedGroups.includes(g.config.name)) continue;
      seen.push({ kind: 'update', group: g.config.name, where: r.peer });
    }
  }
  return seen;
}

// The csync2-style commands: -c, -m, -f, -u, -x, -M, -L, -R. Each returns an exit status.
import { resolve } from 'node:path';
import { CsyncError } from '../core/errors.ts';
import type { FileState } from '../core/types.ts';
import { formatVersion } from '../core/version.ts';
import type { Command } from './args.ts';
import type { Io } from './output.ts';
import { peerLine, updateExitStatus } from './output.ts';
import { runCheck } from '../sync/check.ts';
import type { CheckReport } from '../sync/check.ts';
import { absPathOf, allRootTargets, logicalOf, peersFor, realPathOf, targetsForUserPath, targetsOf, userPathFromLogical } from '../sync/scope.ts';
import type { Target } from '../sync/scope.ts';
import { runUpdate } from '../sync/update.ts';
import type { Connect, PeerReport } from '../sync/update.ts';
import { ActionExecutor } from '../actions/executor.ts';
import { ChildProcessRunner } from '../actions/child-process-runner.ts';
import { localDelivered } from '../daemon/action-batcher.ts';
import { runRestore } from '../sync/restore.ts';
import { runCompare } from '../sync/compare.ts';
import { connectListPeer } from '../daemon/compare-link.ts';
import { Progress } from './progress.ts';
import { loadRefused, noteRefused, refusedHint } from '../daemon/refused-paths.ts';
import { haltsOfCheck, haltsOfUpdate, noteHalts } from '../daemon/halts.ts';
import { connectPeer } from '../daemon/peers.ts';
import { loadTlsMaterial } from '../daemon/server.ts';
import type { Runtime } from '../daemon/runtime.ts';
import type { DaemonHandle } from '../daemon/daemon.ts';

/** A command run inside the daemon (handed over on its control socket): its links and reports. */
export type DaemonVia = Pick<DaemonHandle, 'connect' | 'noteReports'>;

/** Connects to peers as a stand-alone CLI: its own TLS material, a new link per peer. */
function tlsConnect(rt: Runtime): Connect {
  const tls = loadTlsMaterial(rt);
  return (peer) => connectPeer(rt, tls, peer);
}

function groupFilter(cmd: Command): Set<string> | undefined {
  return cmd.options.groups ? new Set(cmd.options.groups) : undefined;
}

/**
 * A PATH argument as a real absolute path: the logical form csync prints (`%www%/htdocs/a.txt`) is
 * accepted as well as a real path, relative ones against `cwd`.
 */
export function userPath(rt: Runtime, p: string, cwd = process.cwd()): string {
  return userPathFromLogical(rt.view, p) ?? resolve(cwd, p);
}

/** -G and -P name groups this node is in and peers it has: anything else is a usage error (64). */
export function checkFilters(rt: Runtime, cmd: Command): void {
  const groups = groupFilter(cmd);
  if (groups) for (const g of groups) if (!rt.view.groups.has(g)) throw new CsyncError('CSYNC_USAGE', `group ${JSON.stringify(g)}: this node is not in it`, { hint: `this node's groups: ${[...rt.view.groups.keys()].join(', ') || 'none'} (see \`csync config check\`)` });
  const peers = new Set([...rt.view.groups.values()].filter((g) => !groups || groups.has(g.config.name)).flatMap((g) => g.peers));
  for (const p of cmd.options.peers ?? []) {
    if (!peers.has(p)) throw new CsyncError('CSYNC_USAGE', `peer ${JSON.stringify(p)}: not a peer of this node${groups ? ' in the groups given with -G' : ''}`, { hint: `its peers: ${[...peers].sort().join(', ') || 'none'}` });
  }
}

function targetsFor(rt: Runtime, cmd: Command): Target[] {
  const groups = groupFilter(cmd);
  // -T compares with peers: a path only they have is a fair question.
  const known = cmd.action !== 'compare';
  checkFilters(rt, cmd);
  if (cmd.args.length === 0) return allRootTargets(rt.view, groups);
  return cmd.args.flatMap((p) => {
    const targets = targetsForUserPath(rt.view, userPath(rt, p), groups);
    if (known) mustBeKnown(rt, p, targets);
    return targets;
  });
}

/**
 * A path that is neither on disk nor recorded is a typo, not a deletion to sync: usage error. A
 * recorded path that is gone is fine (the check records its deletion).
 */
function mustBeKnown(rt: Runtime, typed: string, targets: readonly Target[]): void {
  for (const t of targets) {
    if (rt.ctx.fs.lstat(absPathOf(t)) !== undefined || rt.ctx.store.get(logicalOf(t)) !== undefined) return;
  }
  throw new CsyncError('CSYNC_USAGE', `path ${JSON.stringify(typed)}: does not exist, and csync has no record of it`, {
    hint: 'check the spelling; a deletion is synced only for a path csync recorded before',
  });
}

/** -c / -m / -f: scan and record. */
export async function commandCheck(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  const targets = targetsFor(rt, cmd);
  const mark = cmd.action === 'mark' || cmd.action === 'force';
  const progress = io.isTty && !cmd.options.quiet && !cmd.options.json ? new Progress(io.err) : undefined;
  const report = await runCheck(rt.ctx, targets, {
    ...(progress ? { onProgress: (p: { root: string; files: number; bytes: number }) => progress.check(p) } : {}),
    recursive: cmd.options.recursive || cmd.args.length === 0,
    markAll: mark,
    force: cmd.action === 'force',
    allowMassDelete: cmd.options.allowMassDelete,
    dryRun: cmd.options.dryRun,
    keepChanged: cmd.options.verbose,
  });
  progress?.done();
  if (!cmd.options.dryRun) noteHalts({ stateDir: rt.stateDir, seen: haltsOfCheck(report), nowMs: rt.ctx.clock.nowMs(), log: rt.ctx.log });
  // A name csync refuses fails the pass that finds it first; later passes warn (DECISIONS.md).
  const scopes = cmd.options.recursive || cmd.args.length === 0 ? targets.map((t) => logicalOf(t) as string) : [];
  const refused = noteRefused({ stateDir: rt.stateDir, found: report.problems.filter((p) => p.refused), scopes, nowMs: rt.ctx.clock.nowMs(), log: rt.ctx.log, dryRun: cmd.options.dryRun });
  return renderCheck(io, cmd, report, new Set(refused.known.map((e) => e.path)), (p) => realPathOf(rt.view, p));
}

/** Prints a check's outcome; `reportedBefore` are refused paths an earlier pass already reported. */
function renderCheck(io: Io, cmd: Command, report: CheckReport, reportedBefore: ReadonlySet<string>, real: (p: string) => string): number {
  if (cmd.options.verbose || cmd.options.dryRun) {
    for (const s of report.changed) io.out(`${cmd.options.dryRun ? 'would record' : 'changed'}: ${s.meta.kind === 'deleted' ? 'deleted ' : ''}${s.path}\n`);
  }
  const failing = report.problems.filter((p) => !(p.refused && reportedBefore.has(p.path)));
  const known = report.problems.length - failing.length;
  for (const p of failing) io.err(p.refused ? `csync: ${JSON.stringify(real(p.path))}: ${p.message}\nhint: ${refusedHint(p.message)}\n` : `csync: ${real(p.path)}: ${p.message}\n`);
  if (known > 0) io.err(`csync: warning: ${known} path(s) not synced because csync refuses their names or kinds (reported before; listed by \`csync status\`)\n`);
  for (const h of report.halted) io.err(`csync: ${h.message}\nhint: ${h.hint ?? ''}\n`);
  if (!cmd.options.quiet && cmd.action === 'check') io.err(`checked ${report.entriesSeen} entries: ${report.changedCount} changed\n`);
  return report.halted.length > 0 || failing.length > 0 ? 1 : 0;
}

/** -u (and the second half of -x): deliver dirty entries. */
export async function commandUpdate(rt: Runtime, cmd: Command, io: Io, via?: DaemonVia): Promise<number> {
  checkFilters(rt, cmd);
  const paths = cmd.args.length > 0 ? targetsFor(rt, cmd).map((t) => logicalOf(t) as string) : undefined;
  const connect: Connect = via?.connect ?? tlsConnect(rt);
  const progress = io.isTty && !cmd.options.quiet && !cmd.options.json ? new Progress(io.err) : undefined;
  const reports = await runUpdate(rt.ctx, {
    ...(progress ? { onProgress: (p: { peer: string; done: number; total: number; bytes: number }) => progress.update(p) } : {}),
    connect,
    ...(cmd.options.peers ? { peers: new Set(cmd.options.peers) } : {}),
    ...(groupFilter(cmd) ? { groups: groupFilter(cmd) as Set<string> } : {}),
    ...(paths ? { paths } : {}),
    dryRun: cmd.options.dryRun,
    allowMassDelete: cmd.options.allowMassDelete,
  });
  progress?.done();
  if (!cmd.options.dryRun) {
    const scope = { ...(groupFilter(cmd) ? { groups: groupFilter(cmd) as Set<string> } : {}), ...(paths ? { paths } : {}) };
    noteHalts({ stateDir: rt.stateDir, seen: haltsOfUpdate(rt.view, reports, scope), nowMs: rt.ctx.clock.nowMs(), log: rt.ctx.log });
  }
  if (via) via.noteReports(reports);
  else await runLocalActions(rt, reports);
  if (cmd.options.json) io.out(`${JSON.stringify(reports.map((r) => ({ ...r, error: r.error ? { code: r.error.code, message: r.error.message } : undefined })))}\n`);
  else if (!cmd.options.quiet || updateExitStatus(reports) !== 0) for (const r of reports) io.out(peerLine(r, (p) => realPathOf(rt.view, p)));
  return updateExitStatus(reports);
}

/**
 * do_local actions for this node's changes that the update delivered (the daemon does the same after
 * its own passes). Waits for them, so the command's exit follows its actions.
 */
async function runLocalActions(rt: Runtime, reports: readonly PeerReport[]): Promise<void> {
  if (![...rt.view.groups.values()].some((g) => g.config.actions.some((a) => a.doLocal || a.doLocalOnly))) return;
  const executor = new ActionExecutor({ store: rt.store, runner: new ChildProcessRunner(), groups: () => rt.view.groups, self: rt.view.self, log: rt.ctx.log, clock: rt.ctx.clock });
  localDelivered(rt.ctx, executor, reports);
  await executor.idle();
  executor.close();
}

/** -x: check, then update the same paths. */
export async function commandCheckUpdate(rt: Runtime, cmd: Command, io: Io, via?: DaemonVia): Promise<number> {
  const checked = await commandCheck(rt, { ...cmd, action: 'check', options: { ...cmd.options, quiet: true } }, io);
  const updated = await commandUpdate(rt, cmd, io, via);
  return updated !== 0 ? updated : checked;
}

/**
 * -M: dirty entries as `force|chary<TAB>peer<TAB>path`, with a 4th column `conflict` for entries in
 * conflict (and, with -v, the last error). Conflicts held here with no dirty row are listed as
 * `held<TAB>peer<TAB>path<TAB>conflict`, and paths whose names csync refuses (never sent to any
 * peer) as `refused<TAB>*<TAB>"json-quoted path"`. Exit 2 when there is nothing.
 */
export function commandListDirty(rt: Runtime, cmd: Command, io: Io): number {
  const rows = rt.store.listDirty();
  const conflicts = rt.store.listConflicts();
  const inConflict = new Set(conflicts.map((c) => `${c.peer}\0${c.path}`));
  const held = conflicts.filter((c) => !rows.some((r) => r.peer === c.peer && r.path === c.path));
  const refused = loadRefused(rt.stateDir);
  const none = rows.length + held.length + refused.length === 0;
  if (cmd.options.json) {
    io.out(`${JSON.stringify({ dirty: rows.map((r) => ({ ...r, conflict: inConflict.has(`${r.peer}\0${r.path}`) })), held: held.map((c) => ({ peer: c.peer, path: c.path })), refused })}\n`);
    return none ? 2 : 0;
  }
  for (const r of rows) {
    const flag = inConflict.has(`${r.peer}\0${r.path}`) ? '\tconflict' : cmd.options.verbose && r.lastError ? '\t' : '';
    io.out(`${r.force ? 'force' : 'chary'}\t${r.peer}\t${r.path}${flag}${r.lastError && cmd.options.verbose ? `\t${r.lastError}` : ''}\n`);
  }
  for (const c of held) io.out(`held\t${c.peer}\t${c.path}\tconflict\n`);
  for (const r of refused) io.out(`refused\t*\t${JSON.stringify(r.path)}${cmd.options.verbose ? `\t${r.reason}` : ''}\n`);
  return none ? 2 : 0;
}

/** The check text of a state: what csync compares, in one line. */
export function checkText(s: FileState): string {
  const m = s.meta;
  if (m.kind === 'deleted') return `deleted@${formatVersion(s.version)}`;
  const what = m.kind === 'file' ? `${m.hash ?? '-'}:${m.sizeBytes}` : m.kind === 'symlink' ? `->${m.target ?? ''}` : '';
  return `${m.kind}:${what}:${m.mode.toString(8)}:${m.uid}:${m.gid}:${m.mtimeNs}@${formatVersion(s.version)}`;
}

/** -L: every recorded state as `checktext<TAB>path`; exit 2 when empty. */
export function commandListDb(rt: Runtime, cmd: Command, io: Io): number {
  const states = rt.store.list();
  if (cmd.options.json) {
    io.out(`${JSON.stringify(states.map((s) => ({ ...s, meta: { ...s.meta, mtimeNs: s.meta.mtimeNs.toString() } })))}\n`);
  } else for (const s of states) io.out(`${checkText(s)}\t${s.path}\n`);
  return states.length === 0 ? 2 : 0;
}

/**
 * -R: forget rows of paths no group of this node holds any more, and dirty rows toward a node that
 * no longer shares the path (a removed or replaced node): nothing would ever deliver them.
 */
export function commandRemoveStale(rt: Runtime, cmd: Command, io: Io): number {
  const stale = rt.store.list().filter((s) => targetsOf(rt.view, rt.ctx.matchers, s.path).length === 0);
  const orphans = rt.store.listDirty().filter((d) => !peersFor(rt.view, rt.ctx.matchers, d.path).includes(d.peer));
  if (!cmd.options.dryRun) {
    rt.store.transaction(() => {
      for (const d of orphans) rt.store.clearDirty(d.path, d.peer, rt.store.get(d.path)?.version ?? {});
      stale.forEach((s) => rt.store.remove(s.path));
    });
  }
  for (const s of stale) io.out(`${cmd.options.dryRun ? 'would remove' : 'removed'}\t${s.path}\n`);
  for (const d of orphans) io.out(`${cmd.options.dryRun ? 'would drop dirty' : 'dropped dirty'}\t${d.peer}\t${d.path}\n`);
  return 0;
}

/** restore PATH [--generation N]: put a backup generation back as a local change. */
export async function commandRestore(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  checkFilters(rt, cmd);
  for (const p of cmd.args) {
    const [t] = targetsForUserPath(rt.view, userPath(rt, p), groupFilter(cmd));
    if (t === undefined) continue;
    await runRestore(rt.ctx, t, cmd.options.generation ?? 0);
    if (!cmd.options.quiet) io.out(`restored ${absPathOf(t)} from generation ${cmd.options.generation ?? 0}; run \`csync -u\` to send it\n`);
  }
  return 0;
}

/** -T [PATH]: compare the real files with every peer; `X|L|R<TAB>peer<TAB>path`; exit 0 in sync, 1 if not. */
export async function commandCompare(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  const targets = targetsFor(rt, cmd);
  const tls = loadTlsMaterial(rt);
  const peers = [...new Set(targets.flatMap((t) => t.group.peers))].filter((p) => !cmd.options.peers || cmd.options.peers.includes(p)).sort();
  const reports = await runCompare(rt.ctx, { targets, peers, connect: (peer) => connectListPeer(rt, tls, peer) });
  const diffs = reports.flatMap((r) => r.differences);
  if (cmd.options.json) {
    io.out(`${JSON.stringify(reports.map((r) => ({ peer: r.peer, differences: r.differences, error: r.error?.message })))}\n`);
  } else {
    for (const d of diffs) io.out(`${d.kind}\t${d.peer}\t${d.path}\n`);
    for (const r of reports) if (r.error) io.err(`csync: ${r.peer}: not compared: ${r.error.message}\n`);
  }
  const failed = reports.filter((r) => r.error !== undefined);
  if (failed.some((r) => r.error instanceof CsyncError && (r.error.code === 'CSYNC_AUTH_FAILED' || r.error.code === 'CSYNC_CERT_CHANGED'))) return 77;
  if (reports.length > 0 && failed.length === reports.length) return 69;
  return diffs.length > 0 || failed.length > 0 ? 1 : 0;
}

/** How long `csync wait` and `--wait` wait by default. */
export const DEFAULT_WAIT_MS = 30_000;
const WAIT_FIRST_RETRY_MS = 100;
const WAIT_MAX_RETRY_MS = 2000;

/**
 * `csync wait [PATH…]` (and the second half of `-u --wait`, `-x --wait`): returns 0 once no selected
 * peer lacks this node's recorded version of the selected paths, i.e. each acknowledged it (applied,
 * had it, merged it) or holds a newer one. While some do not, it sends what is dirty itself (here,
 * or through the running daemon's links, one pass at a time so the daemon keeps working between
 * them) with growing pauses. At the deadline: 1 with a line per lagging peer, or 69 when no peer
 * that lacks something could be reached. A path in conflict cannot converge by waiting: 1 at once.
 */
export async function commandWait(rt: Runtime, cmd: Command, io: Io, via?: DaemonVia & { exclusive?: <T>(fn: () => Promise<T>) => Promise<T> }): Promise<number> {
  checkFilters(rt, cmd);
  const paths = cmd.args.length > 0 ? targetsFor(rt, cmd).map((t) => logicalOf(t) as string) : undefined;
  const groups = groupFilter(cmd);
  const chosen = new Set([...rt.view.groups.values()].filter((g) => !groups || groups.has(g.config.name)).flatMap((g) => g.peers).filter((p) => !cmd.options.peers || cmd.options.peers.includes(p)));
  const roots = [...rt.view.groups.values()].filter((g) => !groups || groups.has(g.config.name)).flatMap((g) => [...g.roots.keys()]);
  const under = (p: string, tops: readonly string[]): boolean => tops.some((t) => p === t || p.startsWith(`${t}/`));
  const lagging = (): DirtyRowLike[] => rt.store.listDirty().filter((d) => chosen.has(d.peer) && under(d.path, paths ?? roots));
  const connect: Connect = via?.connect ?? tlsConnect(rt);
  const exclusive = via?.exclusive ?? (<T>(fn: () => Promise<T>): Promise<T> => fn());
  const deadline = Date.now() + (cmd.options.timeoutMs ?? DEFAULT_WAIT_MS);
  let pause = WAIT_FIRST_RETRY_MS;
  let last: PeerReport[] = [];
  for (;;) {
    const rows = lagging();
    if (rows.length === 0) {
      if (!cmd.options.quiet) io.out(`in sync: ${[...chosen].sort().join(', ') || 'no peer'} hold${chosen.size === 1 ? 's' : ''} this node's version of ${paths ? paths.map((p) => realPathOf(rt.view, p)).join(', ') : 'every path'}\n`);
      return 0;
    }
    const onlyConflicts = rows.every((r) => r.lastError?.startsWith('conflict'));
    if (onlyConflicts || Date.now() >= deadline) return reportLagging(rt, io, rows, last, { onlyConflicts, peers: chosen.size });
    const peers = new Set(rows.map((r) => r.peer));
    last = await exclusive(() => runUpdate(rt.ctx, { connect, peers, ...(groups ? { groups } : {}), ...(paths ? { paths } : {}), dryRun: false }));
    via?.noteReports(last);
    if (lagging().length === 0) continue;
    await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
    pause = Math.min(WAIT_MAX_RETRY_MS, pause * 2);
  }
}

type DirtyRowLike = { readonly path: string; readonly peer: string; readonly lastError: string | undefined };

/** The lines of a wait that gave up, and its status: 69 when no selected peer could be reached at all. */
function reportLagging(rt: Runtime, io: Io, rows: readonly DirtyRowLike[], last: readonly PeerReport[], opts: { onlyConflicts: boolean; peers: number }): number {
  const { onlyConflicts } = opts;
  const byPeer = new Map<string, DirtyRowLike[]>();
  for (const r of rows) byPeer.set(r.peer, [...(byPeer.get(r.peer) ?? []), r]);
  let unreachable = 0;
  for (const [peer, mine] of [...byPeer].sort(([a], [b]) => a.localeCompare(b))) {
    const rep = last.find((r) => r.peer === peer);
    if (rep?.status === 'failed') unreachable++;
    const why = rep?.status === 'failed' ? `not reachable: ${rep.error?.message ?? 'failed'}` : (mine.find((m) => m.lastError)?.lastError ?? 'not delivered yet');
    const shown = mine.slice(0, 3).map((m) => realPathOf(rt.view, m.path)).join(', ');
    io.out(`${peer}: lacks ${mine.length} entr${mine.length === 1 ? 'y' : 'ies'} (${shown}${mine.length > 3 ? ', …' : ''}): ${why}\n`);
  }
  if (onlyConflicts) io.err('csync: every remaining entry is in conflict: waiting cannot settle it\nhint: run `csync -f PATH` on the node whose version should win, then wait again\n');
  else io.err('csync: timed out waiting for every peer to hold this node\'s version\n');
  return unreachable === opts.peers && !onlyConflicts ? 69 : 1;
}

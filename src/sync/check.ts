// `csync -c`, `-m` and `-f`: scan targets, record changed states and mark them dirty for their peers.
import type { CsyncError } from '../core/errors.ts';
import type { FileState, GroupName, LogicalPath } from '../core/types.ts';
import { bumpVersion, mergeVersions } from '../core/version.ts';
import { scan } from '../scanner/scan.ts';
import type { ScanProblem } from '../scanner/scan.ts';
import type { SyncContext } from './context.ts';
import { transactEach } from './isolate.ts';
import { peersFor } from './scope.ts';
import type { Target } from './scope.ts';

/** Result of a check: what changed, what could not be read, which roots halted. */
export interface CheckReport {
  /** The new states (empty when `keepChanged` is false; `changedCount` counts them anyway). */
  readonly changed: FileState[];
  readonly changedCount: number;
  readonly problems: ScanProblem[];
  readonly halted: CsyncError[];
  /** Each root checked whole (recursively, from its top), with the halt it tripped if any. */
  readonly roots: { readonly group: GroupName; readonly root: string; readonly halted?: CsyncError }[];
  readonly entriesSeen: number;
  readonly bytesHashed: number;
}

/** Options of runCheck(). */
export interface CheckOptions {
  readonly recursive: boolean;
  /** Mark every scanned entry dirty, changed or not (`-m`). */
  readonly markAll: boolean;
  /** Also make this node's version win (`-f`): supersede known conflicting versions and force. */
  readonly force: boolean;
  readonly allowMassDelete: boolean;
  readonly dryRun: boolean;
  /** With dryRun: still record the local signatures of files whose content matched (see scan()). */
  readonly recordLocalSigs?: boolean;
  /**
   * Keep the new states in the report (default true). A daemon's check of a whole tree passes
   * false: states are recorded a batch at a time and not held (memory stays flat at any size).
   */
  readonly keepChanged?: boolean;
  /** Progress for a terminal: entries seen and bytes hashed so far, per target. */
  readonly onProgress?: (p: { root: string; files: number; bytes: number }) => void;
}

/** Scans each target, records changes (one transaction per batch of the walk) and marks dirty rows. */
export async function runCheck(ctx: SyncContext, targets: readonly Target[], opts: CheckOptions): Promise<CheckReport> {
  const report = { changed: [] as FileState[], changedCount: 0, problems: [] as ScanProblem[], halted: [] as CsyncError[], roots: [] as CheckReport['roots'][number][], entriesSeen: 0, bytesHashed: 0 };
  const keep = opts.keepChanged ?? true;
  for (const t of targets) {
    // Each batch of changes is recorded (one transaction) as the walk goes on; a crash midway
    // leaves true changes recorded and the rest found by the next check.
    const onChanges = (states: readonly FileState[], why: readonly string[], localSigs: readonly (string | undefined)[]): void => {
      states.forEach((c, i) => ctx.log.debug({ path: c.path, why: why[i], version: c.version }, 'Local change'));
      if (!opts.dryRun) {
        // An entry the store refuses is reported with that entry; the rest of the batch is recorded.
        for (const p of recordChanges(ctx, states, { force: false, localSigs })) {
          ctx.log.warn({ path: p.path, reason: p.message }, 'Could not record a local change');
          report.problems.push(p);
        }
      }
      if (keep || opts.dryRun) report.changed.push(...states);
    };
    const result = await scan({
      fs: ctx.fs,
      hasher: ctx.hasher,
      known: ctx.store,
      root: t.root,
      absRoot: t.absRoot,
      rel: t.rel,
      recursive: opts.recursive,
      isExcluded: (p) => ctx.matchers.get(t.group.config.name)?.isExcluded(p) ?? false,
      ignore: t.group.config.ignore,
      self: ctx.view.self,
      nowMs: ctx.clock.nowMs(),
      allowMassDelete: opts.allowMassDelete,
      onChanges,
      // Signatures are recorded by a dry run too (`-T`): a signature only lets a later check skip
      // reading a file whose content was just read and matched the record; it changes no state.
      ...(opts.dryRun && !opts.recordLocalSigs ? {} : { onLocalSigs: (sigs: readonly (readonly [LogicalPath, string, string])[]) => ctx.store.setLocalSigs(sigs) }),
      ...(opts.onProgress ? { onHashed: (files: number, bytes: number) => opts.onProgress?.({ root: t.absRoot, files, bytes }) } : {}),
    });
    report.changedCount += result.changedCount;
    report.problems.push(...result.problems);
    report.entriesSeen += result.entriesSeen;
    report.bytesHashed += result.bytesHashed;
    if (result.halted) report.halted.push(result.halted);
    if (t.rel === '' && opts.recursive) report.roots.push({ group: t.group.config.name, root: t.root, ...(result.halted ? { halted: result.halted } : {}) });
    if (opts.markAll && !opts.dryRun) report.problems.push(...recordChanges(ctx, currentStates(ctx, t, opts), { force: opts.force }));
  }
  return report;
}

/** For -m/-f: the current recorded states under the target (after the scan recorded changes). */
function currentStates(ctx: SyncContext, t: Target, opts: CheckOptions): FileState[] {
  const start = t.rel === '' ? t.root : `${t.root}/${t.rel}`;
  return opts.recursive ? ctx.store.list(start) : ctx.store.list(start).filter((s) => s.path === start);
}

/**
 * Records states and marks them dirty for their peers, in one transaction. An entry the store
 * refuses (e.g. a time it cannot hold) is left out and returned as a problem; the others are
 * recorded. Throws when the store fails for every entry (see transactEach). `localSigs[i]` is the
 * local signature of the file behind `states[i]`, when the scan that found it could trust one.
 */
export function recordChanges(ctx: SyncContext, states: readonly FileState[], opts: { force: boolean; localSigs?: readonly (string | undefined)[] }): ScanProblem[] {
  const nowMs = ctx.clock.nowMs();
  const jobs = states.map((recorded, i) => (): void => {
    const state = opts.force ? supersedeConflicts(ctx, recorded) : recorded;
    ctx.store.put(state, opts.localSigs?.[i]);
    const peers = peersFor(ctx.view, ctx.matchers, state.path);
    if (peers.length > 0) ctx.store.markDirty(state.path, peers, { force: opts.force, nowMs });
    if (opts.force) ctx.store.clearConflicts(state.path);
  });
  const failed = transactEach(ctx.store, jobs);
  return [...failed].map(([i, err]) => ({ path: states[i]?.path ?? '', message: err instanceof Error ? err.message : String(err) }));
}

/**
 * `csync -f`: this node's version must dominate every version it is known to conflict with, and a
 * new counter of its own marks the decision, so every peer applies it as a plain newer version.
 */
function supersedeConflicts(ctx: SyncContext, state: FileState): FileState {
  let version = state.version;
  for (const c of ctx.store.listConflicts(state.path)) version = mergeVersions(version, c.remote.version);
  version = bumpVersion(version, ctx.view.self);
  return { ...state, version, origin: ctx.view.self, changedAtMs: ctx.clock.nowMs() };
}

/** Groups named by -G that this node does not belong to (for a usage error). */
export function unknownGroups(ctx: SyncContext, names: readonly GroupName[]): GroupName[] {
  return names.filter((n) => !ctx.view.groups.has(n));
}

// Turns sync events into action batches (docs/daemon.md, "Actions"): changes received from peers are gathered until
// the link has been quiet for a moment, then each matching action runs once with all of them; this
// node's own changes run do_local actions once a pass has delivered them.
import type { Clock } from '../core/clock.ts';
import type { FileState, GroupName, LogicalPath, NodeName } from '../core/types.ts';
import type { ActionExecutor } from '../actions/executor.ts';
import type { ActionChange } from '../actions/select.ts';
import type { SyncContext } from '../sync/context.ts';
import { absPathOf, targetsOf } from '../sync/scope.ts';
import type { Target } from '../sync/scope.ts';
import type { PeerReport } from '../sync/update.ts';

/** Quiet time after the last received change before the batch's actions run. */
export const ACTION_QUIET_MS = 200;

/** Collects received changes per group and hands batches to the executor. */
export class ActionBatcher {
  private readonly executor: ActionExecutor;
  private readonly clock: Clock;
  private readonly pending = new Map<GroupName, Map<string, ActionChange>>();
  private cancel: (() => void) | undefined;

  constructor(executor: ActionExecutor, clock: Clock) {
    this.executor = executor;
    this.clock = clock;
  }

  /** A change from a peer was applied at `t`. */
  received(t: Target, state: FileState): void {
    const group = t.group.config.name;
    if (t.group.config.actions.length === 0) return;
    const batch = this.pending.get(group) ?? new Map<string, ActionChange>();
    batch.set(state.path, { logical: state.path, abs: absPathOf(t) });
    this.pending.set(group, batch);
    this.cancel?.();
    this.cancel = this.clock.setTimer(() => this.flush(), ACTION_QUIET_MS);
  }

  /** Runs the actions of everything gathered so far (also called at shutdown). */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    for (const [group, batch] of this.pending) this.executor.enqueue(group, [...batch.values()], 'received');
    this.pending.clear();
  }

  /** After an update pass: this node's own changes that reached a peer run the do_local actions. */
  delivered(ctx: SyncContext, reports: readonly PeerReport[]): void {
    localDelivered(ctx, this.executor, reports);
  }
}

/** Enqueues do_local / do_local_only actions for the local changes an update delivered. */
export function localDelivered(ctx: SyncContext, executor: ActionExecutor, reports: readonly PeerReport[]): void {
  const self: NodeName = ctx.view.self;
  const byGroup = new Map<GroupName, ActionChange[]>();
  for (const path of new Set<LogicalPath>(reports.flatMap((r) => r.delivered))) {
    const state = ctx.store.get(path);
    if (state === undefined || state.origin !== self) continue;
    for (const t of targetsOf(ctx.view, ctx.matchers, path)) {
      if (t.group.config.actions.length === 0) continue;
      const list = byGroup.get(t.group.config.name) ?? [];
      list.push({ logical: path, abs: absPathOf(t) });
      byGroup.set(t.group.config.name, list);
    }
  }
  for (const [group, changes] of byGroup) executor.enqueue(group, changes, 'local');
}

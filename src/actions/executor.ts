// ActionExecutor: the persisted action queue (docs/daemon.md, "Actions"). Persists each selected action before it
// runs, runs them one at a time in order through a CommandRunner, logs how each ended, and
// forgets a row only once its command finished. Talks to ports only; owns no process or SQL.
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { ActionConfig, NodeGroup } from '../config/types.ts';
import { buildActionCommand, selectActions, type ActionChange, type ActionOrigin } from './select.ts';
import { actionSucceeded, type ActionResult, type CommandRunner } from './runner.ts';

/**
 * One persisted action run, as the executor needs it. Structurally the same as the store's
 * PendingActionRow (actions/ sits beside store/ and may not import it: README "Architecture").
 */
export interface PendingAction {
  readonly id: number;
  readonly groupName: string;
  readonly actionIndex: number;
  readonly paths: readonly string[];
  readonly createdAtMs: number;
}

/** The part of the StateStore the executor uses (a StateStore satisfies it). */
export interface PendingActionQueue {
  addPendingAction(row: Omit<PendingAction, 'id'>): number;
  listPendingActions(): PendingAction[];
  removePendingAction(id: number): void;
}

/** Which command of an action ran: its `check`, its `exec`, or its `verify`. */
export type ActionPhase = 'check' | 'exec' | 'verify';

/** Options of ActionExecutor. */
export interface ActionExecutorOptions {
  /** Where pending runs are persisted; usually the node's StateStore. */
  readonly store: PendingActionQueue;
  readonly runner: CommandRunner;
  /** This node's groups, read at run time so a reloaded config applies (SIGHUP). */
  readonly groups: () => ReadonlyMap<string, NodeGroup>;
  /** This node's name (CSYNC_NODE). */
  readonly self: string;
  readonly log: Logger;
  /** Stamps createdAtMs on persisted rows. */
  readonly clock: Clock;
  /** Told of every finished run (the daemon's statistics and status page). */
  readonly onResult?: (run: { group: string; command: string; files: number; result: ActionResult; phase: ActionPhase }) => void;
}

/**
 * Runs a group's actions after batches of changes. enqueue() persists first and returns at once;
 * commands then run one at a time, in enqueue order, never overlapping. A row is removed after its
 * command ended, whatever its exit status (a failure is logged with CSYNC_ACTION_FAILED, never
 * retried); a crash before that leaves the row for replayPending() at the next start.
 * Single-owner: only one executor per state database may replay (the daemon's).
 */
export class ActionExecutor {
  readonly #opts: ActionExecutorOptions;
  readonly #queue: PendingAction[] = [];
  /** Ids queued or running, so replayPending() never queues a row twice. */
  readonly #known = new Set<number>();
  #draining = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(opts: ActionExecutorOptions) {
    this.#opts = opts;
  }

  /**
   * Selects the actions `changes` of group `groupName` trigger (see selectActions), persists one
   * row per action, and queues them. An unknown group or a batch that triggers nothing does
   * nothing; so does any call after close(). Throws CSYNC_STORE_FAILED when a row cannot be
   * persisted; the rows persisted before it still run.
   */
  enqueue(groupName: string, changes: readonly ActionChange[], origin: ActionOrigin): void {
    if (this.#closed) return;
    const group = this.#opts.groups().get(groupName);
    if (group === undefined) return;
    const nowMs = this.#opts.clock.nowMs();
    try {
      for (const selected of selectActions(group.config, changes, origin)) {
        const row = { groupName, actionIndex: selected.actionIndex, paths: selected.abs, createdAtMs: nowMs };
        const id = this.#opts.store.addPendingAction(row);
        this.#push({ id, ...row });
      }
    } finally {
      this.#kick();
    }
  }

  /**
   * Queues every persisted row not already queued or running (rows left by a crash), oldest
   * first. Call it once at daemon start, after the config is loaded. Throws CSYNC_STORE_FAILED
   * when the rows cannot be read.
   */
  replayPending(): void {
    if (this.#closed) return;
    const rows = this.#opts.store.listPendingActions().filter((row) => !this.#known.has(row.id));
    if (rows.length > 0) this.#opts.log.info({ count: rows.length }, 'Replaying pending actions');
    for (const row of rows) this.#push(row);
    this.#kick();
  }

  /** Resolves once nothing is queued or running (at once when idle). Never rejects. */
  idle(): Promise<void> {
    if (!this.#draining) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops starting commands: a running one finishes (await idle()), queued rows stay persisted
   * for replayPending() at the next start, and later enqueue()/replayPending() calls are ignored.
   */
  close(): void {
    this.#closed = true;
    for (const row of this.#queue) this.#known.delete(row.id);
    this.#queue.length = 0;
  }

  #push(row: PendingAction): void {
    this.#known.add(row.id);
    this.#queue.push(row);
  }

  #kick(): void {
    if (this.#draining || this.#queue.length === 0) return;
    this.#draining = true;
    void this.#drain();
  }

  /** Runs queued rows until none is left; the only place commands start. Never rejects. */
  async #drain(): Promise<void> {
    try {
      for (let row = this.#queue.shift(); row !== undefined; row = this.#queue.shift()) {
        await this.#runOne(row);
      }
    } finally {
      this.#draining = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Runs one row's command (if its action still exists), logs the outcome, then removes the row. */
  async #runOne(row: PendingAction): Promise<void> {
    const log = this.#opts.log;
    const action = this.#opts.groups().get(row.groupName)?.config.actions[row.actionIndex];
    if (action === undefined) {
      log.warn({ group: row.groupName, actionIndex: row.actionIndex, files: row.paths.length }, 'Pending action no longer configured, dropped');
    } else {
      await this.#runSteps(row, action);
    }
    this.#forget(row.id);
  }

  /**
   * check, then exec, then verify, each with the same files, environment, logfile and timeout. A
   * failed check stops there (exec is not run: e.g. no `nginx -s reload` of a config `nginx -t`
   * refuses); a failed verify is reported. Each step's outcome is logged and counted.
   */
  async #runSteps(row: PendingAction, action: ActionConfig): Promise<void> {
    const ctx = { groupName: row.groupName, self: this.#opts.self };
    const step = async (phase: ActionPhase, commandLine: string): Promise<boolean> => {
      const result = await this.#runGuarded(buildActionCommand({ action: { ...action, exec: commandLine }, abs: [...row.paths] }, ctx));
      this.#logResult(row, commandLine, result, phase);
      return actionSucceeded(result);
    };
    if (action.check !== undefined && !(await step('check', action.check))) {
      this.#opts.log.warn({ group: row.groupName, action: action.exec, check: action.check, files: row.paths.length, code: 'CSYNC_ACTION_FAILED' }, 'Action check failed; exec not run');
      return;
    }
    if (!(await step('exec', action.exec))) return;
    if (action.verify !== undefined) await step('verify', action.verify);
  }

  /** runner.run(), with a rejecting runner (a bug) turned into a failed result so the queue goes on. */
  async #runGuarded(command: Parameters<CommandRunner['run']>[0]): Promise<ActionResult> {
    try {
      return await this.#opts.runner.run(command);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { exitCode: null, signal: null, durationMs: 0, timedOut: false, stderrTail: '', error: `runner failed: ${why}`, logfileError: undefined };
    }
  }

  #logResult(row: PendingAction, exec: string, result: ActionResult, phase: ActionPhase): void {
    const fields = {
      group: row.groupName,
      action: exec,
      ...(phase === 'exec' ? {} : { phase }),
      files: row.paths.length,
      exitCode: result.exitCode,
      durationMs: Math.round(result.durationMs),
    };
    if (result.logfileError !== undefined) {
      this.#opts.log.warn({ group: row.groupName, action: exec, error: result.logfileError }, 'Action logfile unusable, output discarded');
    }
    this.#opts.onResult?.({ group: row.groupName, command: exec, files: row.paths.length, result, phase });
    if (actionSucceeded(result)) {
      this.#opts.log.info(fields, phase === 'exec' ? 'Action finished' : phase === 'check' ? 'Action check passed' : 'Action verified');
      return;
    }
    const failure = {
      ...fields,
      code: 'CSYNC_ACTION_FAILED',
      signal: result.signal,
      timedOut: result.timedOut,
      ...(result.error === undefined ? {} : { error: result.error }),
      ...(result.stderrTail === '' ? {} : { stderr: result.stderrTail }),
    };
    this.#opts.log.warn(failure, result.timedOut ? 'Action timed out and was killed' : phase === 'exec' ? 'Action failed' : phase === 'check' ? 'Action check failed' : 'Action verify failed');
  }

  /** Removes a finished row; a store failure is logged (the row then runs again at the next start). */
  #forget(id: number): void {
    this.#known.delete(id);
    try {
      this.#opts.store.removePendingAction(id);
    } catch (err) {
      this.#opts.log.error({ code: 'CSYNC_STORE_FAILED', id, err }, 'Cannot remove finished pending action');
    }
  }
}

// Pure action selection (docs/daemon.md, "Actions"): which of a group's actions a batch of changed paths triggers,
// and the exact command each one runs (%% expanded to shell-quoted names). No I/O, no clock.
import { compilePatterns } from '../core/matcher.ts';
import type { ActionConfig, GroupConfig } from '../config/types.ts';
import type { ActionCommand } from './runner.ts';

/** Where a batch came from: applied from a peer, or this node's own change just delivered. */
export type ActionOrigin = 'received' | 'local';

/** One changed path: its logical form (matched against patterns) and this node's absolute path. */
export interface ActionChange {
  readonly logical: string;
  readonly abs: string;
}

/** An action a batch triggers, with the local absolute paths that matched it. */
export interface SelectedAction {
  /** Index in GroupConfig.actions. */
  readonly actionIndex: number;
  readonly action: ActionConfig;
  /** The matching absolute paths, de-duplicated and sorted; never empty. */
  readonly abs: string[];
}

/**
 * The actions one batch triggers, in config order, each at most once. A received batch runs every
 * action whose pattern matches a changed path, except `do_local_only` ones; a local batch (this
 * node's change, delivered) runs only `do_local` and `do_local_only` actions. Patterns are
 * matched against logical paths with the include/exclude rules (core/matcher.ts).
 */
export function selectActions(group: GroupConfig, changes: readonly ActionChange[], origin: ActionOrigin): SelectedAction[] {
  const selected: SelectedAction[] = [];
  group.actions.forEach((action, actionIndex) => {
    const eligible = origin === 'received' ? !action.doLocalOnly : action.doLocal || action.doLocalOnly;
    if (!eligible || changes.length === 0) return;
    const patterns = compilePatterns(action.pattern);
    const abs = new Set<string>();
    for (const change of changes) if (patterns.matches(change.logical)) abs.add(change.abs);
    if (abs.size > 0) selected.push({ actionIndex, action, abs: [...abs].sort() });
  });
  return selected;
}

/**
 * Quotes `word` for a POSIX shell: wrapped in single quotes, each `'` written as `'\''`. Inside
 * single quotes the shell expands nothing ($, `, \, newlines and spaces are literal).
 */
export function shellQuote(word: string): string {
  return `'${word.split("'").join(`'\\''`)}'`;
}

/**
 * `exec` with every `%%` replaced by the paths, each shell-quoted, separated by spaces. The
 * replacement is literal (no `$&`-style patterns), and nothing else in `exec` changes.
 */
export function expandExec(exec: string, paths: readonly string[]): string {
  return exec.split('%%').join(paths.map(shellQuote).join(' '));
}

/**
 * Largest CSYNC_FILES value put in the environment, in UTF-16 code units (≤ bytes). Linux refuses
 * to start a program with one environment string over 128 KiB (MAX_ARG_STRLEN), so a longer list
 * leaves CSYNC_FILES unset and the command reads the list from stdin.
 */
export const MAX_ENV_FILES_LENGTH = 100 * 1024;

/**
 * The command a selected action runs on node `self` of group `groupName`: `%%` expanded, the
 * list in CSYNC_FILES (newline-separated; unset past MAX_ENV_FILES_LENGTH) and on stdin (one path
 * per line, each ending in a newline), CSYNC_GROUP and CSYNC_NODE set.
 */
export function buildActionCommand(
  selected: Pick<SelectedAction, 'action' | 'abs'>,
  ctx: { readonly groupName: string; readonly self: string },
): ActionCommand {
  const list = selected.abs.join('\n');
  const env: Record<string, string> = { CSYNC_GROUP: ctx.groupName, CSYNC_NODE: ctx.self };
  if (list.length <= MAX_ENV_FILES_LENGTH) env['CSYNC_FILES'] = list;
  return {
    commandLine: expandExec(selected.action.exec, selected.abs),
    env,
    stdin: selected.abs.map((p) => `${p}\n`).join(''),
    logfile: selected.action.logfile,
    timeoutMs: selected.action.timeoutMs,
  };
}

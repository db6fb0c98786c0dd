// Maps between logical paths, groups, roots and this node's absolute paths. Pure functions over NodeView.
import { CsyncError } from '../core/errors.ts';
import { toRelPath } from '../core/paths.ts';
import type { GroupName, LogicalPath, NodeName, RelPath, RootId } from '../core/types.ts';
import { logicalPath } from '../core/types.ts';
import type { NodeGroup, NodeView } from '../config/types.ts';
import { relUnder } from '../scanner/scan.ts';
import type { GroupMatcher } from './context.ts';

/** A place in one group: which group, which root, and the path below it. */
export interface Target {
  readonly group: NodeGroup;
  readonly root: RootId;
  readonly absRoot: string;
  readonly rel: RelPath;
  /** See ApplyTarget.verifiedDirs (sync/apply.ts). */
  readonly verifiedDirs?: Set<string>;
}

/** Splits a logical path into its root and RelPath, if `root` contains it. */
export function relOf(root: RootId, path: string): RelPath | undefined {
  if (path === root) return '' as RelPath;
  if (!path.startsWith(`${root}/`)) return undefined;
  return toRelPath(path.slice(root.length + 1));
}

/** Every (group, root) of this node that contains `path` and does not exclude it. */
export function targetsOf(view: NodeView, matchers: ReadonlyMap<GroupName, GroupMatcher>, path: string): Target[] {
  const out: Target[] = [];
  for (const group of view.groups.values()) {
    if (matchers.get(group.config.name)?.isExcluded(path)) continue;
    for (const [root, absRoot] of group.roots) {
      const rel = relOf(root, path);
      if (rel !== undefined) out.push({ group, root, absRoot, rel });
    }
  }
  return out;
}

/**
 * Peers that should receive a local change of `path`: the peers of every group holding it.
 * A receive_only node originates nothing, so it gets none.
 */
export function peersFor(view: NodeView, matchers: ReadonlyMap<GroupName, GroupMatcher>, path: string): NodeName[] {
  const peers = new Set<NodeName>();
  for (const t of targetsOf(view, matchers, path)) {
    if (t.group.receiveOnly) continue;
    for (const p of t.group.peers) peers.add(p);
  }
  return [...peers].sort();
}

/** This node's absolute path for a target. */
export function absPathOf(t: { absRoot: string; rel: RelPath }): string {
  return t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`;
}

/** The logical path of a target. */
export function logicalOf(t: { root: RootId; rel: RelPath }): LogicalPath {
  return logicalPath(t.root, t.rel);
}

/**
 * Resolves an operator-supplied absolute path (`csync -c /var/www/htdocs/x`) to the targets that
 * hold it. Throws CSYNC_USAGE when no group of this node includes it.
 */
export function targetsForUserPath(view: NodeView, absPath: string, groupFilter?: ReadonlySet<GroupName>): Target[] {
  const out: Target[] = [];
  for (const group of view.groups.values()) {
    if (groupFilter && !groupFilter.has(group.config.name)) continue;
    for (const [root, absRoot] of group.roots) {
      const rel = relUnder(absRoot, absPath);
      if (rel !== undefined) out.push({ group, root, absRoot, rel });
    }
  }
  if (out.length === 0) {
    throw new CsyncError('CSYNC_USAGE', `path ${JSON.stringify(absPath)}: not inside any include of this node's groups`, {
      hint: 'run `csync config check` to see the roots this node syncs',
    });
  }
  return out;
}

/**
 * The real path of a logical one (`%www%/htdocs/a.txt` → `/var/www/htdocs/a.txt`), for messages:
 * an operator copies what csync prints into the next command. The logical path itself when no
 * root of this node holds it.
 */
export function realPathOf(view: NodeView, logical: string): string {
  for (const group of view.groups.values()) {
    for (const [root, absRoot] of group.roots) {
      if (logical === root) return absRoot;
      if (logical.startsWith(`${root}/`)) return `${absRoot}${logical.slice(root.length)}`;
    }
  }
  return logical;
}

/**
 * The logical path an operator typed in the form csync prints (`%www%/htdocs/a.txt`), as an
 * absolute real path; undefined when it names no root of this node.
 */
export function userPathFromLogical(view: NodeView, typed: string): string | undefined {
  if (!typed.startsWith('%')) return undefined;
  const real = realPathOf(view, typed);
  return real === typed ? undefined : real;
}

/** Every root of every (filtered) group as a target at its top. */
export function allRootTargets(view: NodeView, groupFilter?: ReadonlySet<GroupName>): Target[] {
  const out: Target[] = [];
  for (const group of view.groups.values()) {
    if (groupFilter && !groupFilter.has(group.config.name)) continue;
    for (const [root, absRoot] of group.roots) out.push({ group, root, absRoot, rel: '' as RelPath });
  }
  return out;
}

/**
 * Every directory csync writes below: the group roots, the backup dirs and the conflicts dir.
 * Nothing below one of them is ever reached through a symlink (FileSystem.confine).
 */
export function confinementAnchors(view: NodeView, conflictDir: string): string[] {
  const anchors = [conflictDir];
  for (const g of view.groups.values()) {
    anchors.push(...g.roots.values());
    if (g.backupDir !== undefined) anchors.push(g.backupDir);
  }
  return anchors;
}

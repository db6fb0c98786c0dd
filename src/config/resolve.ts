// A validated Config seen from one node: %h and %prefix% expanded, only this node's groups.
// Pure: the node name comes in as an argument (pickNodeName() decides it from flag/env/hostname).
import { posix } from 'node:path';
import { ConfigError, type ConfigIssue } from '../core/errors.ts';
import { prefixNameOf } from '../core/matcher.ts';
import type { GroupName, NodeName, RootId } from '../core/types.ts';
import type { Config, GroupConfig, NodeGroup, NodeView } from './types.ts';

/**
 * Chooses this node's name: `-N NAME`, else `CSYNC_NODE`, else the lower-cased host name.
 * Empty or blank values count as absent. Does not check that the name exists in the config.
 */
export function pickNodeName(input: { readonly flag?: string | undefined; readonly env?: string | undefined; readonly hostname: string }): NodeName {
  for (const candidate of [input.flag, input.env]) {
    if (candidate !== undefined && candidate.trim() !== '') return candidate.trim();
  }
  return input.hostname.trim().toLowerCase();
}

/** Replaces every `%h` in a path-valued setting with the node's name. */
export function expandHost(value: string, self: NodeName): string {
  return value.replaceAll('%h', self);
}

/**
 * Expands a leading `%name%` with this node's path for that prefix (its own entry, else
 * `default`) and every `%h`. Returns a reason string when the prefix gives no path.
 */
export function expandPath(config: Config, value: string, self: NodeName): string | { readonly problem: string } {
  const name = prefixNameOf(value);
  if (name === undefined) return expandHost(value, self);
  const paths = config.prefixes[name];
  const base = paths?.[self] ?? paths?.['default'];
  if (base === undefined) return { problem: `prefix ${JSON.stringify(name)} has no path for host ${JSON.stringify(self)} and no default` };
  return expandHost(base + value.slice(name.length + 2), self);
}

/**
 * Resolves `config` for node `self`: expands `%h` in tls/state_dir/key/backup_dir/logfile and
 * root paths, `%name%` in include and backup_dir, keeps only groups listing `self`.
 * Throws ConfigError when `self` is in no group or a prefix gives it no path.
 */
export function resolveNode(config: Config, self: NodeName): NodeView {
  const issues: ConfigIssue[] = [];
  const groups = new Map<GroupName, NodeGroup>();
  for (const group of Object.values(config.groups)) {
    if (group.hosts.includes(self)) groups.set(group.name, resolveGroup(config, group, self, issues));
  }
  const listen = config.hosts[self];
  if (groups.size === 0 || listen === undefined) issues.push(notAMemberIssue(config, self));
  if (issues.length > 0 || listen === undefined) throw new ConfigError(config.source, issues);
  return {
    config,
    self,
    stateDir: expandHost(config.stateDir, self),
    tlsCert: expandHost(config.tls.cert, self),
    tlsKey: expandHost(config.tls.key, self),
    listen,
    groups,
  };
}

function notAMemberIssue(config: Config, self: NodeName): ConfigIssue {
  const names = [...new Set(Object.values(config.groups).flatMap((g) => g.hosts))].sort();
  const known = names.length > 0 ? ` (one of ${names.map((n) => JSON.stringify(n)).join(', ')})` : '';
  return {
    keyPath: 'groups',
    message: `this node is ${JSON.stringify(self)}, which is in no group: pass -N NAME or set CSYNC_NODE${known}, or add ${JSON.stringify(self)} to a group's hosts and to [hosts]`,
  };
}

function normalizeAbs(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function resolveGroup(config: Config, group: GroupConfig, self: NodeName, issues: ConfigIssue[]): NodeGroup {
  const path = `groups.${group.name}`;
  const expand = (value: string, keyPath: string): string => {
    const out = expandPath(config, value, self);
    // Normalised ('..', '.', '//' and a trailing '/' resolved): paths are compared as strings and
    // confinement (fs/node-fs.ts) refuses any path that does not name its directory directly.
    if (typeof out === 'string') return normalizeAbs(out);
    issues.push({ keyPath, message: out.problem });
    return value;
  };
  const roots = new Map<RootId, string>();
  group.include.forEach((root, i) => roots.set(root, expand(root, `${path}.include[${i}]`)));
  const actions = group.actions.map((a) => (a.logfile === undefined ? a : { ...a, logfile: expandHost(a.logfile, self) }));
  return {
    config: { ...group, actions },
    roots,
    peers: group.hosts.filter((h) => h !== self),
    receiveOnly: group.receiveOnly.includes(self),
    keyFile: expandHost(group.keyFile, self),
    backupDir: group.backupDir === undefined ? undefined : expand(group.backupDir, `${path}.backup_dir`),
  };
}

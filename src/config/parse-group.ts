// Validation of one `[groups.NAME]` table and its `[[groups.NAME.actions]]` (docs/csync.toml.5.md). Pure;
// called by parse.ts, reports through an IssueCollector and returns what could be read.
import { checkPattern, prefixNameOf } from '../core/matcher.ts';
import { AUTO_POLICIES, type AutoPolicy, type GroupName, type IgnoredAttr, type NodeName } from '../core/types.ts';
import type { ActionConfig, GroupConfig, HostConfig } from './types.ts';
import {
  absolutePath,
  checkKeys,
  describeValue,
  HOST_NAME_RE,
  isTable,
  optBool,
  optDuration,
  optInt,
  optPercent,
  optString,
  optStringArray,
  optTable,
  reqString,
  type IssueCollector,
  type Table,
} from './values.ts';

/** Defaults of group and action settings (documented in csync.example.toml). */
export const GROUP_DEFAULTS = {
  auto: 'none',
  /** backup_generations when backup_dir is set; 0 without one. */
  backupGenerationsWithDir: 3,
  checkIntervalMs: 3_600_000,
  maxDeletePercent: 50,
  actionTimeoutMs: 300_000,
} as const;

const GROUP_KEYS = [
  'hosts', 'receive_only', 'key', 'include', 'exclude', 'auto', 'backup_dir', 'backup_generations',
  'ignore', 'watch', 'check_interval', 'max_delete', 'allow_setid', 'actions',
] as const;
const ACTION_KEYS = ['pattern', 'exec', 'check', 'verify', 'logfile', 'do_local', 'do_local_only', 'timeout'] as const;
const GROUP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const IGNORABLE: readonly IgnoredAttr[] = ['uid', 'gid', 'mode'];

/** What a group is validated against: the file's hosts and prefixes. */
export interface ParseScope {
  readonly hosts: Readonly<Record<NodeName, HostConfig>>;
  readonly prefixes: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** Parses the `groups` table. Reports a missing or empty one; returns the groups it could read. */
export function parseGroups(c: IssueCollector, v: unknown, scope: ParseScope): Record<GroupName, GroupConfig> {
  if (v === undefined) c.at('groups', 'is required: define at least one [groups.NAME] table');
  const tbl = optTable(c, v, 'groups');
  if (tbl !== undefined && Object.keys(tbl).length === 0) c.at('groups', 'must define at least one group');
  const groups: Record<GroupName, GroupConfig> = {};
  for (const [name, value] of Object.entries(tbl ?? {})) {
    const keyPath = `groups.${name}`;
    if (!GROUP_NAME_RE.test(name)) c.at(keyPath, `${JSON.stringify(name)} is not a valid group name (use A-Z, a-z, 0-9, ".", "_", "-")`);
    const gtbl = optTable(c, value, keyPath);
    if (gtbl !== undefined) groups[name] = parseGroup(c, name, gtbl, scope);
  }
  return groups;
}

function parseGroup(c: IssueCollector, name: GroupName, tbl: Table, scope: ParseScope): GroupConfig {
  const path = `groups.${name}`;
  checkKeys(c, tbl, path, GROUP_KEYS);
  const members = parseMembers(c, tbl, path, scope);
  const paths = parseGroupPaths(c, tbl, path, scope, members.hosts);
  const policy = parsePolicy(c, tbl, path, paths.backupDir);
  const actions = parseActions(c, tbl['actions'], path, scope);
  return { name, ...members, ...paths, ...policy, actions };
}

function parseMembers(c: IssueCollector, tbl: Table, path: string, scope: ParseScope): Pick<GroupConfig, 'hosts' | 'receiveOnly'> {
  if (tbl['hosts'] === undefined) c.at(`${path}.hosts`, 'is required: list at least two hosts');
  const hosts: NodeName[] = [];
  (optStringArray(c, tbl, 'hosts', path) ?? []).forEach((host, i) => {
    const keyPath = `${path}.hosts[${i}]`;
    if (!HOST_NAME_RE.test(host)) c.at(keyPath, `${JSON.stringify(host)} is not a valid host name`);
    else if (scope.hosts[host] === undefined) c.at(keyPath, `host ${JSON.stringify(host)} is not in [hosts]`);
    else if (hosts.includes(host)) c.at(keyPath, `host ${JSON.stringify(host)} is listed twice`);
    else hosts.push(host);
  });
  if (Array.isArray(tbl['hosts']) && tbl['hosts'].length < 2) {
    c.at(`${path}.hosts`, `must list at least two hosts, got ${tbl['hosts'].length}`);
  }
  const receiveOnly: NodeName[] = [];
  (optStringArray(c, tbl, 'receive_only', path) ?? []).forEach((host, i) => {
    const keyPath = `${path}.receive_only[${i}]`;
    if (!hosts.includes(host)) c.at(keyPath, `host ${JSON.stringify(host)} is not in ${path}.hosts`);
    else if (!receiveOnly.includes(host)) receiveOnly.push(host);
  });
  if (hosts.length > 0 && receiveOnly.length === hosts.length) {
    c.at(`${path}.receive_only`, 'lists every host: at least one host must be able to originate changes');
  }
  return { hosts, receiveOnly };
}

function parseGroupPaths(
  c: IssueCollector,
  tbl: Table,
  path: string,
  scope: ParseScope,
  members: readonly NodeName[],
): Pick<GroupConfig, 'keyFile' | 'include' | 'exclude' | 'backupDir'> {
  if (tbl['key'] === undefined) c.at(`${path}.key`, 'is required: the path of the group key file (make one with `csync -k FILE`)');
  const keyFile = absolutePath(c, tbl, 'key', path) ?? '';
  if (tbl['include'] === undefined) c.at(`${path}.include`, 'is required: list the directories this group keeps identical');
  const include = optStringArray(c, tbl, 'include', path) ?? [];
  if (Array.isArray(tbl['include']) && tbl['include'].length === 0) c.at(`${path}.include`, 'must list at least one path');
  include.forEach((root, i) => checkRoot(c, scope, { root, keyPath: `${path}.include[${i}]`, members, earlier: include.slice(0, i) }));
  const exclude = optStringArray(c, tbl, 'exclude', path) ?? [];
  exclude.forEach((pattern, i) => checkPrefixUse(c, scope, pattern, `${path}.exclude[${i}]`, []));
  const backupDir = optString(c, tbl, 'backup_dir', path);
  if (backupDir !== undefined) checkAbsoluteOrPrefixed(c, scope, backupDir, `${path}.backup_dir`, members);
  return { keyFile, include, exclude, backupDir };
}

/** Checks one include root: absolute or %prefix%, normalised, not a pattern, not inside an earlier root. */
function checkRoot(
  c: IssueCollector,
  scope: ParseScope,
  opts: { readonly root: string; readonly keyPath: string; readonly members: readonly NodeName[]; readonly earlier: readonly string[] },
): void {
  const { root, keyPath } = opts;
  if (!checkAbsoluteOrPrefixed(c, scope, root, keyPath, opts.members)) return;
  const parts = root.split('/').slice(1);
  if (root.length > 1 && root.endsWith('/')) c.at(keyPath, `${JSON.stringify(root)} must not end with "/"`);
  else if (parts.some((p) => p === '.' || p === '..')) c.at(keyPath, `${JSON.stringify(root)} must not contain "." or ".." components`);
  else if (/[*?[\]]/.test(root)) c.at(keyPath, `${JSON.stringify(root)} is a pattern: include lists plain paths; put patterns in exclude`);
  const outer = opts.earlier.find((e) => root === e || root.startsWith(e === '/' ? '/' : `${e}/`));
  if (outer !== undefined) c.at(keyPath, `${JSON.stringify(root)} is already covered by include ${JSON.stringify(outer)}`);
}

/** Checks a path that must start with "/" or a defined "%prefix%"; true when it does. */
function checkAbsoluteOrPrefixed(c: IssueCollector, scope: ParseScope, value: string, keyPath: string, members: readonly NodeName[]): boolean {
  if (!value.startsWith('/') && !value.startsWith('%')) {
    c.at(keyPath, `${JSON.stringify(value)} is not absolute: start it with "/" or a prefix such as "%www%"`);
    return false;
  }
  const before = c.issues.length;
  checkPrefixUse(c, scope, value, keyPath, members);
  return c.issues.length === before;
}

/**
 * Checks a root, backup dir or pattern that may start with `%name%`: the pattern must compile,
 * the prefix must exist and give a path for each of `members` (own entry or `default`).
 */
export function checkPrefixUse(c: IssueCollector, scope: ParseScope, value: string, keyPath: string, members: readonly NodeName[]): void {
  const problem = checkPattern(value);
  if (problem !== undefined) return c.at(keyPath, `${JSON.stringify(value)} ${problem}`);
  const name = prefixNameOf(value);
  if (name === undefined) return;
  const paths = scope.prefixes[name];
  if (paths === undefined) return c.at(keyPath, `prefix ${JSON.stringify(name)} is not defined (add a [prefix.${name}] table)`);
  for (const node of members) {
    if (paths[node] === undefined && paths['default'] === undefined) {
      c.at(keyPath, `prefix ${JSON.stringify(name)} has no path for host ${JSON.stringify(node)} and no default`);
    }
  }
}

function parsePolicy(
  c: IssueCollector,
  tbl: Table,
  path: string,
  backupDir: string | undefined,
): Pick<GroupConfig, 'auto' | 'backupGenerations' | 'ignore' | 'watch' | 'checkIntervalMs' | 'maxDeletePercent' | 'allowSetid'> {
  const autoText = optString(c, tbl, 'auto', path);
  const isPolicy = (s: string): s is AutoPolicy => (AUTO_POLICIES as readonly string[]).includes(s);
  if (autoText !== undefined && !isPolicy(autoText)) {
    c.at(`${path}.auto`, `must be one of ${AUTO_POLICIES.join(', ')}, got ${describeValue(autoText)}`);
  }
  const gens = optInt(c, tbl, 'backup_generations', path, [0, Number.MAX_SAFE_INTEGER]);
  if (gens !== undefined && gens > 0 && backupDir === undefined && tbl['backup_dir'] === undefined) {
    c.at(`${path}.backup_generations`, 'needs backup_dir: set backup_dir or use 0');
  }
  const ignore: IgnoredAttr[] = [];
  (optStringArray(c, tbl, 'ignore', path) ?? []).forEach((attr, i) => {
    const known = IGNORABLE.find((a) => a === attr);
    if (known === undefined) c.at(`${path}.ignore[${i}]`, `must be one of uid, gid, mode, got ${describeValue(attr)}`);
    else if (!ignore.includes(known)) ignore.push(known);
  });
  return {
    auto: autoText !== undefined && isPolicy(autoText) ? autoText : GROUP_DEFAULTS.auto,
    backupGenerations: gens ?? (backupDir === undefined ? 0 : GROUP_DEFAULTS.backupGenerationsWithDir),
    ignore,
    watch: optBool(c, tbl, 'watch', path) ?? false,
    checkIntervalMs: optDuration(c, tbl, 'check_interval', path) ?? GROUP_DEFAULTS.checkIntervalMs,
    maxDeletePercent: optPercent(c, tbl, 'max_delete', path) ?? GROUP_DEFAULTS.maxDeletePercent,
    allowSetid: optBool(c, tbl, 'allow_setid', path) ?? false,
  };
}

function parseActions(c: IssueCollector, v: unknown, path: string, scope: ParseScope): ActionConfig[] {
  if (v === undefined) return [];
  const keyPath = `${path}.actions`;
  if (!Array.isArray(v)) {
    c.at(keyPath, `must be an array of tables (write [[${keyPath}]]), got ${describeValue(v)}`);
    return [];
  }
  const actions: ActionConfig[] = [];
  v.forEach((item: unknown, i) => {
    if (isTable(item)) actions.push(parseAction(c, item, `${keyPath}[${i}]`, scope));
    else c.at(`${keyPath}[${i}]`, `must be a table, got ${describeValue(item)}`);
  });
  return actions;
}

function parseAction(c: IssueCollector, tbl: Table, path: string, scope: ParseScope): ActionConfig {
  checkKeys(c, tbl, path, ACTION_KEYS);
  if (tbl['pattern'] === undefined) c.at(`${path}.pattern`, 'is required: the paths that trigger this action');
  const pattern = optStringArray(c, tbl, 'pattern', path, { allowSingle: true }) ?? [];
  if (Array.isArray(tbl['pattern']) && tbl['pattern'].length === 0) c.at(`${path}.pattern`, 'must list at least one pattern');
  pattern.forEach((p, i) => checkPrefixUse(c, scope, p, Array.isArray(tbl['pattern']) ? `${path}.pattern[${i}]` : `${path}.pattern`, []));
  const exec = reqString(c, tbl, 'exec', path) ?? '';
  if (typeof tbl['exec'] === 'string' && exec.trim() === '') c.at(`${path}.exec`, 'must not be empty');
  const step = (key: 'check' | 'verify'): string | undefined => {
    const v = optString(c, tbl, key, path);
    if (v !== undefined && v.trim() === '') c.at(`${path}.${key}`, `must not be empty (leave the key out for no ${key})`);
    return v;
  };
  const check = step('check');
  const verify = step('verify');
  return {
    pattern,
    exec,
    ...(check === undefined ? {} : { check }),
    ...(verify === undefined ? {} : { verify }),
    logfile: absolutePath(c, tbl, 'logfile', path),
    doLocal: optBool(c, tbl, 'do_local', path) ?? false,
    doLocalOnly: optBool(c, tbl, 'do_local_only', path) ?? false,
    timeoutMs: optDuration(c, tbl, 'timeout', path) ?? GROUP_DEFAULTS.actionTimeoutMs,
  };
}

// TOML text → validated Config (docs/csync.toml.5.md). Pure: no file access, no process state.
// Collects every problem and throws one ConfigError; nothing here resolves values for a node.
import toml from 'toml';
import { ConfigError, type ConfigIssue } from '../core/errors.ts';
import type { NodeName } from '../core/types.ts';
import { indexKeyLines } from './locate.ts';
import { parseGroups } from './parse-group.ts';
import { DEFAULT_PORT, type Config, type HostConfig, type MetricsConfig } from './types.ts';
import {
  checkKeys,
  describeValue,
  HOST_NAME_RE,
  isTable,
  createIssueCollector,
  type IssueCollector,
  absolutePath,
  optBool,
  optTable,
  optInt,
  optDuration,
  parseHostAddress,
  type Table,
} from './values.ts';

/** Defaults of the top-level settings (documented in csync.example.toml). */
export const CONFIG_DEFAULTS = {
  stateDir: '/var/lib/csync',
  tlsCert: '/etc/csync/tls/%h.crt',
  tlsKey: '/etc/csync/tls/%h.key',
} as const;

const TOP_KEYS = ['port', 'state_dir', 'idle_timeout', 'tls', 'hosts', 'prefix', 'groups', 'metrics'] as const;
const PIN_RE = /^sha256:[0-9a-f]{64}$/;
const PREFIX_NAME_RE = /^[A-Za-z0-9_-]+$/;

/**
 * Parses and validates a whole csync.toml. `sourceName` is used in messages only. Returns the
 * Config with defaults filled in and paths left unexpanded. Throws ConfigError (code
 * CSYNC_CONFIG_INVALID) listing every problem found, each with its key path and line when known.
 */
export function parseConfig(text: string, sourceName: string): Config {
  const raw = parseToml(text, sourceName);
  const c = createIssueCollector(indexKeyLines(text));
  checkKeys(c, raw, '', TOP_KEYS);
  const port = optInt(c, raw, 'port', '', [1, 65535]) ?? DEFAULT_PORT;
  const stateDir = absolutePath(c, raw, 'state_dir', '') ?? CONFIG_DEFAULTS.stateDir;
  const idleTimeoutMs = optDuration(c, raw, 'idle_timeout', '');
  const hosts = parseHosts(c, raw['hosts'], port);
  const tls = parseTls(c, raw['tls'], hosts);
  const prefixes = parsePrefixes(c, raw['prefix'], hosts);
  const groups = parseGroups(c, raw['groups'], { hosts, prefixes });
  const metrics = parseMetrics(c, raw['metrics']);
  if (c.issues.length > 0) throw new ConfigError(sourceName, sortIssues(c.issues));
  return { source: sourceName, port, stateDir, tls, hosts, prefixes, groups, ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }), ...(metrics === undefined ? {} : { metrics }) };
}

/** Runs the TOML parser, turning a syntax error into a ConfigError with its position. */
function parseToml(text: string, sourceName: string): Table {
  try {
    const parsed: unknown = toml.parse(text);
    return isTable(parsed) ? { ...parsed } : {};
  } catch (err) {
    throw new ConfigError(sourceName, [syntaxIssue(err)]);
  }
}

function syntaxIssue(err: unknown): ConfigIssue {
  const e = err as { message?: unknown; line?: unknown; column?: unknown; location?: { start?: { line?: number; column?: number } } };
  const line = typeof e.line === 'number' ? e.line : e.location?.start?.line;
  const column = typeof e.column === 'number' ? e.column : e.location?.start?.column;
  const text = typeof e.message === 'string' ? e.message : String(err);
  // The parser lists every token it expected; the token it found is what helps a human.
  const found = /but (.+) found\.?$/.exec(text);
  const message = `invalid TOML: ${found !== null ? `unexpected ${found[1]}` : text.replace(/\.$/, '')}`;
  return { keyPath: '(syntax)', message, ...(line === undefined ? {} : { line }), ...(column === undefined ? {} : { column }) };
}

/** Orders issues by line (issues without a line last), keeping discovery order otherwise. */
function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

function parseHosts(c: IssueCollector, v: unknown, defaultPort: number): Record<NodeName, HostConfig> {
  const hosts: Record<NodeName, HostConfig> = {};
  if (v === undefined) c.at('hosts', 'is required: list every node as name = "address[:port]"');
  const tbl = optTable(c, v, 'hosts') ?? {};
  for (const [name, value] of Object.entries(tbl)) {
    const keyPath = `hosts.${name}`;
    if (!HOST_NAME_RE.test(name)) c.at(keyPath, `${JSON.stringify(name)} is not a valid host name (use a-z, 0-9, ".", "_", "-")`);
    else if (typeof value !== 'string') c.at(keyPath, `must be a string "address[:port]", got ${describeValue(value)}`);
    else {
      const parsed = parseHostAddress(value, defaultPort);
      // A bad address still declares the name, so groups listing it get no second, misleading
      // issue; the placeholder never escapes because parseConfig throws on any issue.
      if (typeof parsed === 'string') c.at(keyPath, parsed);
      hosts[name] = typeof parsed === 'string' ? { name, address: '', port: 0 } : { name, ...parsed };
    }
  }
  return hosts;
}

function parseTls(c: IssueCollector, v: unknown, hosts: Readonly<Record<NodeName, HostConfig>>): Config['tls'] {
  const tbl = optTable(c, v, 'tls') ?? {};
  checkKeys(c, tbl, 'tls', ['cert', 'key', 'pins', 'require_pins']);
  const pins: Record<NodeName, string> = {};
  for (const [name, pin] of Object.entries(optTable(c, tbl['pins'], 'tls.pins') ?? {})) {
    const keyPath = `tls.pins.${name}`;
    if (hosts[name] === undefined) c.at(keyPath, `host ${JSON.stringify(name)} is not in [hosts]`);
    else if (typeof pin !== 'string' || !PIN_RE.test(pin)) {
      c.at(keyPath, `must be "sha256:" followed by 64 lower-case hex digits, got ${describeValue(pin)}`);
    } else pins[name] = pin;
  }
  return {
    cert: absolutePath(c, tbl, 'cert', 'tls') ?? CONFIG_DEFAULTS.tlsCert,
    key: absolutePath(c, tbl, 'key', 'tls') ?? CONFIG_DEFAULTS.tlsKey,
    pins,
    requirePins: optBool(c, tbl, 'require_pins', 'tls') ?? false,
  };
}

function parsePrefixes(
  c: IssueCollector,
  v: unknown,
  hosts: Readonly<Record<NodeName, HostConfig>>,
): Record<string, Record<string, string>> {
  const prefixes: Record<string, Record<string, string>> = {};
  for (const [name, value] of Object.entries(optTable(c, v, 'prefix') ?? {})) {
    const keyPath = `prefix.${name}`;
    if (!PREFIX_NAME_RE.test(name)) c.at(keyPath, `${JSON.stringify(name)} is not a valid prefix name (use A-Z, a-z, 0-9, "_", "-")`);
    const tbl = optTable(c, value, keyPath);
    if (tbl === undefined) continue;
    const paths: Record<string, string> = {};
    for (const node of Object.keys(tbl)) {
      if (node !== 'default' && hosts[node] === undefined) c.at(`${keyPath}.${node}`, `host ${JSON.stringify(node)} is not in [hosts]`);
      const path = absolutePath(c, tbl, node, keyPath);
      if (path !== undefined) paths[node] = path;
    }
    prefixes[name] = paths;
  }
  return prefixes;
}


/** The metrics listener's default port (docs/csync.toml.5.md, [metrics]). */
export const DEFAULT_METRICS_PORT = 9477;

/**
 * `[metrics]`: off when absent. A listener on anything but a loopback address needs
 * `allow_public = true` as well: /metrics and the status page are unauthenticated and name paths,
 * peers and errors, so exposing them must be a choice written down, never a typo's side effect.
 */
function parseMetrics(c: IssueCollector, v: unknown): MetricsConfig | undefined {
  const tbl = optTable(c, v, 'metrics');
  if (tbl === undefined) return undefined;
  checkKeys(c, tbl, 'metrics', ['listen', 'allow_public']);
  const allowPublic = optBool(c, tbl, 'allow_public', 'metrics') ?? false;
  const text = tbl['listen'];
  let problem: string | undefined;
  let parsed: { address: string; port: number } | string = '';
  if (text === undefined) problem = 'is required: the address to serve on, e.g. "127.0.0.1:9477" (remove [metrics] to turn it off)';
  else if (typeof text !== 'string') problem = `must be a string "address[:port]", got ${describeValue(text)}`;
  else parsed = parseHostAddress(text, DEFAULT_METRICS_PORT);
  if (typeof parsed === 'string') problem ??= parsed;
  else if (!allowPublic && !isLoopback(parsed.address)) {
    problem = `${describeValue(text)} is not a loopback address, and the listener has no authentication (use 127.0.0.1, or set allow_public = true and firewall it)`;
  }
  if (problem !== undefined || typeof parsed === 'string') {
    c.at('metrics.listen', problem ?? 'is invalid');
    return undefined;
  }
  return { host: parsed.address, port: parsed.port, allowPublic };
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1 and "localhost". */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === 'localhost' || a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

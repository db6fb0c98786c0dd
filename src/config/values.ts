// Typed readers for parsed TOML values that collect ConfigIssues instead of throwing, plus the
// small value grammars of csync.toml (durations, percentages, "address[:port]"). Pure.
import type { ConfigIssue } from '../core/errors.ts';
import { joinKeyPath, lineOf, type KeyLineIndex } from './locate.ts';

/** A TOML table as the parser returns it. */
export type Table = Record<string, unknown>;

/** Collects issues for one file; `at()` attaches the line of the key path when it can be found. */
export interface IssueCollector {
  readonly issues: ConfigIssue[];
  /** Records one problem at `keyPath`. */
  at(keyPath: string, message: string): void;
}

/** Makes an IssueCollector that looks lines up in `index`. */
export function createIssueCollector(index: KeyLineIndex): IssueCollector {
  const issues: ConfigIssue[] = [];
  return {
    issues,
    at(keyPath, message) {
      const line = lineOf(index, keyPath);
      issues.push(line === undefined ? { keyPath, message } : { keyPath, message, line });
    },
  };
}

/** True for a TOML table (not an array, not a date). */
export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Describes a value for "must be X, got Y" messages. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number') return `${Number.isInteger(v) ? 'integer' : 'float'} ${v}`;
  if (typeof v === 'bigint') return `integer ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (v instanceof Date) return 'a date-time';
  if (Array.isArray(v)) return 'an array';
  return 'a table';
}

/** Reports every key of `tbl` not in `allowed`, suggesting a close allowed key. */
export function checkKeys(c: IssueCollector, tbl: Table, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(tbl)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((a) => editDistance(a, key) <= 2);
    c.at(joinKeyPath(path, key), `unknown key${near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`}`);
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** Reads an optional string; reports a wrong type and returns undefined. */
export function optString(c: IssueCollector, tbl: Table, key: string, path: string): string | undefined {
  const v = tbl[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  c.at(joinKeyPath(path, key), `must be a string, got ${describeValue(v)}`);
  return undefined;
}

/** Reads a required string; reports absence or a wrong type. */
export function reqString(c: IssueCollector, tbl: Table, key: string, path: string): string | undefined {
  if (tbl[key] === undefined) c.at(joinKeyPath(path, key), 'is required');
  return optString(c, tbl, key, path);
}

/** Reads an optional boolean. */
export function optBool(c: IssueCollector, tbl: Table, key: string, path: string): boolean | undefined {
  const v = tbl[key];
  if (v === undefined || typeof v === 'boolean') return v;
  c.at(joinKeyPath(path, key), `must be a boolean (true or false), got ${describeValue(v)}`);
  return undefined;
}

/** Reads an optional integer within [min, max]. */
export function optInt(c: IssueCollector, tbl: Table, key: string, path: string, range: readonly [number, number]): number | undefined {
  const v = tbl[key];
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= range[0] && v <= range[1]) return v;
  const bound = range[1] === Number.MAX_SAFE_INTEGER ? `≥ ${range[0]}` : `from ${range[0]} to ${range[1]}`;
  c.at(joinKeyPath(path, key), `must be an integer ${bound}, got ${describeValue(v)}`);
  return undefined;
}

/**
 * Reads an optional array of strings (a lone string is accepted when `allowSingle`). Reports a
 * wrong type per element at `path.key[i]` and drops that element.
 */
export function optStringArray(
  c: IssueCollector,
  tbl: Table,
  key: string,
  path: string,
  opts: { readonly allowSingle: boolean } = { allowSingle: false },
): string[] | undefined {
  const v = tbl[key];
  const keyPath = joinKeyPath(path, key);
  if (v === undefined) return undefined;
  if (typeof v === 'string' && opts.allowSingle) return [v];
  if (!Array.isArray(v)) {
    c.at(keyPath, `must be an array of strings${opts.allowSingle ? ' or a string' : ''}, got ${describeValue(v)}`);
    return undefined;
  }
  const out: string[] = [];
  v.forEach((item: unknown, i) => {
    if (typeof item === 'string') out.push(item);
    else c.at(`${keyPath}[${i}]`, `must be a string, got ${describeValue(item)}`);
  });
  return out;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "15m", "1h30m", "1d", "500ms" to milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
  return total;
}

/** Reads an optional duration string; must be > 0. */
export function optDuration(c: IssueCollector, tbl: Table, key: string, path: string): number | undefined {
  const v = tbl[key];
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms !== undefined && ms > 0) return ms;
  c.at(joinKeyPath(path, key), `must be a duration such as "30s", "15m", "1h" or "1d", got ${describeValue(v)}`);
  return undefined;
}

/** Reads an optional percentage: a number 0..100 or a string like "50%". */
export function optPercent(c: IssueCollector, tbl: Table, key: string, path: string): number | undefined {
  const v = tbl[key];
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(v) : null;
  const n = typeof v === 'number' ? v : m !== null ? Number(m[1]) : NaN;
  if (n >= 0 && n <= 100) return n;
  c.at(joinKeyPath(path, key), `must be a percentage from 0 to 100 such as "50%", got ${describeValue(v)}`);
  return undefined;
}

/** Host names as they appear in [hosts] and -N. */
export const HOST_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Parses "address[:port]" ("10.0.0.1", "web1.lan:30866", "[fd00::13]:30866", "fd00::13").
 * Returns the address without brackets, or a reason string when malformed.
 */
export function parseHostAddress(text: string, defaultPort: number): { address: string; port: number } | string {
  let address: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\](?::(\d+))?$/.exec(text);
  const named = /^([A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d+))?$/.exec(text);
  if (bracketed !== null) [address, portText] = [bracketed[1] as string, bracketed[2]];
  else if (/^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/.test(text) && text.split(':').length > 2) address = text;
  else if (named !== null) [address, portText] = [named[1] as string, named[2]];
  else return 'must be "address[:port]", with IPv6 written as "[fd00::13]:30866" or "fd00::13"';
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be from 1 to 65535, got ${portText}`;
  return { address, port };
}

/** Reads an optional string that must be an absolute path (it may contain %h). */
export function absolutePath(c: IssueCollector, tbl: Table, key: string, path: string): string | undefined {
  const v = optString(c, tbl, key, path);
  if (v === undefined || v.startsWith('/')) return v;
  c.at(path === '' ? key : `${path}.${key}`, `must be an absolute path, got ${describeValue(v)}`);
  return undefined;
}

/** Reads an optional sub-table; reports a wrong type and returns undefined. */
export function optTable(c: IssueCollector, v: unknown, keyPath: string): Table | undefined {
  if (v === undefined) return undefined;
  if (isTable(v)) return v;
  c.at(keyPath, `must be a table, got ${describeValue(v)}`);
  return undefined;
}


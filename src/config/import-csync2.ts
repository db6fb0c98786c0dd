// Converts a csync2 configuration (csync2.cfg) into csync's TOML (`csync import-csync2`).
// Pure: text in (included files through a function), TOML text and notes out. The grammar is in
// csync2-grammar.ts, the pattern translation in csync2-patterns.ts. The result is validated the
// way `csync config check` validates a file, for every host, and what still fails becomes a note:
// the output either checks clean or says, line by line, what to write.
import { posix } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { parseCsync2, type Csync2Action, type Csync2Config, type Csync2Group, type Where } from './csync2-grammar.ts';
import { convertPatterns } from './csync2-patterns.ts';
import { parseConfig } from './parse.ts';
import { resolveNode } from './resolve.ts';
import { DEFAULT_PORT } from './types.ts';
import { HOST_NAME_RE, parseHostAddress } from './values.ts';

/** Result of a conversion. */
export interface Csync2Import {
  readonly toml: string;
  /** Human-readable notes: settings dropped or approximated, each naming the csync2 line. */
  readonly notes: string[];
}

/** Where the csync2.cfg lives and how to read the files it includes. */
export interface ImportOptions {
  /** Path of the csync2.cfg: relative `key` and `config` paths are taken from its directory. */
  readonly path?: string;
  /** Reads an included file (`config FILE;`); without it, an include is an error. */
  readonly readFile?: (path: string) => string;
}

/** The guide every note can point at. */
const GUIDE = 'docs/migrating-from-csync2.md';
const GROUP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const PREFIX_NAME_RE = /^[A-Za-z0-9_-]+$/;

const q = (s: string): string => JSON.stringify(s);
const list = (xs: readonly string[]): string => `[${xs.map(q).join(', ')}]`;
/** A TOML key: bare when TOML allows it, quoted otherwise (host names with dots above all). */
const key = (s: string): string => (/^[A-Za-z0-9_-]+$/.test(s) ? s : q(s));

/** A csync2 host glob (fnmatch without flags: `*`, `?`, `[…]`, `[!…]`, `\x`) as a RegExp. */
function hostGlob(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < pattern.length) re += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    else if (c === '[' && pattern.indexOf(']', i + 2) > 0) {
      const end = pattern.indexOf(']', i + 2);
      const body = pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The converted file, before rendering. */
interface Draft {
  readonly notes: string[];
  /** host → address, in order of appearance. */
  readonly hosts: Map<string, string>;
  readonly groups: string[][];
  readonly prefixes: string[][];
}

/**
 * Converts csync2.cfg text. Throws Error naming the line on text csync2 itself would refuse to
 * parse; what parses but cannot be carried over is listed in `notes`, each with its line and
 * what to write instead.
 */
export function importCsync2(text: string, opts: ImportOptions = {}): Csync2Import {
  const baseDir = opts.path === undefined ? undefined : posix.dirname(opts.path);
  const read = opts.readFile ?? ((): string => {
    throw new Error('no reader');
  });
  const cfg = parseCsync2(text, { baseDir, read });
  const d: Draft = { notes: [], hosts: new Map(), groups: [], prefixes: [] };
  noteIncludes(d, cfg);
  noteGlobals(d, cfg);
  const names = uniqueGroupNames(d, cfg.groups);
  cfg.groups.forEach((g, i) => convertGroup(d, cfg, g, names[i] as string, baseDir));
  for (const p of cfg.prefixes) convertPrefix(d, p);
  const toml = render(d);
  if (d.groups.length === 0) {
    d.notes.push(cfg.groups.length === 0
      ? `no group in this file (csync2 would refuse to run: "not a member of any configured group"): add a [groups.NAME] table with hosts, key and include (see csync.example.toml)`
      : 'no group could be converted (see the notes above): the result has no [groups.NAME] table yet');
  } else d.notes.push(...selfCheck(toml, [...d.hosts.keys()]));
  return { toml, notes: byLine(d.notes) };
}

/** Notes on lines of the main file in line order; those on included files and the rest after them. */
function byLine(notes: readonly string[]): string[] {
  const lineOf = (n: string): number => Number(/^line (\d+):/.exec(n)?.[1] ?? Infinity);
  return [...notes].sort((a, b) => lineOf(a) - lineOf(b));
}

function noteIncludes(d: Draft, cfg: Csync2Config): void {
  for (const inc of cfg.includes) {
    if (!inc.written.startsWith('/')) {
      d.notes.push(`${inc.where}: config ${inc.written} was read as ${inc.opened}; csync2 opens a relative include from its working directory`);
    }
  }
}

function noteGlobals(d: Draft, cfg: Csync2Config): void {
  const why: Record<string, string> = {
    nossl: 'csync always uses TLS 1.3, with certificates made by `csync tls init`',
    database: 'csync keeps its own state in state_dir (default /var/lib/csync) and does not read the csync2 database',
    tempdir: 'csync writes each incoming file to a temporary name in that file\'s own directory, so the final rename is atomic',
    'lock-timeout': 'csync\'s state database waits up to 5 s for a lock, and a `csync -x` is handed to a running daemon instead of waiting',
    'no-cygwin-lowercase': 'csync runs on Linux only',
  };
  for (const g of cfg.globals) {
    d.notes.push(`${g.where}: ${[g.keyword, ...g.args].join(' ')} is dropped: ${why[g.keyword] ?? 'csync has no such setting'}`);
  }
}

/** csync's group names are TOML keys with a narrower alphabet; csync2 allows any word and repeats. */
function uniqueGroupNames(d: Draft, groups: readonly Csync2Group[]): string[] {
  const used = new Set<string>();
  return groups.map((g) => {
    let name = GROUP_NAME_RE.test(g.name) ? g.name : g.name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]/, 'g');
    for (let n = 2; used.has(name); n++) name = `${name.replace(/_\d+$/, '')}_${n}`;
    if (name !== g.name) d.notes.push(`${g.where}: group ${g.name} is written as [groups.${key(name)}] (csync group names are unique and use A-Z, a-z, 0-9, ".", "_", "-")`);
    used.add(name);
    return name;
  });
}

/** The group's member names and receive-only names; adds the hosts to [hosts] once the group is kept. */
function convertHosts(d: Draft, g: Csync2Group, name: string): { hosts: string[]; receiveOnly: string[]; commit: () => void } {
  const hosts: string[] = [];
  const receiveOnly: string[] = [];
  const addresses: [string, string | undefined, Where][] = [];
  for (const h of g.hosts) {
    if (hosts.includes(h.name)) continue;
    hosts.push(h.name);
    if (h.slave) receiveOnly.push(h.name);
    addresses.push([h.name, h.address, h.where]);
  }
  const commit = (): void => {
    for (const [host, address, where] of addresses) addHost(d, host, address, where);
  };
  if (hosts.length > 0 && receiveOnly.length === hosts.length) {
    d.notes.push(`${g.where}: group ${name}: every host is in ( ), so none could send a change; receive_only is left out: list in it the hosts that must only receive`);
    return { hosts, receiveOnly: [], commit };
  }
  return { hosts, receiveOnly, commit };
}

/** Adds one host to [hosts]: csync has one address per host, where csync2 had one per group. */
function addHost(d: Draft, name: string, address: string | undefined, where: Where): void {
  const known = d.hosts.get(name);
  if (known === undefined) {
    if (!HOST_NAME_RE.test(name)) d.notes.push(`${where}: host ${name} cannot be a csync node name (use a-z, 0-9, ".", "_", "-"): rename it in [hosts] and in the groups`);
    d.hosts.set(name, hostAddress(d, name, address, where));
  } else if (address !== undefined && known !== address) {
    d.notes.push(`${where}: host ${name}@${address}: csync has one address per host; [hosts] keeps ${known}`);
  }
}

/** csync2 dials the name after "@" (an interface's name or address), else the host name. */
function hostAddress(d: Draft, name: string, address: string | undefined, where: Where): string {
  const candidate = address ?? name;
  if (typeof parseHostAddress(candidate, DEFAULT_PORT) !== 'string') return candidate;
  d.notes.push(`${where}: host ${name}: "${candidate}" is not an address csync can dial: set hosts.${key(name)} = "address[:port]"`);
  return candidate;
}

function convertGroup(d: Draft, cfg: Csync2Config, g: Csync2Group, name: string, baseDir: string | undefined): void {
  const { hosts, receiveOnly, commit } = convertHosts(d, g, name);
  if (hosts.length < 2) {
    d.notes.push(`${g.where}: group ${name} has ${hosts.length === 0 ? 'no host' : 'one host'}, so it syncs nothing; csync needs two or more: not converted`);
    return;
  }
  const patterns = convertPatterns(g.patterns, name);
  d.notes.push(...patterns.notes);
  if (patterns.include.length === 0) {
    d.notes.push(`${g.where}: group ${name} includes no path, so it syncs nothing: not converted`);
    return;
  }
  commit();
  const out = [`[groups.${key(name)}]`, `hosts = ${list(hosts)}`];
  if (receiveOnly.length > 0) out.push(`receive_only = ${list(receiveOnly)}`);
  out.push(`key = ${q(keyPath(d, g, baseDir))}`, `include = ${list(patterns.include)}`);
  if (patterns.exclude.length > 0) out.push(`exclude = ${list(patterns.exclude)}`);
  if (g.auto !== undefined) out.push(`auto = ${q(g.auto)}`);
  out.push(...backups(d, g, name));
  const ignore = [...new Set(cfg.ignore.map((p) => (p === 'mod' ? 'mode' : p)))];
  if (ignore.length > 0) out.push(`ignore = ${list(ignore)}`);
  for (const a of g.actions) out.push(...convertAction(d, a, name, patterns.include));
  d.groups.push(out);
}

/** csync2 reads a relative key from its system directory, which is where csync2.cfg lives. */
function keyPath(d: Draft, g: Csync2Group, baseDir: string | undefined): string {
  const k = g.key as { value: string; where: Where };
  if (k.value.startsWith('/')) return k.value;
  if (baseDir !== undefined) return posix.join(baseDir, k.value);
  d.notes.push(`${k.where}: key ${k.value} is relative: write the absolute path (csync2 reads it from the directory of csync2.cfg)`);
  return k.value;
}

function backups(d: Draft, g: Csync2Group, name: string): string[] {
  const dir = g.backupDir;
  if (dir === undefined) return [];
  if (!dir.value.startsWith('/') && !dir.value.startsWith('%')) {
    d.notes.push(`${dir.where}: group ${name}: backup-directory ${dir.value} is relative (csync2 takes it from its working directory): set backup_dir to an absolute path`);
    return [];
  }
  const out = [`backup_dir = ${q(dir.value)}`];
  // atoi(), as csync2 reads it: a word that is not a number counts as 0.
  if (g.backupGenerations !== undefined) out.push(`backup_generations = ${Math.max(0, Number.parseInt(g.backupGenerations.value, 10) || 0)}`);
  return out;
}

function convertAction(d: Draft, a: Csync2Action, group: string, roots: readonly string[]): string[] {
  const at = `${a.where}: group ${group}: action`;
  if (a.execs.length === 0) {
    d.notes.push(`${at} has no exec, so it runs nothing: not converted`);
    return [];
  }
  // csync2 matches an action pattern against the whole path; one not starting with "/" or "%"
  // never matches there, while csync would match it against names anywhere.
  const patterns = a.patterns.filter((p) => {
    const anchored = p.startsWith('/') || p.startsWith('%');
    if (!anchored) d.notes.push(`${at}: pattern ${p} never matches in csync2 (action patterns are matched against the whole path): dropped`);
    return anchored;
  });
  if (a.patterns.length > 0 && patterns.length === 0) {
    d.notes.push(`${at} has no pattern that matches, so it never runs: not converted`);
    return [];
  }
  for (const e of a.execs.filter((x) => x.words.length > 1)) {
    d.notes.push(`${e.where}: exec has ${e.words.length} words, which csync2 runs as ${e.words.length} separate commands; written that way ("${e.words.join('; ')}"): if they are one command, write exec = ${q(e.words.join(' '))}`);
  }
  // An action without a pattern runs for every file of the group in csync2: the roots say that.
  const out = ['', `[[groups.${key(group)}.actions]]`, `pattern = ${list(patterns.length > 0 ? patterns : roots)}`, `exec = ${q(a.execs.flatMap((e) => e.words).join('; '))}`];
  const log = a.logfile;
  if (log !== undefined && log.value.startsWith('/')) out.push(`logfile = ${q(log.value)}`);
  else if (log !== undefined) {
    d.notes.push(`${log.where}: logfile ${log.value} is dropped: csync2 opens it as written, relative to its working directory and without expanding %prefix%; csync logs the output unless logfile is an absolute path`);
  }
  if (a.doLocalOnly) out.push('do_local_only = true');
  else if (a.doLocal) out.push('do_local = true');
  return out;
}

/** A prefix: each host gets the path of the first `on` line matching it; `on *` becomes default. */
function convertPrefix(d: Draft, p: Csync2Config['prefixes'][number]): void {
  if (!PREFIX_NAME_RE.test(p.name)) {
    d.notes.push(`${p.where}: prefix ${p.name}: csync prefix names use A-Z, a-z, 0-9, "_", "-": rename it here and in every %${p.name}% that uses it`);
  }
  const star = p.rules.find((r) => r.hostPattern === '*');
  const out = [`[prefix.${key(p.name)}]`];
  for (const host of d.hosts.keys()) {
    const rule = p.rules.find((r) => hostGlob(r.hostPattern).test(host));
    if (rule !== undefined && rule !== star && rule.path !== star?.path) out.push(`${key(host)} = ${q(rule.path)}`);
  }
  if (star !== undefined) out.push(`default = ${q(star.path)}`);
  d.prefixes.push(out);
}

function render(d: Draft): string {
  const out = [
    '# Converted from csync2 by `csync import-csync2`. Review, then `csync config check`.',
    `# Migration steps and what behaves differently: ${GUIDE}.`,
    '',
    '[tls]',
    '# csync2 used its own certificates; make new ones on every host with `csync tls init`.',
    '',
    '[hosts]',
    ...[...d.hosts].map(([name, address]) => `${key(name)} = ${q(address)}`),
  ];
  for (const p of d.prefixes) out.push('', ...p);
  for (const g of d.groups) out.push('', ...g);
  return `${out.join('\n')}\n`;
}

/**
 * Validates the output as `csync config check` does on each host (without reading key files,
 * which live on the hosts): every problem left becomes a note.
 */
function selfCheck(toml: string, hosts: readonly string[]): string[] {
  const issues = new Set<string>();
  const collect = (err: unknown): void => {
    if (!(err instanceof ConfigError)) throw err;
    for (const i of err.issues) issues.add(`${i.keyPath}${i.line === undefined ? '' : ` (output line ${i.line})`}: ${i.message}`);
  };
  try {
    const config = parseConfig(toml, 'import');
    for (const h of hosts) {
      try {
        resolveNode(config, h);
      } catch (err) {
        collect(err);
      }
    }
  } catch (err) {
    collect(err);
  }
  return [...issues].map((i) => `the result does not pass \`csync config check\` yet: ${i}`);
}

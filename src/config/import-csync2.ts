// Converts a csync2 configuration (csync2.cfg) into csync's TOML (`csync import-csync2`, docs/csync.1.md).
// Pure: text in, TOML text and a list of what could not be converted out.

/** Result of a conversion. */
export interface Csync2Import {
  readonly toml: string;
  /** Human-readable notes: settings dropped or approximated, each naming the csync2 line. */
  readonly notes: string[];
}

type Token = { readonly text: string; readonly line: number; readonly quoted: boolean };

interface Action {
  patterns: string[];
  exec: string | undefined;
  logfile: string | undefined;
  doLocal: boolean;
  doLocalOnly: boolean;
}

interface Group {
  name: string;
  hosts: string[];
  receiveOnly: string[];
  key: string | undefined;
  include: string[];
  exclude: string[];
  auto: string | undefined;
  backupDir: string | undefined;
  backupGenerations: number | undefined;
  ignore: string[];
  actions: Action[];
}

/** csync2 splits words at white space and these characters. */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') line++;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ('{};():'.includes(c)) {
      out.push({ text: c, line, quoted: false });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j++;
      out.push({ text: text.slice(i + 1, j), line, quoted: true });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};():#"]/.test(text[j] as string)) j++;
      out.push({ text: text.slice(i, j), line, quoted: false });
      i = j;
    }
  }
  return out;
}

class Parser {
  private pos = 0;
  readonly notes: string[] = [];
  readonly groups: Group[] = [];
  /** prefix name → [hostPattern, path][] */
  readonly prefixes = new Map<string, [string, string][]>();
  /** host name → address (from `host name@address`). */
  readonly addresses = new Map<string, string>();

  private readonly toks: Token[];

  constructor(toks: Token[]) {
    this.toks = toks;
  }

  private peek(): Token | undefined {
    return this.toks[this.pos];
  }
  private next(): Token {
    const t = this.toks[this.pos++];
    if (t === undefined) throw new Error('unexpected end of file');
    return t;
  }
  private expect(text: string): void {
    const t = this.next();
    if (t.text !== text || t.quoted) throw new Error(`line ${t.line}: expected "${text}", got "${t.text}"`);
  }
  /** Words up to the next ';' (consumed). */
  private words(): Token[] {
    const out: Token[] = [];
    for (let t = this.next(); t.text !== ';' || t.quoted; t = this.next()) out.push(t);
    return out;
  }
  private skipStatementOrBlock(): void {
    for (let t = this.next(); ; t = this.next()) {
      if (!t.quoted && t.text === ';') return;
      if (!t.quoted && t.text === '{') {
        let depth = 1;
        while (depth > 0) {
          const u = this.next();
          if (!u.quoted && u.text === '{') depth++;
          if (!u.quoted && u.text === '}') depth--;
        }
        return;
      }
    }
  }

  parse(): void {
    while (this.peek() !== undefined) {
      const t = this.next();
      if (t.text === 'group') this.group(this.next().text);
      else if (t.text === 'prefix') this.prefix(this.next().text);
      else {
        this.notes.push(`line ${t.line}: top-level "${t.text}" is not used by csync; dropped`);
        this.pos--;
        this.skipStatementOrBlock();
      }
    }
  }

  private prefix(name: string): void {
    this.expect('{');
    const rules: [string, string][] = [];
    for (let t = this.next(); t.text !== '}'; t = this.next()) {
      if (t.text !== 'on') throw new Error(`line ${t.line}: expected "on" in prefix ${name}`);
      const host = this.next().text;
      this.expect(':');
      const path = this.words().map((w) => w.text).join(' ');
      rules.push([host, path]);
    }
    this.prefixes.set(name, rules);
  }

  private group(name: string): void {
    this.expect('{');
    const g: Group = { name, hosts: [], receiveOnly: [], key: undefined, include: [], exclude: [], auto: undefined, backupDir: undefined, backupGenerations: undefined, ignore: [], actions: [] };
    for (let t = this.next(); t.text !== '}'; t = this.next()) this.groupStatement(g, t);
    this.groups.push(g);
  }

  private groupStatement(g: Group, t: Token): void {
    switch (t.text) {
      case 'host':
        this.hosts(g);
        return;
      case 'key':
        g.key = this.words()[0]?.text;
        return;
      case 'include':
        g.include.push(...this.words().map((w) => w.text));
        return;
      case 'exclude':
        g.exclude.push(...this.words().map((w) => w.text));
        return;
      case 'auto':
        g.auto = this.words()[0]?.text;
        return;
      case 'backup-directory':
        g.backupDir = this.words()[0]?.text;
        return;
      case 'backup-generations':
        g.backupGenerations = Number(this.words()[0]?.text);
        return;
      case 'ignore':
        g.ignore.push(...this.words().map((w) => (w.text === 'mod' ? 'mode' : w.text)));
        return;
      case 'action':
        g.actions.push(this.action());
        return;
      default:
        this.notes.push(`line ${t.line}: group ${g.name}: "${t.text}" is not supported by csync; dropped`);
        this.pos--;
        this.skipStatementOrBlock();
    }
  }

  private hosts(g: Group): void {
    let slave = false;
    for (let t = this.next(); t.text !== ';' || t.quoted; t = this.next()) {
      if (t.text === '(') slave = true;
      else if (t.text === ')') slave = false;
      else {
        const [host, address] = t.text.split('@') as [string, string | undefined];
        const name = host.toLowerCase();
        g.hosts.push(name);
        if (slave) g.receiveOnly.push(name);
        if (address) this.addresses.set(name, address);
      }
    }
  }

  private action(): Action {
    this.expect('{');
    const a: Action = { patterns: [], exec: undefined, logfile: undefined, doLocal: false, doLocalOnly: false };
    for (let t = this.next(); t.text !== '}'; t = this.next()) {
      const args = t.text === 'do-local' || t.text === 'do-local-only' ? (this.expect(';'), []) : this.words();
      if (t.text === 'pattern') a.patterns.push(...args.map((w) => w.text));
      else if (t.text === 'exec') a.exec = args.map((w) => w.text).join(' ');
      else if (t.text === 'logfile') a.logfile = args[0]?.text;
      else if (t.text === 'do-local') a.doLocal = true;
      else if (t.text === 'do-local-only') a.doLocalOnly = true;
      else this.notes.push(`line ${t.line}: action: "${t.text}" is not supported; dropped`);
    }
    return a;
  }
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: readonly string[]): string => `[${xs.map(q).join(', ')}]`;

/** Glob match of csync2 host patterns (`*`, `?`, `[12]`) against a host name. */
function hostMatches(pattern: string, host: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(host);
}

/**
 * Converts csync2.cfg text. Throws Error with a line number on text it cannot parse at all; settings
 * it can parse but not carry over are listed in `notes` instead.
 */
export function importCsync2(text: string): Csync2Import {
  const p = new Parser(tokenize(text));
  p.parse();
  const hosts = [...new Set(p.groups.flatMap((g) => g.hosts))].sort();
  const out: string[] = ['# Converted from csync2 by `csync import-csync2`. Review, then `csync config check`.', ''];
  out.push('[tls]', '# csync2 used its own certificates; make new ones on every host with `csync tls init`.', '', '[hosts]');
  for (const h of hosts) out.push(`${h} = ${q(p.addresses.get(h) ?? h)}`);
  for (const [name, rules] of p.prefixes) {
    out.push('', `[prefix.${name}]`);
    const done = new Set<string>();
    for (const [pattern, path] of rules) {
      if (pattern === '*') {
        out.push(`default = ${q(path)}`);
        break;
      }
      for (const h of hosts.filter((x) => hostMatches(pattern, x) && !done.has(x))) {
        out.push(`${h} = ${q(path)}`);
        done.add(h);
      }
    }
  }
  for (const g of p.groups) out.push('', ...groupToml(g, p.notes));
  return { toml: `${out.join('\n')}\n`, notes: p.notes };
}

function groupToml(g: Group, notes: string[]): string[] {
  const out = [`[groups.${g.name}]`, `hosts = ${list(g.hosts)}`];
  if (g.receiveOnly.length) out.push(`receive_only = ${list(g.receiveOnly)}`);
  if (g.key) out.push(`key = ${q(g.key)}`);
  else notes.push(`group ${g.name}: no key; make one with \`csync -k FILE\` and set key`);
  out.push(`include = ${list(g.include)}`);
  if (g.exclude.length) out.push(`exclude = ${list(g.exclude)}`);
  if (g.auto) out.push(`auto = ${q(g.auto)}`);
  if (g.backupDir) out.push(`backup_dir = ${q(g.backupDir)}`);
  if (g.backupGenerations !== undefined && Number.isInteger(g.backupGenerations)) out.push(`backup_generations = ${g.backupGenerations}`);
  if (g.ignore.length) out.push(`ignore = ${list(g.ignore)}`);
  for (const a of g.actions) {
    if (!a.exec) {
      notes.push(`group ${g.name}: an action without exec was dropped`);
      continue;
    }
    out.push('', `[[groups.${g.name}.actions]]`, `pattern = ${list(a.patterns)}`, `exec = ${q(a.exec)}`);
    if (a.logfile) out.push(`logfile = ${q(a.logfile)}`);
    if (a.doLocal) out.push('do_local = true');
    if (a.doLocalOnly) out.push('do_local_only = true');
  }
  return out;
}
